"""Due dates of tasks: the due row of every new human task, how the office extends dues, and how
open tasks follow when a round's phase dues, its configuration or the calendar change. (When things
are due and when people are told: `workflow.deadlines.rules`.)

Storage (see `workflow.models`): every human task gets a `TaskDeadline` row when it is created —
by the engine (a `post_save` receiver, `task_created`) or in bulk at launch (`tasks_bulk_created`).
Its `due` is materialised: the latest of the round's phase due, the case's extension of that phase
and the task's own extension. Materialising costs a few rows rewritten when the office extends a
phase; in return the inbox reads dues by primary key and the sweep finds what is due through one
partial index, without resolving extensions over 500,000 tasks.
"""

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet, Subquery
from django.utils import timezone
from viewflow.workflow.models import Task

from cases import access
from cases import models as m
from cases.db import execute_prepared, insert_row
from cases.errors import Conflict
from cases.services.audit import audit
from workflow.deadlines import calendar, events
from workflow.deadlines.rules import DUE_FIELDS, PHASE_FIELDS, config_of, moments_between, own_due, schedule
from workflow.models import CaseDeadline, TaskDeadline
from workflow.selectors import OPEN
from workflow.steps import step_of

logger = logging.getLogger(__name__)

# --- creation -----------------------------------------------------------------------------------


def step_phase(task: Task) -> str | None:
    """The phase whose due a task has (None for a task of no human step)."""
    step = step_of(task.flow_task)
    return step.phase if step is not None else None


def _effective(*dues: datetime | None) -> datetime:
    return max(d for d in dues if d is not None)


def task_created(task: Task) -> None:
    """Give a task the engine has just created its due date and tell its people (post_save)."""
    phase = step_phase(task)
    data = task.process.data or {}
    round_id, case_id = data.get("round"), data.get("case")
    if phase is None or round_id is None:
        return
    own = own_due(task.flow_task, data.get("rectification"))
    field = PHASE_FIELDS.get(phase)
    if field is None and own is None:
        return
    found = _due_facts(round_id, case_id, phase, field)
    if found is None:
        return
    phase_due, extended, title, config, unit = found
    if own is not None:  # not a round phase's: the step's own (a rectification's dates)
        phase_due = own
    now = timezone.now()
    due = _effective(phase_due, extended)
    created = task.created or now
    _, upcoming = moments_between(due, schedule(due, config_of(config), task.flow_task.name), created, now)
    insert_row(TaskDeadline, {  # prepared: every task the engine creates gets one
        "task_id": task.pk, "round_id": round_id, "case_id": case_id, "phase": phase, "due": due,
        "extended_due": None, "checked_at": created, "next_check_at": upcoming, "announced": True,
    })
    info = events.TaskInfo(
        task_id=task.pk, process_id=task.process_id, flow_task=task.flow_task, status=task.status,
        owner_id=task.owner_id, owner_permission=task.owner_permission,
        owner_permission_obj_pk=task.owner_permission_obj_pk, due=due, round_title=title, unit_name=unit,
        unit_id=data.get("unit"), group_id=data.get("group"),
    )
    events.announce([info])


@cache
def _due_facts_sql(column: str) -> str:
    return f"""
        SELECT r."{column}",
               (SELECT d.due FROM {CaseDeadline._meta.db_table} d WHERE d.case_id = $2 AND d.phase = $3 LIMIT 1),
               r.title, r.config,
               (SELECT u.name FROM {m.Case._meta.db_table} c JOIN {m.Unit._meta.db_table} u ON u.id = c.unit_id
                 WHERE c.id = $2)
          FROM {m.Round._meta.db_table} r WHERE r.id = $1"""


