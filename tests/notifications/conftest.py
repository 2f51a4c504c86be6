import pytest

from notifications import outbox


@pytest.fixture
def kicks(monkeypatch):
    """Replace the broker kick by a counter."""
    calls = []
    monkeypatch.setattr(outbox, "kick", lambda: calls.append(1) or True)
    return calls
