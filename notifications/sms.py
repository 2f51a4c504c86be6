"""SMS behind a pluggable backend (`SMS_BACKEND`, a dotted path). The default only logs.

A gateway adapter subclasses `BaseSmsBackend` and implements `send()`. It raises on failure (the outbox
retries with backoff) and returns only when the gateway has accepted the message. `message_key` is
the same on every retry of one delivery: pass it to the gateway's client-reference / idempotency
field where it has one (most Chinese SMS APIs take an `OutId`-style value), so that a retry after a
worker crash cannot reach the phone twice. Keep the adapter's own network timeout well inside
`NOTIFICATIONS_LEASE_SECONDS`.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class BaseSmsBackend:
    def send(self, *, phone: str, text: str, message_key: str) -> None:
        raise NotImplementedError


class LogSmsBackend(BaseSmsBackend):
    """Writes the message to the log instead of sending it (the demo and development default)."""

    def send(self, *, phone: str, text: str, message_key: str) -> None:
        logger.info("SMS %s to %s: %s", message_key, phone, text)


class MemorySmsBackend(BaseSmsBackend):
    """Keeps messages in `MemorySmsBackend.outbox` (tests)."""

    outbox: list[dict] = []

    def send(self, *, phone: str, text: str, message_key: str) -> None:
        self.outbox.append({"phone": phone, "text": text, "message_key": message_key})


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()