def _due_facts(round_id: int, case_id: int | None, phase: str,
               field: str | None) -> tuple[datetime | None, datetime | None, str, dict[str, Any], str | None] | None:
    """For a new task: the round's due of `field` (None: no round phase's), the case's extension of the
    phase, the round's title and configuration, the unit's name. One prepared statement on PostgreSQL
    (the ORM's building of this query cost more than running it; every task the engine creates asks)."""
    if connection.vendor != "postgresql":  # the demo's SQLite: the ORM
        # A round task has no case: `case_id=None` is IS NULL to Django (no rows), which the stubs do not allow.
        case_due = CaseDeadline.objects.filter(case_id=case_id, phase=phase).values("due")[:1]  # type: ignore[misc]
        unit_name = m.Case.objects.filter(pk=case_id).values("unit__name")[:1]  # type: ignore[misc]
        return (m.Round.objects.filter(pk=round_id)
                .annotate(case_due=Subquery(case_due), unit_name=Subquery(unit_name))
                .values_list(field or "title", "case_due", "title", "config", "unit_name").first())
    column = m.Round._meta.get_field(field or "title").column  # type: ignore[union-attr]
    rows = execute_prepared(f"due_facts_{column}", _due_facts_sql(column), [round_id, case_id, phase])
    if not rows:
        return None
    phase_due, extended, title, config, unit = rows[0]
    return (None if field is None else phase_due), extended, title, json.loads(config), unit  # JSON comes as text


def tasks_bulk_created(tasks: Iterable[Task]) -> None:
    """The launch's bulk path: due rows for tasks written with `bulk_create` (no post_save), in a
    constant number of statements. Their "new task" notices are left to the sweep (`announced`
    False, checked now), which the launch kicks once the transaction has committed."""
    rows: list[tuple[Task, str, int, int | None]] = []
    for task in tasks:
        phase = step_phase(task)
        data = task.process.data or {}
        if phase in PHASE_FIELDS and data.get("round") is not None:  # bulk launch: round phases only
            rows.append((task, phase, data["round"], data.get("case")))
    if not rows:
        return
    rounds = {r["pk"]: r for r in m.Round.objects.filter(pk__in={r[2] for r in rows}).values("pk", *DUE_FIELDS)}
    extended: dict[tuple[int | None, str], datetime] = {
        (case_id, phase): due
        for case_id, phase, due in CaseDeadline.objects.filter(
            case_id__in={r[3] for r in rows if r[3]}, phase__in={r[1] for r in rows}
        ).values_list("case_id", "phase", "due")
    }
    now = timezone.now()
    TaskDeadline.objects.bulk_create(
        TaskDeadline(
            task=task, round_id=round_id, case_id=case_id, phase=phase,
            due=_effective(rounds[round_id][PHASE_FIELDS[phase]], extended.get((case_id, phase))),
            checked_at=task.created or now, next_check_at=now, announced=False,
        )
        for task, phase, round_id, case_id in rows
    )
    transaction.on_commit(_kick_sweep)


def _kick_sweep() -> None:
    try:
        # The one import that runs up the layers (pyproject.toml's workflow contract ignores it):
        # the Celery task module sits above this one, since the sweep it runs uses these services.
        # Imported when the kick happens, after the transaction has committed.
        from workflow.tasks import sweep_deadlines

        sweep_deadlines.delay()
    except Exception:  # the broker may be down: the periodic sweep sends them anyway
        logger.warning("Could not queue a deadline sweep; the periodic one will send the notices", exc_info=True)


# --- extensions ---------------------------------------------------------------------------------


def require_office(user: m.User) -> None:
    if not access.is_office(user):
        raise PermissionDenied("只有考核办可以延长期限。")


def _validate(due: object, reason: object, now: datetime) -> str:
    errors: dict[str, list[str]] = {}
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        errors["reason"] = ["请填写延期理由。"]
    if not isinstance(due, datetime):
        errors["due"] = ["请填写新的截止时间。"]
    elif timezone.is_naive(due):
        errors["due"] = ["截止时间必须带时区。"]
    elif due <= now:
        errors["due"] = ["新的截止时间必须晚于当前时间。"]
    if errors:
        raise ValidationError(errors)
    return text


def _info(row: TaskDeadline) -> events.TaskInfo:
    """A row loaded with select_related("task", "round", "case__unit")."""
    return events.info_from(row.task, row, row.round, row.case)


