"""The outbox: written atomically with the event, deduplicated, shaped by preferences, delivered by
claim → send → commit with a lease, retried with exponential backoff, failed after the maximum, and
daily digests once per person and day. Sending goes to Django's locmem backend (pytest-django) and
the in-memory SMS backend; the real SMTP/Redis/worker path is in test_delivery_faults.py."""

from datetime import date, timedelta
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import transaction
from django.utils import timezone

from notifications import outbox, services
from notifications.models import Channel, Delivery, Digest, Notification, NotificationPreference, OutboxStatus
from notifications.sms import MemorySmsBackend
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PENDING, SENT, FAILED, HELD = OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.DIGEST


class FlakyBackend(LocmemBackend):
    """Fails the first `failures` sends (as a dropped SMTP connection would), then behaves as locmem.
    Records the Message-ID of every attempt, failed or not."""

    failures = 0
    attempts: list[str] = []

    def send_messages(self, messages):
        for message in messages:
            FlakyBackend.attempts.append(message.extra_headers["Message-ID"])
        if FlakyBackend.failures:
            FlakyBackend.failures -= 1
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.SITE_URL = "https://kp.example.gov.cn"
    settings.SMS_BACKEND = "notifications.sms.MemorySmsBackend"
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 4
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 60
    settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 3600
    settings.NOTIFICATIONS_LEASE_SECONDS = 300
    MemorySmsBackend.outbox = []
    FlakyBackend.failures = 0
    FlakyBackend.attempts = []
    return settings


@pytest.fixture
def alice(db):
    return make_user("alice", email="alice@example.org", mobile="13800000001")


def notify(user, key=None, channels=(Channel.EMAIL,), subject="任务已分配：自评填报"):
    return services.notification_create(
        recipient=user, event="task_assigned", subject=subject, body="请在截止时间前完成。",
        link="/tasks/7/", dedupe_key=key, channels=channels,
    )


def make_due(*rows):
    """Let time pass: the rows' retry time (or lease) is over."""
    for row in rows:
        type(row).objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


# --- written with the event --------------------------------------------------------------------------


