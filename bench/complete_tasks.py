"""Benchmark 3: experts submit score sheets through the REST API, 4 concurrent clients.

    python bench/complete_tasks.py     # prints completions_per_s=<n> bare_completions_per_s=<n> completions_vs_bare=<n>

Creates and migrates its own database (bench_complete) and runs a real round through the services:
the city_organ_2013 seed rubric, 264 units in 4 groups of a leader and 4 experts, launched, every
case prepared, signed off and inspected, so that 1,056 score tasks wait in the experts' inboxes
(with their draft sheets). Then, against `gunicorn config.wsgi -w 4` on 127.0.0.1, one client per
group submits its experts' sheets, case after case:
POST /api/v1/tasks/{id}/submit/ {"items": [three deductions with reasons]} — the fourth sheet of a
case also passes the join and opens the review. The first two cases of each group warm up; the
other 1,024 submissions are timed. Every case must end in review with four submitted sheets.

Baseline, same server, same run, right after: the bare engine's own HTTP path. `bench/bare/flows.py`'s
BareFlow has the same shape (four parallel expert View tasks assigned on creation, a Join, a review
View), one process per case with the same experts and leader; each client completes its group's bare
tasks in the same order through viewflow's stock `UpdateProcessView` (POST of the form with a total and
a reason, session authentication and CSRF as a browser sends them; viewflow's lock, `execute()`, the
Join, the redirect). Same counts, warm-up and clients. Prints `completions_per_s`,
`bare_completions_per_s` and `completions_vs_bare` = ours / bare (above 1: ours completes more per
second than the bare engine's path).

    python bench/complete_tasks.py --quick   # 10 cases per group instead of 66 (trial runs only)
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
UNITS_PER_GROUP = 10 if "--quick" in sys.argv else 66
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
    return rnd, groups, work, items


CSRF = "benchbarecsrfsecret0123456789abc"  # 32 characters: a CSRF secret as the cookie holds it


def seed_bare(groups):
    """The baseline's work: per group, one BareFlow process per case of the group (same experts, same
    leader), its four expert tasks in the same order as ours (process, then expert); each expert
    signed in with a session, as a browser would be. Returns per group [(headers, path, body)]."""
    from urllib.parse import urlencode

    from django.test import Client
    from viewflow.workflow.models import Task

    from bench.bare.flows import BareFlow

    t0 = time.perf_counter()
    work = []
    for _, leader, experts in groups:
        cookies = {}
        for e in experts:
            client = Client()
            client.force_login(e, backend="django.contrib.auth.backends.ModelBackend")
            cookies[e.pk] = f"sessionid={client.cookies['sessionid'].value}; csrftoken={CSRF}"
        pids = [
            BareFlow.start.run(experts=[e.pk for e in experts], leader=leader.pk).pk for _ in range(UNITS_PER_GROUP)
        ]
        tasks = Task.objects.filter(process_id__in=pids, status="ASSIGNED").order_by("process_id", "owner_id")
        chunk = []
        for t in tasks:
            k = t.flow_task.name.removeprefix("score_")
            body = urlencode({f"total_{k}": "97.00", f"reason_{k}": "资料不全，扣1分。", "csrfmiddlewaretoken": CSRF})
            headers = {"Cookie": cookies[t.owner_id], "Content-Type": "application/x-www-form-urlencoded"}
            chunk.append((headers, t.flow_task.reverse("execute", args=[t.process_id, t.pk]), body))
        work.append(chunk)
    print(f"# bare: {sum(len(w) for w in work)} open BareFlow expert tasks in {time.perf_counter() - t0:.1f} s")
    return work


def ours_work(work, items):
    """Ours as (headers, path, body): POST /api/v1/tasks/{id}/submit/ with the token."""
    body = json.dumps({"items": [{"item": code, "deduction": "1", "reason": "资料不全，扣1分。"} for code in items]})
    return [
        [
            ({"Authorization": f"Token {token}", "Content-Type": "application/json"},
             f"/api/v1/tasks/{task_id}/submit/", body)
            for token, task_id in chunk
        ]
        for chunk in work
    ]


def ours_ok(status, payload):
    return status == 200 and json.loads(payload)["status"] == "DONE"


def bare_ok(status, payload):
    return status == 302  # UpdateProcessView redirects once the task is done


def run(base_url, cpu, work, ok):
    host, port = base_url.removeprefix("http://").split(":")
    warm = WARMUP_CASES * EXPERTS
    failures = []

    def submit(headers, path, body):
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("POST", path, body=body.encode(), headers=headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        if not ok(response.status, payload):
            failures.append((path, response.status, payload[:300]))

    def client(chunk, barrier):
        for request in chunk[:warm]:
            submit(*request)
        barrier.wait()
        for request in chunk[warm:]:
            submit(*request)

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
    _common.setup(DB, settings=_common.BARE_SETTINGS)
    from django.db import connection
    from viewflow.workflow.models import Task

    from bench.bare.flows import BareFlow
    from bench.bare.models import BareProcess
    from cases import models as m
    from workflow.flows import CaseFlow

    rnd, groups, work, items = seed()
    bare_work = seed_bare(groups)
    connection.close()
    with _common.gunicorn(DB, workers=4, settings=_common.BARE_SETTINGS) as (base, cpu):
        measured, wall, cpu_report, failures = run(base, cpu, ours_work(work, items), ours_ok)
        bare_measured, bare_wall, bare_cpu_report, bare_failures = run(base, cpu, bare_work, bare_ok)
    if failures:
        raise SystemExit(f"{len(failures)} submissions failed, e.g. {failures[:3]}")
    if bare_failures:
        raise SystemExit(f"{len(bare_failures)} bare completions failed, e.g. {bare_failures[:3]}")
    # Every bare process passed its join: its four expert tasks done, its review waiting for the leader.
    bare_tasks = Task.objects.filter(process__flow_class=BareFlow)
    assert bare_tasks.filter(flow_task__in=[BareFlow.score_1, BareFlow.score_2, BareFlow.score_3,
                                            BareFlow.score_4]).exclude(status="DONE").count() == 0
    assert bare_tasks.filter(flow_task=BareFlow.review, status="ASSIGNED").count() == GROUPS * UNITS_PER_GROUP
    # … and its form saved what was posted: the four totals in the process's data.
    for k in range(1, EXPERTS + 1):
        assert BareProcess.objects.filter(**{f"data__total_{k}": "97.00"}).count() == GROUPS * UNITS_PER_GROUP
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
    print(f"# ours: {cpu_report}")
    print(f"# bare: {bare_cpu_report} (completions={bare_measured} wall={bare_wall:.1f} s)")
    ours, bare = measured / wall, bare_measured / bare_wall
    print(f"completions_per_s={ours:.1f} bare_completions_per_s={bare:.1f} completions_vs_bare={_common.ratio(ours, bare)}")


if __name__ == "__main__":
    main()
