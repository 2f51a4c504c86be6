"""The rectification flow (整改): started by the leader's approval, through both return paths to closure;
its tasks' due dates come from the rectification's own dates and drive reminders and escalation."""

import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from viewflow.workflow.models import Task

from cases import models as m
from notifications.documents import services as document_services
from notifications.documents.models import Document
from notifications.models import Notification
from tests.api_helpers import API, ok
from tests.factories import act as factory_act
from tests.factories import advance_case, make_round
from tests.rectification_helpers import approved_round, attachment, measures, rect_task
from workflow.deadlines import events
from workflow.deadlines.reminders import sweep
from workflow.flows import RectificationFlow
from workflow.models import TaskDeadline

SH = ZoneInfo("Asia/Shanghai")
S = m.RectificationStatus


def act(client, task: Task, action: str, status: int = 200, **data):
    return ok(client.post(f"{API}/tasks/{task.pk}/{action}/", data, format="json"), status)


@pytest.mark.django_db
def test_approval_starts_one_flow_per_rectification_with_its_own_dues():
    setup = approved_round(units=2, findings=2)
    rects = list(m.Rectification.objects.filter(round=setup.round).order_by("pk"))
    assert len(rects) == 4 and {r.source for r in rects} == {m.RectificationSource.FINDING}
    rect = rects[0]
    assert rect.problem.endswith("问题1") and rect.status == S.PLANNING
    assert rect.plan_due == datetime.now(SH).date() + timedelta(days=10)
    local_report_due = setup.round.report_due.astimezone(SH).date()
    assert rect.due_date == local_report_due + timedelta(days=30)
    task = rect_task(rect, "plan")
    assert task.owner == setup.staff[0]  # the unit's one staff member
    row = TaskDeadline.objects.get(task=task)
    assert row.phase == "rectify" and row.case_id == rect.case_id
    assert row.due.astimezone(SH).date() == rect.plan_due
    assert m.AuditEntry.objects.filter(action="rectification.start", round_id=setup.round.pk).count() == 4


@pytest.mark.django_db
def test_a_round_may_start_each_rectification_when_its_finding_is_recorded(api):
    setup = make_round(units=2, experts=1, launch=True, config={"rectification_start": "finding"})
    case = advance_case(setup, 0, upto="inspect")
    leader = setup.group_of(0).leader
    body = ok(api(leader).post(f"{API}/findings/", {
        "case": case.pk, "source": "inspection", "description": "台账不全", "requires_rectification": True,
    }, format="json"), 201)
    rect = m.Rectification.objects.get(finding_id=body["id"])
    assert rect.status == S.PLANNING and rect.round_id == setup.round.pk
    assert rect_task(rect, "plan").owner == setup.staff[0]  # its process is open before the results
    # The finding is now the rectification's subject: it is neither withdrawn nor freed of it.
    ok(api(leader).delete(f"{API}/findings/{body['id']}/"), 409)
    ok(api(leader).patch(f"{API}/findings/{body['id']}/", {"requires_rectification": False}, format="json"), 409)
    assert m.Finding.objects.get(pk=body["id"]).requires_rectification
    # A finding recorded without the requirement, then given it: started then.
    other = ok(api(leader).post(f"{API}/findings/", {
        "case": case.pk, "source": "inspection", "description": "制度未更新"}, format="json"), 201)
    assert not m.Rectification.objects.filter(finding_id=other["id"]).exists()
    ok(api(leader).patch(f"{API}/findings/{other['id']}/", {"requires_rectification": True}, format="json"))
    assert rect_task(m.Rectification.objects.get(finding_id=other["id"]), "plan") is not None
    # The approval starts nothing twice.
    advance_case(setup, 0, upto="done")
    advance_case(setup, 1, upto="done")
    factory_act(setup, setup.office, "compile")
    factory_act(setup, setup.leader, "approve", None, "approve", comment="同意")
    assert m.Rectification.objects.filter(round=setup.round).count() == 2
    assert Task.objects.filter(process__flow_class=RectificationFlow, flow_task=RectificationFlow.plan).count() == 2


