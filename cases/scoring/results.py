"""A round's results: raw inputs read from the database in a few flat queries, handed to the exact
engine in `cases.scoring.engine`, stored as `Result` rows. Recomputable until the leader approves the
round, frozen afterwards. The arithmetic lives only in the engine.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import TypedDict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.evaluation import selectors as evaluation_selectors
from cases.party_building import rules as party_rules
from cases.party_building import selectors as party_selectors
from cases.scoring import engine, round_config
from cases.scoring.adapter import scoring_rubric
from cases.services.audit import audit

LATE_KIND = "逾期提交"
ZERO = Decimal("0")
# Seed 003 (廉洁型 6.1): 出现违法案件的取消当年评先资格.
ILLEGAL_CASE_REASON = "违法案件"


def objection_corrections(case_ids: list[int]) -> dict[int, Decimal]:
    """Per case, the sum of its upheld objections' corrections (cases.objections)."""
    rows = (m.Objection.objects.filter(case_id__in=case_ids, status=m.ObjectionStatus.UPHELD,
                                       adjustment__isnull=False)
            .values_list("case_id", "adjustment"))
    sums: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for case_id, adjustment in rows:
        sums[case_id] += adjustment or ZERO
    return dict(sums)


def commendation_bars(round: m.Round, grades: dict[int, str]) -> dict[int, str]:
    """Per case (of `grades`: case id → grade), why the unit may not be commended this year: a finding
    of an illegal case (违法案件, seed 003), or a grade the round names in `commendation_barred_grades`
    (seed 002: 不达标 → 取消年度评先评优资格). Neither changes the score. Absent: eligible."""
    reasons: dict[int, list[str]] = defaultdict(list)
    barred_cases = m.Finding.objects.filter(case_id__in=list(grades), bars_commendation=True)
    for case_id in sorted(set(barred_cases.values_list("case_id", flat=True))):
        reasons[case_id].append(ILLEGAL_CASE_REASON)
    barred_grades = set(round_config.commendation_barred_grades(round.config or {}))
    for case_id, grade in grades.items():
        if grade and grade in barred_grades:
            reasons[case_id].append(f"等次为{grade}")
    return {case_id: "；".join(parts) for case_id, parts in reasons.items()}


def scoring_config(round: m.Round) -> engine.ScoringConfig:
    return round_config.scoring_config(round.config or {})


def round_scoring_rubric(round: m.Round) -> engine.ScoringRubric:
    """The round's rubric as the engine takes it, with the round's own special bonus cap where it sets
    one (`special_bonus_cap`, seed 001's declared bonus items: the rubric states none)."""
    rubric = scoring_rubric(round.rubric)
    cap = party_rules.special_bonus_cap(round.config)
    return rubric if cap is None else replace(rubric, special_bonus_cap=cap)


def composite_scores(round: m.Round, cases: list[m.Case]) -> dict[int, tuple[tuple[str, Decimal], ...]]:
    """Per case, the other rounds' totals of its unit that the round's composite names, e.g.
    {"self_weight": "70", "rounds": [{"round": 12, "name": "平时考核", "weight": "30"}]} (seed 001)."""
    parts = ((round.config or {}).get("composite") or {}).get("rounds") or []
    if not parts:
        return {}
    unapproved = [part["name"] for part in parts
                  if not m.Round.objects.filter(pk=part["round"], results_frozen_at__isnull=False).exists()]
    if unapproved:
        raise ValidationError({"composite": [f"“{name}”的结果尚未经领导审定。" for name in unapproved]})
    totals = {
        part["name"]: dict(m.Result.objects.filter(round_id=part["round"]).values_list("case__unit_id", "total"))
        for part in parts
    }
    missing = [f"{c.unit.name}在“{name}”中没有结果" for c in cases for name, by_unit in totals.items()
               if c.unit_id not in by_unit]
    if missing:
        raise ValidationError({"composite": missing[:20]})
    return {c.pk: tuple((name, by_unit[c.unit_id]) for name, by_unit in totals.items()) for c in cases}


