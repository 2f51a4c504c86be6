"""The batch API of the outbox (`notifications_create_many` / `notifications_create_each`): the rules of
`notification_create` — dedupe, preferences, digests, channels without an address, one kick, rows
that commit or roll back with the caller — for many notices in a constant number of statements.

Both ways of inserting are tested: `INSERT … ON CONFLICT DO NOTHING RETURNING` (PostgreSQL, SQLite
≥ 3.35) and the one-savepoint-per-message fallback. The suite runs on PostgreSQL; the last test runs
this module again on a fresh SQLite file (the embedded demo's database)."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.models import Channel, Delivery, Notification, NotificationPreference, OutboxStatus
from tests.factories import make_user

PENDING, HELD = OutboxStatus.PENDING, OutboxStatus.DIGEST
BOTH = (Channel.EMAIL, Channel.SMS)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["returning", "one_by_one"])
def path(request, monkeypatch):
    """Run the test with either way of inserting the messages."""
    if request.param == "one_by_one":
        monkeypatch.setattr(services, "_can_insert_returning", lambda connection: False)
    else:
        assert services._can_insert_returning(connection)
    return request.param


def spec(user, key=None, channels=(Channel.EMAIL,), subject="催办提醒", **extra):
    return {"recipient": user, "event": "task.reminder", "subject": subject, "body": "请及时办理。",
            "link": "/tasks/7/", "dedupe_key": key, "channels": channels, **extra}


def deliveries(notification) -> list[tuple[str, str]]:
    return sorted(Delivery.objects.filter(notification=notification).values_list("channel", "status"))


@pytest.mark.django_db
def test_dedupe_within_one_batch(path, kicks):
    alice = make_user(email="alice@example.org")
    made = services.notifications_create_each([
        spec(alice, "k:1", subject="first"), spec(alice, "k:1", subject="second"), spec(alice, "k:2"),
    ])
    assert made[0] is not None and made[1] is None and made[2] is not None
    assert Notification.objects.get(dedupe_key="k:1").subject == "first"  # the first spec of a key wins
    assert Notification.objects.count() == 2 and Delivery.objects.count() == 2


@pytest.mark.django_db
def test_dedupe_against_existing_rows_keeps_the_transaction_usable(path, kicks):
    alice = make_user(email="alice@example.org")
    old = services.notification_create(recipient=alice, event="x", subject="old", dedupe_key="k:2")
    with transaction.atomic():
        n = services.notifications_create_many([spec(alice, f"k:{i}") for i in range(5)])
        assert services.notifications_create_many([spec(alice, f"k:{i}") for i in range(5)]) == 0
        assert services.notification_create(recipient=alice, event="x", subject="new", dedupe_key="k:9")
    assert n == 4
    assert Notification.objects.filter(dedupe_key__startswith="k:").count() == 6
    assert Notification.objects.get(dedupe_key="k:2").subject == "old" and deliveries(old) == [("email", PENDING)]
    assert Delivery.objects.count() == 6


@pytest.mark.django_db
def test_each_result_is_the_row_of_its_spec(path, kicks):
    """Keys are inserted in key order, key-less messages in theirs: the results still follow the specs."""
    people = [make_user(email=f"p{i}@example.org") for i in range(3)]
    specs = []
    for i in range(12):
        key = None if i % 4 == 0 else f"key:{99 - i:03d}"  # keys descending, key-less ones in between
        specs.append(spec(people[i % 3], key, subject=f"notice {i}", link=f"/tasks/{i}/"))
    made = services.notifications_create_each(specs)
    assert len(made) == 12 and all(made)
    for i, n in enumerate(made):
        row = Notification.objects.get(pk=n.pk)
        assert (row.subject, row.link, row.recipient_id, row.dedupe_key) == (
            f"notice {i}", f"/tasks/{i}/", people[i % 3].pk, specs[i]["dedupe_key"])
        assert (n.subject, n.recipient, n.created) == (row.subject, people[i % 3], row.created)
        assert deliveries(n) == [("email", PENDING)]
    assert services.notifications_create_many(specs) == 3  # only the key-less ones again


@pytest.mark.django_db
def test_preferences_digest_and_missing_addresses(path, kicks, django_capture_on_commit_callbacks):
    default = make_user(email="a@example.org", mobile="13800000001")
    no_email = make_user(email="b@example.org", mobile="13800000002")
    digest = make_user(email="c@example.org", mobile="13800000003")
    no_sms = make_user(email="d@example.org", mobile="13800000004")
    nobody = make_user(email="", mobile="")
    silent = make_user(email="f@example.org", mobile="13800000006")
    NotificationPreference.objects.create(user=no_email, email_enabled=False)
    NotificationPreference.objects.create(user=digest, daily_digest=True)
    NotificationPreference.objects.create(user=no_sms, sms_enabled=False)
    NotificationPreference.objects.create(user=silent, email_enabled=False, sms_enabled=False)
    users = [default, no_email, digest, no_sms, nobody, silent]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            made = services.notifications_create_each(
                [spec(u, f"u:{u.pk}", channels=BOTH) for u in users]
                # by id only (the batch reads those users itself), and an email-only event
                + [{"recipient_id": u.pk, "event": "x", "subject": "s", "dedupe_key": f"id:{u.pk}"} for u in users]
            )
    assert all(made)
    assert [deliveries(n) for n in made] == [
        [("email", PENDING), ("sms", PENDING)], [("sms", PENDING)], [("email", HELD), ("sms", PENDING)],
        [("email", PENDING)], [], [],
        [("email", PENDING)], [], [("email", HELD)], [("email", PENDING)], [], [],
    ]
    assert len(callbacks) == 1 and kicks == [1]  # one kick for the whole batch


@pytest.mark.django_db
def test_only_held_deliveries_do_not_kick(path, kicks, django_capture_on_commit_callbacks):
    held = make_user(email="h@example.org")
    NotificationPreference.objects.create(user=held, daily_digest=True)
    nobody = make_user(email="")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_create_many([spec(held, "a"), spec(nobody, "b"), spec(held, "c", ())]) == 3
    assert kicks == []
    assert list(Delivery.objects.values_list("status", flat=True)) == [HELD]


@pytest.mark.django_db
def test_rows_roll_back_with_the_callers_transaction(path, kicks, django_capture_on_commit_callbacks):
    alice = make_user(email="alice@example.org", mobile="13800000001")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                assert services.notifications_create_many([spec(alice, f"r:{i}", BOTH) for i in range(3)]) == 3
                raise RuntimeError("the event failed after notifying")
    assert not Notification.objects.exists() and not Delivery.objects.exists()
    assert callbacks == [] and kicks == []
    # The keys were never committed: the event's next attempt notifies.
    assert services.notifications_create_many([spec(alice, f"r:{i}", BOTH) for i in range(3)]) == 3


@pytest.mark.django_db
def test_a_failing_batch_writes_nothing_and_leaves_the_transaction_usable(path, kicks):
    alice = make_user(email="alice@example.org")
    with transaction.atomic():
        with pytest.raises(ValueError, match="unknown channel"):
            services.notifications_create_many([spec(alice, "f:1"), spec(alice, "f:2", channels=("fax",))])
        assert not Notification.objects.exists()
        assert services.notifications_create_many([spec(alice, "f:1"), spec(alice, "f:2")]) == 2


@pytest.mark.django_db
def test_bad_specs_are_refused(kicks):
    alice = make_user(email="alice@example.org")
    with pytest.raises(ValueError, match="recipient"):
        services.notifications_create_many([{"event": "x", "subject": "s"}])
    with pytest.raises(ValueError, match="disagree"):
        services.notifications_create_many([spec(alice, recipient_id=alice.pk + 1)])
    with pytest.raises(TypeError):
        services.notifications_create_many([spec(alice, dedupe="typo")])
    assert services.notifications_create_many([]) == 0
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_statements_per_batch_do_not_grow_with_its_size(kicks):
    people = [make_user(email=f"s{i}@example.org", mobile=f"1380000{i:04d}") for i in range(10)]
    NotificationPreference.objects.create(user=people[0], daily_digest=True)
    NotificationPreference.objects.create(user=people[1], sms_enabled=False)

    def statements(n: int, prefix: str) -> int:
        specs = [spec(people[i % 10], f"{prefix}:{i}", BOTH) for i in range(n)]
        specs.append(spec(people[0], f"{prefix}:0", BOTH))  # a duplicate within the batch
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            assert services.notifications_create_many(specs) == n
        return len(queries)

    one = statements(1, "a")
    assert statements(3, "b") == statements(60, "c") == one
    # savepoint, INSERT … RETURNING, the preferences, the deliveries, release (was 5 per notice)
    assert one == 5
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:  # all of them exist already
        assert services.notifications_create_many([spec(p, f"c:{i}") for i, p in enumerate(people)]) == 0
    assert len(queries) == 3  # savepoint, INSERT, release


# --- two batches at once ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_write_each_key_once(kicks):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    people = [make_user(email=f"c{i}@example.org") for i in range(5)]
    ids = [p.pk for p in people]
    # Overlapping keys 30–59, the second batch in reverse order (the batch sorts them: no deadlock).
    batches = [[f"c:{i:03d}" for i in range(0, 60)], [f"c:{i:03d}" for i in reversed(range(30, 90))]]
    start = threading.Barrier(2)
    created, errors = [0, 0], []

    def run(n: int):
        from django.db import connection as own

        try:
            start.wait(timeout=10)
            with transaction.atomic():
                created[n] = services.notifications_create_many(
                    [{"recipient_id": ids[i % 5], "event": "x", "subject": f"batch {n}", "dedupe_key": key}
                     for i, key in enumerate(batches[n])]
                )
                time.sleep(0.3)  # still uncommitted: the other batch waits on the shared keys
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys)) == 90
    assert sum(created) == 90 and 30 <= min(created) and max(created) <= 60
    assert Delivery.objects.count() == 90


# --- the embedded demo's database --------------------------------------------------------------------


@pytest.mark.skipif(os.environ.get("BATCH_ON_SQLITE") == "1", reason="already running on SQLite")
def test_the_batch_works_on_sqlite(tmp_path):
    """This module again, on SQLite (≥ 3.35 has `ON CONFLICT … RETURNING`; the fallback is tested too)."""
    env = {**os.environ, "BATCH_ON_SQLITE": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/batch.sqlite3",
           "TEST_DATABASE_NAME": str(tmp_path / "test_batch.sqlite3"), "VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
