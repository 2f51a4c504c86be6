"""Benchmark 2: one expert's inbox, GET /api/v1/tasks/ (scope=inbox), under 8 concurrent clients.

    python bench/inbox.py              # prints inbox_p50_ms=<n> inbox_p95_ms=<n> rps=<n>,
                                       # then bare_inbox_p95_ms=<n> inbox_p95_vs_bare=<n>
    python bench/inbox.py --explain    # also prints EXPLAIN ANALYZE of every query of one request

Creates and migrates its own database (bench_inbox) and seeds, with COPY, five years of history:
100 rounds of 320 units in 8 groups of 5 experts (from a pool of 200), ~505,000 viewflow tasks.
96 rounds are closed (every task DONE); the last 4 run, their cases spread over the steps (NEW
prepare/sign-off/inspect/review tasks in the queues, ASSIGNED score tasks in experts' inboxes).
The measured expert has 50 open score tasks and ~800 done ones. The domain rows the API reads
(rounds, groups, cases, units, users, memberships) and every human task's due row are real;
`viewflow_task_previous` links are not seeded (the task API never reads them).

Then: the query count of one request (and that it does not grow with the page), and the timing
against `gunicorn config.wsgi -w 4` on 127.0.0.1: 8 client threads, 200 warm-up requests, then
2,400 measured requests (300 per client).

Baseline, same server, same run, right after, same token, clients and counts: a minimal authenticated
DRF list of viewflow's own `Task.objects.inbox(flow_classes, user)` (bench/bare/api.py: DRF's default
authentication, permission and pagination, a plain ModelSerializer; viewflow's inbox needs the
`viewflow.view_process` permission, which the seed grants the measured expert). Prints
`bare_inbox_p95_ms` and `inbox_p95_vs_bare` = bare p95 / ours (above 1: ours answers faster).

    python bench/inbox.py --quick      # 10 rounds instead of 100, 100 requests per client (trial runs only)
"""

import http.client
import io
import json
import os
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

DB = _common.db_name("bench_inbox")
QUICK = "--quick" in sys.argv
ROUNDS = 10 if QUICK else 100
RUNNING = 4  # the last rounds are running, the others closed
UNITS = 320
GROUPS = 8  # per round, 40 units each
EXPERTS = 5  # per group
EXPERT_POOL = 200
LEADER_POOL = 40
MEASURED_OPEN = 50  # open score tasks of the measured expert (25 cases in each of 2 running rounds)
CLIENTS = 8
WARMUP = 200
PER_CLIENT = 100 if QUICK else 300

T0 = datetime(2021, 1, 4, 1, 0, tzinfo=UTC)
NULL = r"\N"


def deadlines_sql() -> str:
    """The due row of every human task, at its round's phase due, with the step → phase map that
    workflow.deadlines writes them with (each step's phase, workflow.steps)."""
    from workflow.deadlines.rules import PHASE_FIELDS
    from workflow.steps import STEPS

    steps = ", ".join(f"('{step.name}', '{step.phase}')" for step in STEPS.values())
    dues = " ".join(f"WHEN '{phase}' THEN r.{field}" for phase, field in PHASE_FIELDS.items())
    return f"""
INSERT INTO workflow_taskdeadline (task_id, round_id, case_id, phase, due, checked_at, next_check_at, announced)
SELECT t.id, r.id, (p.data->>'case')::bigint, s.phase, CASE s.phase {dues} END, t.created, NULL, true
FROM viewflow_task t
JOIN viewflow_process p ON p.id = t.process_id
JOIN (VALUES {steps}) AS s(step, phase) ON s.step = regexp_replace(t.flow_task, '^.*[.]', '')
JOIN cases_round r ON r.id = (p.data->>'round')::bigint
WHERE t.flow_task_type = 'HUMAN'
"""


def ts(value: datetime | None) -> str:
    return NULL if value is None else value.isoformat()


