"""Writing notifications. Call inside the transaction of the event that causes them: the rows commit
or roll back with it (outbox), and delivery happens later in a worker (`notifications.outbox`)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, QuerySet
from django.utils import timezone

from cases.models import User
from notifications import outbox
from notifications.models import Channel, Delivery, Digest, Notification, NotificationPreference, OutboxStatus


def _delivery_status(recipient: User, channel: str, pref: NotificationPreference) -> str | None:
    """The status a channel's delivery starts in, or None when the person gets nothing on it."""
    if channel == Channel.EMAIL:
        if not pref.email_enabled or not recipient.email:
            return None
        return OutboxStatus.DIGEST if pref.daily_digest else OutboxStatus.PENDING
    if channel == Channel.SMS:
        if not pref.sms_enabled or not getattr(recipient, "mobile", ""):
            return None
        return OutboxStatus.PENDING
    raise ValueError(f"unknown channel {channel!r}")


def notification_create(
    *, recipient: User, event: str, subject: str, body: str = "", link: str = "", dedupe_key: str | None = None,
    channels: tuple[str, ...] = (Channel.EMAIL,),
) -> Notification | None:
    """Create the in-app message and one outbox delivery per channel. Returns None when a notification
    with the same `dedupe_key` already exists (nothing is written twice).

    `channels` are what the event deserves; the recipient's preferences narrow them (email off, SMS
    off, email held for the daily digest), and a channel without an address is skipped. After the
    caller's transaction commits, a worker is asked to deliver (a broker outage is logged, not raised:
    the every-minute sweep sends the rows). One notice of `notifications_create_each`."""
    return notifications_create_each([{
        "recipient": recipient, "event": event, "subject": subject, "body": body, "link": link,
        "dedupe_key": dedupe_key, "channels": channels,
    }])[0]


def notifications_create_many(specs: Iterable[Mapping[str, Any]]) -> int:
    """Write many notifications at once; returns how many were created (duplicates are not). Each spec
    is a mapping of `notification_create`'s arguments (`recipient` or `recipient_id`, `event`,
    `subject`, `body`, `link`, `dedupe_key`, `channels`); see `notifications_create_each`."""
    return sum(1 for notification in notifications_create_each(specs) if notification is not None)


# Rows per INSERT statement (SQLite allows fewer: 999 parameters by default).
CHUNK = 1000
_COLUMNS = ("recipient", "event", "subject", "body", "link", "dedupe_key", "created")


@dataclass
class _Spec:
    recipient_id: int
    recipient: User | None
    event: str
    subject: str
    body: str
    link: str
    dedupe_key: str | None
    channels: tuple[str, ...]
    created: datetime


def _spec(*, recipient: User | None = None, recipient_id: int | None = None, event: str, subject: str, body: str = "",
          link: str = "", dedupe_key: str | None = None, channels: Iterable[str] = (Channel.EMAIL,)) -> _Spec:
    if recipient is not None:
        if recipient_id is not None and recipient_id != recipient.pk:
            raise ValueError(f"recipient {recipient.pk} and recipient_id {recipient_id} disagree")
        recipient_id = recipient.pk
    if recipient_id is None:
        raise ValueError("a notification needs a recipient or a recipient_id")
    return _Spec(recipient_id, recipient, event, subject[:255], body, link, dedupe_key or None,
                 tuple(dict.fromkeys(channels)), timezone.now())


def notifications_create_each(specs: Iterable[Mapping[str, Any]]) -> list[Notification | None]:
    """Write a batch of notifications with exactly the rules of `notification_create`, in a constant
    number of statements: one INSERT per 1,000 messages, one read of the recipients' preferences, one
    INSERT of the deliveries (in a savepoint: a failure leaves the caller's transaction usable). Returns,
    for each spec in order, the Notification written, or None when its `dedupe_key` exists already —
    in the database, in another transaction that commits meanwhile, or earlier in the same batch.

    Messages are inserted with `INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING`, in the order
    of their keys: two batches running at once wait for each other on a shared key (the second writes
    nothing for it once the first commits) instead of deadlocking. The rows commit or roll back with
    the caller's transaction; one worker kick after the commit, whatever the batch size."""
    items = [_spec(**spec) for spec in specs]
    if not items:
        return []
    db = router.db_for_write(Notification)
    with transaction.atomic(using=db):
        notifications = _insert(items, db)
        _deliver([(item, n) for item, n in zip(items, notifications, strict=True) if n is not None], db)
    return notifications