def _reset(row: TaskDeadline, due: datetime, now: datetime) -> None:
    """A new due: the schedule starts again from now (the notice of the change tells the new date)."""
    row.due = due
    row.checked_at = now
    row.next_check_at = now


def _open_rows(**filters: object) -> QuerySet[TaskDeadline]:
    return (TaskDeadline.objects.select_for_update(of=("self",))
            .filter(task__status__in=OPEN, **filters)
            .select_related("task", "round", "case__unit").order_by("task_id"))


@transaction.atomic
def task_extend(*, user: m.User, task_id: int, due: datetime, reason: str) -> TaskDeadline:
    """Extend one open task's due (office, with a reason; audited; its people told)."""
    require_office(user)
    now = timezone.now()
    reason = _validate(due, reason, now)
    row = _open_rows(task_id=task_id).first()
    if row is None:
        if TaskDeadline.objects.filter(task_id=task_id).exists():
            raise Conflict("任务已经办结，不能延期。")
        raise Conflict("该任务没有截止时间。")
    if due <= row.due:
        raise ValidationError({"due": [f"新的截止时间必须晚于当前截止时间（{events.fmt(row.due)}）。"]})
    old = row.due
    row.extended_due = due
    _reset(row, due, now)
    row.save(update_fields=["extended_due", "due", "checked_at", "next_check_at"])
    audit(actor=user, action="deadline.extend_task", obj=row.task, before={"due": old.isoformat()},
                        after={"due": due.isoformat()}, comment=reason, round_id=row.round_id)
    events.due_changed([(_info(row), old)], reason)
    return row


@transaction.atomic
def case_extend(*, user: m.User, case_id: int, due: datetime, reason: str) -> list[TaskDeadline]:
    """Extend the open tasks of one unit's case, and the phases they are in for that case (so the
    tasks the case opens later in those phases have the new due too)."""
    require_office(user)
    now = timezone.now()
    reason = _validate(due, reason, now)
    case = m.Case.objects.select_for_update(of=("self",)).filter(pk=case_id).order_by().first()
    if case is None:
        raise Conflict("单位考评不存在。")
    rows = list(_open_rows(case_id=case_id))
    if not rows:
        raise Conflict("该单位当前没有待办任务。")
    changed = [row for row in rows if row.due < due]
    if not changed:
        latest = max(row.due for row in rows)
        raise ValidationError({"due": [f"新的截止时间必须晚于该单位待办任务的截止时间（{events.fmt(latest)}）。"]})
    phases = sorted({row.phase for row in rows})
    before = dict(CaseDeadline.objects.filter(case_id=case_id, phase__in=phases).values_list("phase", "due"))
    for phase in phases:
        CaseDeadline.objects.update_or_create(
            case_id=case_id, phase=phase, defaults={"due": _effective(due, before.get(phase))}
        )
    old = {row.task_id: row.due for row in changed}
    for row in changed:
        _reset(row, due, now)
    TaskDeadline.objects.bulk_update(changed, ["due", "checked_at", "next_check_at"])
    audit(
        actor=user, action="deadline.extend_case", obj=case,
        before={"tasks": {str(pk): d.isoformat() for pk, d in old.items()}},
        after={"due": due.isoformat(), "phases": phases}, comment=reason, round_id=case.round_id,
    )
    events.due_changed([(_info(row), old[row.task_id]) for row in changed], reason)
    return changed