@pytest.mark.django_db
def test_the_full_loop_with_both_returns(api):
    setup = approved_round(units=1)
    rect = m.Rectification.objects.get(round=setup.round)
    staff, head, lead, office = setup.staff[0], setup.heads[0], setup.groups[0].leader, setup.office

    # plan → sign (returned) → plan again → sign → review (returned) → plan → sign → review accepted
    act(api(staff), rect_task(rect, "plan"), "submit", target="整改到位", measures=measures(rect))
    act(api(head), rect_task(rect, "plan_sign"), "return", comment="措施不具体")
    rect.refresh_from_db()
    assert rect.status == S.PLANNING and rect.measures.count() == 2
    act(api(staff), rect_task(rect, "plan"), "submit", target="整改到位", measures=measures(rect, 3))
    act(api(head), rect_task(rect, "plan_sign"), "approve")
    review = rect_task(rect, "plan_review")
    assert review.owner_id is None and review.owner_permission == "cases.rectification_reviewer"
    act(api(lead), review, "return", 400)  # a return needs a comment
    act(api(lead), review, "return", comment="时限过长")
    act(api(staff), rect_task(rect, "plan"), "submit")  # the saved plan, unchanged
    act(api(head), rect_task(rect, "plan_sign"), "approve")
    act(api(office), rect_task(rect, "plan_review"), "approve", comment="同意")
    rect.refresh_from_db()
    assert rect.status == S.IN_PROGRESS and rect.measures.count() == 3

    # progress through the rectification's endpoint, then completion → verification returned → again
    own = attachment(rect.case, staff)
    body = ok(api(staff).post(f"{API}/rectifications/{rect.pk}/progress/",
                              {"text": "已完成措施1", "evidence_ids": [own.pk]}, format="json"), 201)
    assert body["kind"] == "progress" and body["evidence"] == [own.pk]
    carry = rect_task(rect, "carry_out")
    act(api(staff), carry, "submit", 400, report="已全部完成")  # completion needs evidence
    act(api(staff), carry, "submit", report="已全部完成", evidence_ids=[own.pk])
    act(api(lead), rect_task(rect, "verify"), "return", comment="佐证不足")
    rect.refresh_from_db()
    assert rect.status == S.IN_PROGRESS
    act(api(staff), rect_task(rect, "carry_out"), "submit", report="补充佐证", evidence_ids=[own.pk])
    act(api(lead), rect_task(rect, "verify"), "approve", comment="验收通过")
    rect.refresh_from_db()
    assert rect.status == S.CLOSED and rect.verified_by == lead and rect.closed_at is not None
    assert rect_task(rect) is None
    # Its closure sheet (整改销号单) is sent to be issued; the worker renders it with the finding and verifier.
    sheet = Document.objects.get(kind="closure_sheet", data__rectification=rect.pk)
    assert sheet.status == "issuing" and sheet.unit_id == rect.unit_id
    assert document_services.issue_render(sheet.pk)
    sheet.refresh_from_db()
    text = "".join(subprocess.run(["pdftotext", sheet.pdf.path, "-"], capture_output=True, check=True).stdout.decode().split())
    assert "".join(rect.problem.split())[:20] in text and str(lead) in text

    # History kept: every decision and report is a row, and the audit log has each step.
    assert [(r.stage, r.decision) for r in rect.reviews.all()] == [
        ("sign", "return"), ("sign", "accept"), ("plan", "return"), ("sign", "accept"), ("plan", "accept"),
        ("verification", "return"), ("verification", "accept")]
    assert [r.kind for r in rect.reports.all()] == ["progress", "completion", "completion"]
    actions = list(m.AuditEntry.objects.filter(object_type="rectification", object_id=str(rect.pk))
                   .order_by("pk").values_list("action", flat=True))
    assert actions[0] == "rectification.start" and actions[-1] == "rectification.close"
    assert "rectification.plan_return" in actions and "rectification.verify_return" in actions
    detail = ok(api(staff).get(f"{API}/rectifications/{rect.pk}/"))
    assert detail["status"] == "closed" and len(detail["reviews"]) == 7 and len(detail["measures"]) == 3


@pytest.mark.django_db
def test_a_late_plan_reminds_and_escalates():
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=SH), tick=False):
        setup = approved_round(units=1)
        sweep()
    rect = m.Rectification.objects.get(round=setup.round)
    assert rect.plan_due.isoformat() == "2026-03-12"  # a Thursday
    task = rect_task(rect, "plan")
    row = TaskDeadline.objects.get(task=task)
    assert row.due == datetime(2026, 3, 12, 23, 59, 59, tzinfo=SH)
    staff, head, office = setup.staff[0], setup.heads[0], setup.office

    def run(*args):
        with time_machine.travel(datetime(*args, tzinfo=SH), tick=False):
            return sweep()

    assert run(2026, 3, 9, 23, 59, 59)["reminder"] == 1  # three working days before
    assert run(2026, 3, 13, 0, 0, 0)["overdue"] == 1
    assert run(2026, 3, 16, 23, 59, 59)["escalate"] == 1  # the next working day: the unit head
    assert run(2026, 3, 18, 23, 59, 59)["escalate"] == 1  # two more: the office
    escalated = Notification.objects.filter(event=events.ESCALATED).order_by("pk")
    assert [n.recipient_id for n in escalated] == [head.pk, office.pk]
    assert Notification.objects.filter(event=events.OVERDUE, recipient=staff).count() == 1
    assert task.flow_task is RectificationFlow.plan


