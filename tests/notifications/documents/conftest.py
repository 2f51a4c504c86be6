"""Every PDF test fails on WeasyPrint's `.notdef` warning (a glyph drawn as a box), wherever it was logged:
during the test, or while a module-scoped fixture rendered before it."""

import logging

import pytest


class NotdefWatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if ".notdef" in message:
            self.messages.append(message)

    def take(self) -> list[str]:
        taken, self.messages = self.messages, []
        return taken


@pytest.fixture(scope="session", autouse=True)
def notdef_watch():
    """Listens on the `weasyprint` logger for the whole session (module fixtures render before tests)."""
    watch = NotdefWatch()
    weasy = logging.getLogger("weasyprint")
    weasy.addHandler(watch)
    yield watch
    weasy.removeHandler(watch)


@pytest.fixture(autouse=True)
def no_notdef(notdef_watch):
    """Fails the test when a `.notdef` glyph was rendered before it (by its fixtures) or during it. A test
    that provokes one on purpose takes the messages itself (`notdef_watch.take()`)."""
    before = notdef_watch.take()
    if before:
        pytest.fail(f"WeasyPrint rendered a .notdef glyph while preparing this test: {before[0]}")
    yield
    during = notdef_watch.take()
    if during:
        pytest.fail(f"WeasyPrint rendered a .notdef glyph: {during[0]}")
