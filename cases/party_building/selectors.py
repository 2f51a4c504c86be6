"""Reads of seed 001's features: a round's self-check table and a case's lines, the deductions the
scoring takes from them, a group's shortfalls and its recommendation tally, a case's declarations."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TypedDict

from django.db.models import QuerySet

from cases import access
from cases import models as m
from cases.party_building import rules, selfcheck
from cases.scoring.adapter import rubric_items

# The incident kind a self-check deduction is recorded under in the engine (shown in the breakdown).
DEDUCTION_KIND = "自查统计表"


def table(round: m.Round) -> tuple[selfcheck.Row, ...] | None:
    """The round's self-check table, or None when it has none."""
    return selfcheck.table(round.config or {}, round.rubric.spec)


def item_maxima(round: m.Round) -> dict[str, Decimal]:
    return {item.code: item.max_points for item in rubric_items(round.rubric)}


def current_counts(case: m.Case) -> dict[str, object]:
    """The counts of the case's latest submission (the draft being written, or the signed one)."""
    sub = case.submissions.order_by("-attempt").first()
    stats = sub.statistics if sub is not None else {}
    return stats if isinstance(stats, dict) else {}


def case_lines(case: m.Case) -> list[selfcheck.Line] | None:
    rows = table(case.round)
    if rows is None:
        return None
    return selfcheck.lines(rows, current_counts(case), item_maxima(case.round))


def deduction_label(line: selfcheck.Line) -> str:
    item = f"，计入{line.row.item}" if line.row.item else ""
    return f"{DEDUCTION_KIND}：{line.row.name}少{line.shortfall}次{item}"


def deductions_by_case(round: m.Round, cases: list[m.Case]) -> dict[int, list[tuple[str, Decimal]]]:
    """Per case, the self-check deductions (label, amount > 0) from its signed submission; empty when
    the round's table has no deduction."""
    rows = table(round)
    if not rows or not any(row.deduction for row in rows):
        return {}
    maxima = item_maxima(round)
    latest: dict[int, dict[str, object]] = {}
    for case_id, stats in (m.Submission.objects.filter(case__in=cases, status=m.SubmissionStatus.SIGNED)
                           .order_by("case_id", "attempt").values_list("case_id", "statistics")):
        latest[case_id] = stats if isinstance(stats, dict) else {}
    out: dict[int, list[tuple[str, Decimal]]] = {}
    for case in cases:
        found = [(deduction_label(line), line.deduction)
                 for line in selfcheck.lines(rows, latest.get(case.pk, {}), maxima) if line.deduction > 0]
        if found:
            out[case.pk] = found
    return out


class GroupShortfall(TypedDict):
    case: int
    unit: int
    unit_name: str
    submitted: bool
    shortfalls: list[dict[str, object]]
    deduction: Decimal


def group_shortfalls(group: m.Group) -> list[GroupShortfall]:
    """Each unit of the group with the rows it fell short of (highlighted for the group's review)."""
    rows = table(group.round)
    if rows is None:
        return []
    maxima = item_maxima(group.round)
    out: list[GroupShortfall] = []
    for case in group.cases.select_related("unit").order_by("unit__sort_order", "unit__code"):
        found = selfcheck.lines(rows, current_counts(case), maxima)
        out.append({
            "case": case.pk, "unit": case.unit_id, "unit_name": case.unit.name,
            "submitted": case.status not in (m.CaseStatus.DRAFT, m.CaseStatus.PREPARE),
            "shortfalls": [line_dict(line) for line in found if line.shortfall],
            "deduction": selfcheck.total_deduction(found),
        })
    return out


def line_dict(line: selfcheck.Line) -> dict[str, object]:
    row = line.row
    return {"code": row.code, "name": row.name, "group": row.group, "note": row.note, "target": row.target,
            "optional": row.optional, "deduction_per_missing": None if row.deduction is None else str(row.deduction),
            "cap": None if row.cap is None else str(row.cap), "item": row.item or None,
            "completed": line.completed, "entered": line.entered, "not_applicable": line.entered and line.completed is None,
            "shortfall": line.shortfall, "deduction": str(line.deduction)}


# --- democratic recommendation ------------------------------------------------------------------


def recommendation_rules(round: m.Round) -> rules.RecommendationRules | None:
    return rules.recommendation(round.config or {})


def ballot_of(group: m.Group, unit_id: int) -> m.RecommendationBallot | None:
    return m.RecommendationBallot.objects.filter(group=group, unit_id=unit_id).first()


def ballot_dict(ballot: m.RecommendationBallot | None) -> dict[str, object] | None:
    if ballot is None:
        return None
    noms = list(ballot.nominations.select_related("unit"))
    return {
        "id": ballot.pk, "unit": ballot.unit_id, "unit_name": ballot.unit.name,
        "submitted_by": ballot.submitted_by_id, "submitted_at": ballot.submitted_at.isoformat(),
        "organisations": [{"unit": n.unit_id, "unit_name": n.unit.name} for n in noms
                          if n.kind == m.NominationKind.ORGANISATION],
        "workers": [{"unit": n.unit_id, "unit_name": n.unit.name, "name": n.name, "post": n.post} for n in noms
                    if n.kind == m.NominationKind.WORKER],
    }


class Tally(TypedDict):
    group: int
    units: int
    ballots: int
    voted: list[int]
    organisations: list[dict[str, object]]
    workers: list[dict[str, object]]


def tally(group: m.Group) -> Tally:
    """The group's recommendation: votes per nominated organisation and per nominated worker, most
    first (ties by the units' order), and which units have voted."""
    units = {c.unit_id: c.unit for c in group.cases.select_related("unit")}
    order = {uid: (u.sort_order, u.code) for uid, u in units.items()}
    ballots = list(m.RecommendationBallot.objects.filter(group=group).values_list("pk", "unit_id"))
    noms = m.Nomination.objects.filter(ballot__group=group).values_list("kind", "unit_id", "name", "post")
    org_votes: Counter[int] = Counter()
    worker_votes: Counter[tuple[int, str]] = Counter()
    posts: dict[tuple[int, str], str] = {}
    for kind, unit_id, name, post in noms:
        if kind == m.NominationKind.ORGANISATION:
            org_votes[unit_id] += 1
        else:
            worker_votes[(unit_id, name)] += 1
            posts.setdefault((unit_id, name), post)
    missing_unit = m.Unit(name="", sort_order=0, code="")

    def name_of(uid: int) -> str:
        return units.get(uid, missing_unit).name

    return {
        "group": group.pk, "units": len(units), "ballots": len(ballots),
        "voted": sorted((uid for _, uid in ballots), key=lambda uid: order.get(uid, (0, ""))),
        "organisations": [{"unit": uid, "unit_name": name_of(uid), "votes": n} for uid, n in
                          sorted(org_votes.items(), key=lambda kv: (-kv[1], order.get(kv[0], (0, ""))))],
        "workers": [{"unit": uid, "unit_name": name_of(uid), "name": name, "post": posts[(uid, name)], "votes": n}
                    for (uid, name), n in sorted(worker_votes.items(),
                                                 key=lambda kv: (-kv[1], order.get(kv[0][0], (0, "")), kv[0][1]))],
    }


def visible_declarations(user: m.User) -> QuerySet[m.BonusDeclaration]:
    return access.visible(m.BonusDeclaration, user)
