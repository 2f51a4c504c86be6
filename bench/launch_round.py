"""Benchmark 1: launch a round of 1,000 units in 4 groups of 5 experts through `round_launch`.

    python bench/launch_round.py            # prints launch_seconds=<n>

Creates and migrates its own database (bench_launch), seeds the round through the domain services
(units with a staff member and a head each, groups with a leader and five experts), then times the
real launch: `workflow.services.round_launch`, committed.
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


def main():
    _common.setup(DB)
    from django.db import connection
    from viewflow.workflow.models import Process, Task

    from cases import models as m
    from workflow import services as ws

    office, rd = seed()
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    t0 = time.perf_counter()
    ws.round_launch(user=office, round_id=rd.pk)
    elapsed = time.perf_counter() - t0

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
    print(f"launch_seconds={elapsed:.2f}")


if __name__ == "__main__":
    main()
