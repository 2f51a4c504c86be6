"""The multi-node proofs (docs/nodes.md), shared by `tests/test_nodes.py` (reduced) and `bench/scale.py`
(full). Django must be set up in the calling process on the cluster's database: people, memberships
and the rubric have no API and are written through the ORM; everything else goes over HTTP to the
web nodes' addresses, 10.77.0.11 and 10.77.0.12, in turn.

- `drive_round`: (a) a round from launch to report, through the API with token auth, each request
  to the next node in turn.
- `sessions_across_nodes`: (d) a session made on node 1's login page and a token made on node 2 work
  on the other node; a token revoked on one node is refused by the other.
- `kill_worker_mid_delivery`: (b) SIGKILL of the worker node whose SMTP DATA the sink is holding, then
  every email row's Message-ID received exactly once.
- `beat_sends`: (c) what each beat sent, from its log.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from itertools import cycle

import requests

from harness.nodes import NODE_IPS, Cluster
from harness.processes import wait_until

API = "/api/v1"
PASSWORD = "nodes-pass-2026"
RUBRIC = {
    "code": "nodes-rubric", "version": 1, "title": "多节点测试细则",
    "sections": [
        {"code": "S1", "title": "组织建设", "max": "10", "items": [
            {"code": "S1.1", "content": "制度健全", "max": "6"},
            {"code": "S1.2", "content": "创新举措", "max": "4", "bonus_cap": "2"}]},
        {"code": "S2", "title": "作风建设", "max": "5", "items": [
            {"code": "S2.1", "content": "无违纪", "max": "3"},
            {"code": "S2.2", "content": "按时报送", "max": "2"}]},
    ],
}


class Nodes:
    """HTTP to the web nodes in turn: each request goes to the next node. `served` counts per node."""

    def __init__(self, cluster: Cluster, names: list[str]):
        self.bases = {name: cluster.web_url(name) for name in names}
        self._next = cycle(names)
        self.served: Counter = Counter()
        self.session = requests.Session()  # keep-alive per node; no cookies are used with tokens
        self.seconds = 0.0

    def request(self, method: str, path: str, *, token: str | None = None, node: str | None = None,
                expect: int | tuple[int, ...] = 200, **kwargs):
        node = node or next(self._next)
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Token {token}"
        started = time.monotonic()
        resp = self.session.request(method, self.bases[node] + path, headers=headers, timeout=60, **kwargs)
        self.seconds += time.monotonic() - started
        self.served[node] += 1
        expected = (expect,) if isinstance(expect, int) else expect
        assert resp.status_code in expected, f"{method} {path} on {node}: {resp.status_code} {resp.text[:1500]}"
        return resp.json() if resp.content and resp.headers.get("Content-Type", "").startswith("application/json") else None

    def token(self, username: str) -> str:
        return self.request("POST", f"{API}/auth/token/", json={"username": username, "password": PASSWORD})["token"]

    def rows(self, token: str, path: str, **params) -> list[dict]:
        body = self.request("GET", path, token=token, params=params)
        rows = list(body["results"]) if isinstance(body, dict) else list(body)
        assert not (isinstance(body, dict) and body.get("next")), "more than one page: not expected here"
        return rows

    def task(self, token: str, step: str, case: int | None = None) -> dict:
        """The one open `step` task (of `case`) in the person's inbox; one waiting to be claimed (a role
        several people hold, e.g. two office members in the benchmark's database) is claimed first."""
        for scope in ("inbox", "queue"):
            found = [t for t in self.rows(token, f"{API}/tasks/", scope=scope, step=step)
                     if case is None or (t["case"] and t["case"]["id"] == case)]
            if found:
                assert len(found) == 1, f"expected one {step} task (case {case}), got {found}"
                if scope == "queue":
                    self.act(token, found[0]["id"], "claim")
                return found[0]
        raise AssertionError(f"no {step} task (case {case})")

    def act(self, token: str, task_id: int, action: str, **data):
        return self.request("POST", f"{API}/tasks/{task_id}/{action}/", token=token, json=data)


