"""Benchmark 3: experts submit score sheets through the REST API, 4 concurrent clients.

    python bench/complete_tasks.py     # prints completions_per_s=<n>

Creates and migrates its own database (bench_complete) and runs a real round through the services:
the city_organ_2013 seed rubric, 264 units in 4 groups of a leader and 4 experts, launched, every
case prepared, signed off and inspected, so that 1,056 score tasks wait in the experts' inboxes
(with their draft sheets). Then, against `gunicorn config.wsgi -w 4` on 127.0.0.1, one client per
group submits its experts' sheets, case after case:
POST /api/v1/tasks/{id}/submit/ {"items": [three deductions with reasons]} — the fourth sheet of a
case also passes the join and opens the review. The first two cases of each group warm up; the
other 1,024 submissions are timed. Every case must end in review with four submitted sheets.
"""

import http.client
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

DB = _common.db_name("bench_complete")
GROUPS = 4
UNITS_PER_GROUP = 66
EXPERTS = 4
WARMUP_CASES = 2  # per group
RUBRIC = _common.ROOT / "cases" / "fixtures" / "rubrics" / "city_organ_2013.yaml"


def seed():
    from rest_framework.authtoken.models import Token
    from viewflow.workflow.models import Task

    from cases import models as m
    from cases.rubrics.services import rubric_import
    from cases.rubrics.text import load_rubric_yaml
    from workflow import services as ws
    from workflow.flows import CaseFlow

    t0 = time.perf_counter()
    rubric = rubric_import(user=None, spec=load_rubric_yaml(RUBRIC.read_text(encoding="utf-8")))
    office, rnd, units, people, groups = _common.seed_round(
        rubric=rubric, units=GROUPS * UNITS_PER_GROUP, groups=GROUPS, experts=EXPERTS)
    ws.round_launch(user=office, round_id=rnd.pk)

    def open_task(step, case):
        return Task.objects.get(
            process__flow_class=CaseFlow,
            process__data__case=case.pk,
            flow_task=getattr(CaseFlow, step),
            status__in=["NEW", "ASSIGNED"],
        )

    people_of = {u.pk: (people[2 * n], people[2 * n + 1]) for n, u in enumerate(units)}
    for case in m.Case.objects.filter(round=rnd).order_by("pk"):
        staff, head = people_of[case.unit_id]
        leader = next(lead for group, lead, _ in groups if group.pk == case.group_id)
        ws.task_act(
            user=staff,
            task_id=open_task("prepare", case).pk,
            action="submit",
            data={"report": f"{case.unit.name}自评报告。"},
        )
        ws.task_act(user=head, task_id=open_task("sign_off", case).pk, action="approve", data={})
        ws.task_act(user=leader, task_id=open_task("inspect", case).pk, action="submit", data={})

    # Per group, its experts' score tasks in case order: (token, task id).
    work = []
    for group, _, experts in groups:
        tokens = {e.pk: Token.objects.create(user=e).key for e in experts}
        tasks = Task.objects.filter(
            flow_task=CaseFlow.score, status="ASSIGNED", process__data__group=group.pk
        ).order_by("process_id", "owner_id")
        work.append([(tokens[t.owner_id], t.pk) for t in tasks])
    # Three deductions of 1 point on items worth at least 2 (so that no cap is reached).
    items = [i.code for i in rubric.items.filter(max_points__gte=2).order_by("section__position", "position")][:3]
    print(
        f"# seeded {m.Case.objects.filter(round=rnd).count()} cases, "
        f"{sum(len(w) for w in work)} open score tasks in {time.perf_counter() - t0:.1f} s; rubric "
        f"{rubric.code} ({rubric.items.count()} items)"
    )
    return rnd, work, items


def run(base_url, cpu, work, items):
    host, port = base_url.removeprefix("http://").split(":")
    body = json.dumps({"items": [{"item": code, "deduction": "1", "reason": "资料不全，扣1分。"} for code in items]})
    warm = WARMUP_CASES * EXPERTS
    failures = []

    def submit(token, task_id):
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request(
            "POST",
            f"/api/v1/tasks/{task_id}/submit/",
            body=body,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        if response.status != 200 or json.loads(payload)["status"] != "DONE":
            failures.append((task_id, response.status, payload[:300]))

    def client(chunk, barrier):
        for token, task_id in chunk[:warm]:
            submit(token, task_id)
        barrier.wait()
        for token, task_id in chunk[warm:]:
            submit(token, task_id)

    barrier = threading.Barrier(len(work) + 1)
    threads = [threading.Thread(target=client, args=(chunk, barrier)) for chunk in work]
    for th in threads:
        th.start()
    barrier.wait()  # every client has warmed up
    before = cpu.sample()
    t = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    measured = sum(len(chunk) - warm for chunk in work)
    return measured, wall, cpu.report(before, cpu.sample(), measured), failures


def main():
    _common.setup(DB)
    from django.db import connection
    from viewflow.workflow.models import Task

    from cases import models as m
    from workflow.flows import CaseFlow

    rnd, work, items = seed()
    connection.close()
    with _common.gunicorn(DB, workers=4) as (base, cpu):
        measured, wall, cpu_report, failures = run(base, cpu, work, items)
    if failures:
        raise SystemExit(f"{len(failures)} submissions failed, e.g. {failures[:3]}")
    # Every case is in review with its four submitted sheets; every score task is done.
    cases = m.Case.objects.filter(round=rnd)
    assert cases.exclude(status=m.CaseStatus.REVIEW).count() == 0
    assert m.ScoreSheet.objects.filter(case__round=rnd, status="submitted").count() == cases.count() * EXPERTS
    assert Task.objects.filter(flow_task=CaseFlow.score).exclude(status="DONE").count() == 0
    assert Task.objects.filter(flow_task=CaseFlow.review, status__in=("NEW", "ASSIGNED")).count() == cases.count()
    print(
        f"# completions={measured} clients={len(work)} wall={wall:.1f} s "
        f"loadavg={' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(f"# {cpu_report}")
    print(f"completions_per_s={measured / wall:.1f}")


if __name__ == "__main__":
    main()
