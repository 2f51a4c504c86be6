"""Every API error is the documented JSON shape, also where no API view answers: unknown URLs,
bodies over the size limit, crashes."""

import json

import pytest
from django.test import Client, override_settings

from tests.factories import UserFactory


def _json_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = json.loads(response.content)
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.fixture
def client(db):
    client = Client()
    client.force_login(UserFactory())
    return client


def test_unknown_api_url_is_json_404(client):
    _json_error(client.get("/api/v1/no-such-thing/"), 404)


def test_unknown_page_stays_html(client):
    response = client.get("/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_body_over_the_limit_is_json_413(client):
    body = json.dumps({"username": "x" * 4096, "password": "y"})
    _json_error(client.post("/api/v1/auth/token/", body, content_type="application/json"), 413)


def test_server_error_under_api_is_json_500(rf):
    from config.errors import server_error

    _json_error(server_error(rf.get("/api/v1/tasks/")), 500)


def test_unhandled_exception_in_an_api_view_is_json_500(db, monkeypatch):
    from workflow.api import views as api

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.TaskViewSet, "list", boom)
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory())
    _json_error(client.get("/api/v1/tasks/"), 500)
