"""Account security: login lockout (django-axes) on every login door, with an audit entry; a password
change or a logout ends the person's API tokens."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cases import models as m
from tests.factories import make_user

PASSWORD = "correct-horse-9"


@pytest.fixture
def person(db):
    user = make_user("zhangsan")
    user.set_password(PASSWORD)
    user.save()
    return user


def _token(client: Client, password: str, ip: str = "10.0.0.1"):
    return client.post("/api/v1/auth/token/", json.dumps({"username": "zhangsan", "password": password}),
                       content_type="application/json", REMOTE_ADDR=ip)


def test_api_token_door_locks_after_five_failures(person, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _token(client, "wrong").status_code == 400
    assert _token(client, "wrong").status_code == 429  # the limit-th failure locks
    locked = _token(client, PASSWORD)
    assert locked.status_code == 429
    assert locked["Content-Type"].startswith("application/json")
    assert "锁定" in locked.json()["detail"]
    entry = m.AuditEntry.objects.get(action="account.locked_out")
    assert entry.object_id == "zhangsan" and entry.after == {"ip_address": "10.0.0.1"}
    # The pair is locked, not the person: the right password from another address still works.
    assert _token(client, PASSWORD, ip="10.0.0.2").status_code == 200


def test_an_overlong_username_is_a_field_error_before_any_sign_in_is_tried(db):
    # Found by the API fuzzer: a 300-character username reached django-axes, whose failed-attempt row holds
    # 255 characters, and the write failed with a 500.
    from axes.models import AccessAttempt

    response = Client().post("/api/v1/auth/token/", json.dumps({"username": "张" * 300, "password": "x" * 5000}),
                             content_type="application/json")
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {"username", "password"}
    assert not AccessAttempt.objects.exists()


def test_fewer_failures_then_success_resets_the_count(person, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _token(client, "wrong")
    assert _token(client, PASSWORD).status_code == 200
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _token(client, "wrong")
    assert _token(client, PASSWORD).status_code == 200


def test_login_page_locks_after_five_failures(person, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        page = client.post("/accounts/login/", {"username": "zhangsan", "password": "wrong"})
        assert page.status_code == 200  # the form again, with its error
    client.post("/accounts/login/", {"username": "zhangsan", "password": "wrong"})
    page = client.post("/accounts/login/", {"username": "zhangsan", "password": PASSWORD})
    assert page.status_code == 429
    assert "账号已临时锁定" in page.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_change_revokes_tokens_and_is_audited(person):
    m.AuditEntry.objects.all().delete()
    token = Token.objects.create(user=person)
    person.set_password("another-horse-7")
    person.save()
    assert not Token.objects.filter(key=token.key).exists()
    entry = m.AuditEntry.objects.get(action="account.password_changed")
    assert entry.object_id == "zhangsan" and entry.after == {"api_tokens_revoked": 1}
    assert person.password not in json.dumps(entry.after)


def test_saving_a_user_without_a_new_password_keeps_tokens(person):
    m.AuditEntry.objects.all().delete()
    token = Token.objects.create(user=person)
    person.first_name = "三"
    person.save()
    assert Token.objects.filter(key=token.key).exists()
    assert not m.AuditEntry.objects.filter(action="account.password_changed").exists()


def test_logout_revokes_the_token(person):
    token = Token.objects.create(user=person)
    client = Client()
    client.force_login(person)
    client.post("/accounts/logout/")
    assert not Token.objects.filter(key=token.key).exists()


@pytest.mark.parametrize("vendor_path", ["prepared", "orm"])
def test_tokens_expire_and_a_new_key_is_issued(person, settings, monkeypatch, vendor_path):
    from cases.api import auth

    if vendor_path == "orm":  # the SQLite demo's path (DRF's own lookup)
        monkeypatch.setattr(auth.connection, "vendor", "sqlite")
    client = Client()
    key = _token(client, PASSWORD).json()["token"]
    assert client.get("/api/v1/tasks/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(hours=settings.API_TOKEN_TTL_HOURS, seconds=1))
    refused = client.get("/api/v1/tasks/", HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 403 and refused.json() == {"detail": "令牌已过期，请重新获取。"}
    new_key = _token(client, PASSWORD).json()["token"]
    assert new_key != key
    assert client.get("/api/v1/tasks/", HTTP_AUTHORIZATION=f"Token {new_key}").status_code == 200
