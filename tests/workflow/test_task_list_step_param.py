"""`GET /api/v1/tasks/?step=`: a known step filters; anything else (a NUL byte included, which PostgreSQL cannot
take in a text) is a field error, never a 500 (schemathesis found `step=\\x00`)."""

import pytest

from tests.api_helpers import ok
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_an_unknown_step_is_a_field_error(api):
    user = make_user("step-param")
    assert ok(api(user).get("/api/v1/tasks/", {"step": "score"}))["count"] == 0
    for bad in ("\x00", "score\x00", "nonsense", "start"):
        body = ok(api(user).get("/api/v1/tasks/", {"step": bad}), 400)
        assert set(body["errors"]) == {"step"}, bad


def test_a_token_with_a_nul_byte_is_refused_not_a_500():
    from rest_framework.test import APIClient

    client = APIClient(HTTP_AUTHORIZATION="Token abc\x00def")
    response = client.get("/api/v1/tasks/")
    assert response.status_code in (401, 403) and response.json()["detail"]
