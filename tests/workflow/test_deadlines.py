"""Due dates on every human task, extensions, reminders and escalation (workflow/deadlines/: services.py,
rules.py, reminders.py, events.py), with a frozen clock (time-machine).

Dates are Asia/Shanghai. The schedule of a task due at D (default configuration): reminders at the
same clock time 3 and 1 working days before D, the overdue notice at D, escalation 1 working day
after D (expert → group leads, unit staff → unit head, others → office / leaders), then to the
office 2 further working days later.
"""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from notifications.models import Notification
from tests.api_helpers import API, ok
from tests.factories import act, advance_case, make_round
from workflow import services
from workflow.deadlines import calendar, events
from workflow.deadlines import rules as deadlines
from workflow.deadlines.reminders import sweep
from workflow.flows import CaseFlow, RoundFlow
from workflow.models import CaseDeadline, TaskDeadline, WorkdayOverride

SH = ZoneInfo("Asia/Shanghai")


def at(y, mo, d, h=17, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def travel(when: datetime):
    return time_machine.travel(when, tick=False)


@pytest.fixture(autouse=True)
def fresh_calendar():
    calendar.clear_cache()
    yield
    calendar.clear_cache()


def dated_round(prepare_due: datetime, launch_at: datetime, *, units=1, experts=1, config=None, groups=1):
    """A round launched at `launch_at` whose phases are due `prepare_due`, +14, +21, +28, +35 days;
    the launch notices have been sent (the bulk launch leaves them to the sweep)."""
    with travel(launch_at):
        setup = make_round(units=units, experts=experts, config=config, groups=groups)
        m.Round.objects.filter(pk=setup.round.pk).update(
            prepare_due=prepare_due, inspect_due=prepare_due + timedelta(days=14),
            review_due=prepare_due + timedelta(days=21), approve_due=prepare_due + timedelta(days=28),
            report_due=prepare_due + timedelta(days=35),
        )
        setup.round.refresh_from_db()
        setup.launch()
        sweep()
    return setup


def notes(event=None, **filters) -> list[Notification]:
    qs = Notification.objects.filter(**filters).order_by("pk")
    if event:
        qs = qs.filter(event=event)
    return list(qs)


def recipients(event, **filters) -> list[int]:
    return sorted(n.recipient_id for n in notes(event, **filters))


def sweep_at(when: datetime) -> dict:
    with travel(when):
        return sweep()


# --- due dates on every task ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_human_task_gets_its_phase_due_and_the_inbox_shows_it(api):
    setup = make_round(units=1, experts=2, launch=True)
    advance_case(setup, 0, "done")
    round = setup.round
    human = Task.objects.filter(flow_task_type="HUMAN", process__data__round=round.pk)
    # Written out here, not taken from workflow.steps.STEPS: the mapping under test.
    expected = {"prepare": round.prepare_due, "sign_off": round.prepare_due, "inspect": round.inspect_due,
                "score": round.inspect_due, "review": round.review_due, "compile": round.approve_due}
    steps = set()
    for task in human:
        deadline = TaskDeadline.objects.get(task=task)
        assert deadline.due == expected[task.flow_task.name], task.flow_task.name
        assert deadline.round_id == round.pk
        steps.add(task.flow_task.name)
    assert steps == {"prepare", "sign_off", "inspect", "score", "review", "compile"}
    assert not TaskDeadline.objects.exclude(task__flow_task_type="HUMAN").exists()
    rows = ok(api(setup.office).get(f"{API}/tasks/", {"scope": "all", "page_size": 50}))["results"]
    assert rows and all(r["due"] == TaskDeadline.objects.get(task_id=r["id"]).due.isoformat() for r in rows)


@pytest.mark.django_db
def test_bulk_and_engine_launch_write_the_same_due_rows_and_notices():
    setup = make_round(units=2, experts=1)
    bulk_case, engine_case = setup.cases
    services.case_processes_start([bulk_case])
    services.case_processes_start([engine_case], engine=True)
    rows = {row.case_id: row for row in TaskDeadline.objects.all()}
    fields = lambda row: (row.round_id, row.phase, row.due, row.extended_due)  # noqa: E731
    assert fields(rows[bulk_case.pk]) == fields(rows[engine_case.pk]) == (
        setup.round.pk, "prepare", setup.round.prepare_due, None)
    # The engine's receiver told the staff at once; the bulk rows wait for the sweep. Each unit has
    # one staff member: the task was assigned to them, and the notice says so.
    assert recipients(events.ASSIGNED) == [setup.staff[1].pk]
    assert not rows[bulk_case.pk].announced and rows[engine_case.pk].announced
    counts = sweep()
    assert counts["announced"] == 1
    assert recipients(events.ASSIGNED) == sorted([setup.staff[0].pk, setup.staff[1].pk])
    assert recipients(events.CLAIMABLE) == []
    (bulk_note,) = notes(events.ASSIGNED, recipient=setup.staff[0])
    (engine_note,) = notes(events.ASSIGNED, recipient=setup.staff[1])
    assert bulk_note.subject.replace(bulk_case.unit.name, "X") == engine_note.subject.replace(engine_case.unit.name, "X")
    assert sweep()["announced"] == 0


# --- reminders over weekends and holidays -------------------------------------------------------------


@pytest.mark.django_db
def test_reminders_and_escalation_over_a_weekend():
    # Due Monday 16 March 2026, 17:00: reminders Wednesday 11th and Friday 13th at 17:00 (not the
    # weekend), overdue Monday 16th, unit head Tuesday 17th, office Thursday 19th.
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9))
    staff, head, office = setup.staff[0], setup.heads[0], setup.office
    row = TaskDeadline.objects.get(case=setup.cases[0])
    assert row.next_check_at == at(2026, 3, 11)

    assert sweep_at(at(2026, 3, 11, 16, 59))["checked"] == 0
    assert sweep_at(at(2026, 3, 11))["reminder"] == 1
    (note,) = notes(events.REMINDER)
    assert note.recipient == staff and "还有3个工作日" in note.body and "2026年3月16日 17:00" in note.body
    row.refresh_from_db()
    assert row.next_check_at == at(2026, 3, 13)

    assert sweep_at(at(2026, 3, 12, 17))["checked"] == 0  # nothing on Thursday
    assert sweep_at(at(2026, 3, 13, 17, 1))["reminder"] == 1  # Friday: one working day left
    assert sweep_at(at(2026, 3, 15, 17))["checked"] == 0  # Sunday: nothing
    assert sweep_at(at(2026, 3, 16, 17))["overdue"] == 1
    assert recipients(events.OVERDUE) == [staff.pk]
    assert sweep_at(at(2026, 3, 17, 17))["escalate"] == 1
    assert recipients(events.ESCALATED) == [head.pk]
    assert sweep_at(at(2026, 3, 18, 17))["escalate"] == 0
    assert sweep_at(at(2026, 3, 19, 17))["escalate"] == 1
    assert recipients(events.ESCALATED) == sorted([head.pk, office.pk])
    (to_office,) = notes(events.ESCALATED, recipient=office)
    assert "逾期督办" in to_office.subject and "填报员" in to_office.body
    row.refresh_from_db()
    assert row.next_check_at is None  # the chain is over
    assert [n.event for n in notes(recipient=staff)] == [
        events.ASSIGNED, events.REMINDER, events.REMINDER, events.OVERDUE]


