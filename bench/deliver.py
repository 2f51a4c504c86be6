"""Benchmark: notification emails delivered through a real Celery worker.

    python bench/deliver.py [-n 2000] [--workers 1] [--concurrency 4] [--live]
    # prints deliver_per_s=<n> smtp_floor_per_s=<n> deliver_vs_floor=<n>

Creates and migrates its own database (bench_deliver), starts a private redis-server on a free port
as the broker, an SMTP sink in this process on a free port (Django's SMTP email backend talks to it
over TCP, one session per batch) and `celery -A config worker` (threads pool, 4 by default) on that
database. N notifications are written through `notification_create`, in events of 20 people each
(one transaction per event).

Default (backlog): the events are written without kicking the worker, then one kick starts the
drain, as beat's sweep does after a broker outage or a mass reminder; the clock runs from that kick
until every delivery is SENT. `--live`: every event's commit kicks the worker, as in production, and
the clock runs from the first event's commit (then the figure is bounded by how fast this single
process writes events). Either way the sink must end up with N distinct Message-IDs, each received once.

For other benchmarks (bench/sweep.py): after `_common.setup(db)`, `delivery_stack(db)` runs the same
Redis + sink + worker(s) and points this process's Celery app at that Redis, so that notifications
written in this process are delivered; `wait_delivered(n)` waits until n deliveries are SENT.

Floor, same sink and run, right after the drain: the sink's own accept rate. A separate process (so
that it does not share this process's interpreter with the sink) runs as many plain `smtplib` clients as
the worker has threads (workers × concurrency), each one SMTP session sending its share of the same N
messages (built with `email.message.EmailMessage`: same subject and body, a Message-ID each), timed from
the first connection to the last QUIT. Prints `smtp_floor_per_s` and `deliver_vs_floor` = ours / floor:
the share of what the sink can take that the outbox delivers (below 1 by construction: the floor has no
database, no broker, no claim, no rendering, no status write).
"""

import argparse
import contextlib
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

DB = _common.db_name("bench_deliver")
EVENT_SIZE = 20
USERS = 200


@contextlib.contextmanager
def delivery_stack(dbname: str, workers: int = 1, concurrency: int = 4, **env: str):
    """Redis, SMTP sink and Celery worker(s) on `dbname` (Django must be set up on it). Yields the sink."""
    from config.celery import app
    from harness.processes import RedisServer, SmtpSink, Worker, broker, worker_env

    redis = RedisServer()
    running = []
    with SmtpSink() as sink:
        try:
            redis.start()
            base = _common.bench_env(dbname)
            base.update(worker_env(database_url=base["DATABASE_URL"], broker_url=redis.url, smtp_port=sink.port))
            base.update(LOG_LEVEL="ERROR", **env)
            for i in range(workers):
                running.append(Worker(base, f"deliver{i}", pool="threads", concurrency=concurrency).start())
            sink.bench_workers = running  # for deliver.py's CPU figures
            with broker(app, redis.url):
                yield sink
        finally:
            for w in running:
                w.close()
            redis.close()