def incidents_of(round: m.Round, cases: list[m.Case]) -> tuple[dict[int, list[engine.Incident]], set[int]]:
    """Per case, the deductions the engine takes off its panel (findings' catalogue deductions, a late
    submission where the round deducts for it, the self-check table's shortfalls where the round deducts
    for them, seed 001); and the vetoed cases."""
    incidents: dict[int, list[engine.Incident]] = defaultdict(list)
    vetoed = set()
    findings = m.Finding.objects.filter(case_id__in=[c.pk for c in cases]).values_list(
        "case_id", "deduction_kind", "source", "deduction_amount", "occurrences", "veto"
    )
    for case_id, kind, source, amount, count, veto in findings:
        if amount > 0:
            incidents[case_id].append(engine.Incident(kind=kind or source, amount=amount, count=count))
        if veto:
            vetoed.add(case_id)
    late_amount = Decimal(str((round.config or {}).get("late_deduction", "0")))
    for case in cases:
        if case.late and late_amount > 0:
            incidents[case.pk].append(engine.Incident(kind=LATE_KIND, amount=late_amount, count=1))
    for case_id, found in party_selectors.deductions_by_case(round, cases).items():
        incidents[case_id].extend(engine.Incident(kind=label, amount=amount, count=1) for label, amount in found)
    # Seed 004's publication duties not met by their date, where the round deducts for them.
    for case_id, found in evaluation_selectors.deductions_by_case(round, cases).items():
        incidents[case_id].extend(engine.Incident(kind=label, amount=amount, count=1) for label, amount in found)
    return incidents, vetoed


def unit_inputs(round: m.Round, cases: list[m.Case]) -> list[engine.UnitInput]:
    """The engine's inputs for the given cases of the round: submitted sheets only."""
    case_ids = [c.pk for c in cases]
    sheets = list(
        m.ScoreSheet.objects.filter(case_id__in=case_ids, status=m.SheetStatus.SUBMITTED)
        .values_list("pk", "case_id", "expert_id")
    )
    marks: dict[int, dict[str, engine.ItemMarks]] = defaultdict(dict)
    codes = dict(round.rubric.items.values_list("pk", "code"))
    # Rows with neither deduction nor bonus are left out: the engine scores a missing item at its
    # max with no bonus, which is exactly what such a row means. One flat query, no ORM rows:
    # this loop sees ~200,000 values for a 1,000-unit round.
    rows = (
        m.ItemScore.objects.filter(sheet_id__in=[pk for pk, _, _ in sheets])
        .filter(Q(deduction__gt=0) | Q(bonus__gt=0))
        .values_list("sheet_id", "item_id", "deduction", "bonus")
    )
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for sheet_id, item_id, deduction, bonus in cursor.fetchall():
            marks[sheet_id][codes[item_id]] = engine.ItemMarks((deduction,), (bonus,))
    sheets_by_case = defaultdict(list)
    for sheet_id, case_id, expert_id in sheets:
        sheets_by_case[case_id].append(engine.Sheet(expert=str(expert_id), items=marks.get(sheet_id, {})))

    incidents, vetoed = incidents_of(round, cases)
    bonuses = defaultdict(list)
    for case_id, amount in m.SpecialBonus.objects.filter(case_id__in=case_ids).values_list("case_id", "amount"):
        bonuses[case_id].append(amount)
    previous = {}
    if round.previous_round_id:
        previous = dict(m.Result.objects.filter(round_id=round.previous_round_id).values_list("case__unit_id", "rank"))
    by_category = bool((round.config or {}).get("rank_by_category"))
    components = composite_scores(round, cases)
    corrections = objection_corrections(case_ids)

    inputs = []
    for case in cases:
        case_incidents = incidents.get(case.pk, [])
        inputs.append(
            engine.UnitInput(
                code=str(case.pk),
                category=case.unit.category if by_category else "",
                veto=case.pk in vetoed,
                previous_rank=previous.get(case.unit_id),
                sheets=tuple(sheets_by_case[case.pk]),
                incidents=tuple(case_incidents),
                special_bonus=tuple(bonuses[case.pk]),
                panel_override=case.panel_override,
                components=components.get(case.pk, ()),
                adjustment=corrections.get(case.pk, ZERO),
            )
        )
    return inputs


