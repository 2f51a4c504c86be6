"""Benchmark 1: launch a round of 1,000 units in 4 groups of 5 experts through `round_launch`.

    python bench/launch_round.py            # prints launch_seconds=<n> launch_floor_seconds=<n> launch_vs_floor=<n>

Creates and migrates its own database (bench_launch), seeds the round through the domain services
(units with a staff member and a head each, groups with a leader and five experts), then times the
real launch: `workflow.services.round_launch`, committed.

Floor, same database and run, right after: the rows a launch must leave for the engine, written by raw
`bulk_create` in one committed transaction and nothing else — per case a CaseFlow process (its `data`,
its artifact), its DONE start task, its `prepare` task (the unit-staff permission on the unit, assigned
to the unit's staff member) and the `previous` link between them: 1,000 × 4 rows, read from the cases
and memberships in two queries. No checks, no audit, no case status, no due rows, no round process.
Prints `launch_floor_seconds` and `launch_vs_floor` = ours / floor (how many floors a launch costs).
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

DB = _common.db_name("bench_launch")
UNITS = 1000
GROUPS = 4
EXPERTS = 5


def seed():

    from cases.rubrics.services import rubric_create

    spec = {
        "code": "bench",
        "title": "Bench rubric",
        "sections": [
            {
                "code": f"S{s}",
                "title": f"Section {s}",
                "max": "20",
                "items": [{"code": f"S{s}.{i}", "content": "x", "max": "5"} for i in range(1, 5)],
            }
            for s in range(1, 6)
        ],
    }
    rubric = rubric_create(spec=spec)
    office, rd, _, _, _ = _common.seed_round(rubric=rubric, units=UNITS, groups=GROUPS, experts=EXPERTS)
    return office, rd


def launch_floor(round_id) -> float:
    """The raw rows of 1,000 started cases by bulk_create (see the docstring); committed."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from django.utils import timezone
    from viewflow.workflow.models import Process, Task
    from viewflow.workflow.token import Token

    from cases import models as m
    from workflow.flows import CaseFlow

    case_ct, unit_ct = (ContentType.objects.get_for_model(model).pk for model in (m.Case, m.Unit))
    t0 = time.perf_counter()
    with transaction.atomic():
        now = timezone.now()
        staff = dict(m.UnitMembership.objects.filter(role="staff").values_list("unit_id", "user_id"))
        cases = list(m.Case.objects.filter(round_id=round_id).values_list("pk", "unit_id", "group_id", "round_id"))
        processes = Process.objects.bulk_create(
            Process(flow_class=CaseFlow, status="NEW", created=now, artifact_content_type_id=case_ct,
                    artifact_object_id=pk, data={"case": pk, "unit": unit, "group": group, "round": rnd})
            for pk, unit, group, rnd in cases
        )
        start_tasks = Task.objects.bulk_create(
            Task(process=p, flow_task=CaseFlow.start, flow_task_type=CaseFlow.start.task_type, status="DONE", created=now,
                 started=now, finished=now, token=Token("start"), data={})
            for p in processes
        )
        prepare = Task.objects.bulk_create(
            Task(process=p, flow_task=CaseFlow.prepare, flow_task_type=CaseFlow.prepare.task_type,
                 status="ASSIGNED", created=now,
                 assigned=now, token=Token("start"), owner_permission="cases.unit_staff",
                 owner_permission_content_type_id=unit_ct, owner_permission_obj_pk=str(unit),
                 owner_id=staff[unit], data={})
            for p, (_, unit, _, _) in zip(processes, cases)
        )
        Previous = Task.previous.through
        Previous.objects.bulk_create(
            Previous(from_task_id=t.pk, to_task_id=s.pk) for t, s in zip(prepare, start_tasks)
        )
    elapsed = time.perf_counter() - t0
    assert len(prepare) == UNITS, len(prepare)
    return elapsed


def main():
    _common.setup(DB)
    from django.db import connection
    from viewflow.workflow.models import Process, Task

    from cases import models as m
    from workflow import services as ws

    office, rd = seed()
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    cpu = _common.CpuMeter(None, DB)
    before = cpu.sample()
    t0 = time.perf_counter()
    ws.round_launch(user=office, round_id=rd.pk)
    elapsed = time.perf_counter() - t0
    ours_cpu = cpu.report_in_process(before, cpu.sample())

    # Sanity: every case has its process and its open `prepare` task.
    processes = Process.objects.count()
    # Open: NEW in the queue, or ASSIGNED to the unit's one staff member (its evident owner).
    prepare = Task.objects.filter(flow_task_type="HUMAN", status__in=["NEW", "ASSIGNED"]).count()
    assigned = Task.objects.filter(flow_task_type="HUMAN", status="ASSIGNED").count()
    cases = m.Case.objects.filter(round=rd, status=m.CaseStatus.PREPARE).count()
    assert processes == UNITS + 1 and prepare == UNITS and cases == UNITS, (processes, prepare, cases)
    path = "bulk" if ws._bulk_start_supported() else "engine (CaseFlow.start.run per case)"
    print(
        f"# units={UNITS} groups={GROUPS} experts_per_group={EXPERTS} processes={processes} "
        f"open_prepare_tasks={prepare} assigned={assigned} path={path}"
    )
    before = cpu.sample()
    floor = launch_floor(rd.pk)
    floor_cpu = cpu.report_in_process(before, cpu.sample())
    print(f"# ours: {ours_cpu}")
    print(f"# floor: {floor_cpu}")
    print(f"launch_seconds={elapsed:.2f} launch_floor_seconds={floor:.2f} launch_vs_floor={_common.ratio(elapsed, floor)}")


if __name__ == "__main__":
    main()
