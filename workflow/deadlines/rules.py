"""When things are due and when people are told: a step's phase due, traffic lights (红黄绿灯), and
the schedule of a task's notices — reminders before the due, the overdue notice, escalations after
it — from the deadline keys of `Round.config` (docs/deadlines.md). Plain functions of their
arguments and the working-day calendar; nothing here writes.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from cases import models as m
from workflow.deadlines import calendar
from workflow.models import Phase
from workflow.steps import step_named, step_of

logger = logging.getLogger(__name__)

WARN_WINDOW = timedelta(days=3)

# The round's phases (a rectification's steps have dues of their own: `own_due`).
PHASE_FIELDS = {phase.value: f"{phase.value}_due" for phase in Phase if phase != Phase.RECTIFY}
DUE_FIELDS = set(PHASE_FIELDS.values())
# A due given as a day (a rectification's dates) falls due at the end of that day, local time.
END_OF_DAY = time(23, 59, 59)


def phase_due(round: m.Round, node: object) -> datetime | None:
    """The round's due date for a node's tasks: its step's phase's (for a task without a due row)."""
    step = step_of(node)
    field = PHASE_FIELDS.get(step.phase) if step is not None else None
    return getattr(round, field) if field is not None else None


def day_due(day: date, days: int = 0) -> datetime:
    """The end of the (local) day `days` calendar days after `day`."""
    return datetime.combine(day + timedelta(days=days), END_OF_DAY, tzinfo=ZoneInfo(settings.TIME_ZONE))


def own_due(node: object, rectification_id: int | None) -> datetime | None:
    """The due of a task of a step with a due of its own (`Step.due_from`): from its rectification's
    dates. None for other steps."""
    step = step_of(node)
    if step is None or step.due_from is None or rectification_id is None:
        return None
    field, days = step.due_from
    day = m.Rectification.objects.filter(pk=rectification_id).values_list(field, flat=True).first()
    return day_due(day, days) if day is not None else None


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


def _days(value: Any, default: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        logger.warning("Round.config: %r is not a number of working days; using %r", value, default)
        return default
    return value


def config_of(round_config: dict[str, Any] | None) -> Config:
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
    """Every notice moment of a task of step `step` (its name) due at `due`, in time order."""
    if not config.enabled:
        return []
    moments = [Moment(shift(due, -n), "reminder", n) for n in config.reminder_days]
    if config.overdue_notice:
        moments.append(Moment(due, "overdue", 0))
    declared = step_named(step)
    levels = len(declared.escalation) if declared is not None else 1  # an unknown step: the office only
    first, second = config.escalate_after_days, config.escalate_office_after_days
    if first is not None:
        moments.append(Moment(shift(due, first), "escalate", 1))
        if levels > 1 and second is not None:
            moments.append(Moment(shift(due, first + second), "escalate", 2))
    return sorted(moments, key=lambda mo: (mo.at, mo.kind != "overdue"))


def moments_between(
    due: datetime, moments: list[Moment], after: datetime, now: datetime
) -> tuple[list[Moment], datetime | None]:
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