@pytest.mark.django_db
def test_reminders_over_national_day_2026():
    # Due Friday 9 October 2026, 17:00. Three working days before: Tuesday 29 September (1–7 October
    # are holidays); one before: Thursday 8 October; escalation one working day after: the make-up
    # Saturday 10 October; the office two further working days later: Tuesday 13 October.
    setup = dated_round(at(2026, 10, 9), at(2026, 9, 21, 9))
    moments = deadlines.schedule(at(2026, 10, 9), deadlines.config_of({}), "prepare")
    assert [(mo.kind, mo.at) for mo in moments] == [
        ("reminder", at(2026, 9, 29)), ("reminder", at(2026, 10, 8)), ("overdue", at(2026, 10, 9)),
        ("escalate", at(2026, 10, 10)), ("escalate", at(2026, 10, 13)),
    ]
    assert sweep_at(at(2026, 9, 30, 9))["reminder"] == 1  # the 29th's
    assert sweep_at(at(2026, 10, 5, 9))["checked"] == 0  # the holiday week: nothing
    assert sweep_at(at(2026, 10, 8, 17))["reminder"] == 1
    assert sweep_at(at(2026, 10, 9, 17))["overdue"] == 1
    assert sweep_at(at(2026, 10, 10, 17))["escalate"] == 1  # Saturday, but a working day
    assert recipients(events.ESCALATED) == [setup.heads[0].pk]
    assert sweep_at(at(2026, 10, 12, 17))["escalate"] == 0
    assert sweep_at(at(2026, 10, 13, 17))["escalate"] == 1
    # Due the Monday after: one working day before is the make-up Saturday.
    monday = deadlines.schedule(at(2026, 10, 12), deadlines.config_of({}), "prepare")
    assert [mo.at for mo in monday if mo.kind == "reminder"] == [at(2026, 10, 8), at(2026, 10, 10)]


