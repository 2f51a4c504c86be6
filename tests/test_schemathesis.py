"""schemathesis over the published OpenAPI schema (/api/schema/), against the Django app in-process (WSGI),
as the office, a unit's staff member and an expert of a seeded round.

For every operation of the schema and every role, hypothesis generates requests (valid and invalid bodies,
query strings, path ids) and each answer must be: not a server error, a status code the schema documents for
that operation, a media type it declares, and a body that conforms to the declared response schema.

Bounded: `SCHEMATHESIS_MAX_EXAMPLES` examples per operation and role (default 5; CI runs this file as part of
`scripts/test.sh`). Each request runs in a savepoint that is rolled back, inside the module's seeded world,
itself rolled back at the end: the database is left as it was found, and every request sees the seeded round.
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup
from viewflow.workflow.models import Task

from cases import models as m
from cases.services import inspections
from config.wsgi import application
from notifications.models import Notification
from tests.factories import advance_case, make_round

pytestmark = pytest.mark.django_db  # pytest-django sets up the test database only for marked items

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = ("office", "staff", "expert")


def build_world():
    """A launched round with cases at several steps and a row of every kind the API lists, so that the
    generated requests reach real objects (their 200s are checked too), not only 404s."""
    setup = make_round(units=3, experts=2, launch=True)
    staff, leader = setup.staff[2], setup.groups[0].leader
    inspections.attachment_create(user=staff, case=setup.case(2), purpose=m.Attachment.Purpose.EVIDENCE,
                                  upload=SimpleUploadedFile("自评说明.txt", "佐证材料。".encode()))
    advance_case(setup, 0, upto="review")
    advance_case(setup, 1, upto="score")
    advance_case(setup, 2, upto="inspect")
    case = setup.case(2)
    inspections.inspection_record_create(user=leader, case=case, method=m.InspectionMethod.choices[0][0],
                                         date="2026-05-06", place="会议室", notes="查阅资料。")
    inspections.finding_create(user=leader, case=case, source=m.FindingSource.INSPECTION, description="台账不全。")
    inspections.special_bonus_create(user=setup.office, case=setup.case(0), level="国家级",
                                     title="全国先进集体", amount="1")
    return setup


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """`build_world()` once for the module, rolled back after it (files stored on disk are removed)."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            setup = build_world()
            yield setup
            for attachment in m.Attachment.objects.filter(case__round=setup.round):
                attachment.file.delete(save=False)
            transaction.set_rollback(True)


# The rows behind each resource's `{id}` (the first path segment after /api/v1/).
RESOURCES = {
    "units": m.Unit, "rubrics": m.Rubric, "rounds": m.Round, "groups": m.Group, "cases": m.Case,
    "submissions": m.Submission, "inspections": m.InspectionRecord, "findings": m.Finding,
    "score-sheets": m.ScoreSheet, "attachments": m.Attachment, "results": m.Result,
    "special-bonuses": m.SpecialBonus, "audit": m.AuditEntry, "notifications": Notification, "tasks": Task,
}


@pytest.fixture(scope="module")
def users(world):
    return {"office": world.office, "staff": world.staff[0], "expert": world.groups[0].experts[0]}


@pytest.fixture(scope="module")
def api_schema(world):
    """The schema as the app serves it. Requests go through the real WSGI handler, which would close the
    database connection (and with it the test's transaction) at the end of each request: kept open while
    the module runs, as Django's own test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis folder, every run from scratch
    phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time in CI; the failing case is printed
    suppress_health_check=list(HealthCheck),
)


def _call(case, user):
    """One request as `user`, in a savepoint rolled back afterwards: every example sees the seeded round,
    and a request that breaks the transaction (a database error) cannot spoil the next ones."""
    with transaction.atomic():
        # A fresh token each time: a generated logout or token revoke may have ended the previous one.
        token, _ = Token.objects.get_or_create(user=user)
        response = case.call(headers={"Authorization": f"Token {token.key}"})
        transaction.set_rollback(True)
    return response


def _strategy(operation):
    """Valid and invalid requests (bad input must get a documented 400, not a 500), with any path id, and
    with the ids of real rows (visible to the caller or not) so that the answers about real objects are
    checked too."""
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    path = operation.path.removeprefix("/api/v1/")
    model = RESOURCES.get(path.split("/")[0])
    if "{id}" in path and model is not None:  # a resource not listed above gets generated ids only
        ids = sorted(model.objects.values_list("pk", flat=True))
        if ids:
            for mode in modes:
                strategies.append(st.sampled_from(ids).flatmap(
                    lambda pk, mode=mode: operation.as_strategy(generation_mode=mode, path_parameters={"id": pk})))
    if "{flow}" in path:
        strategies.append(operation.as_strategy(path_parameters={"flow": "case"}))
    return st.one_of(*strategies)


def run_schemathesis(api_schema, user) -> tuple[int, list[str]]:
    """Every operation of the schema, `MAX_EXAMPLES` generated requests each; returns the number of requests
    and the distinct failures (operation, check, message), all of them rather than the first."""
    examples = 0
    failures: dict[tuple[str, str], str] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()  # an operation the schema cannot describe is itself a failure

        @SETTINGS
        @given(case=_strategy(operation))
        def explore(case):
            nonlocal examples
            examples += 1
            try:
                response = _call(case, user)
            except Exception as exc:  # the app crashed outside Django's handler (e.g. a bad header): a 500 in production
                failures.setdefault((case.operation.label, "Crash"), f"{exc!r}\n    {case.as_curl_command()}")
                return
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as group:
                for failure in group.exceptions:
                    key = (case.operation.label, failure.title)
                    failures.setdefault(key, f"{failure.message.strip()[:400]}\n    {case.as_curl_command()}")
            except Failure as failure:
                failures.setdefault((case.operation.label, failure.title), failure.message.strip()[:400])

        explore()
    return examples, [f"{label}: {title}: {message}" for (label, title), message in sorted(failures.items())]


@pytest.mark.parametrize("role", ROLES)
def test_api_keeps_its_schema(api_schema, users, role):
    examples, failures = run_schemathesis(api_schema, users[role])
    print(f"schemathesis as {role}: {examples} requests, {len(failures)} failures")
    assert examples > 0
    assert not failures, "\n".join(failures)
