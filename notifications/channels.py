"""Rendering and sending one outbox item on its channel. No database writes here: the outbox
(`notifications.outbox`) decides when an item counts as sent.

Every message carries an identity that is the same on every attempt: the email's Message-ID and the
SMS `message_key` are derived from the outbox row, never generated per attempt, so a receiver (or
an operator comparing logs) can recognise a repeat of the same message.
"""

from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from notifications.models import Delivery, Digest
from notifications.sms import get_sms_backend


class Undeliverable(Exception):
    """The item can never be sent as it stands (e.g. the recipient has no address): fail it at once."""


@cache
def _list_path() -> str:
    return reverse("notifications:list")


def absolute_url(link: str) -> str:
    if not link:
        link = _list_path()
    if link.startswith(("http://", "https://")):
        return link
    return settings.SITE_URL + (link if link.startswith("/") else "/" + link)


def _domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def message_id(kind: str, pk: int, created) -> str:
    """Stable per outbox row: the creation time keeps ids distinct across re-created databases."""
    return f"<{kind}-{pk}.{int(created.timestamp())}@{_domain()}>"


def email_connection():
    """One connection per batch (SMTP: one TCP session reused for many messages)."""
    connection = get_connection(fail_silently=False)
    connection.open()
    return connection


def _email(*, to: str, subject: str, body: str, mid: str, connection) -> EmailMessage:
    return EmailMessage(
        subject=" ".join(subject.split()),  # a header: one line
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": mid, "Auto-Submitted": "auto-generated"},
        connection=connection,
    )


def delivery_email(delivery: Delivery, connection=None) -> EmailMessage:
    n = delivery.notification
    user = n.recipient
    if not user.email:
        raise Undeliverable("recipient has no email address")
    ctx = {"notification": n, "user": user, "url": absolute_url(n.link), "list_url": absolute_url("")}
    return _email(
        to=user.email,
        subject=render_to_string("notifications/email/notification_subject.txt", ctx),
        body=render_to_string("notifications/email/notification_body.txt", ctx),
        mid=message_id("delivery", delivery.pk, n.created),
        connection=connection,
    )


def digest_email(digest: Digest, connection=None) -> EmailMessage:
    user = digest.recipient
    if not user.email:
        raise Undeliverable("recipient has no email address")
    items = [
        {"notification": d.notification, "url": absolute_url(d.notification.link)}
        for d in digest.deliveries.select_related("notification").order_by("notification__created", "pk")
    ]
    ctx = {
        "digest": digest, "user": user, "items": items, "count": len(items), "day": local_day_label(digest.day),
        "url": absolute_url(""), "list_url": absolute_url(""),
    }
    return _email(
        to=user.email,
        subject=render_to_string("notifications/email/digest_subject.txt", ctx),
        body=render_to_string("notifications/email/digest_body.txt", ctx),
        mid=message_id("digest", digest.pk, digest.created),
        connection=connection,
    )


def send_email(message: EmailMessage) -> None:
    """Returns only when the server has accepted the message (SMTP: the 250 reply after DATA)."""
    # django-stubs follow Django 6, where get_connection() is private; 5.2 (ours) documents it.
    if message.get_connection().send_messages([message]) != 1:  # type: ignore[attr-defined]
        raise RuntimeError("the email backend did not accept the message")


def sms_text(delivery: Delivery) -> str:
    n = delivery.notification
    return f"【考评工作平台】{n.subject} {absolute_url(n.link)}"


def send_sms(delivery: Delivery) -> None:
    phone = getattr(delivery.notification.recipient, "mobile", "")
    if not phone:
        raise Undeliverable("recipient has no mobile number")
    key = f"delivery-{delivery.pk}-{int(delivery.notification.created.timestamp())}"
    get_sms_backend().send(phone=phone, text=sms_text(delivery), message_key=key)


def local_day_label(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日"

