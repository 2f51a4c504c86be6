"""Due dates of tasks: where they come from, how the office extends them, their schedule of
notices, and traffic lights (红黄绿灯).

Storage (see `workflow.models`): every human task gets a `TaskDeadline` row when it is created —
by the engine (a `post_save` receiver, `task_created`) or in bulk at launch (`tasks_bulk_created`).
Its `due` is materialised: the latest of the round's phase due, the case's extension of that phase
and the task's own extension. Materialising costs a few rows rewritten when the office extends a
phase; in return the inbox reads dues by primary key and the sweep finds what is due through one
partial index, without resolving extensions over 500,000 tasks.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.services.audit import audit
from workflow import calendar, events
from workflow.models import CaseDeadline, Phase, TaskDeadline
from workflow.selectors import OPEN

logger = logging.getLogger(__name__)

WARN_WINDOW = timedelta(days=3)

# The phase whose due date a step's tasks have.
STEP_PHASE = {
    "prepare": Phase.PREPARE,
    "sign_off": Phase.PREPARE,
    "inspect": Phase.INSPECT,
    "score": Phase.INSPECT,
    "review": Phase.REVIEW,
    "compile": Phase.APPROVE,
    "approve": Phase.APPROVE,
    "report": Phase.REPORT,
}
PHASE_FIELDS = {phase.value: f"{phase.value}_due" for phase in Phase}
DUE_FIELDS = set(PHASE_FIELDS.values())


def phase_due(round: m.Round, step: str) -> datetime | None:
    """The round's due date for a step's tasks: its phase's (for a task without a due row)."""
    phase = STEP_PHASE.get(step)
    return getattr(round, PHASE_FIELDS[phase]) if phase else None


def traffic_light(due: datetime | None, finished: datetime | None = None, now: datetime | None = None) -> str:
    """green: on time; yellow: due within the warning window, or done late; red: overdue and open."""
    if due is None:
        return "green"
    if finished is not None:
        return "yellow" if finished > due else "green"
    now = now or timezone.now()
    if now > due:
        return "red"
    if due - now <= WARN_WINDOW:
        return "yellow"
    return "green"


# --- configuration and schedule -----------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """The deadline keys of `Round.config` (docs/deadlines.md)."""

    enabled: bool = True
    reminder_days: tuple[int, ...] = (3, 1)
    overdue_notice: bool = True
    escalate_after_days: int | None = 1
    escalate_office_after_days: int | None = 2


def _days(value, default):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        logger.warning("Round.config: %r is not a number of working days; using %r", value, default)
        return default
    return value


def config_of(round_config: dict | None) -> Config:
    c = round_config or {}
    base = Config()
    days = c.get("reminder_days", list(base.reminder_days))
    if not isinstance(days, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in days):
        logger.warning("Round.config: reminder_days %r is not a list of positive integers; using 3 and 1", days)
        days = list(base.reminder_days)
    return Config(
        enabled=bool(c.get("reminders_enabled", True)),
        reminder_days=tuple(sorted(set(days), reverse=True)),
        overdue_notice=bool(c.get("overdue_notice", True)),
        escalate_after_days=_days(c.get("escalate_after_days", 1), 1),
        escalate_office_after_days=_days(c.get("escalate_office_after_days", 2), 2),
    )


@dataclass(frozen=True)
class Moment:
    at: datetime
    kind: str  # reminder / overdue / escalate
    n: int  # working days before due (reminder), escalation level (escalate)


def shift(due: datetime, workdays: int) -> datetime:
    """The same clock time (Asia/Shanghai) `workdays` working days after (before, if < 0) the due day."""
    tz = ZoneInfo(settings.TIME_ZONE)
    local = due.astimezone(tz)
    day = calendar.add_workdays(local.date(), workdays)
    return datetime.combine(day, local.time(), tzinfo=tz)


def schedule(due: datetime, config: Config, step: str) -> list[Moment]:
    """Every notice moment of a task due at `due`, in time order."""
    if not config.enabled:
        return []
    moments = [Moment(shift(due, -n), "reminder", n) for n in config.reminder_days]
    if config.overdue_notice:
        moments.append(Moment(due, "overdue", 0))
    levels = len(events.ESCALATION.get(step, ("office",)))
    first, second = config.escalate_after_days, config.escalate_office_after_days
    if first is not None:
        moments.append(Moment(shift(due, first), "escalate", 1))
        if levels > 1 and second is not None:
            moments.append(Moment(shift(due, first + second), "escalate", 2))
    return sorted(moments, key=lambda mo: (mo.at, mo.kind != "overdue"))


def moments_between(due: datetime, moments: list[Moment], after: datetime, now: datetime):
    """(moments to act on now, next moment or None), from a task's `schedule`. Moments in
    (after, now] are acted on, except a reminder that a later reminder or the due date itself has
    overtaken (after an outage, or a task created with less time left than the reminder offsets)."""
    ripe = [mo for mo in moments if after < mo.at <= now]
    reminders = [mo for mo in ripe if mo.kind == "reminder"]
    ripe = [mo for mo in ripe if mo.kind != "reminder"]
    if reminders and now < due:
        ripe.insert(0, reminders[-1])
    horizon = max(after, now)
    upcoming = next((mo.at for mo in moments if mo.at > horizon), None)
    return ripe, upcoming


# --- creation -----------------------------------------------------------------------------------


def step_phase(task) -> str | None:
    from workflow.flows import CaseFlow, RoundFlow

    node = task.flow_task
    if node is None or node.flow_class not in (CaseFlow, RoundFlow):
        return None
    return STEP_PHASE.get(node.name)