def seed_people(units: int, experts: int, tag: str = "n") -> dict:
    """People (with email addresses), and the rubric: what has no API."""
    from django.contrib.auth.hashers import make_password

    from cases import models as m
    from cases.rubrics.services import rubric_create

    password = make_password(PASSWORD)

    def user(name: str, **extra) -> str:
        m.User.objects.create(username=f"{tag}_{name}", password=password, email=f"{tag}_{name}@example.org",
                              display_name=name, **extra)
        return f"{tag}_{name}"

    return {
        "office": user("office", org_role=m.OrgRole.OFFICE),
        "leader": user("leader", org_role=m.OrgRole.LEADER),
        "gl": user("gl"),
        "experts": [user(f"expert{i}") for i in range(experts)],
        "staff": [user(f"staff{i}") for i in range(units)],
        "heads": [user(f"head{i}") for i in range(units)],
        "rubric": rubric_create(spec={**RUBRIC, "code": f"{tag}-rubric"}).pk,
    }


def drive_round(cluster: Cluster, *, units: int = 2, experts: int = 2, tag: str = "n") -> dict:
    """(a) launch → prepare → sign-off → inspect → score → review → compile → approve → report, every
    step an HTTP request by its role, the requests alternating between web1 and web2."""
    from cases import models as m

    people = seed_people(units, experts, tag)
    nodes = Nodes(cluster, ["web1", "web2"])
    office = nodes.token(people["office"])
    user_ids = dict(m.User.objects.filter(username__startswith=f"{tag}_").values_list("username", "pk"))
    unit_ids = [nodes.request("POST", f"{API}/units/", token=office, expect=201, json={
        "code": f"{tag.upper()}{i:03d}", "name": f"节点单位{tag}{i}", "category": "政府工作部门", "sort_order": i})["id"]
        for i in range(units)]
    for i, uid in enumerate(unit_ids):  # memberships have no API
        m.UnitMembership.objects.create(user_id=user_ids[people["staff"][i]], unit_id=uid, role=m.UnitRole.STAFF)
        m.UnitMembership.objects.create(user_id=user_ids[people["heads"][i]], unit_id=uid, role=m.UnitRole.HEAD)
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    dues = {name: (now + timedelta(days=10 * (n + 1))).isoformat()
            for n, name in enumerate(["prepare_due", "inspect_due", "review_due", "approve_due", "report_due"])}
    round_id = nodes.request("POST", f"{API}/rounds/", token=office, expect=201, json={
        "title": f"多节点考评 {tag}", "kind": "half_year", "year": 2026, "rubric": people["rubric"],
        "config": {"aggregation": "mean"}, **dues})["id"]
    nodes.request("POST", f"{API}/groups/", token=office, expect=201, json={
        "round": round_id, "number": 1, "name": "第一组",
        "members": [{"user": user_ids[people["gl"]], "role": "leader"}]
        + [{"user": user_ids[e], "role": "expert"} for e in people["experts"]],
        "units": unit_ids})
    nodes.request("POST", f"{API}/rounds/{round_id}/launch/", token=office)
    cases = {c["unit"]["id"]: c["id"] for c in nodes.rows(office, f"{API}/cases/", round=round_id)}
    case_ids = [cases[uid] for uid in unit_ids]

    for i, cid in enumerate(case_ids):
        staff = nodes.token(people["staff"][i])
        nodes.act(staff, nodes.task(staff, "prepare", cid)["id"], "submit", report=f"单位{i}自评报告。")
        head = nodes.token(people["heads"][i])
        nodes.act(head, nodes.task(head, "sign_off", cid)["id"], "approve")
    gl = nodes.token(people["gl"])
    for cid in case_ids:
        nodes.act(gl, nodes.task(gl, "inspect", cid)["id"], "submit")
    for e, expert in enumerate(people["experts"]):
        token = nodes.token(expert)
        for cid in case_ids:
            nodes.act(token, nodes.task(token, "score", cid)["id"], "submit",
                      items=[{"item": "S1.1", "deduction": str(e + 1), "reason": "制度未更新"}])
    for cid in case_ids:
        nodes.act(gl, nodes.task(gl, "review", cid)["id"], "approve")
    nodes.act(office, nodes.task(office, "compile")["id"], "submit")
    leader = nodes.token(people["leader"])
    nodes.act(leader, nodes.task(leader, "approve")["id"], "approve")
    nodes.act(office, nodes.task(office, "report")["id"], "submit")

    round_status = nodes.request("GET", f"{API}/rounds/{round_id}/", token=office)["status"]
    case_statuses = Counter(c["status"] for c in nodes.rows(office, f"{API}/cases/", round=round_id))
    return {"round": round_id, "status": round_status, "cases": dict(case_statuses), "served": dict(nodes.served),
            "requests": sum(nodes.served.values()), "seconds": nodes.seconds, "people": people}


