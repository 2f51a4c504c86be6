"""Reads of the leader evaluation and the publication duties (docs/leader-evaluation.md)."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from cases import models as m
from cases.evaluation import forms
from cases.rectification import selectors as rect_selectors
from cases.social.materials import selectors as material_selectors

TWO = Decimal("0.01")
SCALE_MAX = Decimal("5")
DEFAULT_MIN_DAYS = {m.DutyKind.NOTICE: 14, m.DutyKind.PERFORMANCE: 30, m.DutyKind.RECTIFICATION: 30}
RED = ("missing", "late", "short")
DEDUCTION_LABEL = "公示义务未履行"


def is_evaluator(user: m.User, round: m.Round) -> bool:
    return bool(getattr(user, "pk", None)) and m.LeaderEvaluator.objects.filter(round=round, user=user).exists()


def evaluators(round: m.Round) -> list[dict[str, Any]]:
    rows = m.LeaderEvaluator.objects.filter(round=round).select_related("user")
    return [{"user": e.user_id, "username": e.user.username, "name": e.user.display_name or e.user.username}
            for e in rows]


def points_max(round: m.Round) -> Decimal:
    """The leader-evaluation component's points (round config `leader_evaluation_points`, default 5:
    the scale's points as they are)."""
    return Decimal(str((round.config or {}).get("leader_evaluation_points", "5")))


def to_points(mean: Decimal, maximum: Decimal) -> Decimal:
    """The mean on the 1–5 scale mapped linearly onto the component: mean / 5 × maximum, two decimals."""
    return (mean * maximum / SCALE_MAX).quantize(TWO, rounding=ROUND_HALF_UP)


def own_forms(user: m.User, round: m.Round) -> list[dict[str, Any]]:
    """The evaluator's units: the form to fill for each and whether it is done (never what was answered)."""
    done = set(m.LeaderEvaluationParticipation.objects.filter(round=round, evaluator=user)
               .values_list("case_id", flat=True))
    cases = round.cases.select_related("unit", "performance_analysis").order_by("unit__sort_order", "unit__code")
    return [{"case": c.pk, "unit": c.unit_id, "unit_name": c.unit.name, "form": forms.form_dict(c.unit.category),
             "submitted": c.pk in done,
             # Beside the form, the unit's performance analysis once its head signed it off (seed 004 三).
             "analysis": material_selectors.analysis_dict(_signed(c))}
            for c in cases]


def _signed(case: m.Case) -> m.PerformanceAnalysis | None:
    analysis = getattr(case, "performance_analysis", None)
    return analysis if analysis is not None and analysis.status == m.DraftStatus.APPROVED else None


def unit_summary(round: m.Round) -> list[dict[str, Any]]:
    """Per unit: evaluators assigned, forms submitted, the sum and mean score (two decimals, ROUND_HALF_UP)
    and the component's points."""
    sums = {row["case_id"]: row for row in m.LeaderEvaluationAnswer.objects.filter(round=round)
            .values("case_id").annotate(n=Count("id"), total=Sum("score"))}
    assigned = m.LeaderEvaluator.objects.filter(round=round).count()
    maximum = points_max(round)
    out = []
    for c in round.cases.select_related("unit").order_by("unit__sort_order", "unit__code"):
        row = sums.get(c.pk)
        n = row["n"] if row is not None else 0
        score_sum = int(row["total"]) if row is not None else 0
        mean = (Decimal(score_sum) / n).quantize(TWO, rounding=ROUND_HALF_UP) if n else None
        out.append({"case": c.pk, "unit": c.unit_id, "unit_name": c.unit.name,
                    "form": forms.form_for(c.unit.category), "evaluators": assigned, "submitted": n,
                    "score_sum": score_sum, "mean": mean,
                    "points": None if mean is None else to_points(mean, maximum)})
    return out


# --- publication duties ----------------------------------------------------------------------------


def due_date(round: m.Round) -> dt.date:
    """Every duty's date: round config `publication_due` (ISO date), default 12月10日 of the round's year (seed 004)."""
    raw = (round.config or {}).get("publication_due")
    return dt.date.fromisoformat(raw) if raw else dt.date(round.year, 12, 10)