@pytest.mark.django_db
def test_the_list_counts_days_overdue_from_the_step_it_is_at(client):
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=SH), tick=False):
        setup = approved_round(units=1)
    rect = m.Rectification.objects.get(round=setup.round)
    assert (rect.plan_due.isoformat(), rect.due_date > rect.plan_due + timedelta(days=5)) == ("2026-03-12", True)
    client.force_login(setup.office)
    with time_machine.travel(datetime(2026, 3, 17, 9, tzinfo=SH), tick=False):
        page = client.get("/rectifications/").content.decode()
    # Planning, five days past the plan's due (not the rectification's own, weeks away).
    assert "2026-03-12</td>" in page and '<td>5</td>' in page


@pytest.mark.django_db
def test_the_office_moves_a_rectification_s_dates_and_its_open_step_follows(api, client):
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=SH), tick=False):
        setup = approved_round(units=2)
        rect = m.Rectification.objects.get(round=setup.round, unit=setup.units[0])
        task = rect_task(rect, "plan")
        url = f"{API}/rectifications/{rect.pk}/dues/"
        body = {"plan_due": "2026-03-20", "due_date": "2026-05-31", "reason": "单位机构调整"}
        # Not the unit's, not the group's: the office's (refused before the body is read).
        for user in (setup.staff[0], setup.groups[0].leader):
            ok(api(user).put(url, {"nonsense": 1}, format="json"), 403)
        bad = ok(api(setup.office).put(url, {"plan_due": "2026-06-30", "due_date": "2026-03-01", "reason": " ",
                                             "extra": 1}, format="json"), 400)
        assert "extra" in bad["errors"]  # unknown fields refused
        bad = ok(api(setup.office).put(url, {"plan_due": "2026-06-30", "due_date": "2026-03-01", "reason": " "},
                                       format="json"), 400)
        assert set(bad["errors"]) == {"plan_due", "due_date", "reason"}
        rect.refresh_from_db()
        assert rect.plan_due.isoformat() == "2026-03-12"  # nothing changed
        ok(api(setup.office).put(url, body, format="json"))
        rect.refresh_from_db()
        assert (rect.plan_due.isoformat(), rect.due_date.isoformat()) == ("2026-03-20", "2026-05-31")
        assert TaskDeadline.objects.get(task=task).due == datetime(2026, 3, 20, 23, 59, 59, tzinfo=SH)
        assert Notification.objects.filter(event=events.EXTENDED, recipient=setup.staff[0]).count() == 1
        entry = m.AuditEntry.objects.get(action="rectification.dues")
        assert entry.comment == "单位机构调整" and entry.before["plan_due"] == "2026-03-12"
        other = m.Rectification.objects.get(round=setup.round, unit=setup.units[1])
        assert other.plan_due.isoformat() == "2026-03-12"  # the other unit's stays
        # The page: the office's form, and the unit sees none.
        client.force_login(setup.staff[0])
        assert "调整整改期限" not in client.get(f"/rectifications/{rect.pk}/").content.decode()
        client.force_login(setup.office)
        page = client.post(f"/rectifications/{other.pk}/", {"form": "dues", "plan_due": "2026-03-25",
                                                             "due_date": other.due_date.isoformat(), "reason": "延期"})
        assert page.status_code == 302
        other.refresh_from_db()
        assert other.plan_due.isoformat() == "2026-03-25"


@pytest.mark.django_db
def test_progress_is_asked_for_at_each_measure_s_due_date(api):
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=SH), tick=False):
        setup = approved_round(units=1)
        rect = m.Rectification.objects.get(round=setup.round)
        staff = setup.staff[0]
        plan = [{"text": "健全制度", "responsible": "张三", "due_date": "2026-03-20"},
                {"text": "组织培训", "responsible": "李四", "due_date": "2026-04-10"}]
        act(api(staff), rect_task(rect, "plan"), "submit", target="目标", measures=plan)
        act(api(setup.heads[0]), rect_task(rect, "plan_sign"), "approve")
        act(api(setup.groups[0].leader), rect_task(rect, "plan_review"), "approve")
    rect.refresh_from_db()
    assert rect.status == S.IN_PROGRESS

    def run(*args):
        with time_machine.travel(datetime(*args, tzinfo=SH), tick=False):
            return sweep()["progress"]

    assert run(2026, 3, 19, 23, 0) == 0  # the day before
    assert run(2026, 3, 20, 7, 59) == 0  # not before eight in the morning
    assert run(2026, 3, 20, 8, 0) == 1
    assert run(2026, 3, 20, 15, 0) == 0  # once
    assert run(2026, 4, 11, 9, 0) == 1  # the second measure, a day late (no sweep on its day)
    notices = Notification.objects.filter(event=events.PROGRESS_DUE).order_by("pk")
    assert [n.recipient_id for n in notices] == [staff.pk, staff.pk]
    assert "健全制度" in notices[0].body and "张三" in notices[0].body
    assert notices[0].link == f"/rectifications/{rect.pk}/"


