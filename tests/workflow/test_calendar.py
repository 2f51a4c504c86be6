"""The working-day calendar (workflow/deadlines/calendar.py): the official schedule from `chinesecalendar`,
the office's overrides winning over it, and the weekend fallback with a warning for years the
package does not know (2027)."""

import datetime as dt
import logging

import pytest
import time_machine

from cases import models as m
from tests.factories import make_user
from workflow.deadlines import calendar
from workflow.models import CalendarYear, WorkdayOverride

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture(autouse=True)
def fresh_calendar():
    """The override table is cached per process; a rolled-back test must not leave its rows there."""
    calendar.clear_cache()
    calendar._warned_years.clear()
    yield
    calendar.clear_cache()


def test_national_day_2026_with_its_make_up_saturday():
    # chinesecalendar 1.11 (the State Council's 2026 schedule): 10-01 … 10-07 off, Saturday 10-10 worked.
    assert [calendar.is_workday(D(2026, 10, d)) for d in range(1, 13)] == [
        False, False, False, False, False, False, False,  # 1–7 国庆节、中秋节 holidays
        True, True,  # Thursday 8, Friday 9
        True,  # Saturday 10: make-up workday (调休上班)
        False,  # Sunday 11
        True,  # Monday 12
    ]
    assert calendar.is_workday(D(2026, 9, 20))  # a Sunday, make-up workday for the same holiday
    assert not calendar.is_workday(D(2026, 9, 25))  # 中秋节, a Friday


def test_add_workdays_over_a_weekend():
    friday, monday = D(2026, 3, 13), D(2026, 3, 16)
    assert calendar.add_workdays(friday, 1) == monday
    assert calendar.add_workdays(monday, -1) == friday
    assert calendar.add_workdays(monday, -3) == D(2026, 3, 11)
    assert calendar.add_workdays(D(2026, 3, 15), -1) == friday  # from a Sunday
    assert calendar.add_workdays(D(2026, 3, 15), 0) == D(2026, 3, 15)
    assert calendar.workdays_between(friday, monday) == 1
    assert calendar.workdays_between(monday, friday) == -1


def test_add_workdays_over_national_day():
    assert calendar.add_workdays(D(2026, 9, 30), 1) == D(2026, 10, 8)  # seven days off in between
    assert calendar.add_workdays(D(2026, 10, 9), 1) == D(2026, 10, 10)  # the make-up Saturday
    assert calendar.add_workdays(D(2026, 10, 12), -1) == D(2026, 10, 10)
    assert calendar.add_workdays(D(2026, 10, 9), -3) == D(2026, 9, 29)
    assert calendar.add_workdays(D(2026, 9, 28), 5) == D(2026, 10, 10)  # 29, 30, 8, 9, 10
    assert calendar.workdays_between(D(2026, 9, 30), D(2026, 10, 12)) == 4  # 8, 9, 10, 12


def test_workdays_between_inverts_add_workdays():
    start = D(2026, 9, 18)
    for n in range(-15, 16):
        assert calendar.workdays_between(start, calendar.add_workdays(start, n)) == n


def test_an_override_wins_over_the_package():
    WorkdayOverride.objects.create(date=D(2026, 10, 9), is_workday=False, note="本单位调休")
    WorkdayOverride.objects.create(date=D(2026, 10, 11), is_workday=True, note="集中办公")
    assert not calendar.is_workday(D(2026, 10, 9))
    assert calendar.is_workday(D(2026, 10, 11))
    assert calendar.add_workdays(D(2026, 10, 8), 1) == D(2026, 10, 10)


def test_2027_falls_back_to_weekends_and_warns(caplog):
    assert not calendar.package_knows(2027) and calendar.package_knows(2026)
    with caplog.at_level(logging.WARNING, logger="workflow.deadlines.calendar"):
        assert calendar.is_workday(D(2027, 2, 8))  # a Monday: no official schedule known
        assert not calendar.is_workday(D(2027, 2, 6))  # a Saturday
        calendar.is_workday(D(2027, 2, 9))
    warnings = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1  # once per process and year, not per date
    assert calendar.missing_years([2026, 2027]) == [2027]
    (text,) = calendar.schedule_warnings([2026, 2027])
    assert "2027年的法定节假日和调休安排尚未录入" in text


def test_2027_with_the_office_overrides():
    # The office enters part of 2027's Spring Festival: Monday 8 Feb off, Saturday 6 Feb worked.
    WorkdayOverride.objects.create(date=D(2027, 2, 8), is_workday=False, note="春节")
    WorkdayOverride.objects.create(date=D(2027, 2, 6), is_workday=True, note="春节调休上班")
    assert not calendar.is_workday(D(2027, 2, 8))
    assert calendar.is_workday(D(2027, 2, 6))
    assert calendar.add_workdays(D(2027, 2, 5), 1) == D(2027, 2, 6)
    assert calendar.add_workdays(D(2027, 2, 6), 1) == D(2027, 2, 9)
    # Still warned until the office says the whole year is in.
    assert calendar.missing_years([2027]) == [2027]
    CalendarYear.objects.create(year=2027, complete=True)
    assert calendar.missing_years([2027]) == []
    assert calendar.schedule_warnings([2027]) == []


@time_machine.travel(dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC), tick=False)
def test_admin_shows_the_warning_and_audits_changes(client):
    admin_user = make_user("caladmin", org_role=m.OrgRole.OFFICE, is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    page = client.get("/admin/workflow/workdayoverride/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "2027年的法定节假日和调休安排尚未录入" in text  # next year is beyond the package
    resp = client.post("/admin/workflow/workdayoverride/add/",
                       {"date": "2027-10-01", "is_workday": "", "note": "国庆节"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    assert not calendar.is_workday(D(2027, 10, 1))  # the change is seen at once in this process
    entry = m.AuditEntry.objects.get(action="calendar.workdayoverride.save")
    assert entry.actor == admin_user and entry.after["date"] == "2027-10-01" and entry.after["is_workday"] == "False"
