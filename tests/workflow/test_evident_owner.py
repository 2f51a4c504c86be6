"""Work lands with its owner: a task whose role only one person holds is assigned to that person when
it is created (and the notice says "assigned"); saving a draft claims the task for the saver."""

import pytest
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from notifications.models import Notification
from tests.factories import act, advance_case, make_round, make_user
from workflow import selectors, services
from workflow.deadlines import events, reminders

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _notices(task: Task) -> list[tuple[int, str]]:
    return sorted(Notification.objects.filter(link__endswith=f"/tasks/{task.pk}/")
                  .values_list("recipient_id", "event"))


def _second_staff(r, index: int, **extra) -> m.User:
    user = make_user(**extra)
    m.UnitMembership.objects.create(user=user, unit=r.units[index], role=m.UnitRole.STAFF)
    return user


# --- assigned on creation ------------------------------------------------------------------------


def test_launch_assigns_prepare_to_a_units_only_staff_member_and_the_sweep_says_assigned():
    r = make_round(units=2, experts=1)
    other = _second_staff(r, 1)
    r.launch()
    one, two = r.task("prepare", r.cases[0]), r.task("prepare", r.cases[1])
    assert (one.status, one.owner_id) == (STATUS.ASSIGNED, r.staff[0].pk)
    assert (two.status, two.owner_id) == (STATUS.NEW, None)
    assert [t.pk for t in selectors.tasks_for(r.staff[0], "inbox")] == [one.pk]
    assert not selectors.tasks_for(r.staff[0], "queue").exists()
    # The bulk launch leaves the "new task" notices to the sweep.
    reminders.sweep()
    assert _notices(one) == [(r.staff[0].pk, events.ASSIGNED)]
    assert _notices(two) == sorted([(r.staff[1].pk, events.CLAIMABLE), (other.pk, events.CLAIMABLE)])


def test_an_inactive_second_staff_member_does_not_make_the_task_claimable():
    r = make_round(units=1, experts=1)
    _second_staff(r, 0, is_active=False)
    r.launch()
    task = r.task("prepare", r.cases[0])
    assert (task.status, task.owner_id) == (STATUS.ASSIGNED, r.staff[0].pk)


def test_each_case_step_goes_to_its_evident_owner_with_an_assigned_notice():
    r = make_round(units=1, experts=2, launch=True)
    case, group = r.cases[0], r.groups[0]
    for step, owner in (("sign_off", r.heads[0]), ("inspect", group.leader), ("review", group.leader)):
        advance_case(r, 0, upto=step)
        task = r.task(step, case)
        assert (task.status, task.owner_id) == (STATUS.ASSIGNED, owner.pk), step
        assert _notices(task) == [(owner.pk, events.ASSIGNED)], step
        assert [t.pk for t in selectors.tasks_for(owner, "inbox") if t.flow_task == task.flow_task] == [task.pk]


def test_the_deputy_stands_in_when_the_group_leader_gives_the_task_back():
    r = make_round(units=1, experts=1, launch=True)
    group = r.groups[0]
    case = advance_case(r, 0, upto="inspect")
    task = r.task("inspect", case)
    assert task.owner_id == group.leader.pk
    with pytest.raises(services.Conflict):
        services.task_claim(user=group.deputy, task_id=task.pk)
    services.task_unclaim(user=group.leader, task_id=task.pk)
    act(r, group.deputy, "inspect", case)
    case.refresh_from_db()
    assert case.status == m.CaseStatus.SCORE


def test_a_group_with_two_leaders_queues_its_tasks():
    r = make_round(units=1, experts=1, launch=True)
    second = make_user()
    m.GroupMember.objects.create(group=r.groups[0].group, user=second, role=m.GroupRole.LEADER)
    case = advance_case(r, 0, upto="inspect")
    task = r.task("inspect", case)
    assert (task.status, task.owner_id) == (STATUS.NEW, None)
    assert {uid for uid, event in _notices(task)} == {r.groups[0].leader.pk, r.groups[0].deputy.pk, second.pk}
    assert {event for uid, event in _notices(task)} == {events.CLAIMABLE}


def test_round_tasks_go_to_the_only_office_and_the_only_leader():
    r = make_round(units=1, experts=1, launch=True)
    advance_case(r, 0)
    compile_task = r.task("compile")
    assert (compile_task.status, compile_task.owner_id) == (STATUS.ASSIGNED, r.office.pk)
    assert _notices(compile_task) == [(r.office.pk, events.ASSIGNED)]
    act(r, r.office, "compile")
    approve = r.task("approve")
    assert (approve.status, approve.owner_id) == (STATUS.ASSIGNED, r.leader.pk)
    assert _notices(approve) == [(r.leader.pk, events.ASSIGNED)]


