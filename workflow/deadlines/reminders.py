"""The deadline sweep: reminders before due, the overdue notice, escalations — and the "new task"
notices of tasks written in bulk. Run by Celery beat every five minutes (`workflow.tasks`), or by
hand: `python manage.py send_reminders`.

Cheap when nothing is due: it reads `TaskDeadline` rows whose `next_check_at` has come, through a
partial index that holds only rows with something left to do, and nothing else.

Never twice: rows are claimed with `SELECT … FOR UPDATE SKIP LOCKED`, so two sweeps at once share
the work instead of doing it twice; a row's `checked_at` moves forward in the same transaction as
the notices it caused; and each notice carries a dedupe key (task, moment, due date, person) that
the outbox refuses to write twice. An extension changes the due date, hence the keys: the
reminders for the new date are sent again, as they should be.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cases import models as m
from workflow.deadlines import calendar, events, rules
from workflow.models import TaskDeadline
from workflow.selectors import OPEN

logger = logging.getLogger(__name__)

BATCH = 500
# A measure of a rectification plan is due: its progress reminder goes out on that day from this hour (local
# time), or within CATCH_UP_DAYS after it when no sweep ran on the day.
PROGRESS_HOUR = 8
CATCH_UP_DAYS = 3


# What the sweep reads of a due row, its task and its case: plain values, no model instances
# (a batch of 500 rows would otherwise build 2,500 of them).
COLUMNS = (
    "task_id", "round_id", "due", "checked_at", "announced",
    "task__process_id", "task__flow_task", "task__status", "task__owner_id", "task__owner_permission",
    "task__owner_permission_obj_pk", "case__unit_id", "case__group_id", "case__unit__name",
)


@dataclass
class Row:
    info: events.TaskInfo
    round_id: int
    checked_at: datetime
    announced: bool
    open: bool
    next_check_at: datetime | None = None


def sweep(now=None, batch_size: int = BATCH) -> dict[str, int]:
    """Send what has come due by `now` (default: the current time). Returns counts: tasks checked,
    closed (finished tasks dropped from the schedule), announced, reminder, overdue, escalate."""
    now = now or timezone.now()
    calendar.clear_cache()  # the office may have edited the calendar in another process
    counts: Counter = Counter()
    while True:
        with transaction.atomic():
            found = list(
                TaskDeadline.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(next_check_at__lte=now)
                .order_by("next_check_at")
                .values_list(*COLUMNS)[:batch_size]
            )
            if found:
                _process(found, now, counts)
        if len(found) < batch_size:
            break
    counts["progress"] += progress_reminders(now)
    result = {key: counts.get(key, 0)
              for key in ("checked", "closed", "announced", "reminder", "overdue", "escalate", "progress")}
    if any(result.values()):
        logger.info("deadline sweep: %s", result)
    return result


def progress_reminders(now: datetime) -> int:
    """The dates a rectification's plan sets are its progress reports' dates: on each measure's due date the
    unit's staff are reminded to report progress, while the rectification is being carried out and its
    round's reminders are on. One indexed query when nothing is due; never twice (the outbox's key)."""
    local = timezone.localtime(now)
    last = local.date() if local.hour >= PROGRESS_HOUR else local.date() - timedelta(days=1)
    due = list(
        m.RectificationMeasure.objects.filter(
            due_date__range=(last - timedelta(days=CATCH_UP_DAYS), last),
            rectification__status=m.RectificationStatus.IN_PROGRESS,
        ).order_by("due_date", "pk").values(
            "pk", "text", "responsible", "due_date", "rectification_id", "rectification__unit_id",
            "rectification__unit__name", "rectification__round__config")
    )
    due = [x for x in due if rules.config_of(x["rectification__round__config"]).enabled]
    return events.progress_notices(due) if due else 0


def _process(found: list[tuple], now, counts: Counter) -> None:
    rounds = m.Round.objects.order_by().only("title", "config").in_bulk({f[1] for f in found})
    rows = []
    for (task_id, round_id, due, checked_at, announced, process_id, flow_task, status, owner_id,
         permission, permission_obj, unit_id, group_id, unit_name) in found:
        info = events.TaskInfo(
            task_id=task_id, process_id=process_id, flow_task=flow_task, status=status, owner_id=owner_id,
            owner_permission=permission, owner_permission_obj_pk=permission_obj, due=due,
            round_title=rounds[round_id].title, unit_name=unit_name, unit_id=unit_id, group_id=group_id,
        )
        rows.append(Row(info, round_id, checked_at, announced, status in OPEN))
    counts["checked"] += len(rows)
    counts["closed"] += sum(1 for row in rows if not row.open)  # finished, cancelled: nothing more to say
    live = [row for row in rows if row.open]
    fresh = [row.info for row in live if not row.announced]
    if fresh:
        counts["announced"] += events.announce(fresh)
    plan: list[tuple[events.TaskInfo, rules.Moment]] = []
    configs: dict[int, rules.Config] = {}
    schedules: dict[tuple[int, datetime, str], list[rules.Moment]] = {}
    for row in live:
        info = row.info
        config = configs.get(row.round_id)
        if config is None:
            config = configs[row.round_id] = rules.config_of(rounds[row.round_id].config)
        # The tasks of a round's phase share their due: work each schedule out once per batch.
        key = (row.round_id, info.due, info.step)
        moments = schedules.get(key)
        if moments is None:
            moments = schedules[key] = rules.schedule(info.due, config, info.step)
        ripe, upcoming = rules.moments_between(info.due, moments, row.checked_at, now)
        plan.extend((info, moment) for moment in ripe)
        row.announced = True
        row.checked_at = max(row.checked_at, now)
        row.next_check_at = upcoming
    if plan:
        counts.update(events.deadline_notices(plan))
    _save(rows)


def _save(rows: list[Row]) -> None:
    """Write the rows' new schedule: one UPDATE per distinct schedule (the tasks of a round's phase
    share their due, hence their schedule), far cheaper than bulk_update's CASE per row."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for row in rows:
        groups[(row.announced, row.checked_at, row.next_check_at)].append(row.info.task_id)
    for (announced, checked_at, next_check_at), ids in groups.items():
        TaskDeadline.objects.filter(task_id__in=ids).update(
            announced=announced, checked_at=checked_at, next_check_at=next_check_at
        )