def wait_delivered(expected: int, timeout: float = 300.0) -> float:
    """Wait until `expected` deliveries are SENT (none left PENDING); returns the monotonic time."""
    from notifications.models import Delivery, OutboxStatus

    deadline = time.monotonic() + timeout
    while True:
        counts = Counter(Delivery.objects.values_list("status", flat=True))
        if counts[OutboxStatus.SENT] >= expected and not counts[OutboxStatus.PENDING]:
            return time.monotonic()
        if counts[OutboxStatus.FAILED]:
            raise RuntimeError(f"deliveries failed: {counts}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"not delivered within {timeout} s: {counts}")
        time.sleep(0.05)


def seed_users():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return User.objects.bulk_create(
        User(username=f"reader{i:03d}", display_name=f"读者{i:03d}", email=f"reader{i:03d}@example.org")
        for i in range(USERS)
    )


def write_events(users, n: int) -> None:
    from django.db import transaction

    from notifications.services import notification_create

    for event in range(0, n, EVENT_SIZE):
        with transaction.atomic():
            for i in range(event, min(event + EVENT_SIZE, n)):
                notification_create(
                    recipient=users[i % USERS], event="reminder", subject=f"提醒：第{i}号任务将于3天后截止",
                    body="请在截止时间前完成自评填报。", link=f"/tasks/{i}/", dedupe_key=f"bench:{i}",
                )


def run(n: int, workers: int, concurrency: int, live: bool) -> dict:
    from unittest import mock

    from notifications import channels, outbox
    from notifications.models import Delivery

    users = seed_users()
    with delivery_stack(DB, workers=workers, concurrency=concurrency) as sink:
        t0 = time.monotonic()
        if live:
            write_events(users, n)
            created = started = t0
        else:
            with mock.patch.object(outbox, "kick_after_commit", lambda: None):
                write_events(users, n)
            created = time.monotonic()
            started = time.monotonic()
            cpu = _common.CpuMeter(sink.bench_workers[0].proc.pid, DB)
            before = cpu.sample()
            assert outbox.kick(), "the broker did not take the kick"
        finished = wait_delivered(n)
        cpu_report = "" if live else cpu.report(before, cpu.sample(), n)
        expected = Counter(
            channels.message_id("delivery", pk, created_at)
            for pk, created_at in Delivery.objects.values_list("pk", "notification__created")
        )
        received = Counter(sink.message_ids)
        if received != expected:
            repeats = sum(c - 1 for c in received.values() if c > 1)
            raise RuntimeError(f"sink got {sum(received.values())} messages ({repeats} repeats), expected {n} once each")
        floor_s = smtp_floor(sink, n, workers * concurrency)
    return {"n": n, "create_s": created - t0, "deliver_s": finished - started, "floor_s": floor_s,
            "cpu": cpu_report}


def smtp_client(port: int, n: int, threads: int) -> None:
    """The floor's client (run in its own process): `threads` smtplib sessions sending n messages
    between them; prints the seconds from the first connection to the last QUIT."""
    import smtplib
    from email.message import EmailMessage
    from email.utils import formatdate

    def send(first: int, count: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for i in range(first, first + count):
                msg = EmailMessage()
                msg["Subject"] = f"提醒：第{i}号任务将于3天后截止"
                msg["From"] = "noreply@example.org"
                msg["To"] = f"reader{i % USERS:03d}@example.org"
                msg["Date"] = formatdate(localtime=True)
                msg["Message-ID"] = f"<floor.{i}@bench>"
                msg.set_content(f"请在截止时间前完成自评填报。\n/tasks/{i}/\n")
                smtp.send_message(msg)

    shares = [n // threads + (1 if k < n % threads else 0) for k in range(threads)]
    starts = [sum(shares[:k]) for k in range(threads)]
    t0 = time.monotonic()
    running = [threading.Thread(target=send, args=(starts[k], shares[k])) for k in range(threads)]
    for th in running:
        th.start()
    for th in running:
        th.join()
    print(f"{time.monotonic() - t0:.6f}")


def smtp_floor(sink, n: int, threads: int) -> float:
    """Seconds the floor's client process took to have the sink accept n more messages."""
    before = sink.count()
    out = subprocess.run(
        [sys.executable, __file__, "--smtp-floor-client", str(sink.port), str(n), str(threads)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert sink.count() - before == n, (sink.count() - before, n)
    return float(out.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="notifications (default 2000)")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes (default 1)")
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument("--live", action="store_true", help="kick on every event's commit; clock from the first")
    parser.add_argument("--smtp-floor-client", nargs=3, type=int, metavar=("PORT", "N", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smtp_floor_client:
        smtp_client(*args.smtp_floor_client)
        return
    _common.setup(DB)
    r = run(args.n, args.workers, args.concurrency, args.live)
    mode = "live" if args.live else "backlog"
    print(f"notifications={r['n']} mode={mode} workers={args.workers}x{args.concurrency} "
          f"create_s={r['create_s']:.2f} deliver_s={r['deliver_s']:.2f}")
    if r["cpu"]:
        print(f"# ours, per email (server = the first worker, client = this process: the sink and the polling "
              f"of the deliveries' status every 50 ms): {r['cpu'].replace('per_request', 'per_email')}")
    ours, floor = r["n"] / r["deliver_s"], r["n"] / r["floor_s"]
    print(f"# smtp floor: {args.workers * args.concurrency} plain smtplib sessions, {r['n']} messages in "
          f"{r['floor_s']:.2f} s; deliver_vs_floor = ours / floor, the share of the sink's own rate the outbox reaches")
    print(f"deliver_per_s={ours:.0f} smtp_floor_per_s={floor:.0f} deliver_vs_floor={_common.ratio(ours, floor)}")


if __name__ == "__main__":
    main()
