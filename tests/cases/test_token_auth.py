"""API token authentication reads the user with a prepared statement: same answers as DRF's own
(403, not 401: session authentication comes first and sends no WWW-Authenticate challenge)."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases import models as m
from tests.api_helpers import API

pytestmark = pytest.mark.django_db


def _get(key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(f"{API}/tasks/")


def test_a_token_signs_its_user_in_and_a_bad_one_is_refused():
    user = m.User.objects.create_user("tok_user", password="x" * 12, display_name="甲", org_role=m.OrgRole.OFFICE)
    key = Token.objects.create(user=user).key
    response = _get(key)
    assert response.status_code == 200
    assert response.wsgi_request.user.pk == user.pk
    assert response.wsgi_request.user.display_name == "甲"
    assert response.wsgi_request.user.org_role == m.OrgRole.OFFICE
    assert response.wsgi_request.auth.key == key
    assert (r := _get("0" * 40)).status_code == 403 and r.json() == {"detail": "认证令牌无效。"}
    user.is_active = False
    user.save()
    assert (r := _get(key)).status_code == 403 and r.json() == {"detail": "用户未激活或者已删除。"}
    # A deleted token stops working at once (nothing is cached between requests).
    user.is_active = True
    user.save()
    assert _get(key).status_code == 200
    Token.objects.filter(key=key).delete()
    assert _get(key).status_code == 403