@transaction.atomic
def phase_extend(*, user: m.User, round_id: int, phase: str, due: datetime, reason: str) -> list[events.TaskInfo]:
    """Move a phase's due date of a round later; every open task of that phase follows (unless it
    already has a later due of its own or of its unit)."""
    require_office(user)
    now = timezone.now()
    reason = _validate(due, reason, now)
    if phase not in PHASE_FIELDS:
        raise ValidationError({"phase": [f"阶段必须是 {', '.join(PHASE_FIELDS)} 之一。"]})
    round = m.Round.objects.select_for_update().filter(pk=round_id).first()
    if round is None:
        raise Conflict("考评轮次不存在。")
    if round.status == m.RoundStatus.CLOSED:
        raise Conflict("考评已结束，不能延长期限。")
    field = PHASE_FIELDS[phase]
    old = getattr(round, field)
    if due <= old:
        raise ValidationError({"due": [f"新的截止时间必须晚于该阶段当前截止时间（{events.fmt(old)}）。"]})
    # update(): the Round post_save receiver would refresh and notify a second time.
    m.Round.objects.filter(pk=round_id).update(**{field: due})
    changes = refresh_round(round_id, phases=[phase], now=now)
    audit(actor=user, action="deadline.extend_phase", obj=round,
                        before={"phase": phase, field: old.isoformat()}, after={"phase": phase, field: due.isoformat()},
                        comment=reason, round_id=round_id)
    events.due_changed(changes, reason)
    return [info for info, _ in changes]


def refresh_round(
    round_id: int, *, phases: Iterable[str] | None = None, now: datetime | None = None
) -> list[tuple[events.TaskInfo, datetime]]:
    """Recompute the open tasks' dues of a round from its phase dues, the cases' and the tasks' own
    extensions; returns the changed ones with their previous due."""
    now = now or timezone.now()
    phases = list(phases or PHASE_FIELDS)
    round_dues = m.Round.objects.filter(pk=round_id).values(*DUE_FIELDS).first()
    if round_dues is None:
        return []
    rows = list(_open_rows(round_id=round_id, phase__in=phases))
    extended: dict[tuple[int | None, str], datetime] = {
        (case_id, phase): due
        for case_id, phase, due in CaseDeadline.objects.filter(case__round_id=round_id, phase__in=phases)
        .values_list("case_id", "phase", "due")
    }
    changes = []
    for row in rows:
        due = _effective(round_dues[PHASE_FIELDS[row.phase]], extended.get((row.case_id, row.phase)), row.extended_due)
        if due != row.due:
            old = row.due
            _reset(row, due, now)
            changes.append((row, old))
    TaskDeadline.objects.bulk_update([row for row, _ in changes], ["due", "checked_at", "next_check_at"])
    return [(_info(row), old) for row, old in changes]


def round_saved(round: m.Round, update_fields: Iterable[str] | None) -> None:
    """A launched round's phase dues or configuration were edited (round_update, the admin): the
    open tasks follow, their people are told, and their schedules are worked out again."""
    if round.status == m.RoundStatus.DRAFT:
        return
    if update_fields is not None and not (set(update_fields) & (DUE_FIELDS | {"config"})):
        return
    now = timezone.now()
    with transaction.atomic():
        changes = refresh_round(round.pk, now=now)
        events.due_changed(changes)
        if update_fields is None or "config" in update_fields:
            TaskDeadline.objects.filter(round_id=round.pk, task__status__in=OPEN).update(next_check_at=now)


def rectification_saved(rectification: m.Rectification, update_fields: Iterable[str] | None) -> None:
    """A rectification's dates were moved (`cases.rectification.services.dues_change`): its open step's due
    follows (with a task's own extension, the later of the two), its schedule starts again and its people
    are told."""
    if update_fields is not None and not set(update_fields) & {"plan_due", "due_date"}:
        return
    now = timezone.now()
    changes = []
    with transaction.atomic():
        for row in _open_rows(task__process__data__rectification=rectification.pk):
            own = own_due(row.task.flow_task, rectification.pk)
            due = _effective(own, row.extended_due) if own is not None else row.due
            if due != row.due:
                old = row.due
                _reset(row, due, now)
                row.save(update_fields=["due", "checked_at", "next_check_at"])
                changes.append((_info(row), old))
        events.due_changed(changes)


def calendar_changed() -> None:
    """The office edited the calendar: every open task's schedule is worked out again."""
    calendar.clear_cache()
    TaskDeadline.objects.filter(next_check_at__isnull=False).update(next_check_at=timezone.now())
