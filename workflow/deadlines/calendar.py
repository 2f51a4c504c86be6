"""China's working-day calendar: public holidays and make-up workdays (调休).

Sources, strongest first:
1. the office's `WorkdayOverride` table (admin: 工作日调整);
2. the `chinesecalendar` package, which carries the official schedule of 2004–2026;
3. for any other year: Monday to Friday, and a warning — `schedule_warnings()` for the admin and
   dashboards, a log line the first time a process counts in such a year — until the office has
   entered that year's official schedule and marked it complete (`CalendarYear`).

Durations such as "5 working days" are counted with `add_workdays`; reminders and escalations use it.
The override table is small and read once per process per minute (and afresh when it changes here).
"""

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable

import chinese_calendar
from django.utils import timezone

from workflow.models import CalendarYear, WorkdayOverride

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60.0

_lock = threading.Lock()
_cache: dict = {}
_package_years: dict[int, bool] = {}
_warned_years: set[int] = set()


def package_knows(year: int) -> bool:
    """Whether the `chinesecalendar` package has the official schedule of `year`."""
    known = _package_years.get(year)
    if known is None:
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
            known = True
        except NotImplementedError:
            known = False
        _package_years[year] = known
    return known


def _load() -> dict:
    return {
        "at": time.monotonic(),
        "overrides": dict(WorkdayOverride.objects.values_list("date", "is_workday")),
        "complete": set(CalendarYear.objects.filter(complete=True).values_list("year", flat=True)),
        "memo": {},
    }


def _snapshot() -> dict:
    snap = _cache.get("snap")
    if snap is None or time.monotonic() - snap["at"] > CACHE_SECONDS:
        with _lock:
            snap = _load()
            _cache["snap"] = snap
    return snap


def clear_cache() -> None:
    """Forget the override table (it is read again on next use)."""
    _cache.pop("snap", None)


def _warn(year: int, snap: dict) -> None:
    if year in _warned_years or year in snap["complete"]:
        return
    _warned_years.add(year)
    logger.warning(
        "Working-day calendar: the official holiday schedule of %s is not known (chinesecalendar covers "
        "2004–2026) and has not been entered by the office; counting Monday–Friday plus the overrides.",
        year,
    )


def is_workday(day: dt.date) -> bool:
    snap = _snapshot()
    memo = snap["memo"]
    known = memo.get(day)
    if known is not None:
        return known
    override = snap["overrides"].get(day)
    if override is not None:
        result = override
    elif package_knows(day.year):
        result = chinese_calendar.is_workday(day)
    else:
        _warn(day.year, snap)
        result = day.weekday() < 5
    memo[day] = result
    return result


def add_workdays(day: dt.date, n: int) -> dt.date:
    """The date `n` working days after `day` (before it if `n` < 0); `day` itself for n = 0.
    `day` need not be a working day: one working day before a Sunday is the Friday (or the
    make-up Saturday)."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    while remaining:
        day += dt.timedelta(days=step)
        if is_workday(day):
            remaining -= 1
    return day


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end] — negative when end is before start — so that
    `workdays_between(d, add_workdays(d, n)) == n` whenever the result of add_workdays is a working day."""
    if end < start:
        return -workdays_between(end, start)
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if is_workday(day):
            count += 1
    return count


def missing_years(years: Iterable[int]) -> list[int]:
    """The years among `years` whose official schedule neither the package nor the office has."""
    snap = _snapshot()
    return sorted({y for y in years if not package_knows(y) and y not in snap["complete"]})


def schedule_warnings(years: Iterable[int] | None = None) -> list[str]:
    """Warnings for the office (admin, dashboard): by default for this year and the next, since the
    next year's schedule is published each November and rounds run across the new year."""
    if years is None:
        this_year = timezone.localdate().year
        years = (this_year, this_year + 1)
    return [
        f"{year}年的法定节假日和调休安排尚未录入：系统暂按周一至周五上班计算工作日。"
        f"请在“工作日调整”中录入国务院办公厅公布的{year}年放假和补班日期，并在“年度节假日安排”中标记{year}年已录入。"
        for year in missing_years(years)
    ]