def sessions_across_nodes(cluster: Cluster, username: str) -> dict:
    """(d) Log in on web1's page, use the session on web2 (a page, an API read, an API write with CSRF);
    a token made on web2 works on web1; revoked on web1, web2 refuses it."""
    one, two = cluster.web_url("web1"), cluster.web_url("web2")
    browser = requests.Session()
    browser.get(f"{one}/accounts/login/", timeout=30).raise_for_status()
    csrf = browser.cookies["csrftoken"]
    login = browser.post(f"{one}/accounts/login/", timeout=30, allow_redirects=False,
                         data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf})
    assert login.status_code == 302, f"login on web1: {login.status_code} {login.text[:500]}"
    cookies = {"sessionid": browser.cookies["sessionid"], "csrftoken": browser.cookies.get("csrftoken", csrf)}
    out = {
        "page_on_web2": requests.get(f"{two}/", cookies=cookies, timeout=30, allow_redirects=False).status_code,
        "api_read_on_web2": requests.get(f"{two}{API}/tasks/", params={"scope": "inbox"}, cookies=cookies,
                                         timeout=30).status_code,
        "api_write_on_web2": requests.post(f"{two}{API}/notifications/read-all/", cookies=cookies, timeout=30,
                                           headers={"X-CSRFToken": cookies["csrftoken"]}).status_code,
        "without_session_on_web2": requests.get(f"{two}{API}/tasks/", timeout=30).status_code,
    }
    token = requests.post(f"{two}{API}/auth/token/", json={"username": username, "password": PASSWORD},
                          timeout=30).json()["token"]
    auth = {"Authorization": f"Token {token}"}
    out["token_from_web2_on_web1"] = requests.get(f"{one}{API}/tasks/", headers=auth, timeout=30).status_code
    out["revoke_on_web1"] = requests.delete(f"{one}{API}/auth/token/", headers=auth, timeout=30).status_code
    out["revoked_token_on_web2"] = requests.get(f"{two}{API}/tasks/", headers=auth, timeout=30).status_code
    return out


# --- (b) a worker killed mid-delivery ------------------------------------------------------------------


def write_notifications(n: int, tag: str = "kill", readers: int = 20) -> list[int]:
    """n email notifications in events of 20 (one transaction each), written without kicking a worker:
    the delivery starts when the test says so."""
    from unittest import mock

    from django.contrib.auth import get_user_model
    from django.db import transaction

    from notifications import outbox
    from notifications.services import notification_create

    User = get_user_model()
    users = User.objects.bulk_create(
        User(username=f"{tag}_reader{i:03d}", email=f"{tag}_reader{i:03d}@example.org") for i in range(readers))
    ids = []
    with mock.patch.object(outbox, "kick_after_commit", lambda: None):
        for start in range(0, n, 20):
            with transaction.atomic():
                for i in range(start, min(start + 20, n)):
                    ids.append(notification_create(
                        recipient=users[i % readers], event="reminder", subject=f"提醒 {tag} {i}", body="请按时完成。",
                        link=f"/tasks/{i}/", dedupe_key=f"{tag}:{i}").pk)
    return ids


def email_rows(**filters) -> Counter:
    from notifications.models import Channel, Delivery

    return Counter(Delivery.objects.filter(channel=Channel.EMAIL, **filters).values_list("status", flat=True))


def expected_message_ids(cluster: Cluster) -> Counter:
    """The Message-ID of every email row SENT so far (each must reach the sink exactly once), as the
    workers make it (its domain is the nodes' SITE_URL's)."""
    from django.test import override_settings

    from notifications import channels
    from notifications.models import Channel, Delivery, OutboxStatus

    rows = Delivery.objects.filter(channel=Channel.EMAIL, status=OutboxStatus.SENT)
    with override_settings(SITE_URL=cluster.env()["SITE_URL"]):
        return Counter(channels.message_id("delivery", pk, created)
                       for pk, created in rows.values_list("pk", "notification__created"))