@pytest.mark.django_db
def test_a_2027_deadline_counts_weekends_plus_the_office_overrides():
    # 2027 is beyond chinesecalendar: weekends only, plus what the office entered.
    config = deadlines.config_of({})
    due = at(2027, 2, 9)  # a Tuesday
    assert [mo.at for mo in deadlines.schedule(due, config, "prepare") if mo.kind == "reminder"] == [
        at(2027, 2, 4), at(2027, 2, 8)]
    WorkdayOverride.objects.create(date=datetime(2027, 2, 8).date(), is_workday=False, note="春节")
    calendar.clear_cache()
    assert [mo.at for mo in deadlines.schedule(due, config, "prepare") if mo.kind == "reminder"] == [
        at(2027, 2, 3), at(2027, 2, 5)]


@pytest.mark.django_db
def test_the_round_configures_the_schedule():
    config = {"reminder_days": [2], "overdue_notice": False, "escalate_after_days": 0,
              "escalate_office_after_days": None}
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9), config=config)
    moments = deadlines.schedule(at(2026, 3, 16), deadlines.config_of(setup.round.config), "prepare")
    assert [(mo.kind, mo.n, mo.at) for mo in moments] == [("reminder", 2, at(2026, 3, 12)), ("escalate", 1, at(2026, 3, 16))]
    sweep_at(at(2026, 3, 20, 9))
    assert recipients(events.ESCALATED) == [setup.heads[0].pk]
    assert notes(events.OVERDUE) == []
    off = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9), config={"reminders_enabled": False})
    sweep_at(at(2026, 3, 30, 9))
    assert not Notification.objects.filter(recipient__in=[off.staff[0], off.heads[0]]).exclude(
        event=events.ASSIGNED).exists()


@pytest.mark.django_db
def test_escalation_chain_of_an_expert():
    # Scoring is due with the inspect phase: Monday 30 March 2026, 17:00.
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9), experts=2)
    with travel(at(2026, 3, 9, 10)):
        advance_case(setup, 0, "score")
    group = setup.groups[0]
    experts = sorted(e.pk for e in group.experts)
    # Each expert told of their score task.
    assert sorted(n.recipient_id for n in notes(events.ASSIGNED) if "专家评分" in n.subject) == experts
    sweep_at(at(2026, 3, 30, 17))
    assert recipients(events.OVERDUE) == experts
    sweep_at(at(2026, 3, 31, 17))
    leads = sorted([group.leader.pk, group.deputy.pk])
    assert recipients(events.ESCALATED) == sorted(leads * 2)  # one notice per late expert
    sweep_at(at(2026, 4, 2, 17))
    assert recipients(events.ESCALATED) == sorted(leads * 2 + [setup.office.pk] * 2)
    names = {n.body.split("的任务")[0] for n in notes(events.ESCALATED, recipient=setup.office)}
    assert names == {str(e) for e in group.experts}


