"""Writing notifications. Call inside the transaction of the event that causes them: the rows commit
or roll back with it (outbox), and delivery happens later in a worker."""

from django.db import IntegrityError, transaction

from notifications.models import Channel, Delivery, Notification


def notification_create(
    *, recipient, event: str, subject: str, body: str = "", link: str = "", dedupe_key: str | None = None,
    channels: tuple[str, ...] = (Channel.EMAIL,),
) -> Notification | None:
    """Create the in-app message and one outbox delivery per channel. Returns None when a notification
    with the same `dedupe_key` already exists (nothing is written twice)."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate leaves the caller's transaction usable
            notification = Notification.objects.create(
                recipient=recipient, event=event, subject=subject[:255], body=body, link=link, dedupe_key=dedupe_key
            )
    except IntegrityError:
        if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    Delivery.objects.bulk_create(Delivery(notification=notification, channel=c) for c in channels)
    return notification
