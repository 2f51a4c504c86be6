"""The outbox worker: claim, send, commit — one item at a time, under a lease.

The rows in PostgreSQL are the source of truth. The broker only carries "there is work" kicks
(`kick()`, sent after the event's transaction commits, and beat's sweep every minute), so a kick that
never arrives (broker down at commit time, a kick lost with a crashed worker) only delays delivery
until the next sweep; it never loses a message.

Order of operations for a batch (`deliver_due`):

1. **Claim**, in one short transaction committed before any network I/O: `SELECT … FOR UPDATE SKIP
   LOCKED` the due PENDING rows, and in the same transaction add one to `attempts` and move
   `next_attempt_at` to now + lease. Once committed, the rows are invisible to other workers until the
   lease ends, without any lock or open transaction held while we talk to the mail server (a
   transaction held across a send would pin row locks for as long as a slow server takes, and a crash
   would roll the claim back, hiding that a send had started). The new `attempts` value is this
   worker's fencing token for the row.
2. **Send**, outside any transaction. The Message-ID (SMS: `message_key`) comes from the row, so it is
   the same on every attempt.
3. **Commit the outcome at once, per item**, with a conditional `UPDATE … WHERE pk = … AND attempts =
   <token> AND status = 'pending'`: SENT; or, on an error, PENDING again with `next_attempt_at` = now
   + backoff (FAILED after the maximum), the error kept in `last_error`.

What a SIGKILL of the worker does at each point:

- during the claim transaction: it rolls back; nothing changed.
- after the claim, before the server has accepted the message (connecting, MAIL/RCPT, DATA under
  way): the SMTP transaction is incomplete and the server delivers nothing (a message is accepted
  only by the 250 reply to the final dot, RFC 5321 §4.1.1.4). The row stays PENDING; when its lease
  ends the sweep claims it again and sends it. No loss, no duplicate.
- after the server's 250, before our UPDATE commits: the one window in which a repeat is possible. It
  lasts one UPDATE round trip on an open connection (about a millisecond, against the whole send
  before it). A repeat would carry the same Message-ID, so receiving systems and mail clients can
  drop it, and `attempts` shows it happened. No sender can close this window alone: a network send
  and a database commit cannot be one atomic action (the "duplicate message" problem of RFC 1047).
  Committing SENT *before* sending would turn the same window into a silent loss instead.
- after the UPDATE: done.

Why the lease is safe: a worker starts a send only while at least half of its lease remains, and
EMAIL_TIMEOUT bounds every socket operation (a system check compares it with the lease), so a live
worker finishes or abandons a send before anyone else may claim the row. A worker that outlives its
lease anyway (e.g. frozen by the OS) finds that its conditional UPDATE matches nothing, logs it and
leaves the row to its new owner. Crashes count as attempts: a message that kills the worker every
time is failed after NOTIFICATIONS_MAX_ATTEMPTS claims instead of looping for ever.

Retries: after the n-th failed attempt the row waits NOTIFICATIONS_RETRY_BASE_SECONDS · 2^(n−1)
(capped at NOTIFICATIONS_RETRY_MAX_SECONDS). An item that can never be sent (no address) fails at once.

Daily digests (`Digest` rows) go through the same three steps; marking a digest SENT marks the
deliveries gathered into it SENT in the same transaction.
"""

import logging
import time
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from notifications import channels
from notifications.models import Channel, Delivery, Digest, OutboxStatus

logger = logging.getLogger(__name__)

PENDING, SENT, FAILED = OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.FAILED
# One task run drains batch after batch for at most this long, then hands over to a fresh task
# (beat's sweep runs every 60 s; a long backlog must not pin one task for ever).
TASK_TIME_BUDGET = 50.0


