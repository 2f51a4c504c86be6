"""Faults against real processes: a private redis-server as the broker, `celery -A config worker
--pool=solo` subprocesses on the test database, and an in-process SMTP sink recording Message-IDs.

- Broker outage: with Redis stopped, events still commit their outbox rows (the kick fails fast and
  is only logged); once Redis is back the worker reconnects and the sweep delivers every row exactly
  once.
- SIGKILL mid-send: the sink holds the 3rd message's DATA command, the worker is killed there; the
  rows it had claimed stay PENDING under their lease, and a new worker sends each missing message
  once — nothing lost, nothing twice.

Beat is not run: the tests call `outbox.kick()` where beat's every-minute sweep would run.
"""

from collections import Counter

import pytest
from django.db import connection, transaction

from harness.processes import RedisServer, SmtpSink, Worker, broker, wait_until, worker_env
from notifications import channels, outbox
from notifications.models import Delivery, OutboxStatus
from notifications.services import notification_create
from notifications.tasks import deliver_outbox
from tests.factories import make_user

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not RedisServer.available(), reason="needs the redis-server binary"),
]

LEASE = 6  # seconds; short so that the test need not wait long for a dead worker's lease to end


def database_url() -> str:
    """The test database pytest-django created, for the worker subprocesses."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def env_for(redis: RedisServer, sink: SmtpSink) -> dict:
    return worker_env(
        database_url=database_url(), broker_url=redis.url, smtp_port=sink.port,
        NOTIFICATIONS_LEASE_SECONDS=str(LEASE), EMAIL_TIMEOUT="3", NOTIFICATIONS_RETRY_BASE_SECONDS="1",
    )


def events(users, n: int, tag: str) -> list[int]:
    """`n` events, each its own transaction committing one notification (the kick runs after commit)."""
    ids = []
    for i in range(n):
        with transaction.atomic():
            note = notification_create(recipient=users[i % len(users)], event="task_assigned",
                                       subject=f"任务已分配 {tag}{i}", link=f"/tasks/{i}/", dedupe_key=f"{tag}{i}")
        ids.append(note.pk)
    return ids


def expected_ids(notification_ids) -> Counter:
    rows = Delivery.objects.filter(notification_id__in=notification_ids).select_related("notification")
    return Counter(channels.message_id("delivery", d.pk, d.notification.created) for d in rows)


def statuses(notification_ids) -> Counter:
    return Counter(Delivery.objects.filter(notification_id__in=notification_ids).values_list("status", flat=True))


def sweep_until_delivered(worker: Worker, sink: SmtpSink, notification_ids, timeout: float) -> None:
    """Beat's every-minute sweep, once a second here, until every row is SENT; then one more sweep,
    which must send nothing."""
    wanted = len(notification_ids)

    def done():
        outbox.kick()
        return statuses(notification_ids)[OutboxStatus.SENT] == wanted

    try:
        wait_until(done, timeout, interval=1.0, what=f"{wanted} deliveries SENT")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}: {statuses(notification_ids)}\n{worker.log()[-3000:]}") from None
    runs = worker.log().count("succeeded in")
    assert outbox.kick()
    wait_until(lambda: worker.log().count("succeeded in") > runs, 15, what="one more sweep")


@pytest.fixture
def users(db):
    return [make_user(f"fault{i}", email=f"fault{i}@example.org") for i in range(3)]


def test_broker_outage_loses_nothing_and_sends_each_message_once(users, caplog):
    redis = RedisServer()
    worker = None
    with SmtpSink() as sink:
        try:
            redis.start()
            worker = Worker(env_for(redis, sink), "outage").start()
            with broker(deliver_outbox.app, redis.url):
                before = events(users, 2, "before")
                wait_until(lambda: sink.count() == 2, 20, what="the first two emails")

                redis.stop()  # the broker goes away; events go on
                during = events(users, 6, "during")
                assert statuses(during) == {OutboxStatus.PENDING: 6}
                assert caplog.text.count("sweep will send it") == 6  # logged, never raised
                assert sink.count() == 2

                redis.start()  # back on the same port: the worker reconnects, the sweep sends
                sweep_until_delivered(worker, sink, before + during, timeout=40)

            assert Counter(sink.message_ids) == expected_ids(before + during)  # all 8, each exactly once
            assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
        finally:
            if worker:
                worker.close()
            redis.close()


def test_worker_killed_mid_send_loses_nothing_and_duplicates_nothing(users):
    redis = RedisServer()
    first = second = None
    with SmtpSink() as sink:
        try:
            redis.start()
            env = env_for(redis, sink)
            first = Worker(env, "doomed").start()
            sink.stall_at(3)  # hold the third message at its DATA command
            with broker(deliver_outbox.app, redis.url):
                with transaction.atomic():  # one event notifying five people: one kick, one batch
                    ids = [
                        notification_create(recipient=users[i % 3], event="results_published",
                                            subject=f"结果已发布 {i}", dedupe_key=f"kill{i}").pk
                        for i in range(5)
                    ]
                assert sink.stalled.wait(20), first.log()
                first.kill()  # SIGKILL while the third message is being sent
                sink.release()

                assert sink.count() == 2
                wait_until(lambda: sink.aborted == 1, 5, what="the sink to see the dropped session")
                assert statuses(ids) == {OutboxStatus.SENT: 2, OutboxStatus.PENDING: 3}
                assert set(Delivery.objects.filter(status=OutboxStatus.PENDING).values_list("attempts", flat=True)) == {1}

                second = Worker(env, "survivor").start()
                sweep_until_delivered(second, sink, ids, timeout=LEASE + 30)

            assert Counter(sink.message_ids) == expected_ids(ids)  # five Message-IDs, each exactly once
            attempts = sorted(Delivery.objects.filter(notification_id__in=ids).values_list("attempts", flat=True))
            assert attempts == [1, 1, 2, 2, 2]  # the three claimed by the dead worker were claimed again
        finally:
            for w in (first, second):
                if w:
                    w.close()
            redis.close()
