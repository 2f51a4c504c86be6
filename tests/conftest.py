"""Shared fixtures. Builders live in `tests.factories` so that non-pytest code can import them."""

import pytest
from django.core.cache import cache
from django.db import transaction
from rest_framework.test import APIClient

from tests.factories import make_round as _make_round


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: tests roll the database back and freeze the clock, so a key
    made of data (the rectification ledger's latest change) can repeat from one test to the next."""
    cache.clear()


@pytest.fixture
def make_round(db):
    """`make_round(units=3, experts=2, launch=False, ...)`, see `tests.factories.make_round`."""
    return _make_round


@pytest.fixture
def launched_round(db):
    """Three units in one group of a leader, a deputy, a liaison and two experts; launched."""
    return _make_round(units=3, experts=2, launch=True)


@pytest.fixture
def api(db):
    """`api(user)` → an APIClient authenticated as `user` (cached per user); `api()` → anonymous."""
    clients = {}

    def client_for(user=None) -> APIClient:
        key = getattr(user, "pk", None)
        if key not in clients:
            client = APIClient()
            if user is not None:
                client.force_authenticate(user)
            clients[key] = client
        return clients[key]

    return client_for


def module_world(build):
    """A module-scoped fixture: `build()` once for the module, rolled back after it; each test runs in
    a savepoint inside. Use as `world = module_world(build_world)`."""

    @pytest.fixture(scope="module")
    def world(django_db_setup, django_db_blocker):
        with django_db_blocker.unblock():
            with transaction.atomic():
                yield build()
                transaction.set_rollback(True)

    return world


def pytest_collection_modifyitems(config, items):
    """Browser journeys last: Playwright's session-wide event loop changes the context Django keeps
    its connections in for every later test, and a connection opened there is never closed, which
    keeps the test database from being dropped at the end."""
    items.sort(key=lambda item: "tests/e2e/" in str(item.path))