def backoff_seconds(attempt: int) -> int:
    """How long a row waits after its `attempt`-th failed attempt (1-based)."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS
    return min(base * 2 ** max(attempt - 1, 0), settings.NOTIFICATIONS_RETRY_MAX_SECONDS)


# --- kicking the worker -----------------------------------------------------------------------------


def kick() -> bool:
    """Ask a worker to run `deliver_outbox` now. Never raises: with the broker down the rows wait for
    the every-minute sweep. Publishes on a fresh connection without retries, so a web request that
    commits an event is never held up by a broker outage."""
    # The package's one import that runs back up (tasks -> outbox -> tasks): the Celery task module
    # imports this worker, and the kick needs the task object. Imported here, at call time, on purpose.
    from notifications.tasks import deliver_outbox

    try:
        with deliver_outbox.app.connection_for_write() as conn:
            # celery-types omit apply_async's documented `connection` option.
            deliver_outbox.apply_async(connection=conn, retry=False)  # type: ignore[call-arg]
    except Exception:  # any broker failure: the outbox rows are safe, the sweep sends them
        logger.warning("Could not reach the broker to start delivery now; the outbox sweep will send it.",
                       exc_info=True)
        return False
    return True


def kick_after_commit() -> None:
    """Kick once after the current transaction commits (once per transaction, however many
    notifications it writes); at once when there is no transaction."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(func is kick for _sids, func, _robust in connection.run_on_commit):
        return
    transaction.on_commit(kick, robust=True)


# --- claim / finish -----------------------------------------------------------------------------------