def _insert(items: list[_Spec], db: str) -> list[Notification | None]:
    """The in-app messages of `items`, one per distinct key (the first spec of a key wins)."""
    todo: list[int] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.dedupe_key is not None:
            if item.dedupe_key in seen:
                continue
            seen.add(item.dedupe_key)
        todo.append(i)
    connection = connections[db]
    if _can_insert_returning(connection):
        ids = _insert_returning([items[i] for i in todo], connection)
    else:
        ids = _insert_one_by_one([items[i] for i in todo], db)
    result: list[Notification | None] = [None] * len(items)
    for i, pk in zip(todo, ids, strict=True):
        if pk is None:
            continue
        item = items[i]
        notification = Notification(
            pk=pk, recipient_id=item.recipient_id, event=item.event, subject=item.subject, body=item.body,
            link=item.link, dedupe_key=item.dedupe_key, created=item.created,
        )
        notification._state.adding, notification._state.db = False, db
        if item.recipient is not None:
            notification.recipient = item.recipient
        result[i] = notification
    return result


def _can_insert_returning(connection: BaseDatabaseWrapper) -> bool:
    """`INSERT … ON CONFLICT (column) DO NOTHING RETURNING`: PostgreSQL, SQLite ≥ 3.35."""
    return connection.vendor in ("postgresql", "sqlite") and bool(connection.features.can_return_rows_from_bulk_insert)


def _insert_returning(items: list[_Spec], connection: BaseDatabaseWrapper) -> list[int | None]:
    """Insert `items` (no key twice among them); returns the new pk of each, None for an existing key."""
    opts = Notification._meta
    fields = [_concrete(opts.get_field(name)) for name in _COLUMNS]
    qn = connection.ops.quote_name
    key, pk = qn(_column(opts.get_field("dedupe_key"))), qn(_column(opts.pk))
    head = f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(_column(f)) for f in fields)}) VALUES "
    tail = f" ON CONFLICT ({key}) DO NOTHING RETURNING {pk}, {key}"
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, min(CHUNK, connection.ops.bulk_batch_size(fields, items)))
    # Key order (key-less rows first, in their order): concurrent batches lock shared keys in the same order.
    order = sorted(range(len(items)), key=lambda i: (items[i].dedupe_key is not None, items[i].dedupe_key or ""))
    ids: list[int | None] = [None] * len(items)
    with connection.cursor() as cursor:
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            params: list[Any] = []
            for i in chunk:
                item = items[i]
                values = (item.recipient_id, item.event, item.subject, item.body, item.link, item.dedupe_key,
                          item.created)
                params.extend(f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True))
            cursor.execute(head + ", ".join([row] * len(chunk)) + tail, params)
            returned = cursor.fetchall()
            by_key = {k: new_pk for new_pk, k in returned if k is not None}
            # Rows without a key never conflict: all are returned, in the order inserted (as bulk_create assumes).
            keyless = iter([new_pk for new_pk, k in returned if k is None])
            for i in chunk:
                k = items[i].dedupe_key
                ids[i] = next(keyless) if k is None else by_key.get(k)
    return ids


def _concrete(field: object) -> "Field[Any, Any]":
    """A model's own column (`get_field` may also answer with a reverse relation, which has none)."""
    assert isinstance(field, Field)
    return field


def _column(field: object) -> str:
    column = _concrete(field).column
    assert column is not None  # set on every concrete field once its model is ready
    return column


