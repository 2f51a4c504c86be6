"""Benchmark and full proofs: several nodes on this machine (issue #14 item 3, docs/nodes.md).

    python bench/scale.py        # root; ~4 min; prints completions, inbox and delivery with 1 and 2 nodes

Creates and migrates its own database (nodes_scale) and seeds bench/complete_tasks.py's round (264
units in 4 groups of a leader and 4 experts, every case inspected: 1,056 score tasks). Then
`harness.nodes.Cluster`: a bridge svcbr0 (10.77.0.1: TCP forward to PostgreSQL, a private Redis, the
SMTP sink in this process), web nodes 10.77.0.11/.12 (`gunicorn config.wsgi -w 2` each), worker nodes
10.77.0.21/.22 (`celery worker --pool threads --concurrency 4` each), beats 10.77.0.31/.32, each in its
own network namespace, configured by environment variables only.

Proofs, full form (tests/test_nodes.py runs them reduced): (a) a round of 4 units and 3 experts from
launch to report through the API, requests in turn to the two web nodes; (d) session and token across
nodes; (b) a worker node SIGKILLed while the sink holds one of its DATA commands, 1,000 emails: each
Message-ID once; (c) two beats with the lock (one sends), the holder killed (the other takes over),
then two beats with `BEAT_LOCK_URL=off` (each entry sent twice as often: what the lock prevents).

Figures, each with 1 then 2 nodes of the kind measured: inbox (`GET /api/v1/tasks/?scope=inbox`, 8
client threads, requests spread over the web nodes in turn), completions (4 clients submitting score
sheets, half of the 1,056 tasks per setting), delivery (2,000 emails backlog through 1 then 2
worker nodes). Each with the ratio 2 nodes / 1 node and the CPU milliseconds per request (per email)
of each kind of process: web (every process in the web namespaces), worker, postgres (the backends
of this database), pgforward, redis, client (this process: the HTTP clients, or the SMTP sink).
"""

import argparse
import os
import sys
import threading
import time
from itertools import cycle
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common  # noqa: E402
import complete_tasks  # noqa: E402

DB = "nodes_scale"
INBOX_CLIENTS = 8
INBOX_PER_CLIENT = 100
EMAILS = 2000
BEAT_EVERY = 2.0


def cpu_line(before: dict, after: dict, count: int, kinds: tuple[str, ...]) -> str:
    from harness.nodes import Cluster

    d = Cluster.cpu_delta(before, after)
    machine, wall = d.pop("machine"), d.pop("wall")
    ours = sum(d.values())
    per = " ".join(f"{k}={d.get(k, 0.0) * 1000 / count:.1f}" for k in kinds)
    # Cores kept busy by everything else on the (shared) machine meanwhile, and by what we measure.
    return f"{per}; ours_cores={ours / wall:.2f} other_load_cores={max(machine - ours, 0) / wall:.2f}"


def sample(cluster) -> dict:
    out = cluster.cpu()
    out[("client", 0)] = time.process_time()
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    out[("machine", 0)] = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle, iowait
    out[("wall", 0)] = time.monotonic()
    return out


