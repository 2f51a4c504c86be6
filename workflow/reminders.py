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
from collections import Counter

from django.db import transaction
from django.utils import timezone
from viewflow.workflow.status import STATUS

from workflow import calendar, deadlines, events
from workflow.models import TaskDeadline

logger = logging.getLogger(__name__)

BATCH = 500
OPEN = (STATUS.NEW, STATUS.ASSIGNED)


def sweep(now=None, batch_size: int = BATCH) -> dict[str, int]:
    """Send what has come due by `now` (default: the current time). Returns counts: tasks checked,
    closed (finished tasks dropped from the schedule), announced, reminder, overdue, escalate."""
    now = now or timezone.now()
    calendar.clear_cache()  # the office may have edited the calendar in another process
    counts: Counter = Counter()
    while True:
        with transaction.atomic():
            rows = list(
                TaskDeadline.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(next_check_at__lte=now)
                .select_related("task", "round", "case__unit")
                .order_by("next_check_at")[:batch_size]
            )
            if rows:
                _process(rows, now, counts)
        if len(rows) < batch_size:
            break
    result = {key: counts.get(key, 0) for key in ("checked", "closed", "announced", "reminder", "overdue", "escalate")}
    if any(result.values()):
        logger.info("deadline sweep: %s", result)
    return result


def _process(rows: list[TaskDeadline], now, counts: Counter) -> None:
    live = []
    for row in rows:
        counts["checked"] += 1
        if row.task.status not in OPEN:
            row.next_check_at = None  # finished, cancelled: nothing more to say about it
            counts["closed"] += 1
        else:
            live.append((row, events.info_from(row.task, row, row.round, row.case)))
    fresh = [info for row, info in live if not row.announced]
    if fresh:
        counts["announced"] += events.announce(fresh)
    plan = []
    configs = {}
    for row, info in live:
        config = configs.get(row.round_id)
        if config is None:
            config = configs[row.round_id] = deadlines.config_of(row.round.config)
        ripe, upcoming = deadlines.moments_between(row.due, config, info.step, row.checked_at, now)
        plan.extend((info, moment) for moment in ripe)
        row.announced = True
        row.checked_at = max(row.checked_at, now)
        row.next_check_at = upcoming
    if plan:
        counts.update(events.deadline_notices(plan))
    TaskDeadline.objects.bulk_update(rows, ["announced", "checked_at", "next_check_at"])