def compute(round: m.Round) -> list[engine.UnitResult]:
    """The round's results by the engine, with the group leaders' grades where the round takes them
    (`grade_source: proposal`); not stored (the compile page previews them before they are)."""
    cases = list(round.cases.select_related("unit"))
    missing = [c.unit.name for c in cases if c.status != m.CaseStatus.DONE]
    if missing:
        raise Conflict(f"尚有{len(missing)}个单位未完成评审：{'、'.join(missing[:5])}。")
    try:
        computed = engine.compute_results(round_scoring_rubric(round), scoring_config(round), unit_inputs(round, cases))
    except engine.ScoringError as exc:
        raise ValidationError({"config": [str(exc)]}) from None
    if (round.config or {}).get("grade_source") == "proposal":
        # Seed 000: the group leader decides the grade; a veto still gives the last band.
        proposed = {c.pk: c.proposed_grade for c in cases}
        computed = [r if r.veto or not proposed.get(int(r.code)) else replace(r, grade=proposed[int(r.code)])
                    for r in computed]
    return computed


def result_rows(round: m.Round, computed: Iterable[engine.UnitResult]) -> list[m.Result]:
    """`compute`'s results as (unsaved) Result rows, each with its deductions item by item."""
    computed_at = timezone.now()
    computed = list(computed)
    case_ids = [int(r.code) for r in computed]
    corrections = objection_corrections(case_ids)
    bars = commendation_bars(round, {int(r.code): r.grade or "" for r in computed})
    incidents, _ = incidents_of(round, list(round.cases.filter(pk__in=case_ids)))
    return [
        m.Result(
            case_id=int(r.code), round=round, category=r.category, panel=r.panel, deductions=r.deductions,
            bonus=r.bonus, total=r.total, rank=r.rank, grade=r.grade or "", movement=r.movement, veto=r.veto,
            sheet_scores=[[expert, str(score)] for expert, score in r.sheet_scores],
            components=[[name, str(score)] for name, score in r.components], computed_at=computed_at,
            correction=corrections.get(int(r.code), ZERO), commendation_barred=bars.get(int(r.code), ""),
            deduction_items=[[i.kind, engine.decimal_str(i.amount * i.count)] for i in incidents.get(int(r.code), ())],
        )
        for r in computed
    ]


@transaction.atomic
def round_compute_results(*, user: m.User, round: m.Round) -> list[m.Result]:
    """Recompute and store the round's results (office only, until the leader approves)."""
    if not access.is_office(user):
        raise PermissionDenied("只有考核办可以汇总结果。")
    round = m.Round.objects.select_for_update().get(pk=round.pk)
    if round.results_frozen_at:
        raise Conflict("结果已经领导审定，不能重新计算。")
    if round.status != m.RoundStatus.COMPILING:
        # While the leader decides, what they see must not change under them; a return reopens compiling.
        raise Conflict("只有在汇总阶段可以重新计算结果。")
    computed = compute(round)
    before = {
        str(r.case_id): [str(r.total), r.rank, r.grade]
        for r in m.Result.objects.filter(round=round)
    }
    m.Result.objects.filter(round=round).delete()
    results = m.Result.objects.bulk_create(result_rows(round, computed))
    after = {str(r.case_id): [str(r.total), r.rank, r.grade] for r in results}
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    audit(actor=user, action="round.results_computed", obj=round,
          before={k: before.get(k) for k in changed}, after=changed, round_id=round.pk)
    return results


def round_freeze_results(*, round: m.Round) -> None:
    """Called when the leader approves: the stored results become final."""
    m.Round.objects.filter(pk=round.pk, results_frozen_at__isnull=True).update(results_frozen_at=timezone.now())


class ResultsSummary(TypedDict):
    grade_distribution: dict[str | None, int]
    group_means: dict[str, Decimal]
    overall_mean: Decimal | None
    frozen: bool


def summary(round: m.Round, stored: list[m.Result]) -> ResultsSummary:
    """Grade distribution and per-group means of the stored results (a lenient group stands out)."""
    rows = [
        engine.UnitResult(code=str(r.case_id), category=r.category, panel=r.panel, deductions=r.deductions,
                           bonus=r.bonus, total=r.total, rank=r.rank, grade=r.grade or None, movement=r.movement,
                           veto=r.veto)
        for r in stored
    ]
    group_names = dict(round.groups.values_list("pk", "name"))
    groups = {str(r.case_id): group_names[r.case.group_id] for r in stored}
    means = engine.group_means(rows, groups)
    overall = engine.group_means(rows, {row.code: "" for row in rows}).get("")
    config = scoring_config(round)
    return {
        "grade_distribution": engine.grade_distribution(rows, config.grades),
        "group_means": means,
        "overall_mean": overall,
        "frozen": round.results_frozen_at is not None,
    }