# --- never twice --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reminder_is_never_sent_twice():
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9), units=3)
    first = sweep_at(at(2026, 3, 11, 17, 5))
    assert first["reminder"] == 3
    assert sweep_at(at(2026, 3, 11, 17, 5))["reminder"] == 0
    assert sweep_at(at(2026, 3, 11, 17, 10))["reminder"] == 0
    # Even if the schedule were lost (a row checked again from the start), the outbox refuses the
    # same notice twice: the dedupe key is task, moment, due date and person.
    TaskDeadline.objects.update(checked_at=at(2026, 3, 1), next_check_at=at(2026, 3, 1))
    again = sweep_at(at(2026, 3, 11, 17, 10))
    assert again["checked"] == 3 and again["reminder"] == 0
    assert len(notes(events.REMINDER)) == 3
    assert sorted(n.recipient_id for n in notes(events.REMINDER)) == sorted(s.pk for s in setup.staff)


@pytest.mark.django_db
def test_an_idle_sweep_is_two_indexed_queries():
    dated_round(at(2026, 3, 16), at(2026, 3, 2, 9), units=3)
    with travel(at(2026, 3, 5, 9)), CaptureQueriesContext(connection) as queries:
        counts = sweep()
    assert counts["checked"] == 0
    selects = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2
    assert '"next_check_at" <=' in selects[0] and "SKIP LOCKED" in selects[0] and "LIMIT" in selects[0]
    # The rectification measures due in the last few days (their progress reminders), by their due date.
    assert '"cases_rectificationmeasure"."due_date" BETWEEN' in selects[1]


# --- extensions ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_extension_moves_the_reminders(api):
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9))
    staff = setup.staff[0]
    task = setup.task("prepare", setup.cases[0])
    assert sweep_at(at(2026, 3, 11, 17, 5))["reminder"] == 1
    with travel(at(2026, 3, 12, 10)):
        body = ok(api(setup.office).post(f"{API}/tasks/{task.pk}/extend/",
                                         {"due": "2026-03-23T17:00:00+08:00", "reason": "系统故障，顺延一周"},
                                         format="json"))
    assert body["due"] == at(2026, 3, 23).isoformat() or datetime.fromisoformat(body["due"]) == at(2026, 3, 23)
    (notice,) = notes(events.EXTENDED)
    assert notice.recipient == staff and "2026年3月16日 17:00" in notice.body and "2026年3月23日 17:00" in notice.body
    assert "系统故障" in notice.body
    entry = m.AuditEntry.objects.get(action="deadline.extend_task")
    assert entry.actor == setup.office and entry.comment == "系统故障，顺延一周"
    assert datetime.fromisoformat(entry.before["due"]) == at(2026, 3, 16)
    assert datetime.fromisoformat(entry.after["due"]) == at(2026, 3, 23)
    # The old due's remaining moments are gone; the new due's come again, with new keys.
    assert sweep_at(at(2026, 3, 13, 17, 5))["reminder"] == 0
    assert sweep_at(at(2026, 3, 16, 17, 5))["overdue"] == 0
    assert sweep_at(at(2026, 3, 18, 17))["reminder"] == 1  # 3 working days before the 23rd
    assert sweep_at(at(2026, 3, 20, 17))["reminder"] == 1
    bodies = [n.body for n in notes(events.REMINDER)]
    assert ["3月16日" in b for b in bodies] == [True, False, False]
    assert sweep_at(at(2026, 3, 23, 17))["overdue"] == 1
    # The inbox shows the new due.
    (row,) = ok(api(staff).get(f"{API}/tasks/", {"scope": "inbox"}))["results"]
    assert datetime.fromisoformat(row["due"]) == at(2026, 3, 23)


