"""Benchmark: the deadline sweep (workflow.deadlines.reminders.sweep) over 500,000 tasks.

    python bench/sweep.py          # prints sweep_idle_ms=<n> sweep_5000_due_s=<n> (and deliver_per_s=<n>)

Creates and migrates its own database (bench_sweep) and seeds, with COPY, 51 rounds of 1,000 units:
49,000 closed case processes of 10 viewflow tasks each (start, prepare, sign-off, inspect, three
expert score tasks, review, finish, end) and 2,000 running ones of 7 (up to the open score tasks)
= 504,000 tasks, with a `TaskDeadline` row for each of the 355,000 human tasks, as the application
writes them (closed ones have nothing left to check). In the 2 running rounds every case waits for
its three experts' scores: 6,000 open score tasks, of which 5,000 (1% of all tasks) have their
one-working-day reminder due at the sweep's "now" and 1,000 are due later.

Measured (`sweep(now=NOW)` with a fixed NOW, Wednesday 11 March 2026 10:00 Asia/Shanghai):
- sweep_idle_ms: a sweep when nothing is due (median of 20, after the due ones were sent);
- sweep_5000_due_s: the sweep that writes the 5,000 reminders (in-app notification + email outbox
  row each, through `notification_create`), committed.
Then, if bench/deliver.py exists, it is run as a subprocess and its deliver_per_s line is printed.
"""

import io
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

DB = _common.db_name("bench_sweep")
ROUNDS = 51
RUNNING = 2
UNITS = 1000
GROUPS = 10  # per round, 100 units each
EXPERTS = 3  # per group
EXPERT_POOL = 300
DUE = 5000  # open score tasks whose reminder is due now

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 11, 10, 0, tzinfo=SH)  # a Wednesday
# Due Thursday 09:00: the one-working-day reminder (Wednesday 09:00) has come, the three-day one
# (Monday 09:00) was sent on Tuesday.
DUE_AT = datetime(2026, 3, 12, 9, 0, tzinfo=SH)
LATER_DUE = datetime(2026, 3, 20, 9, 0, tzinfo=SH)
T0 = datetime(2024, 1, 8, 1, 0, tzinfo=UTC)
NULL = r"\N"


def ts(value):
    return NULL if value is None else value.isoformat()


