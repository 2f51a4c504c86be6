"""OPTIONS on every API route answers (never a server error), for any logged-in user: the class of
fault where DRF's metadata probing ran view code outside its normal path."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.factories import UserFactory

CONVERTERS = {"int": "1", "str": "case", "path": "x", "slug": "x"}


def _routes(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, route)
        elif isinstance(p, URLPattern) and route.startswith("api/v1/"):
            yield route


def _concrete(route: str) -> str:
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)  # the router's regex routes
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: CONVERTERS[m.group(1) or "str"], route)
    return "/" + route.replace("^", "").replace("$", "").replace("\\", "")


ROUTES = sorted({_concrete(r) for r in _routes(get_resolver().url_patterns) if "format" not in r})


def test_routes_were_found():
    assert "/api/v1/tasks/1/claim/" in ROUTES and "/api/v1/notifications/preferences/" in ROUTES


@pytest.mark.django_db
@pytest.mark.parametrize("path", ROUTES)
def test_options_answers_without_a_server_error(path):
    client = APIClient()
    client.force_authenticate(UserFactory())
    response = client.options(path)
    assert response.status_code < 500, (path, response.content[:300])
    if response.status_code == 200:
        assert set(response.json()) == {"name", "description", "renders", "parses"}