class Rows:
    """Text-format COPY rows for viewflow_process and viewflow_task, with explicit ids."""

    TASK_COLUMNS = (
        "id",
        "flow_task",
        "flow_task_type",
        "status",
        "created",
        "started",
        "finished",
        "token",
        "owner_permission",
        "owner_id",
        "process_id",
        "owner_permission_content_type_id",
        "owner_permission_obj_pk",
        "assigned",
        "data",
    )
    PROCESS_COLUMNS = (
        "id",
        "flow_class",
        "status",
        "created",
        "finished",
        "artifact_content_type_id",
        "artifact_object_id",
        "data",
    )

    def __init__(self, refs, ct):
        self.refs, self.ct = refs, ct
        self.processes = io.StringIO()
        self.tasks = io.StringIO()
        self.process_id = 0
        self.task_id = 0
        self.task_count = 0

    def process(self, flow, status, created, finished, artifact_ct, artifact_id, data) -> int:
        self.process_id += 1
        row = (
            self.process_id,
            self.refs[flow],
            status,
            ts(created),
            ts(finished),
            artifact_ct,
            artifact_id,
            json.dumps(data),
        )
        self.processes.write("\t".join(map(str, row)) + "\n")
        return self.process_id

    def task(
        self, process, node, status, at, *, owner=None, perm=None, perm_ct=None, perm_pk=None, data=None, token="start"
    ) -> int:
        self.task_id += 1
        self.task_count += 1
        ref, kind = self.refs[node]
        human = kind == "HUMAN"
        done = status == "DONE"
        assigned = at if (human and owner is not None) else None
        started = at if (done or not human) else None
        finished = at + timedelta(minutes=30) if done else None
        row = (
            self.task_id,
            ref,
            kind,
            status,
            ts(at),
            ts(started),
            ts(finished),
            token,
            perm or NULL,
            owner or NULL,
            process,
            perm_ct or NULL,
            NULL if perm_pk is None else str(perm_pk),
            ts(assigned),
            json.dumps(data or {}),
        )
        self.tasks.write("\t".join(map(str, row)) + "\n")
        return self.task_id


