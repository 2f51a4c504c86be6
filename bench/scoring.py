"""Scoring benchmark: 1,000 units × 5 experts × 40 items (200,000 item scores) from the database to
ranked, graded results, then the same data through the exchange format (compute_results).

    python bench/scoring.py          # prints scoring_seconds=… compute_results_json_seconds=… …

Target: scoring_seconds ≤ 2 (aim for 0.5) on the 2-core machine.
"""

import json
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, bench_env, db_name, setup  # noqa: E402

DB = db_name("bench_scoring")
UNITS, EXPERTS, SECTIONS, ITEMS_PER_SECTION = 1000, 5, 8, 5
CATEGORIES = ["党委工作部门", "政府工作部门", "群团组织", "民主党派机关"]


def seed():
    from django.utils import timezone

    from cases import models as m
    from cases.rubrics.services import rubric_create

    rng = random.Random(2026)
    office = m.User.objects.create(username="office", org_role=m.OrgRole.OFFICE)
    rubric = rubric_create(spec={
        "code": "bench", "title": "基准细则", "special_bonus_cap": "5",
        "sections": [
            {"code": f"S{s}", "title": f"第{s}部分", "max": "12.5",
             "items": [{"code": f"S{s}.{i}", "content": "内容", "max": "2.5", "bonus_cap": "1" if i == 1 else "0"}
                       for i in range(1, ITEMS_PER_SECTION + 1)]}
            for s in range(1, SECTIONS + 1)
        ],
    })
    now = timezone.now()
    round = m.Round.objects.create(
        title="基准轮次", kind=m.RoundKind.ANNUAL, year=2026, rubric=rubric, status=m.RoundStatus.COMPILING,
        prepare_due=now, inspect_due=now, review_due=now, approve_due=now, report_due=now,
        config={"aggregation": "trimmed_mean", "trim_min_sheets": 5, "rank_by_category": True,
                "grades": {"scheme": "distribution", "bands": [["优秀", "25"], ["良好", "35"], ["达标", "34"],
                                                               ["不达标", "6"]]}},
    )
    group = m.Group.objects.create(round=round, number=1, name="第一组")
    experts = m.User.objects.bulk_create(m.User(username=f"expert{e}") for e in range(EXPERTS))
    units = m.Unit.objects.bulk_create(
        m.Unit(code=f"U{n:04d}", name=f"单位{n:04d}", category=CATEGORIES[n % len(CATEGORIES)]) for n in range(UNITS))
    cases = m.Case.objects.bulk_create(
        m.Case(round=round, unit=u, group=group, status=m.CaseStatus.DONE) for u in units)
    sheets = m.ScoreSheet.objects.bulk_create(
        m.ScoreSheet(case=c, expert=e, status=m.SheetStatus.SUBMITTED) for c in cases for e in experts)
    items = list(rubric.items.all())
    scores = []
    for sheet in sheets:
        for item in items:
            deduction = Decimal(rng.choice(["0", "0", "0", "0.5", "1", "0.25"]))
            bonus = Decimal(rng.choice(["0", "0", "1"])) if item.bonus_cap else Decimal(0)
            scores.append(m.ItemScore(sheet=sheet, item=item, deduction=deduction, bonus=bonus, reason="b"))
    m.ItemScore.objects.bulk_create(scores, batch_size=10000)
    findings = [m.Finding(case=c, source=m.FindingSource.CRITICISM, description="通报批评", deduction_kind="通报批评",
                          deduction_amount=Decimal("3"), occurrences=1) for c in cases[::17]]
    findings += [m.Finding(case=c, source=m.FindingSource.INSPECTION, description="违纪", veto=True) for c in cases[::97]]
    m.Finding.objects.bulk_create(findings)
    m.SpecialBonus.objects.bulk_create(
        m.SpecialBonus(case=c, level="国家级", title="表彰", amount=Decimal("3")) for c in cases[::13])
    return office, round, len(scores)


def exchange_document(round) -> dict:
    """The same raw inputs in exchange format v1."""
    from cases.scoring import results
    from cases.scoring.adapter import scoring_rubric

    rubric = scoring_rubric(round.rubric)
    config = round.config
    units = results.unit_inputs(round, list(round.cases.select_related("unit")))
    return {
        "rubric": {"sections": [{"code": s.code, "max": str(s.max), "items": [
            {"code": i.code, "max": str(i.max), "bonus_cap": str(i.bonus_cap)} for i in s.items]}
            for s in rubric.sections], "special_bonus_cap": str(rubric.special_bonus_cap)},
        "config": {"aggregation": config["aggregation"], "trim_min_sheets": config["trim_min_sheets"],
                   "grades": config["grades"]},
        "units": [{
            "code": u.code, "category": u.category, "veto": u.veto,
            "sheets": [{"expert": sh.expert, "items": {code: {"deductions": [str(d) for d in mk.deductions],
                                                              "bonus": [str(b) for b in mk.bonus]}
                                                       for code, mk in sh.items.items()}} for sh in u.sheets],
            "incidents": [{"kind": i.kind, "amount": str(i.amount), "count": i.count} for i in u.incidents],
            "special_bonus": [str(b) for b in u.special_bonus],
        } for u in units],
    }


def main():
    setup(DB)
    from django.db import connection

    from cases import models as m
    from cases.scoring import exchange, results

    started = time.perf_counter()
    office, round, n_scores = seed()
    print(f"seeded units={UNITS} experts={EXPERTS} items={SECTIONS * ITEMS_PER_SECTION} item_scores={n_scores} "
          f"in {time.perf_counter() - started:.1f}s", flush=True)
    connection.close()

    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        stored = results.round_compute_results(user=office, round=round)
        timings.append(time.perf_counter() - t0)
    assert len(stored) == UNITS
    print(f"scoring_seconds={min(timings):.3f} (runs: {', '.join(f'{t:.3f}' for t in timings)}; "
          "database → engine → stored ranked, graded results)")

    doc = exchange_document(round)
    t0 = time.perf_counter()
    out = exchange.compute_exchange(doc)
    print(f"compute_results_json_seconds={time.perf_counter() - t0:.3f} (in-process: validate + compute)")

    by_case = {str(r.case_id): r for r in m.Result.objects.filter(round=round)}
    mismatches = [u["code"] for u in out["units"]
                  if (u["total"], u["rank"], u["grade"]) != (str(by_case[u["code"]].total), by_case[u["code"]].rank,
                                                             by_case[u["code"]].grade)]
    print(f"json_vs_database_mismatches={len(mismatches)}")

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "compute_results", f.name], cwd=ROOT, env=bench_env(DB),
                   check=True, stdout=subprocess.DEVNULL)
    print(f"compute_results_command_seconds={time.perf_counter() - t0:.3f} (whole command incl. Django start-up, "
          f"{Path(f.name).stat().st_size / 1e6:.1f} MB of JSON)")


if __name__ == "__main__":
    main()