def min_days(round: m.Round) -> dict[str, int]:
    configured = (round.config or {}).get("publication_min_days") or {}
    return {kind: int(configured.get(kind, days)) for kind, days in DEFAULT_MIN_DAYS.items()}


def deduction_per_duty(round: m.Round) -> Decimal:
    return Decimal(str((round.config or {}).get("publication_deduction", "0")))


@dataclass(frozen=True)
class DutyState:
    status: str  # met / running / pending / missing / late / short
    days: int  # days on display so far (both ends included)

    @property
    def red(self) -> bool:
        return self.status in RED


def duty_state(pub: m.DutyPublication | None, *, due: dt.date, need: int, on: dt.date) -> DutyState:
    """A duty is met when the publication started by the due date and stayed up `need` days (start and end
    included); it is red when nothing started by the due date (missing), it started after (late), or it ended
    before `need` days (short). Still on display and not yet long enough: running; not due yet: pending."""
    if pub is None:
        return DutyState("missing" if on > due else "pending", 0)
    until = min(pub.end_date, on) if pub.end_date else on
    days = max((until - pub.start_date).days + 1, 0)
    if pub.start_date > due:
        return DutyState("late", days)
    if days >= need:
        return DutyState("met", days)
    if pub.end_date is not None and pub.end_date < on:
        return DutyState("short", days)
    return DutyState("running", days)


def _ledger(round: m.Round, unit_id: int, on: dt.date) -> dict[str, int]:
    """Last year's rectifications of the unit from the ledger: how many closed ones are published, how many due."""
    duty = rect_selectors.publication_duty(
        m.Rectification.objects.filter(unit_id=unit_id, round__year=round.year - 1), on=on)
    return {"published": len(duty.published), "due": len(duty.due)}


def duties(round: m.Round, cases: list[m.Case] | None = None, *, on: dt.date | None = None,
           with_ledger: bool = True) -> list[dict[str, Any]]:
    """Every case × duty with the unit's record and its state."""
    on = on or timezone.localdate()
    cases = cases if cases is not None else list(round.cases.select_related("unit")
                                                 .order_by("unit__sort_order", "unit__code"))
    pubs = {(p.case_id, p.kind): p for p in m.DutyPublication.objects.filter(case__in=[c.pk for c in cases])}
    due, need = due_date(round), min_days(round)
    per_duty = deduction_per_duty(round)
    out = []
    for c in cases:
        for kind, label in m.DutyKind.choices:
            pub = pubs.get((c.pk, kind))
            state = duty_state(pub, due=due, need=need[kind], on=on)
            out.append({
                "case": c.pk, "unit": c.unit_id, "unit_name": c.unit.name, "kind": kind, "label": str(label),
                "due_date": due, "min_days": need[kind],
                "place": pub.place if pub else "", "start_date": pub.start_date if pub else None,
                "end_date": pub.end_date if pub else None, "days": state.days, "status": state.status,
                "red": state.red, "deduction": per_duty if state.red and per_duty > 0 else Decimal("0"),
                "ledger": _ledger(round, c.unit_id, on) if with_ledger and kind == m.DutyKind.RECTIFICATION else None,
            })
    return out


def deductions_by_case(round: m.Round, cases: list[m.Case], *, on: dt.date | None = None
                       ) -> dict[int, list[tuple[str, Decimal]]]:
    """Per case, one deduction per red duty where the round deducts for them (config `publication_deduction`)
    and one per material delivered late (`late_material_deduction`, cases.social.materials); the results
    engine takes them as incidents (cases.scoring.results.incidents_of)."""
    found: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    if deduction_per_duty(round) > 0:
        for row in duties(round, cases, on=on, with_ledger=False):
            if row["red"]:
                found[row["case"]].append((f"{DEDUCTION_LABEL}（{row['label']}）", row["deduction"]))
    for case_id, items in material_selectors.late_deductions(round, cases).items():
        found[case_id].extend(items)
    return dict(found)