def run_threads(target, chunks) -> float:
    threads = [threading.Thread(target=target, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - started


def inbox(cluster, nodes: list[str], tokens: list[str]) -> tuple[float, str]:
    import requests

    bases = cycle([cluster.web_url(n) for n in nodes])
    lock = threading.Lock()
    failures = []

    def client(token):
        session = requests.Session()
        for _ in range(INBOX_PER_CLIENT):
            with lock:
                base = next(bases)
            r = session.get(f"{base}/api/v1/tasks/", params={"scope": "inbox"},
                            headers={"Authorization": f"Token {token}"}, timeout=60)
            if r.status_code != 200:
                failures.append(r.status_code)

    run_threads(client, tokens[:INBOX_CLIENTS])  # warm-up: every process has connections and caches
    before = sample(cluster)
    wall = run_threads(client, tokens[:INBOX_CLIENTS])
    n = INBOX_CLIENTS * INBOX_PER_CLIENT
    if failures:
        raise RuntimeError(f"inbox failures: {failures[:5]}")
    return n / wall, cpu_line(before, sample(cluster), n, ("web", "postgres", "pgforward", "client"))


def completions(cluster, nodes: list[str], work: list[list], items: list[str]) -> tuple[float, str]:
    import json

    import requests

    bases = cycle([cluster.web_url(n) for n in nodes])
    lock = threading.Lock()
    body = json.dumps({"items": [{"item": code, "deduction": "1", "reason": "资料不全，扣1分。"} for code in items]})
    failures = []

    def client(chunk):
        session = requests.Session()
        for token, task_id in chunk:
            with lock:
                base = next(bases)
            r = session.post(f"{base}/api/v1/tasks/{task_id}/submit/", data=body, timeout=60,
                             headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
            if r.status_code != 200:
                failures.append((r.status_code, r.text[:200]))

    before = sample(cluster)
    wall = run_threads(client, work)
    n = sum(len(chunk) for chunk in work)
    if failures:
        raise RuntimeError(f"{len(failures)} submissions failed: {failures[:3]}")
    return n / wall, cpu_line(before, sample(cluster), n, ("web", "postgres", "pgforward", "client"))


def delivery(cluster, tag: str) -> tuple[float, str]:
    from config.celery import app
    from harness import node_checks as checks
    from harness.processes import broker
    from notifications import outbox
    from notifications.models import Delivery, OutboxStatus

    ids = checks.write_notifications(EMAILS, tag=tag)
    rows = Delivery.objects.filter(notification_id__in=ids)
    before = sample(cluster)
    started = time.monotonic()
    with broker(app, cluster.broker_url):
        assert outbox.kick()
    _wait(lambda: rows.filter(status=OutboxStatus.SENT).count() == EMAILS, 300, "deliveries SENT")
    per_s = EMAILS / (time.monotonic() - started)
    return per_s, cpu_line(before, sample(cluster), EMAILS, ("worker", "postgres", "pgforward", "redis", "client"))


def _wait(predicate, timeout, what):
    from harness.processes import wait_until

    wait_until(predicate, timeout, what=what, interval=0.1)


def split_work(work: list[list]) -> tuple[list[list], list[list]]:
    """Each group's tasks in case order, cut at a case boundary: the first half, the second half."""
    half = [(len(chunk) // complete_tasks.EXPERTS // 2) * complete_tasks.EXPERTS for chunk in work]
    return [c[:h] for c, h in zip(work, half)], [c[h:] for c, h in zip(work, half)]


def proofs(cluster, sink) -> None:
    from harness import node_checks as checks

    r = checks.drive_round(cluster, units=4, experts=3, tag="p")
    print(f"# (a) round {r['round']}: status={r['status']} cases={r['cases']} requests={r['requests']} "
          f"served={r['served']} in {r['seconds']:.1f} s")
    assert r["status"] == "closed" and set(r["served"]) == {"web1", "web2"}
    s = checks.sessions_across_nodes(cluster, r["people"]["staff"][0])
    print(f"# (d) sessions: {s}")
    return r


def beats(cluster) -> None:
    from harness import node_checks as checks

    cluster.start("beat1", "beat2")
    time.sleep(12)
    sends = checks.beat_sends(cluster)
    holder = max(sends, key=lambda n: sum(sends[n].values()))
    other = "beat2" if holder == "beat1" else "beat1"
    span = checks.beat_span(cluster, holder)
    print(f"# (c) with the lock, over {span:.1f} s (every {BEAT_EVERY:.0f} s): "
          + " ".join(f"{n}={dict(c)}" for n, c in sends.items()))
    t = time.monotonic()
    cluster.kill(holder)
    _wait(lambda: sum(checks.beat_sends(cluster, [other])[other].values()) > 0, 30, "takeover")
    print(f"# (c) {holder} killed: {other} sent its first task {time.monotonic() - t:.1f} s later")
    cluster.stop("beat1", "beat2")
    cluster.start("beat1", "beat2", env={"BEAT_LOCK_URL": "off"})
    time.sleep(12)
    sends = checks.beat_sends(cluster)
    print("# (c) without the lock (BEAT_LOCK_URL=off), 12 s: " + " ".join(f"{n}={dict(c)}" for n, c in sends.items()))
    cluster.stop("beat1", "beat2")
    cluster.start("beat1")  # one beat with the lock again, for the kill below (it sweeps the dead worker's rows)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    from harness.nodes import HOST_IP, Cluster, unavailable

    reason = unavailable()
    if reason:
        raise SystemExit(f"bench/scale.py {reason}")
    _common.setup(DB)
    from django.db import connection

    from harness import node_checks as checks
    from harness.processes import SmtpSink

    _, _, work, items = complete_tasks.seed()  # (round, groups, work, items)
    first, second = split_work(work)
    from rest_framework.authtoken.models import Token

    from cases import models as m

    experts = m.User.objects.filter(username__startswith="exp").order_by("username")[:INBOX_CLIENTS]
    inbox_tokens = [Token.objects.get_or_create(user=u)[0].key for u in experts]
    connection.close()

    cluster = Cluster(DB, fast_beat=True, NOTIFICATIONS_LEASE_SECONDS="10", EMAIL_TIMEOUT="2",
                      NOTIFICATIONS_RETRY_BASE_SECONDS="1", BEAT_LOCK_SECONDS="5",
                      FAST_BEAT_SECONDS=str(BEAT_EVERY), LOG_LEVEL="ERROR",
                      DB_CONN_MAX_AGE="600")  # connections live through a measurement (CPU is per backend)
    with cluster, SmtpSink(host=HOST_IP, stall_timeout=60) as sink:
        cluster.smtp_port = sink.port
        t0 = time.monotonic()
        cluster.start("web1", "web2", "worker1", "worker2")
        print(f"# nodes up in {time.monotonic() - t0:.1f} s: web1 web2 (gunicorn -w {cluster.web_workers}), "
              f"worker1 worker2 (threads x{cluster.worker_concurrency}); loadavg "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        proofs(cluster, sink)

        figures = {}
        for label, nodes in (("1", ["web1"]), ("2", ["web1", "web2"])):
            figures[f"inbox_{label}"], cpu = inbox(cluster, nodes, inbox_tokens)
            print(f"# inbox, {label} web node(s): cpu_ms_per_request {cpu}")
        for label, nodes, chunk in (("1", ["web1"], first), ("2", ["web1", "web2"], second)):
            figures[f"completions_{label}"], cpu = completions(cluster, nodes, chunk, items)
            print(f"# completions, {label} web node(s), {sum(len(c) for c in chunk)} submissions: "
                  f"cpu_ms_per_request {cpu}")
        cluster.stop("worker2")
        figures["deliver_1"], cpu = delivery(cluster, "d1")
        print(f"# delivery, 1 worker node, {EMAILS} emails: cpu_ms_per_email {cpu}")
        cluster.start("worker2")
        figures["deliver_2"], cpu = delivery(cluster, "d2")
        print(f"# delivery, 2 worker nodes, {EMAILS} emails: cpu_ms_per_email {cpu}")

        beats(cluster)
        k = checks.kill_worker_mid_delivery(cluster, sink, n=1000, stall_at=200, timeout=120)
        print(f"# (b) {k}")
        assert k["missing"] == 0 and k["foreign"] == 0 and k["repeats"] == k["repeats_in_the_250_window"]
        print(f"# loadavg {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for kind in ("inbox", "completions", "deliver"):
        one, two = figures[f"{kind}_1"], figures[f"{kind}_2"]
        unit = "per_s" if kind != "inbox" else "rps"
        print(f"{kind}_{unit}_1_node={one:.1f} {kind}_{unit}_2_nodes={two:.1f} ratio={two / one:.2f}")


if __name__ == "__main__":
    main()