@pytest.mark.django_db
def test_extension_endpoints_refuse_others_and_bad_input(api):
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9))
    task = setup.task("prepare", setup.cases[0])
    case = setup.cases[0]
    good = {"due": "2026-03-23T17:00:00+08:00", "reason": "顺延"}
    urls = [f"{API}/tasks/{task.pk}/extend/", f"{API}/cases/{case.pk}/extend/",
            f"{API}/rounds/{setup.round.pk}/extend-phase/"]
    with travel(at(2026, 3, 10, 10)):
        for user in (setup.staff[0], setup.heads[0], setup.groups[0].leader, setup.leader, setup.auditor):
            for url in urls:
                resp = api(user).post(url, {**good, "phase": "prepare"}, format="json")
                assert resp.status_code == 403, (user, url, resp.content)
        office = api(setup.office)
        for url in urls:
            # Only the phase endpoint takes a phase: elsewhere it is an unknown field, refused by name.
            phase = {"phase": "prepare"} if url == urls[2] else {}
            body = ok(office.post(url, phase, format="json"), 400)
            assert set(body["errors"]) >= {"due", "reason"}
            body = ok(office.post(url, {"due": "next week", "reason": " ", **phase}, format="json"), 400)
            assert set(body["errors"]) >= {"due", "reason"}
            body = ok(office.post(url, {"due": "2026-03-09T17:00:00+08:00", "reason": "x", **phase},
                                  format="json"), 400)
            assert body["errors"]["due"] == ["新的截止时间必须晚于当前时间。"]
            body = ok(office.post(url, {"due": "2026-03-16T12:00:00+08:00", "reason": "x", **phase},
                                  format="json"), 400)
            assert "必须晚于" in body["errors"]["due"][0]
        assert list(ok(office.post(urls[0], {**good, "phase": "prepare"}, format="json"), 400)["errors"]) == ["phase"]
        body = ok(office.post(urls[2], {**good, "phase": "later"}, format="json"), 400)
        assert list(body["errors"]) == ["phase"]
    assert not notes(events.EXTENDED)
    assert not m.AuditEntry.objects.filter(action__startswith="deadline.").exists()
    assert TaskDeadline.objects.get(task=task).due == at(2026, 3, 16)


@pytest.mark.django_db
def test_a_case_extension_carries_to_the_cases_next_tasks_and_the_late_flag(api):
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9), units=2)
    extended, other = setup.cases
    with travel(at(2026, 3, 17, 9)):  # both are overdue now
        body = ok(api(setup.office).post(f"{API}/cases/{extended.pk}/extend/",
                                         {"due": "2026-03-20T17:00:00+08:00", "reason": "单位主要负责人外出"},
                                         format="json"))
        assert [t["step"] for t in body["tasks"]] == ["prepare"]
        assert CaseDeadline.objects.get(case=extended, phase="prepare").due == at(2026, 3, 20)
        act(setup, setup.staff[0], "prepare", extended, report="自评报告")
        act(setup, setup.staff[1], "prepare", other, report="自评报告")
    extended.refresh_from_db()
    other.refresh_from_db()
    assert (extended.late, other.late) == (False, True)
    # The unit head's sign-off, created after the extension, has the extended due too.
    sign_off = TaskDeadline.objects.get(task=setup.task("sign_off", extended))
    assert sign_off.due == at(2026, 3, 20)
    assert TaskDeadline.objects.get(task=setup.task("sign_off", other)).due == at(2026, 3, 16)
    entry = m.AuditEntry.objects.get(action="deadline.extend_case")
    assert entry.object_id == str(extended.pk) and entry.after["phases"] == ["prepare"]
    assert recipients(events.EXTENDED) == [setup.staff[0].pk]


@pytest.mark.django_db
def test_a_phase_extension_moves_the_rounds_open_tasks(api):
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9), units=2, experts=2)
    with travel(at(2026, 3, 9, 10)):
        advance_case(setup, 0, "score")
    old_inspect = setup.round.inspect_due
    with travel(at(2026, 3, 20, 10)):
        body = ok(api(setup.office).post(f"{API}/rounds/{setup.round.pk}/extend-phase/",
                                         {"phase": "inspect", "due": "2026-04-10T17:00:00+08:00", "reason": "统一顺延"},
                                         format="json"))
    assert body["tasks"] == 2  # the two experts' score tasks
    setup.round.refresh_from_db()
    assert setup.round.inspect_due == at(2026, 4, 10)
    scores = TaskDeadline.objects.filter(task__flow_task=CaseFlow.score)
    assert {row.due for row in scores} == {at(2026, 4, 10)}
    assert TaskDeadline.objects.get(task=setup.task("prepare", setup.cases[1])).due == at(2026, 3, 16)
    assert recipients(events.EXTENDED) == sorted(e.pk for e in setup.groups[0].experts)
    entry = m.AuditEntry.objects.get(action="deadline.extend_phase")
    assert datetime.fromisoformat(entry.before["inspect_due"]) == old_inspect
    assert datetime.fromisoformat(entry.after["inspect_due"]) == at(2026, 4, 10)
    # A case reaching the phase later gets the new due.
    with travel(at(2026, 3, 21, 10)):
        advance_case(setup, 1, "inspect")
    assert TaskDeadline.objects.get(task=setup.task("inspect", setup.cases[1])).due == at(2026, 4, 10)


