"""Several nodes on one machine (issue #14 item 3, docs/nodes.md), reduced for CI: two gunicorn nodes,
two Celery worker nodes and two beats, each in its own network namespace on a bridge, against the test
database (through the host's TCP forward) and a private Redis on the bridge.

One test, in the order a person would check it:
(a) a round from launch to report through the HTTP API, requests alternating between the web nodes;
(d) a session made on node 1 and a token made on node 2 work on the other node;
(b) the worker node whose SMTP DATA the sink holds is SIGKILLed: every email row reaches the sink
    exactly once (nothing lost, nothing twice);
(c) two beats: only the lock's holder sends the periodic tasks, each once per period; killed, the
    other takes over.
The assertions are the test; the timings it prints are not (bench/scale.py measures).
"""

import time

import pytest
from django.db import connection

from harness import node_checks as checks
from harness.nodes import HOST_IP, Cluster, unavailable
from harness.processes import RedisServer, SmtpSink, wait_until

REASON = unavailable()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(REASON is not None, reason=f"multi-node test: {REASON}"),
    pytest.mark.skipif(not RedisServer.available(), reason="needs the redis-server binary"),
]

LEASE = 6  # seconds: short, so that the dead worker's rows come back quickly
BEAT_LOCK = 4  # seconds: how long a killed beat's lock outlives it
FAST_BEAT = 2.0  # every interval entry of the schedule every 2 s (harness/fastbeat.py)
WORKER_THREADS = 4  # per worker node, as in production (README)


def test_two_web_nodes_two_workers_two_beats():
    started = time.monotonic()
    cluster = Cluster(
        connection.settings_dict["NAME"], fast_beat=True, worker_concurrency=WORKER_THREADS,
        NOTIFICATIONS_LEASE_SECONDS=str(LEASE), EMAIL_TIMEOUT="2", NOTIFICATIONS_BATCH_SIZE="20",
        NOTIFICATIONS_RETRY_BASE_SECONDS="1", BEAT_LOCK_SECONDS=str(BEAT_LOCK), FAST_BEAT_SECONDS=str(FAST_BEAT),
    )
    connection.close()  # the nodes use the database through the forward; ours reopens on demand
    with cluster, SmtpSink(host=HOST_IP) as sink:
        cluster.smtp_port = sink.port
        cluster.start("web1", "web2", "worker1", "worker2", "beat1", "beat2")

        # (a) a round through both web nodes
        r = checks.drive_round(cluster, units=2, experts=2)
        print("round:", {k: v for k, v in r.items() if k != "people"})
        assert r["status"] == "closed" and r["cases"] == {"done": 2}
        assert set(r["served"]) == {"web1", "web2"}
        assert abs(r["served"]["web1"] - r["served"]["web2"]) <= 1  # strictly in turn

        # (d) sessions and tokens on either node
        s = checks.sessions_across_nodes(cluster, r["people"]["staff"][0])
        print("sessions:", s)
        assert s == {
            "page_on_web2": 200, "api_read_on_web2": 200, "api_write_on_web2": 200, "without_session_on_web2": 403,
            "token_from_web2_on_web1": 200, "revoke_on_web1": 204, "revoked_token_on_web2": 403,
        }

        # (b) a worker node SIGKILLed mid-delivery
        k = checks.kill_worker_mid_delivery(cluster, sink, n=80, stall_at=12, timeout=45)
        print("kill:", k)
        assert k["killed_pids"] >= 1 and k["claimed_again"] >= 1
        # Nothing lost, nothing the outbox does not hold, every row's Message-ID received.
        assert k["missing"] == 0 and k["foreign"] == 0 and k["distinct_received"] == k["rows_sent"] >= 80
        # Nothing twice, except what the outbox documents as the one unavoidable window: the victim's
        # other threads (4 per worker) may have had a message accepted (250) and not yet recorded.
        # Each such repeat came first from the victim, then once from the survivor, same Message-ID;
        # the held thread itself (killed before the server accepted anything) never repeats.
        assert k["repeats"] == k["repeats_in_the_250_window"] <= WORKER_THREADS - 1

        # (c) two beats: one sends, each entry once per period
        sends = checks.beat_sends(cluster)
        holder = max(sends, key=lambda name: sum(sends[name].values()))
        other = "beat2" if holder == "beat1" else "beat1"
        window = checks.beat_span(cluster, holder)
        print(f"beat sends over {window:.1f} s:", sends)
        assert sum(sends[other].values()) == 0, sends
        periods = window / FAST_BEAT
        for entry in ("notifications-outbox", "workflow-deadline-sweep", "workflow-publication-finality"):
            assert periods / 2 <= sends[holder][entry] <= periods + 1, (entry, sends[holder][entry], periods)
        # The workers ran the beat-only task as often as it was sent, never more (two may still be queued).
        ran = checks.worker_received(cluster, "workflow.tasks.finalise_publications")
        assert sends[holder]["workflow-publication-finality"] - 2 <= ran <= sends[holder]["workflow-publication-finality"]
        # The holder dies: the other takes over once the lock's ttl has passed.
        killed_at = time.monotonic()
        cluster.kill(holder)
        wait_until(lambda: sum(checks.beat_sends(cluster, [other])[other].values()) > 0, BEAT_LOCK + 10,
                   what=f"{other} taking over")
        print(f"takeover after {time.monotonic() - killed_at:.1f} s; total {time.monotonic() - started:.1f} s")