def seed(rng: random.Random):
    from django.contrib.auth.hashers import make_password
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from viewflow.workflow.fields import get_flow_ref, get_task_ref

    from cases import models as m
    from cases.rubrics.services import rubric_create
    from workflow.flows import CaseFlow, RoundFlow

    t_start = time.perf_counter()
    spec = {
        "code": "bench",
        "title": "Bench rubric",
        "sections": [
            {
                "code": "S1",
                "title": "A",
                "max": "10",
                "items": [{"code": "S1.1", "content": "x", "max": "6"}, {"code": "S1.2", "content": "y", "max": "4"}],
            }
        ],
    }
    rubric = rubric_create(spec=spec)
    password = make_password("bench")
    User = m.User
    office = User.objects.create(username="office", org_role="office", password=password)
    User.objects.create(username="leader", org_role="leader", password=password)
    unit_people = User.objects.bulk_create(
        User(username=f"{role}{n:03d}", password=password) for n in range(UNITS) for role in ("staff", "head")
    )
    experts = User.objects.bulk_create(User(username=f"expert{n:03d}", password=password) for n in range(EXPERT_POOL))
    leaders = User.objects.bulk_create(User(username=f"lead{n:02d}", password=password) for n in range(LEADER_POOL))
    units = m.Unit.objects.bulk_create(
        m.Unit(code=f"U{n:03d}", name=f"Unit {n:03d}", category="其他", sort_order=n) for n in range(UNITS)
    )
    m.UnitMembership.objects.bulk_create(
        m.UnitMembership(user=unit_people[2 * n + k], unit=units[n], role=role)
        for n in range(UNITS)
        for k, role in enumerate(("staff", "head"))
    )
    measured = experts[0]

    round_start = [T0 + timedelta(days=18 * r) for r in range(ROUNDS)]
    rounds = m.Round.objects.bulk_create(
        m.Round(
            title=f"Round {r:03d}",
            kind="half_year",
            year=round_start[r].year,
            rubric=rubric,
            status="running" if r >= ROUNDS - RUNNING else "closed",
            prepare_due=round_start[r] + timedelta(days=5),
            inspect_due=round_start[r] + timedelta(days=10),
            review_due=round_start[r] + timedelta(days=12),
            approve_due=round_start[r] + timedelta(days=14),
            report_due=round_start[r] + timedelta(days=16),
            created_by=office,
            created=round_start[r],
            launched_at=round_start[r],
        )
        for r in range(ROUNDS)
    )
    groups = m.Group.objects.bulk_create(
        m.Group(round=rounds[r], number=g + 1, name=f"Group {g + 1}") for r in range(ROUNDS) for g in range(GROUPS)
    )

    def group_experts(r, g):
        first = (r * GROUPS + g) * EXPERTS
        chosen = [experts[(first + e) % EXPERT_POOL] for e in range(EXPERTS)]
        if r >= ROUNDS - 2 and g == 0 and measured not in chosen:
            chosen[0] = measured
        return chosen

    members, group_people = [], {}
    for r in range(ROUNDS):
        for g in range(GROUPS):
            group = groups[r * GROUPS + g]
            leader = leaders[(r * GROUPS + g) % LEADER_POOL]
            exp = group_experts(r, g)
            group_people[group.pk] = (leader, exp)
            members.append(m.GroupMember(group=group, user=leader, role="leader"))
            members.extend(m.GroupMember(group=group, user=e, role="expert") for e in exp)
    m.GroupMember.objects.bulk_create(members)

    per_group = UNITS // GROUPS
    stages = ["prepare", "sign_off", "inspect", "score", "review", "done"]
    weights = [25, 15, 15, 30, 10, 5]
    case_objs, case_plan = [], []
    for r in range(ROUNDS):
        running = r >= ROUNDS - RUNNING
        for n, unit in enumerate(units):
            g = n // per_group
            group = groups[r * GROUPS + g]
            if not running:
                stage = "done"
            elif r >= ROUNDS - 2 and g == 0:
                # The measured expert's groups: 25 cases waiting for their scores, 15 elsewhere.
                stage = "score" if n % per_group < MEASURED_OPEN // 2 else rng.choice(["prepare", "inspect", "review"])
            else:
                stage = rng.choices(stages, weights)[0]
            status = {"score": "score", "done": "done"}.get(stage, stage)
            case_objs.append(
                m.Case(
                    round=rounds[r],
                    unit=unit,
                    group=group,
                    status=status,
                    submitted_at=round_start[r] + timedelta(days=3) if stage != "prepare" else None,
                    finished_at=round_start[r] + timedelta(days=13) if stage == "done" else None,
                )
            )
            case_plan.append((r, n, unit, group, stage))
    m.Case.objects.bulk_create(case_objs, batch_size=5000)

    ct = {
        name: ContentType.objects.get_for_model(model).pk
        for name, model in (("case", m.Case), ("unit", m.Unit), ("group", m.Group), ("round", m.Round))
    }
    refs = {CaseFlow: get_flow_ref(CaseFlow), RoundFlow: get_flow_ref(RoundFlow)}
    for flow_class in (CaseFlow, RoundFlow):
        for node in flow_class.instance.nodes():
            refs[node] = (get_task_ref(node), node.task_type)
    rows = Rows(refs, ct)
    C = CaseFlow
    hour = timedelta(hours=1)

    for case, (r, n, unit, group, stage) in zip(case_objs, case_plan):
        base = round_start[r] + timedelta(minutes=n)
        done_case = stage == "done"
        data = {"case": case.pk, "unit": unit.pk, "group": group.pk, "round": rounds[r].pk}
        if done_case:
            data.update(signed=True, returned_experts=[])
        pid = rows.process(
            CaseFlow,
            "DONE" if done_case else "NEW",
            base,
            base + 13 * 24 * hour if done_case else None,
            ct["case"],
            case.pk,
            data,
        )
        staff, head = unit_people[2 * n], unit_people[2 * n + 1]
        leader, exp = group_people[group.pk]
        unit_perm = {"perm_ct": ct["unit"], "perm_pk": unit.pk}
        group_perm = {"perm_ct": ct["group"], "perm_pk": group.pk}
        acted = {"action": "submit", "comment": ""}
        order = stages.index(stage)
        at = base
        rows.task(pid, C.start, "DONE", at)
        # Some cases were sent back once at sign-off before they went on.
        loops = 2 if order > 1 and rng.random() < 0.1 else 1
        for loop in range(loops):
            last = loop == loops - 1
            at += 24 * hour
            if order == 0 and last:
                rows.task(pid, C.prepare, "NEW", at, perm="cases.unit_staff", **unit_perm)
                break
            rows.task(pid, C.prepare, "DONE", at, owner=staff.pk, perm="cases.unit_staff", data=acted, **unit_perm)
            at += 24 * hour
            if order == 1 and last:
                rows.task(pid, C.sign_off, "NEW", at, perm="cases.unit_head", **unit_perm)
                break
            rows.task(
                pid,
                C.sign_off,
                "DONE",
                at,
                owner=head.pk,
                perm="cases.unit_head",
                **unit_perm,
                data={"action": "approve" if last else "return", "comment": "" if last else "请补充"},
            )
            rows.task(pid, C.check_signed, "DONE", at)
        if order <= 1:
            continue
        at += 48 * hour
        if order == 2:
            rows.task(pid, C.inspect, "NEW", at, perm="cases.group_lead", **group_perm)
            continue
        rows.task(pid, C.inspect, "DONE", at, owner=leader.pk, perm="cases.group_lead", data=acted, **group_perm)
        split = rows.task(pid, C.scoring, "DONE", at)
        at += 24 * hour
        for k, expert in enumerate(exp, start=1):
            open_score = order == 3 and (expert.pk == measured.pk or rng.random() < 0.6)
            rows.task(
                pid,
                C.score,
                "ASSIGNED" if open_score else "DONE",
                at + k * timedelta(minutes=7),
                owner=expert.pk,
                data={"expert": expert.pk, **({} if open_score else acted)},
                token=f"start/{split}_{k}",
            )
        if order == 3:
            continue
        at += 24 * hour
        rows.task(pid, C.scoring_done, "DONE", at)
        if order == 4:
            rows.task(pid, C.review, "NEW", at, perm="cases.group_lead", **group_perm)
            continue
        rows.task(
            pid,
            C.review,
            "DONE",
            at,
            owner=leader.pk,
            perm="cases.group_lead",
            data={"action": "approve", "comment": ""},
            **group_perm,
        )
        for node in (C.check_review, C.finish, C.end):
            rows.task(pid, node, "DONE", at)

    R = RoundFlow
    for r, rnd in enumerate(rounds):
        at = round_start[r]
        closed = rnd.status == "closed"
        pid = rows.process(
            RoundFlow,
            "DONE" if closed else "NEW",
            at,
            at + 16 * 24 * hour if closed else None,
            ct["round"],
            rnd.pk,
            {"round": rnd.pk, **({"approved": True} if closed else {})},
        )
        rows.task(pid, R.start, "DONE", at)
        if not closed:
            rows.task(pid, R.wait_cases, "NEW", at)
            continue
        at += 13 * 24 * hour
        rows.task(pid, R.wait_cases, "DONE", at)
        rows.task(pid, R.compile, "DONE", at, owner=office.pk, perm="cases.office")
        rows.task(pid, R.approve, "DONE", at + hour, owner=office.pk, perm="cases.leader")
        rows.task(pid, R.check_approved, "DONE", at + hour)
        rows.task(pid, R.report, "DONE", at + 2 * hour, owner=office.pk, perm="cases.office")
        rows.task(pid, R.end, "DONE", at + 2 * hour)

    with connection.cursor() as cur:
        raw = cur.cursor
        rows.processes.seek(0)
        raw.copy_expert(f"COPY viewflow_process ({', '.join(Rows.PROCESS_COLUMNS)}) FROM STDIN", rows.processes)
        rows.tasks.seek(0)
        raw.copy_expert(f"COPY viewflow_task ({', '.join(Rows.TASK_COLUMNS)}) FROM STDIN", rows.tasks)
        for table in ("viewflow_process", "viewflow_task"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        # Every human task has its due row (workflow.deadlines writes one when the task is created).
        cur.execute(deadlines_sql())
        cur.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load; plans as in production
    print(
        f"# seeded rounds={ROUNDS} cases={len(case_objs)} processes={rows.process_id} "
        f"tasks={rows.task_count} in {time.perf_counter() - t_start:.1f} s"
    )
    return measured


def check_queries(measured, explain: bool):
    """Query count of one inbox page (constant in the page's length), and optionally the plans."""
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient
    from viewflow.workflow.models import Task

    from cases import models as m

    def get(user):
        client = APIClient(HTTP_HOST="localhost")
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        client.get("/api/v1/tasks/")  # warm caches (content types, URL resolver)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/tasks/")
        assert response.status_code == 200, response.content[:500]
        # Copy now: the next request's request_started signal clears the connection's query log.
        return response.json(), list(queries.captured_queries)

    body, queries = get(measured)
    assert body["count"] == MEASURED_OPEN and len(body["results"]) == MEASURED_OPEN, body["count"]
    few_owner = (
        Task.objects.filter(status="ASSIGNED")
        .exclude(owner=measured)
        .values("owner")
        .annotate(n=Count("id"))
        .order_by("n")
        .first()
    )
    few_body, few_queries = get(m.User.objects.get(pk=few_owner["owner"]))
    print(
        f"# queries_per_request={len(queries)} (page of {len(body['results'])}); "
        f"{len(few_queries)} for an expert with {few_body['count']} open tasks"
    )
    assert len(queries) == len(few_queries), (len(queries), len(few_queries))
    # The other scopes, in-process (median of 20), for three people: they must not scan the tasks.
    lead = m.GroupMember.objects.filter(role="leader", group__round__status="running").first().user
    people = {"expert": measured, "group_lead": lead, "unit_staff": m.User.objects.get(username="staff000")}
    timings = []
    for name, user in people.items():
        client = APIClient(HTTP_HOST="localhost")
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        for scope in ("queue", "archive", "all"):
            runs = []
            for _ in range(21):
                t = time.perf_counter()
                assert client.get("/api/v1/tasks/", {"scope": scope}).status_code == 200
                runs.append((time.perf_counter() - t) * 1000)
            timings.append(f"{name}/{scope}={sorted(runs)[10]:.1f}")
    print(f"# other scopes, ms per request in-process: {' '.join(timings)}")
    if explain:
        with connection.cursor() as cur:
            for q in queries:
                if not q["sql"].startswith("SELECT"):
                    continue
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                print("#\n# " + q["sql"][:300])
                for (line,) in cur.fetchall():
                    print("#   " + line)


def check_bare(measured):
    """The bare endpoint lists the same 50 open tasks; its statements per request."""
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    measured.user_permissions.add(Permission.objects.get(content_type__app_label="viewflow", codename="view_process"))
    client = APIClient(HTTP_HOST="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=measured)[0].key}")
    client.get(BARE_PATH)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(BARE_PATH)
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["count"] == MEASURED_OPEN and len(body["results"]) == MEASURED_OPEN, body["count"]
    print(f"# bare: queries_per_request={len(queries)} (page of {len(body['results'])})")


BARE_PATH = "/bench-bare/api/inbox/"


def measure(base_url: str, cpu, token: str, path: str = "/api/v1/tasks/"):
    host, port = base_url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def one() -> float:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - t
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {body[:300]!r}")
        return elapsed

    def run(n, out):
        for _ in range(n):
            out.append(one())

    def in_threads(per_client):
        results = [[] for _ in range(CLIENTS)]
        threads = [threading.Thread(target=run, args=(per_client, results[k])) for k in range(CLIENTS)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t
        flat = [x for chunk in results for x in chunk]
        if len(flat) != CLIENTS * per_client:
            raise RuntimeError("a client thread failed")
        return flat, wall

    in_threads(WARMUP // CLIENTS)
    before = cpu.sample()
    latencies, wall = in_threads(PER_CLIENT)
    return latencies, wall, cpu.report(before, cpu.sample(), len(latencies))


def main():
    explain = "--explain" in sys.argv
    _common.setup(DB, settings=_common.BARE_SETTINGS)
    from rest_framework.authtoken.models import Token

    measured = seed(random.Random(2026))
    check_queries(measured, explain)
    check_bare(measured)
    token = Token.objects.get_or_create(user=measured)[0].key
    from django.db import connection

    connection.close()  # the server's workers open their own connections
    with _common.gunicorn(DB, workers=4, settings=_common.BARE_SETTINGS) as (base, cpu):
        latencies, wall, cpu_ms = measure(base, cpu, token)
        bare_latencies, bare_wall, bare_cpu_ms = measure(base, cpu, token, BARE_PATH)
    ms = [x * 1000 for x in latencies]
    bare_ms = [x * 1000 for x in bare_latencies]
    print(
        f"# requests={len(ms)} clients={CLIENTS} wall={wall:.1f} s max_ms={max(ms):.1f} "
        f"loadavg={' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(f"# ours: {cpu_ms}")
    print(
        f"# bare: {bare_cpu_ms}; bare_inbox_p50_ms={_common.percentile(bare_ms, 50):.1f} "
        f"rps={len(bare_ms) / bare_wall:.0f} max_ms={max(bare_ms):.1f}"
    )
    p95, bare_p95 = _common.percentile(ms, 95), _common.percentile(bare_ms, 95)
    print(
        f"inbox_p50_ms={_common.percentile(ms, 50):.1f} inbox_p95_ms={p95:.1f} "
        f"rps={len(ms) / wall:.0f}"
    )
    print(f"bare_inbox_p95_ms={bare_p95:.1f} inbox_p95_vs_bare={_common.ratio(bare_p95, p95)}")


if __name__ == "__main__":
    main()