def _insert_one_by_one(items: list[_Spec], db: str) -> list[int | None]:
    """The same for databases without `ON CONFLICT … RETURNING`: one savepoint per message."""
    ids: list[int | None] = []
    for item in items:
        try:
            with transaction.atomic(using=db):  # a duplicate leaves the caller's transaction usable
                notification = Notification.objects.using(db).create(
                    recipient_id=item.recipient_id, event=item.event, subject=item.subject, body=item.body,
                    link=item.link, dedupe_key=item.dedupe_key, created=item.created,
                )
        except IntegrityError:
            if item.dedupe_key and Notification.objects.using(db).filter(dedupe_key=item.dedupe_key).exists():
                ids.append(None)
                continue
            raise
        ids.append(notification.pk)
    return ids


def _deliver(created: list[tuple[_Spec, Notification]], db: str) -> None:
    """One outbox delivery per channel of each new message, as its recipient's preferences allow."""
    wanted = {item.recipient_id for item, _ in created if item.channels}
    if not wanted:
        return
    prefs = {p.user_id: p for p in NotificationPreference.objects.using(db).filter(user_id__in=wanted)}
    missing = {item.recipient_id for item, _ in created if item.channels and item.recipient is None}
    users = get_user_model()._default_manager.using(db).in_bulk(missing) if missing else {}
    deliveries = []
    for item, notification in created:
        if not item.channels:
            continue
        recipient = item.recipient if item.recipient is not None else users.get(item.recipient_id)
        if recipient is None:
            raise ValueError(f"no user with pk {item.recipient_id}")
        pref = prefs.get(item.recipient_id) or NotificationPreference(user_id=item.recipient_id)
        for channel in item.channels:
            status = _delivery_status(recipient, channel, pref)
            if status is not None:
                deliveries.append(Delivery(notification=notification, channel=channel, status=status))
    Delivery.objects.using(db).bulk_create(deliveries)
    if any(d.status == OutboxStatus.PENDING for d in deliveries):
        outbox.kick_after_commit()


@transaction.atomic
def notification_mark_read(*, user: User, notification: Notification) -> Notification:
    """Mark one of the user's own notifications read (again: no change)."""
    if notification.recipient_id != user.pk:
        raise PermissionDenied("只能操作自己的通知。")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def preference_update(*, user: User, email_enabled: bool, sms_enabled: bool, daily_digest: bool) -> NotificationPreference:
    """Set the user's channels. Applies to notifications created from now on; emails already held for
    a digest still go out in it."""
    pref, _ = NotificationPreference.objects.update_or_create(
        user=user, defaults={"email_enabled": email_enabled, "sms_enabled": sms_enabled, "daily_digest": daily_digest}
    )
    return pref


def digests_gather(*, day: date | None = None) -> int:
    """Gather each person's held emails into their digest of `day` (default: today, Asia/Shanghai).
    At most one digest per person and day: a second run on the same day gathers nothing for people
    who already have theirs; emails held after it wait for the next day's. Returns digests created."""
    day = day or timezone.localdate()
    held = Delivery.objects.filter(status=OutboxStatus.DIGEST, digest__isnull=True)
    created = 0
    for recipient_id in held.values_list("notification__recipient_id", flat=True).distinct().order_by():
        with transaction.atomic():
            digest, made = Digest.objects.get_or_create(recipient_id=recipient_id, day=day)
            if not made:
                continue
            ids = held.filter(notification__recipient_id=recipient_id).values("pk")
            if Delivery.objects.filter(pk__in=ids).update(digest=digest):
                created += 1
            else:  # gathered or deleted under our feet: no empty digest
                digest.delete()
    if created:
        outbox.kick_after_commit()
    return created


def outbox_retry(*, queryset: QuerySet[Delivery] | QuerySet[Digest]) -> int:
    """Put FAILED deliveries or digests back in the outbox with a fresh attempt budget (an operator
    fixed the cause). A digest's deliveries follow it. Others are left alone."""
    model = queryset.model
    now = timezone.now()
    with transaction.atomic():
        ids = list(queryset.filter(status=OutboxStatus.FAILED).values_list("pk", flat=True))
        model.objects.filter(pk__in=ids).update(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now)
        if model is Digest:
            Delivery.objects.filter(digest_id__in=ids).update(status=OutboxStatus.DIGEST)
        if ids:
            outbox.kick_after_commit()
    return len(ids)