@pytest.mark.django_db
def test_editing_a_launched_rounds_dates_moves_open_tasks(api):
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9))
    with travel(at(2026, 3, 5, 9)):
        ok(api(setup.office).patch(f"{API}/rounds/{setup.round.pk}/", {"prepare_due": "2026-03-18T17:00:00+08:00"},
                                   format="json"))
    assert TaskDeadline.objects.get(case=setup.cases[0]).due == at(2026, 3, 18)
    assert recipients(events.EXTENDED) == [setup.staff[0].pk]
    assert sweep_at(at(2026, 3, 13, 17))["reminder"] == 1  # 3 working days before the 18th


# --- event notices from the flow -----------------------------------------------------------------------


@pytest.mark.django_db
def test_flow_events_notify_the_right_people():
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9))
    staff, head, office = setup.staff[0], setup.heads[0], setup.office
    case = setup.cases[0]
    # Every role here has one holder: each task is assigned to them, and told so.
    assert recipients(events.ASSIGNED) == [staff.pk]  # launch: the unit's staff
    with travel(at(2026, 3, 3, 9)):
        act(setup, staff, "prepare", case, report="自评报告")
        assert recipients(events.ASSIGNED) == sorted([staff.pk, head.pk])  # the head's sign-off
        act(setup, head, "sign_off", case, "return", comment="请补充佐证材料")
    (returned,) = notes(events.RETURNED)
    assert returned.recipient == staff and "请补充佐证材料" in returned.body and returned.link.startswith("/tasks/")
    with travel(at(2026, 3, 4, 9)):
        advance_case(setup, 0, "done")
    group = setup.groups[0]
    assert staff.pk in recipients(events.ASSIGNED)
    # inspect and review (the group's one leader), score (the expert), compile (the one office member)
    assert sorted(set(recipients(events.ASSIGNED)) - {staff.pk, head.pk}) == sorted(
        [group.leader.pk, group.experts[0].pk, office.pk])
    assert recipients(events.CLAIMABLE) == []
    # The leader returns the results: the office member who compiled gets the compile task back.
    with travel(at(2026, 3, 5, 9)):
        act(setup, office, "compile")
        assert setup.leader.pk in recipients(events.ASSIGNED)
        act(setup, setup.leader, "approve", None, "return", comment="请复核第1组")
    back = notes(events.RETURNED, recipient=office)
    assert len(back) == 1 and "请复核第1组" in back[0].body
    assert list(Task.objects.filter(flow_task=RoundFlow.compile, status__in=[STATUS.NEW, STATUS.ASSIGNED])
                .values_list("status", "owner")) == [(STATUS.ASSIGNED, office.pk)]


# --- two sweeps at once -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_reminder_once():
    setup = dated_round(at(2026, 3, 16), at(2026, 3, 2, 9), units=12)
    barrier = threading.Barrier(2)
    results, errors = [None, None], []

    def run(i):
        try:
            barrier.wait(timeout=20)
            results[i] = sweep(batch_size=5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    with travel(at(2026, 3, 11, 17, 5)):
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    assert results[0]["reminder"] + results[1]["reminder"] == 12
    assert results[0]["checked"] + results[1]["checked"] == 12
    reminders = notes(events.REMINDER)
    assert len(reminders) == 12
    assert sorted(n.recipient_id for n in reminders) == sorted(s.pk for s in setup.staff)
    assert len({n.dedupe_key for n in reminders}) == 12