def _claim(model, *, limit: int, now, lease_end) -> tuple[dict[int, int], int]:
    """Claim up to `limit` due rows; returns ({pk: fencing token}, number failed here). Rows whose
    last allowed attempt ended without an outcome (the worker died) are failed instead of tried again."""
    with transaction.atomic():
        rows = list(
            model.objects.select_for_update(skip_locked=True)
            .filter(status=PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", "attempts")[:limit]
        )
        if not rows:
            return {}, 0
        max_attempts = settings.NOTIFICATIONS_MAX_ATTEMPTS
        exhausted = [pk for pk, attempts in rows if attempts >= max_attempts]
        claimed = {pk: attempts + 1 for pk, attempts in rows if attempts < max_attempts}
        if exhausted:
            note = f"giving up: the worker stopped during attempt {max_attempts} without an outcome; "
            model.objects.filter(pk__in=exhausted).update(
                status=FAILED, last_error=Concat(Value(note), F("last_error"))
            )
            if model is Digest:
                Delivery.objects.filter(digest_id__in=exhausted).update(status=FAILED, last_error=note)
            logger.error("Outbox: %s %s failed after %d attempts (worker lost)", model.__name__, exhausted, max_attempts)
        if claimed:
            model.objects.filter(pk__in=claimed).update(attempts=F("attempts") + 1, next_attempt_at=lease_end)
    return claimed, len(exhausted)


def _finish(model, pk: int, token: int, **fields) -> bool:
    done = model.objects.filter(pk=pk, attempts=token, status=PENDING).update(**fields)
    if not done:
        logger.error("Outbox: lost the lease on %s %s (attempt %d) before recording its outcome; "
                     "another worker owns it now", model.__name__, pk, token)
    return bool(done)


def _mark_sent(model, pk: int, token: int) -> None:
    now = timezone.now()
    fields = {"status": SENT, "sent_at": now, "last_error": "", "next_attempt_at": now}
    if model is Digest:
        with transaction.atomic():
            if _finish(model, pk, token, **fields):
                Delivery.objects.filter(digest_id=pk).update(status=SENT, sent_at=now, last_error="")
    else:
        _finish(model, pk, token, **fields)


def _mark_failed(model, pk: int, token: int, error: str, *, permanent: bool) -> str:
    """Record a failed attempt: retry later with backoff, or FAILED (permanent error or last attempt)."""
    now = timezone.now()
    if permanent or token >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        with transaction.atomic():
            if _finish(model, pk, token, status=FAILED, last_error=error, next_attempt_at=now) and model is Digest:
                Delivery.objects.filter(digest_id=pk).update(status=FAILED, last_error=error)
        return "failed"
    _finish(model, pk, token, last_error=error, next_attempt_at=now + timedelta(seconds=backoff_seconds(token)))
    return "retry"


def _release(model, tokens: dict[int, int]) -> None:
    """Give unsent claimed rows back at once (the claim did not lead to an attempt)."""
    for pk, token in tokens.items():
        model.objects.filter(pk=pk, attempts=token, status=PENDING).update(
            attempts=F("attempts") - 1, next_attempt_at=timezone.now()
        )


def _close_quietly(connection) -> None:
    try:
        connection.close()
    except Exception:  # closing a broken connection may fail; it is dropped either way
        logger.debug("closing the email connection failed", exc_info=True)


# --- the batch ------------------------------------------------------------------------------------------


def _load(model, pks):
    if model is Digest:
        return Digest.objects.filter(pk__in=pks).select_related("recipient").order_by("pk")
    return Delivery.objects.filter(pk__in=pks).select_related("notification__recipient").order_by("pk")


def _send(model, item, connection_holder: list) -> None:
    if model is Delivery and item.channel == Channel.SMS:
        channels.send_sms(item)
        return
    if not connection_holder:
        connection_holder.append(channels.email_connection())
    connection = connection_holder[0]
    if model is Digest:
        message = channels.digest_email(item, connection)
    else:
        message = channels.delivery_email(item, connection)
    channels.send_email(message)


def _run_batch(model, *, limit: int, on_full=None) -> Counter:
    started = time.monotonic()
    lease = settings.NOTIFICATIONS_LEASE_SECONDS
    now = timezone.now()
    tokens, abandoned = _claim(model, limit=limit, now=now, lease_end=now + timedelta(seconds=lease))
    stats: Counter = Counter(abandoned=abandoned)
    if not tokens:
        return stats
    stats["claimed"] = len(tokens)
    if on_full is not None and len(tokens) == limit:
        on_full()
    items = list(_load(model, tokens))
    connection_holder: list = []  # the batch's email connection, opened on first use
    try:
        for index, item in enumerate(items):
            if time.monotonic() - started > lease / 2:
                rest = {i.pk: tokens[i.pk] for i in items[index:]}
                _release(model, rest)
                stats["released"] += len(rest)
                break
            token = tokens[item.pk]
            try:
                _send(model, item, connection_holder)
            except Exception as exc:  # any send error is recorded on the row and retried
                permanent = isinstance(exc, channels.Undeliverable)
                if connection_holder and not permanent:
                    _close_quietly(connection_holder.pop())  # may be broken: the next item opens a fresh one
                outcome = _mark_failed(model, item.pk, token, f"{type(exc).__name__}: {exc}"[:2000], permanent=permanent)
                stats[outcome] += 1
                logger.warning("Outbox: %s %s attempt %d failed (%s): %s", model.__name__, item.pk, token, outcome, exc)
            else:
                _mark_sent(model, item.pk, token)
                stats["sent"] += 1
    finally:
        if connection_holder:
            _close_quietly(connection_holder.pop())
    return stats


def deliver_due(
    *, batch_size: int | None = None, time_budget: float = TASK_TIME_BUDGET, on_backlog=None
) -> tuple[Counter, bool]:
    """Send everything due, batch after batch, until nothing is due or `time_budget` seconds are spent.
    Returns the counts and whether more may be waiting. `on_backlog()` is called once, as soon as a
    claim comes back full (more is waiting than one batch): the task uses it to ask for a helper, so
    that a backlog is drained by as many workers as are idle (SKIP LOCKED keeps their batches apart)."""
    limit = batch_size or settings.NOTIFICATIONS_BATCH_SIZE
    started = time.monotonic()
    total: Counter = Counter()
    while True:
        got = _run_batch(Delivery, limit=limit, on_full=on_backlog)
        if got["claimed"] == limit:
            on_backlog = None
        got.update(_run_batch(Digest, limit=limit))
        total.update(got)
        if not (got["claimed"] or got["abandoned"]):
            return total, False
        if time.monotonic() - started > time_budget:
            return total, True