def test_two_office_members_share_the_compile_queue():
    r = make_round(units=1, experts=1, launch=True)
    colleague = make_user(org_role=m.OrgRole.OFFICE)
    advance_case(r, 0)
    task = r.task("compile")
    assert (task.status, task.owner_id) == (STATUS.NEW, None)
    assert {uid for uid, _ in _notices(task)} == {r.office.pk, colleague.pk}


def test_returned_work_goes_back_assigned_to_the_units_staff_member():
    r = make_round(units=1, experts=1, launch=True)
    case = advance_case(r, 0, upto="sign_off")
    act(r, r.heads[0], "sign_off", case, "return", comment="请补充")
    task = r.task("prepare", case)
    assert (task.status, task.owner_id) == (STATUS.ASSIGNED, r.staff[0].pk)
    assert _notices(task) == [(r.staff[0].pk, events.RETURNED)]


# --- saving a draft claims the task --------------------------------------------------------------


@pytest.fixture
def two_staff():
    """A unit with two staff members: its prepare task waits in their queue."""
    r = make_round(units=1, experts=1)
    second = _second_staff(r, 0)
    r.launch()
    assert r.task("prepare", r.cases[0]).status == STATUS.NEW
    return r, r.staff[0], second


def test_saving_a_draft_through_the_api_claims_the_task_and_a_colleague_gets_409(api, two_staff):
    r, first, second = two_staff
    case = r.cases[0]
    url = f"{API}/cases/{case.pk}/submission/"
    assert api(first).put(url, {"report": "草稿一"}, format="json").status_code == 200
    task = r.task("prepare", case)
    assert (task.status, task.owner_id) == (STATUS.ASSIGNED, first.pk)
    assert api(first).put(url, {"report": "草稿二"}, format="json").status_code == 200  # still theirs
    refused = api(second).put(url, {"report": "同事的草稿"}, format="json")
    assert refused.status_code == 409, refused.content
    assert case.submissions.get().report == "草稿二"
    assert r.task("prepare", case).owner_id == first.pk


def test_saving_a_draft_on_the_page_claims_the_task_and_a_colleague_gets_409(client, two_staff):
    r, first, second = two_staff
    case, task = r.cases[0], r.task("prepare", r.cases[0])
    client.force_login(first)
    assert client.post(f"/tasks/{task.pk}/", {"action": "save", "report": "页面草稿"}).status_code == 302
    task.refresh_from_db()
    assert (task.status, task.owner_id) == (STATUS.ASSIGNED, first.pk)
    client.force_login(second)
    refused = client.post(f"/tasks/{task.pk}/", {"action": "save", "report": "同事的草稿"})
    assert refused.status_code == 409
    assert case.submissions.get().report == "页面草稿"


def test_a_refused_draft_claims_nothing(api, two_staff):
    r, first, _ = two_staff
    case = r.cases[0]
    too_long = "字" * (case.round.report_char_limit + 1)
    assert api(first).put(f"{API}/cases/{case.pk}/submission/", {"report": too_long}, format="json").status_code == 400
    task = r.task("prepare", case)
    assert (task.status, task.owner_id) == (STATUS.NEW, None)


def test_someone_outside_the_role_cannot_save_or_claim(api, two_staff):
    r, _, _ = two_staff
    case = r.cases[0]
    response = api(r.heads[0]).put(f"{API}/cases/{case.pk}/submission/", {"report": "负责人代填"}, format="json")
    assert response.status_code == 403
    assert (r.task("prepare", case).status, case.submissions.count()) == (STATUS.NEW, 0)


def test_an_expert_saves_only_their_own_assigned_sheet(api):
    """Score tasks are their expert's from creation: the sheet save needs no claim, and no one else saves it."""
    r = make_round(units=1, experts=2, launch=True)
    case = advance_case(r, 0, upto="score")
    mine, other = r.groups[0].experts
    sheet = m.ScoreSheet.objects.get(case=case, expert=mine)
    assert r.task("score", case, expert=mine).status == STATUS.ASSIGNED
    body = {"items": [{"item": "S1.1", "deduction": "1", "reason": "缺"}]}
    assert api(mine).put(f"{API}/score-sheets/{sheet.pk}/items/", body, format="json").status_code == 200
    assert api(other).put(f"{API}/score-sheets/{sheet.pk}/items/", body, format="json").status_code in (403, 404)