def test_rows_commit_with_the_event(alice, kicks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            n = notify(alice, channels=(Channel.EMAIL, Channel.SMS))
    assert n.recipient == alice and n.read_at is None
    assert sorted(n.deliveries.values_list("channel", "status")) == [("email", PENDING), ("sms", PENDING)]
    assert len(callbacks) == 1 and kicks == [1]


def test_rolled_back_event_leaves_no_rows_and_no_kick(alice, kicks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                notify(alice, key="case:1:assigned", channels=(Channel.EMAIL, Channel.SMS))
                raise RuntimeError("the event failed after notifying")
    assert not Notification.objects.exists() and not Delivery.objects.exists()
    assert callbacks == [] and kicks == []


def test_one_kick_per_transaction(alice, kicks, django_capture_on_commit_callbacks):
    bob = make_user("bob", email="bob@example.org")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            for i in range(5):
                notify(alice, key=f"a{i}")
                notify(bob, key=f"b{i}")
    assert Delivery.objects.count() == 10
    assert len(callbacks) == 1 and kicks == [1]


def test_dedupe_key_notifies_once_and_keeps_the_transaction_usable(alice, kicks):
    with transaction.atomic():
        first = notify(alice, key="case:1:overdue")
        second = notify(alice, key="case:1:overdue")
        other = notify(alice, key="case:2:overdue")  # the caller's transaction still works
    assert first is not None and second is None and other is not None
    assert Notification.objects.filter(dedupe_key="case:1:overdue").count() == 1
    assert Delivery.objects.filter(notification=first).count() == 1


def test_without_dedupe_key_each_call_notifies(alice, kicks):
    notify(alice)
    notify(alice)
    assert Notification.objects.count() == 2


def test_broker_outage_at_commit_does_not_raise_into_the_caller(alice, settings, caplog, django_capture_on_commit_callbacks):
    from notifications.tasks import deliver_outbox

    app = deliver_outbox.app
    old = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    app.conf.broker_transport_options = {"socket_connect_timeout": 1, "max_retries": 0}
    try:
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                n = notify(alice)
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = old
    assert Delivery.objects.get(notification=n).status == PENDING  # waits for the sweep
    assert "sweep will send it" in caplog.text


# --- preferences -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pref", "expected"),
    [
        (None, [("email", PENDING), ("sms", PENDING)]),
        ({"email_enabled": False}, [("sms", PENDING)]),
        ({"sms_enabled": False}, [("email", PENDING)]),
        ({"daily_digest": True}, [("email", HELD), ("sms", PENDING)]),
        ({"email_enabled": False, "sms_enabled": False, "daily_digest": True}, []),
    ],
)
def test_preferences_choose_the_channels(alice, kicks, pref, expected):
    if pref is not None:
        NotificationPreference.objects.create(user=alice, **pref)
    n = notify(alice, channels=(Channel.EMAIL, Channel.SMS))
    assert sorted(n.deliveries.values_list("channel", "status")) == expected
    assert n.read_at is None  # the in-app message is always there


def test_channels_without_an_address_are_skipped(kicks):
    nobody = make_user("nobody", email="", mobile="")
    n = notify(nobody, channels=(Channel.EMAIL, Channel.SMS))
    assert n is not None and not n.deliveries.exists()


def test_only_held_deliveries_do_not_kick(alice, kicks, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(user=alice, daily_digest=True, sms_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        notify(alice)
    assert kicks == []


# --- delivery ------------------------------------------------------------------------------------------------


def test_email_and_sms_are_sent_and_marked(alice, kicks):
    n = notify(alice, channels=(Channel.EMAIL, Channel.SMS))
    stats, more = outbox.deliver_due()
    assert stats["sent"] == 2 and not more
    assert set(n.deliveries.values_list("status", flat=True)) == {SENT}
    assert all(d.sent_at and d.attempts == 1 for d in n.deliveries.all())
    [message] = mail.outbox
    assert message.subject == "【考评工作平台】任务已分配：自评填报"
    assert message.to == ["alice@example.org"]
    assert "https://kp.example.gov.cn/tasks/7/" in message.body and "请在截止时间前完成。" in message.body
    email = n.deliveries.get(channel="email")
    assert message.extra_headers["Message-ID"].startswith(f"<delivery-{email.pk}.")
    assert message.extra_headers["Message-ID"].endswith("@kp.example.gov.cn>")
    [sms] = MemorySmsBackend.outbox
    assert sms["phone"] == "13800000001" and sms["text"].startswith("【考评工作平台】任务已分配")
    assert outbox.deliver_due()[0]["sent"] == 0  # nothing twice


def test_backoff_schedule_and_failed_after_max(alice, kicks, settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FlakyBackend"
    FlakyBackend.failures = 99
    n = notify(alice)
    delivery = n.deliveries.get()
    waits = []
    for attempt in range(1, 5):
        before = timezone.now()
        stats, _ = outbox.deliver_due()
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert "SMTPServerDisconnected: Connection unexpectedly closed" in delivery.last_error
        if attempt < 4:
            assert stats["retry"] == 1 and delivery.status == PENDING
            waits.append(round((delivery.next_attempt_at - before).total_seconds()))
            assert outbox.deliver_due()[0]["claimed"] == 0  # not before its time
            make_due(delivery)
        else:
            assert stats["failed"] == 1 and delivery.status == FAILED
    assert waits == [60, 120, 240]
    make_due(delivery)
    assert outbox.deliver_due()[0]["claimed"] == 0  # FAILED is final
    assert mail.outbox == []
    # every attempt carried the same Message-ID
    assert len(FlakyBackend.attempts) == 4 and len(set(FlakyBackend.attempts)) == 1


def test_backoff_is_capped(settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 60
    settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 3600
    assert [outbox.backoff_seconds(n) for n in range(1, 10)] == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_retry_after_a_failure_sends_once_with_the_same_message_id(alice, kicks, settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FlakyBackend"
    FlakyBackend.failures = 1
    n = notify(alice)
    assert outbox.deliver_due()[0]["retry"] == 1
    make_due(n.deliveries.get())
    assert outbox.deliver_due()[0]["sent"] == 1
    assert len(mail.outbox) == 1
    assert FlakyBackend.attempts[0] == FlakyBackend.attempts[1] == mail.outbox[0].extra_headers["Message-ID"]
    delivery = n.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (SENT, 2, "")


def test_undeliverable_fails_at_once(alice, kicks):
    n = notify(alice)
    type(alice).objects.filter(pk=alice.pk).update(email="")
    assert outbox.deliver_due()[0]["failed"] == 1
    delivery = n.deliveries.get()
    assert delivery.status == FAILED and "no email address" in delivery.last_error and delivery.attempts == 1


def test_a_claimed_row_is_leased(alice, kicks):
    """A worker that claimed a row and died: nobody takes it during the lease; afterwards the next
    claim sends it (attempts counts both claims)."""
    n = notify(alice)
    delivery = n.deliveries.get()
    now = timezone.now()
    tokens, _ = outbox._claim(Delivery, limit=10, now=now, lease_end=now + timedelta(seconds=300))
    assert tokens == {delivery.pk: 1}
    # ... the worker is SIGKILLed here, before sending ...
    assert outbox.deliver_due()[0]["claimed"] == 0
    make_due(delivery)
    assert outbox.deliver_due()[0]["sent"] == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (SENT, 2)
    assert len(mail.outbox) == 1


def test_the_old_owner_cannot_record_after_losing_its_lease(alice, kicks):
    n = notify(alice)
    delivery = n.deliveries.get()
    now = timezone.now()
    outbox._claim(Delivery, limit=10, now=now, lease_end=now)  # lease already over
    new_tokens, _ = outbox._claim(Delivery, limit=10, now=timezone.now(), lease_end=now + timedelta(seconds=300))
    assert new_tokens == {delivery.pk: 2}
    outbox._mark_failed(Delivery, delivery.pk, 1, "late", permanent=True)  # the first owner, too late
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (PENDING, "")
    outbox._mark_sent(Delivery, delivery.pk, 2)
    delivery.refresh_from_db()
    assert delivery.status == SENT


def test_a_worker_lost_on_the_last_attempt_fails_the_row(alice, kicks):
    n = notify(alice)
    delivery = n.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(attempts=4, last_error="earlier error")
    assert outbox.deliver_due()[0]["abandoned"] == 1
    delivery.refresh_from_db()
    assert delivery.status == FAILED and delivery.last_error.startswith("giving up") and "earlier error" in delivery.last_error
    assert mail.outbox == []


def test_rows_past_half_the_lease_are_released_unsent(alice, kicks, settings):
    settings.NOTIFICATIONS_LEASE_SECONDS = 0  # every send would start too late
    n = notify(alice)
    stats = outbox._run_batch(Delivery, limit=10)
    assert stats["released"] == 1 and mail.outbox == []
    delivery = n.deliveries.get()
    assert (delivery.status, delivery.attempts) == (PENDING, 0)
    assert delivery.next_attempt_at <= timezone.now()


def test_a_broken_connection_is_replaced_for_the_next_item(alice, kicks, settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FlakyBackend"
    FlakyBackend.failures = 1
    for i in range(3):
        notify(alice, key=f"k{i}")
    stats, _ = outbox.deliver_due()
    assert (stats["retry"], stats["sent"]) == (1, 2)
    assert len(mail.outbox) == 2


# --- daily digest ----------------------------------------------------------------------------------------------


@pytest.fixture
def digest_reader(kicks):
    user = make_user("reader", email="reader@example.org")
    NotificationPreference.objects.create(user=user, daily_digest=True, sms_enabled=False)
    return user


def test_digest_once_per_person_and_day(digest_reader, alice):
    a = notify(digest_reader, key="d1", subject="提醒：自评填报将于3天后截止")
    b = notify(digest_reader, key="d2", subject="逾期：自评填报已逾期")
    notify(alice, key="single")  # a single-email reader is not in any digest
    day = date(2026, 11, 23)

    assert services.digests_gather(day=day) == 1
    assert services.digests_gather(day=day) == 0  # the second run of the day gathers nothing
    stats, _ = outbox.deliver_due()
    assert stats["sent"] == 2  # alice's single email and the reader's digest
    [digest_mail] = [m for m in mail.outbox if m.to == ["reader@example.org"]]
    assert digest_mail.subject == "【考评工作平台】每日通知汇总（2026年11月23日，共2条）"
    assert "提醒：自评填报将于3天后截止" in digest_mail.body and "逾期：自评填报已逾期" in digest_mail.body
    assert digest_mail.body.index("提醒") < digest_mail.body.index("逾期")  # oldest first
    digest = Digest.objects.get()
    assert digest_mail.extra_headers["Message-ID"].startswith(f"<digest-{digest.pk}.")
    assert set(Delivery.objects.filter(notification__in=[a, b]).values_list("status", flat=True)) == {SENT}

    # later the same day: held until tomorrow's digest, and today's is not sent again
    c = notify(digest_reader, key="d3", subject="退回：请修改自评")
    assert services.digests_gather(day=day) == 0
    assert outbox.deliver_due()[0]["sent"] == 0
    assert Delivery.objects.get(notification=c).status == HELD
    assert len([m for m in mail.outbox if m.to == ["reader@example.org"]]) == 1

    assert services.digests_gather(day=day + timedelta(days=1)) == 1
    outbox.deliver_due()
    second = [m for m in mail.outbox if m.to == ["reader@example.org"]][-1]
    assert "共1条" in second.subject and "退回：请修改自评" in second.body and "自评填报已逾期" not in second.body


def test_no_digest_without_held_emails(digest_reader):
    assert services.digests_gather(day=date(2026, 11, 23)) == 0
    assert not Digest.objects.exists()


def test_a_failing_digest_retries_then_fails_its_deliveries(digest_reader, settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FlakyBackend"
    FlakyBackend.failures = 99
    n = notify(digest_reader)
    services.digests_gather(day=date(2026, 11, 23))
    digest = Digest.objects.get()
    for _ in range(4):
        outbox.deliver_due()
        make_due(digest)
    digest.refresh_from_db()
    assert (digest.status, digest.attempts) == (FAILED, 4)
    delivery = n.deliveries.get()
    assert delivery.status == FAILED and "SMTPServerDisconnected" in delivery.last_error


def test_digest_task_gathers_and_sends(digest_reader):
    from notifications.tasks import send_daily_digests

    notify(digest_reader)
    send_daily_digests.run()
    send_daily_digests.run()  # beat fired twice (or two beats): still one email
    assert len(mail.outbox) == 1
    assert Digest.objects.get().day == timezone.localdate()


def test_a_full_batch_asks_for_one_helper(alice, kicks):
    for i in range(5):
        notify(alice, key=f"f{i}")
    helpers = []
    stats, more = outbox.deliver_due(batch_size=2, on_backlog=lambda: helpers.append(1))
    assert (stats["sent"], more) == (5, False)
    assert helpers == [1]  # once, however many full batches follow
    assert outbox.deliver_due(batch_size=2, on_backlog=lambda: helpers.append(1))[0]["claimed"] == 0
    assert helpers == [1]


def test_admin_lists_the_outbox_and_retries_failed_items(alice, kicks, client, settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FlakyBackend"
    FlakyBackend.failures = 1
    ok_note, failed_note = notify(alice, key="ok"), notify(alice, key="bad")
    Delivery.objects.filter(notification=failed_note).update(attempts=3)  # its last attempt comes next
    Delivery.objects.filter(notification=ok_note).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    outbox.deliver_due()
    failed = Delivery.objects.get(notification=failed_note)
    assert failed.status == FAILED
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    admin = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get("/admin/notifications/delivery/?status=failed")
    assert page.status_code == 200 and "SMTPServerDisconnected" in page.content.decode()
    both = [failed.pk, Delivery.objects.get(notification=ok_note).pk]
    resp = client.post("/admin/notifications/delivery/", {"action": "retry", "_selected_action": both})
    assert resp.status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (PENDING, 0)
    assert Delivery.objects.get(notification=ok_note).next_attempt_at > timezone.now()  # untouched
    assert outbox.deliver_due()[0]["sent"] == 1 and len(mail.outbox) == 1
