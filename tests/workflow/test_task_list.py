"""The task list's fast paths (workflow/api/) give what the generic ones gave, in a constant number
of queries: the hand-written TaskSerializer.to_representation, the case summaries, `.only()`."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers
from viewflow.workflow.models import Task

from cases import models as m
from tests.api_helpers import API, act, all_pages, ok
from tests.factories import advance_case, make_round, make_user
from workflow import selectors
from workflow.api.serializers import TaskSerializer, task_summaries

pytestmark = pytest.mark.django_db


def _varied_round():
    """Cases at every step, a returned sign-off (a comment), finished cases and round tasks."""
    setup = make_round(units=5, experts=2)
    # Unit 0 has two staff members: its prepare task stays open (NEW) in their queue.
    m.UnitMembership.objects.create(user=make_user(), unit=setup.units[0], role=m.UnitRole.STAFF)
    setup.launch()
    for n, upto in enumerate(["prepare", "sign_off", "inspect", "score", "done"]):
        advance_case(setup, n, upto)
    from tests.factories import act as act_service

    act_service(setup, setup.heads[1], "sign_off", setup.case(1), "return", comment="请补充")
    # A second round whose only case is done: its compile task is a round task.
    finished = make_round(units=1, experts=1, launch=True, office=setup.office)
    advance_case(finished, 0, "done")
    return setup


def test_fast_representation_equals_drf_generic_one(api):
    setup = _varied_round()
    rows = all_pages(api(setup.office), f"{API}/tasks/", {"scope": "all"})
    tasks = list(Task.objects.filter(pk__in=[r["id"] for r in rows]).select_related("process"))
    assert len(tasks) == len(rows) >= 15
    assert {t.status for t in tasks} >= {"NEW", "ASSIGNED", "DONE"}
    context = task_summaries(tasks)
    serializer = TaskSerializer(context=context)
    by_id = {r["id"]: r for r in rows}
    for task in tasks:
        generic = serializers.Serializer.to_representation(serializer, task)
        assert serializer.to_representation(task) == generic
        assert by_id[task.pk] == generic
    # The case summaries are what the model-based representation showed.
    for row in rows:
        if row["case"] is not None:
            case = m.Case.objects.select_related("unit", "group").get(pk=row["case"]["id"])
            assert row["case"] == {
                "id": case.pk,
                "unit": case.unit.name,
                "group": case.group.name,
                "status": case.status,
            }
    assert any(r["comment"] == "请补充" for r in rows)
    assert any(r["flow"] == "round" for r in rows)


def _list_queries(client, params=None):
    client.get(f"{API}/tasks/", params or {})  # warm the content-type cache
    with CaptureQueriesContext(connection) as queries:
        body = ok(client.get(f"{API}/tasks/", params or {}))
    return body, len(queries)


def test_list_queries_do_not_grow_with_the_page(api):
    small = make_round(units=1, experts=1, launch=True)
    big = make_round(units=8, experts=1, launch=True, groups=2)
    advance_case(small, 0, "score")
    for n in range(8):
        advance_case(big, n, "score")
    one, q_one = _list_queries(api(small.groups[0].experts[0]))
    four, q_four = _list_queries(api(big.groups[0].experts[0]))
    assert (one["count"], four["count"]) == (1, 4)
    assert q_one == q_four == 1  # the page and its total in one prepared statement
    # Everything an office user sees (more tasks than the experts' pages) costs the same too: a count
    # and the page.
    full, q_full = _list_queries(api(big.office), {"scope": "all"})
    assert full["count"] > 8 and len(full["results"]) == min(full["count"], 50)
    assert q_full == 2


def test_detail_and_actions_still_answer_with_the_task(api):
    setup = make_round(units=1, experts=1, launch=True)
    advance_case(setup, 0, "score")
    expert = setup.groups[0].experts[0]
    client = api(expert)
    (row,) = ok(client.get(f"{API}/tasks/"))["results"]
    assert ok(client.get(f"{API}/tasks/{row['id']}/")) == row
    done = act(client, row["id"], "submit", items=[{"item": "S1.1", "deduction": "1", "reason": "缺"}])
    assert (done["id"], done["status"], done["actions"], done["step"]) == (row["id"], "DONE", [], "score")
    assert done["case"] == {**row["case"], "status": m.CaseStatus.REVIEW}


def test_the_list_fast_path_says_exactly_what_the_serializer_says(api):
    """The list reads plain rows in one query; the detail goes through TaskSerializer. Same output,
    for open, claimed and done tasks of cases and of the round, and for a task without a due row."""
    from workflow.models import TaskDeadline

    r = make_round(units=3, experts=2)
    # Unit 2 has two heads: its sign-off waits in their queue; the other tasks have evident owners.
    m.UnitMembership.objects.create(user=make_user(), unit=r.units[2], role=m.UnitRole.HEAD)
    r.launch()
    advance_case(r, 0, "done")
    advance_case(r, 1, "review")
    advance_case(r, 2, "sign_off")
    r.round.refresh_from_db()
    legacy = r.task("sign_off", r.case(2))
    TaskDeadline.objects.filter(task_id=legacy.pk).delete()  # as tasks created before due rows existed
    compared = 0
    for user, scope in ((r.office, "all"), (r.groups[0].leader, "inbox"), (r.groups[0].experts[0], "archive"),
                        (r.heads[2], "queue"), (r.staff[0], "archive")):
        listed = api(user).get("/api/v1/tasks/", {"scope": scope}).json()["results"]
        assert listed, (user, scope)
        for row in listed:
            assert row == api(user).get(f"/api/v1/tasks/{row['id']}/").json()
            compared += 1
    assert compared > 10
    assert any(row["id"] == legacy.pk and row["due"] for row in api(r.heads[2]).get(
        "/api/v1/tasks/", {"scope": "queue"}).json()["results"])


def _orm_rows(user, scope, nodes=None):
    qs = selectors.tasks_for(user, scope)
    if nodes is not None:
        qs = qs.filter(flow_task__in=nodes)
    return list(qs.order_by("-created", "-pk").values_list(*selectors.ROW_FIELDS))


def test_own_task_rows_are_what_the_orm_reads(api):
    """The inbox's prepared statement against `tasks_for` + `ROW_FIELDS`: every page of every owner
    scope, one step only, a task without a due row, past the end."""
    from workflow.flows import CaseFlow
    from workflow.models import TaskDeadline

    r = make_round(units=4, experts=2, launch=True)
    for n, upto in enumerate(["done", "review", "score", "sign_off"]):
        advance_case(r, n, upto)
    legacy = r.task("score", r.case(2))
    TaskDeadline.objects.filter(task_id=legacy.pk).delete()
    expert = r.groups[0].experts[0]
    checked = 0
    for user in (expert, r.groups[0].experts[1], r.staff[0], r.heads[3], r.office):
        for scope in selectors.OWN_SCOPES:
            for nodes in (None, [CaseFlow.score], [CaseFlow.prepare, CaseFlow.sign_off], []):
                expected = _orm_rows(user, scope, nodes)
                rows = selectors.task_rows(user, scope, nodes)
                assert isinstance(rows, selectors.OwnTaskRows)
                for offset, limit in ((0, 50), (0, 1), (1, 2), (len(expected), 5)):
                    page, total = rows.page(offset, limit)
                    assert page == expected[offset:offset + limit], (user, scope, nodes, offset)
                    assert total == (len(expected) if page else 0)
                    checked += len(page)
                assert rows.count() == len(expected)
    assert checked > 20
    assert any(row[0] == legacy.pk and row[8] is None for row in _orm_rows(expert, "inbox"))


def test_inbox_pages_and_their_errors(api):
    r = make_round(units=3, experts=1, launch=True)
    for n in range(3):
        advance_case(r, n, "score")
    client = api(r.groups[0].experts[0])
    for bad in ("0", "abc", "-1", "2"):  # as the generic paginator (the queue) answers
        response = client.get(f"{API}/tasks/", {"page": bad})
        generic = client.get(f"{API}/tasks/", {"page": bad, "scope": "queue"})
        assert response.status_code == generic.status_code == 404, bad
        assert response.json() == generic.json() == {"detail": "无效页面。"}, bad
    first = ok(client.get(f"{API}/tasks/", {"page": 1}))
    assert (first["count"], first["next"], first["previous"], len(first["results"])) == (3, None, None, 3)
    assert ok(client.get(f"{API}/tasks/", {"page": "last"}))["results"] == first["results"]
    assert ok(client.get(f"{API}/tasks/", {"step": "prepare"})) == {"count": 0, "next": None, "previous": None,
                                                                    "results": []}
    assert set(ok(client.get(f"{API}/tasks/", {"step": "nosuchstep"}), 400)["errors"]) == {"step"}
    assert ok(client.get(f"{API}/tasks/", {"step": "score"}))["count"] == 3


def test_task_rows_by_id_are_what_the_orm_reads():
    r = make_round(units=2, experts=1, launch=True)
    advance_case(r, 0, "review")
    from workflow.models import TaskDeadline

    ids = list(Task.objects.values_list("pk", flat=True))
    TaskDeadline.objects.filter(task_id=ids[0]).delete()  # a task without a due row
    expected = list(Task.objects.filter(pk__in=ids).order_by("-created", "-pk").values_list(*selectors.ROW_FIELDS))
    assert len(expected) > 5
    assert selectors.task_rows_by_id(ids) == expected
    assert selectors.task_rows_by_id(ids[:1]) == [row for row in expected if row[0] == ids[0]]
    assert selectors.task_rows_by_id([]) == []
