"""The statements of a score submission (`POST /api/v1/tasks/{id}/submit/` with items), pinned: a change
that adds one fails here and says which. bench/complete_tasks.py measures the same request; each
statement costs Python and PostgreSQL time (bench/README.md).

Counted as Django captures them for the whole request, with token authentication as the bench sends
it. Tests run in a transaction, so the action's transaction shows as SAVEPOINT … RELEASE where
production sends BEGIN … COMMIT: the counts below are what a request costs in round trips.

A non-joining submission (12): token user · SAVEPOINT · the task and its process, locked · the sheet
with its case, round, rubric, item scores and the other drafts, locked · the item scores (one upsert) ·
the sheet · its audit entry · the task completed · the join's read of the process's tasks · the link to
the join · RELEASE · the answer. The first sheet of a case to come in also creates the join (13). The last
one (25) also moves the case to review (its row and audit entry), completes the join and creates the
review task with its owner, due row and notification (outbox).
"""

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases import models as m
from notifications.models import Notification
from tests.api_helpers import API
from tests.factories import advance_case, make_round

pytestmark = pytest.mark.django_db

NON_JOINING = 12
FIRST_IN = NON_JOINING + 1  # + the join task itself
JOINING = 25


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


BODY = {"items": [{"item": code, "deduction": "1", "reason": "资料不全"} for code in ("S1.1", "S1.2", "S2.1")]}


def test_a_score_submission_statements_are_pinned(django_assert_num_queries):
    setup = make_round(units=2, experts=3, launch=True)
    for n in range(2):
        advance_case(setup, n, "score")
    first, middle, last = setup.groups[0].experts
    clients = {expert: _client(expert) for expert in (first, middle, last)}
    for expert, client in clients.items():  # the first case warms up: prepared statements, the rubric's items
        task = setup.task("score", setup.case(0), expert=expert)
        assert client.post(f"{API}/tasks/{task.pk}/submit/", BODY, format="json").status_code == 200
    case = setup.case(1)
    for expert, expected in ((first, FIRST_IN), (middle, NON_JOINING), (last, JOINING)):
        url = f"{API}/tasks/{setup.task('score', case, expert=expert).pk}/submit/"
        with django_assert_num_queries(expected):
            response = clients[expert].post(url, BODY, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "DONE"
    # What the statements did: every sheet submitted with its total and audit entry, the case in review,
    # one open review task with its due row and its notice in the outbox.
    case.refresh_from_db()
    assert case.status == m.CaseStatus.REVIEW
    sheets = list(m.ScoreSheet.objects.filter(case=case))
    assert [(s.status, s.total) for s in sheets] == [(m.SheetStatus.SUBMITTED, Decimal("12.00"))] * 3
    assert m.AuditEntry.objects.filter(action="score_sheet.submit", object_id__in=[str(s.pk) for s in sheets]).count() == 3
    assert m.ItemScore.objects.filter(sheet__case=case).count() == 9
    review = setup.task("review", case)
    assert review is not None and review.deadline.due is not None
    assert Notification.objects.filter(dedupe_key__startswith=f"task:{review.pk}:new:").exists()
