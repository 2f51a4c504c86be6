"""Writing notifications. Call inside the transaction of the event that causes them: the rows commit
or roll back with it (outbox), and delivery happens later in a worker (`notifications.outbox`)."""

from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications import outbox
from notifications.models import Channel, Delivery, Digest, Notification, NotificationPreference, OutboxStatus
from notifications.selectors import preference_for


def _delivery_status(recipient, channel: str, pref: NotificationPreference) -> str | None:
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
    *, recipient, event: str, subject: str, body: str = "", link: str = "", dedupe_key: str | None = None,
    channels: tuple[str, ...] = (Channel.EMAIL,),
) -> Notification | None:
    """Create the in-app message and one outbox delivery per channel. Returns None when a notification
    with the same `dedupe_key` already exists (nothing is written twice).

    `channels` are what the event deserves; the recipient's preferences narrow them (email off, SMS
    off, email held for the daily digest), and a channel without an address is skipped. After the
    caller's transaction commits, a worker is asked to deliver (a broker outage is logged, not raised:
    the every-minute sweep sends the rows)."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate leaves the caller's transaction usable
            notification = Notification.objects.create(
                recipient=recipient, event=event, subject=subject[:255], body=body, link=link, dedupe_key=dedupe_key
            )
    except IntegrityError:
        if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    pref = preference_for(recipient)
    deliveries = []
    for channel in dict.fromkeys(channels):
        status = _delivery_status(recipient, channel, pref)
        if status is not None:
            deliveries.append(Delivery(notification=notification, channel=channel, status=status))
    Delivery.objects.bulk_create(deliveries)
    if any(d.status == OutboxStatus.PENDING for d in deliveries):
        outbox.kick_after_commit()
    return notification


@transaction.atomic
def notification_mark_read(*, user, notification: Notification) -> Notification:
    """Mark one of the user's own notifications read (again: no change)."""
    if notification.recipient_id != user.pk:
        raise PermissionDenied("只能操作自己的通知。")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def preference_update(*, user, email_enabled: bool, sms_enabled: bool, daily_digest: bool) -> NotificationPreference:
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


def outbox_retry(*, queryset) -> int:
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