@pytest.mark.django_db
def test_the_pages_carry_a_rectification_through(client):
    setup = approved_round(units=2)
    rect = m.Rectification.objects.get(round=setup.round, unit=setup.units[0])
    staff, head, lead = setup.staff[0], setup.heads[0], setup.groups[0].leader

    def login(user):
        client.force_login(user)

    login(staff)
    page = client.get("/rectifications/")
    assert page.status_code == 200 and rect.problem in page.content.decode()
    other = m.Rectification.objects.get(round=setup.round, unit=setup.units[1])
    assert other.problem not in page.content.decode()  # the other unit's is not listed
    task = rect_task(rect, "plan")
    page = client.get(f"/tasks/{task.pk}/")
    assert page.status_code == 200 and "提交单位负责人审签" in page.content.decode()
    due = measures(rect, 1)[0]["due_date"]
    bad = client.post(f"/tasks/{task.pk}/", {"action": "save", "target": "目标", "text__0": "措施",
                                              "responsible__0": "", "due_date__0": due})
    assert "measures[0].responsible" in bad.content.decode() and rect.measures.count() == 0
    client.post(f"/tasks/{task.pk}/", {"action": "save", "target": "目标", "text__0": "措施",
                                        "responsible__0": "张三", "due_date__0": due, "text__1": ""})
    assert list(rect.measures.values_list("responsible", flat=True)) == ["张三"]
    assert client.post(f"/tasks/{task.pk}/", {"action": "submit"}).status_code == 302
    login(head)
    client.post(f"/tasks/{rect_task(rect, 'plan_sign').pk}/", {"action": "approve"})
    login(lead)
    client.post(f"/tasks/{rect_task(rect, 'plan_review').pk}/", {"action": "approve", "comment": "同意"})
    login(staff)
    carry = rect_task(rect, "carry_out")
    own = attachment(rect.case, staff)
    page = client.get(f"/tasks/{carry.pk}/")
    assert own.original_name in page.content.decode()
    client.post(f"/tasks/{carry.pk}/", {"action": "progress", "report": "进展", "evidence_ids": [own.pk]})
    client.post(f"/tasks/{carry.pk}/", {"action": "submit", "report": "完成", "evidence_ids": [own.pk]})
    rect.refresh_from_db()
    assert rect.status == S.VERIFYING and [r.kind for r in rect.reports.all()] == ["progress", "completion"]


@pytest.mark.django_db
def test_the_rectification_page_follows_row_level_access(client):
    setup = approved_round(units=2)
    rect = m.Rectification.objects.get(round=setup.round, unit=setup.units[0])
    for user, status in [(setup.staff[0], 200), (setup.staff[1], 404), (setup.groups[0].leader, 200),
                         (setup.office, 200), (setup.groups[0].experts[0], 404)]:
        client.force_login(user)
        page = client.get(f"/rectifications/{rect.pk}/")
        assert page.status_code == status, user
        if status == 200:
            assert rect.problem in page.content.decode()
    client.force_login(setup.staff[0])
    assert "制定整改方案" in client.get(f"/rectifications/{rect.pk}/").content.decode()  # its open task


@pytest.mark.django_db
def test_the_office_records_the_publication_on_the_rectifications_page(client):
    from tests.rectification_helpers import advance_rectification, today

    setup = approved_round(units=1)
    rect = advance_rectification(setup, m.Rectification.objects.get(round=setup.round), "verify")
    from workflow import services as flow_services

    flow_services.task_act(user=setup.group_of(0).leader, task_id=rect_task(rect, "verify").pk, action="approve",
                           data={"comment": "通过"})
    client.force_login(setup.office)
    url = f"/rectifications/{rect.pk}/"
    start = today()
    page = client.post(url, {"published_from": start, "published_until": start + timedelta(days=10), "where": "网站"})
    assert "公示期不少于 30 天" in page.content.decode()
    response = client.post(url, {"published_from": start, "published_until": start + timedelta(days=40), "where": "网站"})
    assert response.status_code == 302
    rect.refresh_from_db()
    assert rect.published_where == "网站" and (rect.published_until - rect.published_from).days == 40
    client.force_login(setup.staff[0])
    assert client.post(url, {"published_from": start, "published_until": start, "where": "x"}).status_code == 200
    rect.refresh_from_db()
    assert rect.published_until == start + timedelta(days=40)  # a unit cannot change it