def seed():
    from django.contrib.auth.hashers import make_password
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from viewflow.workflow.fields import get_flow_ref, get_task_ref

    from cases import models as m
    from cases.rubrics.services import rubric_create
    from workflow.flows import CaseFlow

    t_start = time.perf_counter()
    rubric = rubric_create(spec={
        "code": "bench", "title": "Bench rubric",
        "sections": [{"code": "S1", "title": "A", "max": "10", "items": [{"code": "S1.1", "content": "x", "max": "10"}]}],
    })
    password = make_password("bench")
    office = m.User.objects.create(username="office", org_role="office", password=password, email="office@example.com")
    experts = m.User.objects.bulk_create(
        m.User(username=f"expert{n:03d}", password=password, email=f"expert{n:03d}@example.com")
        for n in range(EXPERT_POOL)
    )
    leaders = m.User.objects.bulk_create(m.User(username=f"lead{n:03d}", password=password) for n in range(GROUPS * 2))
    units = m.Unit.objects.bulk_create(
        m.Unit(code=f"U{n:04d}", name=f"Unit {n:04d}", category="其他", sort_order=n) for n in range(UNITS)
    )
    starts = [T0 + timedelta(days=14 * r) for r in range(ROUNDS)]
    rounds = []
    for r in range(ROUNDS):
        running = r >= ROUNDS - RUNNING
        base = NOW - timedelta(days=10) if running else starts[r]
        rounds.append(m.Round(
            title=f"Round {r:03d}", kind="half_year", year=base.year, rubric=rubric,
            status="running" if running else "closed",
            prepare_due=base + timedelta(days=3), inspect_due=DUE_AT if running else base + timedelta(days=6),
            review_due=base + timedelta(days=20), approve_due=base + timedelta(days=25),
            report_due=base + timedelta(days=30), created_by=office, created=base, launched_at=base,
        ))
    rounds = m.Round.objects.bulk_create(rounds)
    groups = m.Group.objects.bulk_create(
        m.Group(round=rnd, number=g + 1, name=f"Group {g + 1}") for rnd in rounds for g in range(GROUPS)
    )
    members = []
    for i, group in enumerate(groups):
        members.append(m.GroupMember(group=group, user=leaders[i % len(leaders)], role="leader"))
        members.extend(m.GroupMember(group=group, user=experts[(i * EXPERTS + e) % EXPERT_POOL], role="expert")
                       for e in range(EXPERTS))
    m.GroupMember.objects.bulk_create(members)
    per_group = UNITS // GROUPS
    cases = m.Case.objects.bulk_create(
        (m.Case(round=rnd, unit=unit, group=groups[r * GROUPS + n // per_group],
                status="score" if r >= ROUNDS - RUNNING else "done")
         for r, rnd in enumerate(rounds) for n, unit in enumerate(units)),
        batch_size=10000,
    )

    ct_case = ContentType.objects.get_for_model(m.Case).pk
    ct_unit = ContentType.objects.get_for_model(m.Unit).pk
    ct_group = ContentType.objects.get_for_model(m.Group).pk
    flow_ref = get_flow_ref(CaseFlow)
    C = CaseFlow
    ref = {node: (get_task_ref(node), node.task_type) for node in C.instance.nodes()}
    phase = {C.prepare: "prepare", C.sign_off: "prepare", C.inspect: "inspect", C.score: "inspect",
             C.review: "review"}
    processes, tasks, deadlines = io.StringIO(), io.StringIO(), io.StringIO()
    task_id = 0
    due_left = DUE
    checked_before = datetime(2026, 3, 10, 12, 0, tzinfo=SH)
    for pid, case in enumerate(cases, start=1):
        rnd = rounds[(pid - 1) // UNITS]
        running = rnd.status == "running"
        at = rnd.launched_at
        data = {"case": case.pk, "unit": case.unit_id, "group": case.group_id, "round": rnd.pk}
        processes.write("\t".join(map(str, (
            pid, flow_ref, "NEW" if running else "DONE", ts(at), ts(None if running else at + timedelta(days=8)),
            ct_case, case.pk, json.dumps(data)))) + "\n")
        group_index = (pid - 1) % UNITS // per_group + ((pid - 1) // UNITS) * GROUPS
        group_experts = [experts[(group_index * EXPERTS + e) % EXPERT_POOL] for e in range(EXPERTS)]
        plan = [(C.start, None, None), (C.prepare, "cases.unit_staff", (ct_unit, case.unit_id)),
                (C.sign_off, "cases.unit_head", (ct_unit, case.unit_id)),
                (C.inspect, "cases.group_lead", (ct_group, case.group_id))]
        plan += [(C.score, None, expert) for expert in group_experts]
        if not running:  # a running case waits for its scores: it has not reached these yet
            plan += [(C.review, "cases.group_lead", (ct_group, case.group_id)), (C.finish, None, None),
                     (C.end, None, None)]
        for node, perm, extra in plan:
            task_id += 1
            at += timedelta(hours=6)
            task_ref, kind = ref[node]
            owner = extra.pk if node is C.score else (office.pk if perm else None)
            is_open = running and node is C.score
            status = "ASSIGNED" if is_open else "DONE"
            perm_ct, perm_pk = extra if perm else (None, None)
            tasks.write("\t".join(map(str, (
                task_id, task_ref, kind, status, ts(at), ts(None if is_open else at),
                ts(None if is_open else at + timedelta(minutes=30)), "start", perm or NULL, owner or NULL, pid,
                perm_ct or NULL, NULL if perm_pk is None else perm_pk, ts(at if owner else None),
                json.dumps({"expert": extra.pk} if node is C.score else {})))) + "\n")
            if kind != "HUMAN":
                continue
            due = getattr(rnd, f"{phase[node]}_due")
            checked, next_check = at, None
            if is_open:
                if due_left > 0:
                    due_left -= 1
                    checked, next_check = checked_before, datetime(2026, 3, 11, 9, 0, tzinfo=SH)
                else:
                    due = LATER_DUE
                    checked, next_check = checked_before, datetime(2026, 3, 17, 9, 0, tzinfo=SH)
            deadlines.write("\t".join(map(str, (
                task_id, rnd.pk, case.pk, phase[node], ts(due), NULL, ts(checked), ts(next_check), "t"))) + "\n")
    assert due_left == 0
    with connection.cursor() as cur:
        raw = cur.cursor
        for table, columns, buf in (
            ("viewflow_process", "id, flow_class, status, created, finished, artifact_content_type_id, "
                                 "artifact_object_id, data", processes),
            ("viewflow_task", "id, flow_task, flow_task_type, status, created, started, finished, token, "
                              "owner_permission, owner_id, process_id, owner_permission_content_type_id, "
                              "owner_permission_obj_pk, assigned, data", tasks),
            ("workflow_taskdeadline", "task_id, round_id, case_id, phase, due, extended_due, checked_at, "
                                      "next_check_at, announced", deadlines),
        ):
            buf.seek(0)
            raw.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buf)
        for table in ("viewflow_process", "viewflow_task"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT count(*) FROM viewflow_task")
        n_tasks = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM workflow_taskdeadline")
        n_deadlines = cur.fetchone()[0]
    print(f"# seeded rounds={ROUNDS} cases={len(cases)} tasks={n_tasks} deadlines={n_deadlines} "
          f"due_now={DUE} in {time.perf_counter() - t_start:.1f} s")
    return n_tasks


def main():
    _common.setup(DB)
    from django.db import connection

    from notifications.models import Notification
    from workflow.deadlines.reminders import sweep

    n_tasks = seed()
    assert n_tasks >= 500_000, n_tasks

    before = [timed(sweep, NOW - timedelta(hours=2)) for _ in range(5)]
    assert all(counts["checked"] == 0 for counts, _ in before)

    # A running worker has the URLconf loaded (notice links are reversed): load it before timing.
    from django.urls import reverse

    reverse("ui:inbox")
    counts, elapsed = timed(sweep, NOW)
    assert counts["reminder"] == DUE and counts["checked"] == DUE, counts
    assert Notification.objects.filter(event="task.reminder").count() == DUE

    idle = [timed(sweep, NOW) for _ in range(20)]
    assert all(c["checked"] == 0 for c, _ in idle)
    idle_ms = statistics.median(t for _, t in idle) * 1000
    with connection.cursor() as cur:
        cur.execute("EXPLAIN SELECT task_id FROM workflow_taskdeadline WHERE next_check_at <= %s "
                    "ORDER BY next_check_at LIMIT 500 FOR UPDATE SKIP LOCKED", [NOW])
        plan = " / ".join(row[0].strip() for row in cur.fetchall())
    print(f"# idle sweep: median {idle_ms:.2f} ms, max {max(t for _, t in idle) * 1000:.2f} ms; "
          f"before the due sweep {statistics.median(t for _, t in before) * 1000:.2f} ms; plan: {plan}")
    print(f"# due sweep: {counts}")
    print(f"sweep_idle_ms={idle_ms:.1f}")
    print(f"sweep_5000_due_s={elapsed:.2f}")

    deliver = Path(__file__).resolve().parent / "deliver.py"
    if deliver.exists():
        connection.close()
        result = subprocess.run([sys.executable, str(deliver)], capture_output=True, text=True, cwd=_common.ROOT)
        lines = [line for line in result.stdout.splitlines() if line.startswith("deliver_per_s=")]
        if result.returncode != 0 or not lines:
            print(f"# bench/deliver.py failed ({result.returncode}): {result.stderr[-2000:]}")
        for line in lines:
            print(line)


def timed(func, *args):
    t0 = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - t0


if __name__ == "__main__":
    main()
