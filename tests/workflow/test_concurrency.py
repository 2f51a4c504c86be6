"""Two people acting on the same task at the same moment: exactly one wins, the other gets 409.

Real concurrency: committed data (transactional tests), two threads with their own APIClient and
their own database connection, released together by a barrier.
"""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from tests.api_helpers import API
from tests.factories import advance_case, make_round, make_user
from workflow.flows import CaseFlow, RoundFlow

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def race(*calls):
    """Run the calls in parallel threads released by one barrier; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(i, call):
        try:
            barrier.wait(timeout=20)
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    assert not errors, errors
    return results


def post(client, task_id, action, **data):
    return lambda: client.post(f"{API}/tasks/{task_id}/{action}/", data, format="json")


def one_winner(responses) -> tuple[int, int]:
    """Index of the 200 and of the 409; the loser is told why in plain words."""
    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200, 409], [(r.status_code, r.content[:300]) for r in responses]
    winner, loser = statuses.index(200), statuses.index(409)
    detail = responses[loser].json()["detail"]
    assert isinstance(detail, str) and ("任务" in detail), detail
    return winner, loser


def tasks_of(case, step):
    return Task.objects.filter(process__data__case=case.pk, flow_task=getattr(CaseFlow, step))


def test_two_unit_staff_submit_the_same_prepare_task():
    # Two staff members before the launch: the task waits in their queue (no evident owner).
    r = make_round(units=1, experts=1)
    second = make_user()
    m.UnitMembership.objects.create(user=second, unit=r.units[0], role=m.UnitRole.STAFF)
    r.launch()
    case = r.case(0)
    staff = [r.staff[0], second]
    task = r.task("prepare", case)
    reports = ["甲的报告", "乙的报告"]

    responses = race(*(post(client_for(u), task.pk, "submit", report=rep) for u, rep in zip(staff, reports)))
    winner, _ = one_winner(responses)

    subs = list(m.Submission.objects.filter(case=case))
    assert len(subs) == 1
    assert (subs[0].status, subs[0].report, subs[0].submitted_by) == ("submitted", reports[winner], staff[winner])
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.DONE, staff[winner])
    assert tasks_of(case, "prepare").count() == 1
    # The unit's one head has the sign-off.
    assert list(tasks_of(case, "sign_off").values_list("status", "owner")) == [(STATUS.ASSIGNED, r.heads[0].pk)]
    assert m.AuditEntry.objects.filter(action="submission.submit").count() == 1
    case.refresh_from_db()
    assert case.status == "sign_off"


def test_two_unit_staff_claim_the_same_task():
    r = make_round(units=1, experts=1)
    second = make_user()
    m.UnitMembership.objects.create(user=second, unit=r.units[0], role=m.UnitRole.STAFF)
    r.launch()
    staff = [r.staff[0], second]
    task = r.task("prepare", r.case(0))

    winner, _ = one_winner(race(*(post(client_for(u), task.pk, "claim") for u in staff)))

    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.ASSIGNED, staff[winner])


def test_group_leader_and_deputy_approve_the_same_review():
    r = make_round(units=1, experts=1, launch=True)
    case = advance_case(r, 0, upto="review")
    g = r.groups[0]
    task = r.task("review", case)
    # The review went to the group's one leader: back in the queue, both race for it.
    from workflow import services

    services.task_unclaim(user=g.leader, task_id=task.pk)

    winner, _ = one_winner(race(*(post(client_for(u), task.pk, "approve") for u in g.leads)))

    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.DONE, g.leads[winner])
    assert tasks_of(case, "review").count() == 1
    assert m.AuditEntry.objects.filter(action="case.review_approved").count() == 1
    case.refresh_from_db()
    assert case.status == "done"
    # The only case finished: the round woke up exactly once.
    compile_tasks = Task.objects.filter(process__data__round=r.round.pk, flow_task=RoundFlow.compile)
    assert compile_tasks.count() == 1
    r.round.refresh_from_db()
    assert r.round.status == "compiling"


def test_same_expert_double_submits():
    r = make_round(units=1, experts=1, launch=True)
    case = advance_case(r, 0, upto="score")
    expert = r.groups[0].experts[0]
    task = r.task("score", case, expert=expert)
    bodies = [
        {"items": [{"item": "S1.1", "deduction": "1", "reason": "第一次"}]},
        {"items": [{"item": "S1.1", "deduction": "2", "reason": "第二次"}]},
    ]

    responses = race(*(post(client_for(expert), task.pk, "submit", **body) for body in bodies))
    winner, _ = one_winner(responses)

    sheets = list(m.ScoreSheet.objects.filter(case=case, expert=expert))
    assert len(sheets) == 1 and sheets[0].status == "submitted"
    scores = list(sheets[0].item_scores.values_list("item__code", "deduction", "reason"))
    expected = bodies[winner]["items"][0]
    assert [(c, str(d), why) for c, d, why in scores] == [("S1.1", f"{expected['deduction']}.00", expected["reason"])]
    task.refresh_from_db()
    assert task.status == STATUS.DONE
    assert m.AuditEntry.objects.filter(action="score_sheet.submit").count() == 1
    # The only expert is done: the join lets exactly one review through (to the group's one leader).
    assert list(tasks_of(case, "review").values_list("status", flat=True)) == [STATUS.ASSIGNED]


def test_two_experts_of_one_case_submit_at_once():
    """Different tasks of the same process: both succeed (one waits for the other's lock) and the
    join creates exactly one review task."""
    r = make_round(units=1, experts=2, launch=True)
    case = advance_case(r, 0, upto="score")
    experts = r.groups[0].experts
    calls = [
        post(
            client_for(e),
            r.task("score", case, expert=e).pk,
            "submit",
            items=[{"item": "S2.2", "deduction": "1", "reason": "迟报"}],
        )
        for e in experts
    ]

    responses = race(*calls)

    assert [resp.status_code for resp in responses] == [200, 200], [resp.content[:300] for resp in responses]
    assert set(tasks_of(case, "score").values_list("status", flat=True)) == {STATUS.DONE}
    assert list(tasks_of(case, "review").values_list("status", flat=True)) == [STATUS.ASSIGNED]
    case.refresh_from_db()
    assert case.status == "review"


def test_last_two_cases_finishing_at_once_wake_the_round_once():
    r = make_round(units=2, experts=1, launch=True)
    cases = [advance_case(r, i, upto="review") for i in range(2)]
    g = r.groups[0]
    # The leader approves one case while the deputy approves the other (given back to him first).
    from workflow import services

    services.task_unclaim(user=g.leader, task_id=r.task("review", cases[1]).pk)
    calls = [post(client_for(lead), r.task("review", case).pk, "approve") for lead, case in zip(g.leads, cases)]

    responses = race(*calls)

    assert [resp.status_code for resp in responses] == [200, 200], [resp.content[:300] for resp in responses]
    assert set(m.Case.objects.filter(round=r.round).values_list("status", flat=True)) == {"done"}
    round_tasks = Task.objects.filter(process__data__round=r.round.pk, process__flow_class=RoundFlow)
    assert round_tasks.filter(flow_task=RoundFlow.compile).count() == 1
    assert round_tasks.filter(flow_task=RoundFlow.wait_cases, status=STATUS.DONE).count() == 1
    r.round.refresh_from_db()
    assert r.round.status == "compiling"


@pytest.mark.django_db  # sequential: no threads, so no need to commit
def test_whoever_comes_second_gets_409_not_404():
    """The loser of a race may arrive after the winner has committed: the task is then claimed or
    done by a colleague, and the answer must still be the clear conflict, not 'not found'."""
    r = make_round(units=1, experts=1, launch=True)
    case = r.case(0)
    second = make_user()
    m.UnitMembership.objects.create(user=second, unit=r.units[0], role=m.UnitRole.STAFF)
    first_staff, second_staff = client_for(r.staff[0]), client_for(second)
    task = r.task("prepare", case)

    assert post(first_staff, task.pk, "claim")().status_code == 200
    for action, body in (("claim", {}), ("submit", {"report": "乙的报告"})):
        resp = post(second_staff, task.pk, action, **body)()
        assert resp.status_code == 409 and "他人" in resp.json()["detail"], resp.content
    assert second_staff.get(f"{API}/tasks/{task.pk}/").json()["owner"] == r.staff[0].pk

    assert post(first_staff, task.pk, "submit", report="甲的报告")().status_code == 200
    resp = post(second_staff, task.pk, "submit", report="乙的报告")()
    assert resp.status_code == 409 and "办理完毕" in resp.json()["detail"], resp.content
    assert list(m.Submission.objects.filter(case=case).values_list("report", flat=True)) == ["甲的报告"]

    case = advance_case(r, 0, upto="review")
    review = r.task("review", case)
    leader, deputy = (client_for(u) for u in r.groups[0].leads)
    assert post(leader, review.pk, "approve")().status_code == 200
    resp = post(deputy, review.pk, "approve")()
    assert resp.status_code == 409 and "办理完毕" in resp.json()["detail"], resp.content
    assert Task.objects.filter(process__data__round=r.round.pk, flow_task=RoundFlow.compile).count() == 1