def _effective(*dues) -> datetime:
    return max(d for d in dues if d is not None)


def task_created(task) -> TaskDeadline | None:
    """Give a task the engine has just created its due date and tell its people (post_save)."""
    phase = step_phase(task)
    data = task.process.data or {}
    round_id, case_id = data.get("round"), data.get("case")
    if phase is None or round_id is None:
        return None
    field = PHASE_FIELDS[phase]
    case_due = CaseDeadline.objects.filter(case_id=case_id, phase=phase).values("due")[:1]
    unit_name = m.Case.objects.filter(pk=case_id).values("unit__name")[:1]
    found = (m.Round.objects.filter(pk=round_id)
             .annotate(case_due=Subquery(case_due), unit_name=Subquery(unit_name))
             .values_list(field, "case_due", "title", "config", "unit_name").first())
    if found is None:
        return None
    phase_due, extended, title, config, unit = found
    now = timezone.now()
    due = _effective(phase_due, extended)
    created = task.created or now
    _, upcoming = moments_between(due, schedule(due, config_of(config), task.flow_task.name), created, now)
    deadline = TaskDeadline.objects.create(
        task=task, round_id=round_id, case_id=case_id, phase=phase, due=due,
        checked_at=created, next_check_at=upcoming, announced=True,
    )
    info = events.TaskInfo(
        task_id=task.pk, process_id=task.process_id, flow_task=task.flow_task, status=task.status,
        owner_id=task.owner_id, owner_permission=task.owner_permission,
        owner_permission_obj_pk=task.owner_permission_obj_pk, due=due, round_title=title, unit_name=unit,
        unit_id=data.get("unit"), group_id=data.get("group"),
    )
    events.announce([info])
    return deadline


def tasks_bulk_created(tasks) -> None:
    """The launch's bulk path: due rows for tasks written with `bulk_create` (no post_save), in a
    constant number of statements. Their "new task" notices are left to the sweep (`announced`
    False, checked now), which the launch kicks once the transaction has committed."""
    rows = []
    for task in tasks:
        phase = step_phase(task)
        data = task.process.data or {}
        if phase is not None and data.get("round") is not None:
            rows.append((task, phase, data["round"], data.get("case")))
    if not rows:
        return
    rounds = {r["pk"]: r for r in m.Round.objects.filter(pk__in={r[2] for r in rows}).values("pk", *DUE_FIELDS)}
    extended = {
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
        from workflow.tasks import sweep_deadlines

        sweep_deadlines.delay()
    except Exception:  # the broker may be down: the periodic sweep sends them anyway
        logger.warning("Could not queue a deadline sweep; the periodic one will send the notices", exc_info=True)


def dues_of(task_ids) -> dict[int, datetime]:
    """The effective due of each task that has one, in one query by primary key."""
    ids = [pk for pk in task_ids if pk is not None]
    if not ids:
        return {}
    return dict(TaskDeadline.objects.filter(task_id__in=ids).values_list("task_id", "due"))


# --- extensions ---------------------------------------------------------------------------------


def require_office(user) -> None:
    if not access.is_office(user):
        raise PermissionDenied("只有考核办可以延长期限。")


def _validate(due, reason: str, now: datetime) -> str:
    errors = {}
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = ["请填写延期理由。"]
    if not isinstance(due, datetime):
        errors["due"] = ["请填写新的截止时间。"]
    elif timezone.is_naive(due):
        errors["due"] = ["截止时间必须带时区。"]
    elif due <= now:
        errors["due"] = ["新的截止时间必须晚于当前时间。"]
    if errors:
        raise ValidationError(errors)
    return reason.strip()


def _info(row: TaskDeadline) -> events.TaskInfo:
    """A row loaded with select_related("task", "round", "case__unit")."""
    return events.info_from(row.task, row, row.round, row.case)


def _reset(row: TaskDeadline, due: datetime, now: datetime) -> None:
    """A new due: the schedule starts again from now (the notice of the change tells the new date)."""
    row.due = due
    row.checked_at = now
    row.next_check_at = now


def _open_rows(**filters):
    return (TaskDeadline.objects.select_for_update(of=("self",))
            .filter(task__status__in=OPEN, **filters)
            .select_related("task", "round", "case__unit").order_by("task_id"))


@transaction.atomic
def task_extend(*, user, task_id: int, due: datetime, reason: str) -> TaskDeadline:
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
def case_extend(*, user, case_id: int, due: datetime, reason: str) -> list[TaskDeadline]:
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
def phase_extend(*, user, round_id: int, phase: str, due: datetime, reason: str) -> list[events.TaskInfo]:
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


def refresh_round(round_id: int, *, phases=None, now=None) -> list[tuple[events.TaskInfo, datetime]]:
    """Recompute the open tasks' dues of a round from its phase dues, the cases' and the tasks' own
    extensions; returns the changed ones with their previous due."""
    now = now or timezone.now()
    phases = list(phases or PHASE_FIELDS)
    round_dues = m.Round.objects.filter(pk=round_id).values(*DUE_FIELDS).first()
    if round_dues is None:
        return []
    rows = list(_open_rows(round_id=round_id, phase__in=phases))
    extended = {
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


def round_saved(round: m.Round, update_fields) -> None:
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


def calendar_changed() -> None:
    """The office edited the calendar: every open task's schedule is worked out again."""
    calendar.clear_cache()
    TaskDeadline.objects.filter(next_check_at__isnull=False).update(next_check_at=timezone.now())


def task_due(task_id: int) -> datetime | None:
    """The effective due of one task (None for a task without one)."""
    return TaskDeadline.objects.filter(task_id=task_id).values_list("due", flat=True).first()