def kill_worker_mid_delivery(cluster: Cluster, sink, *, n: int, stall_at: int, timeout: float = 60.0) -> dict:
    """(b) Hold the `stall_at`-th SMTP DATA from now at the sink, write n notifications, SIGKILL every process of
    the worker node that sent it, release the sink, and wait until every email row is SENT (the other
    worker, kicked by beat's sweep, takes the dead one's rows when their lease ends). Then the sink
    must hold each row's Message-ID exactly once, and nothing else."""
    from harness.processes import broker
    from notifications import outbox
    from notifications.models import Delivery, OutboxStatus

    # Held before the rows exist: beat's sweep (and other kicks) may start delivering them while they
    # are being written, and the `stall_at`-th message from now must still be one of the batch.
    sink.stall_at(stall_at)
    started = time.monotonic()
    notification_ids = write_notifications(n)
    from config.celery import app

    with broker(app, cluster.broker_url):
        outbox.kick()
    assert sink.stalled.wait(30), "no worker reached the held DATA command"
    victim = next(name for name, ip in NODE_IPS.items() if ip == sink.stalled_peer)
    before = dict(sink.by_peer)
    killed = cluster.kill(victim)
    sink.release()
    wanted = Delivery.objects.filter(notification_id__in=notification_ids)

    def all_sent() -> bool:
        return not Delivery.objects.filter(channel="email", status=OutboxStatus.PENDING).exists() and \
            wanted.filter(status=OutboxStatus.SENT).count() == wanted.count()

    wait_until(all_sent, timeout, what=f"{n} deliveries SENT after the kill", interval=0.25)
    finished = time.monotonic()
    time.sleep(1.0)  # a repeat, if there were one, would arrive now
    expected, received = expected_message_ids(cluster), Counter(sink.message_ids)
    # A repeat is possible in one window only (notifications/outbox.py): the server had answered 250
    # to the victim, which died before its UPDATE … SENT committed. Such a repeat's first copy came
    # from the victim, the second from the other worker after the lease, under the same Message-ID.
    copies: dict[str, list[str]] = {}
    for mid, peer in sink.received:
        copies.setdefault(mid, []).append(peer)
    repeated = {mid: peers for mid, peers in copies.items() if len(peers) > 1}
    victim_ip = NODE_IPS[victim]
    attempts = dict(wanted.values_list("pk", "attempts"))
    in_window = [mid for mid, peers in repeated.items()
                 if len(peers) == 2 and peers[0] == victim_ip and peers[1] != victim_ip
                 and attempts.get(int(mid.split("-", 1)[1].split(".", 1)[0]), 0) >= 2]
    return {
        "victim": victim, "killed_pids": len(killed), "notifications": n,
        "sent_by_victim_until_kill": before.get(victim_ip, 0),  # since the sink started
        "sent_by_peer": {next(k for k, v in NODE_IPS.items() if v == ip): c for ip, c in sink.by_peer.items()},
        "claimed_again": wanted.filter(attempts__gt=1).count(),
        "rows_sent": sum(expected.values()), "sink_received": sum(received.values()),
        "distinct_received": len(received),
        "missing": sum((expected - received).values()), "foreign": len(set(received) - set(expected)),
        "repeats": sum(c - 1 for c in received.values() if c > 1), "repeats_in_the_250_window": len(in_window),
        "aborted_at_sink": sink.aborted, "seconds": finished - started,
    }


# --- (c) two beats ----------------------------------------------------------------------------------------

_SENT = re.compile(r"^\[([0-9-]+ [0-9:]+),(\d+): .*Sending due task (\S+) ", re.M)


def _sent(cluster: Cluster, name: str) -> list[tuple[float, str]]:
    from datetime import datetime

    return [(datetime.fromisoformat(stamp).timestamp() + int(ms) / 1000, entry)
            for stamp, ms, entry in _SENT.findall(cluster.procs[name].log())]


def beat_sends(cluster: Cluster, names=("beat1", "beat2")) -> dict[str, Counter]:
    """What each beat sent so far, per schedule entry, from its log."""
    return {name: Counter(entry for _, entry in _sent(cluster, name)) for name in names if name in cluster.procs}


def beat_span(cluster: Cluster, name: str) -> float:
    """Seconds between the first and the last task `name` sent (its log's time stamps)."""
    times = [t for t, _ in _sent(cluster, name)]
    return max(times) - min(times) if times else 0.0


def worker_received(cluster: Cluster, task: str) -> int:
    """How many times the worker nodes ran `task` to its end (the "Task …[id] succeeded" lines of their logs)."""
    done = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] succeeded")
    return sum(len(done.findall(proc.log()))
               for name, proc in cluster.procs.items() if name.startswith("worker"))
