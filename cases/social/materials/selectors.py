"""Reads of a social round's materials: one unit's, the late deliveries' deductions, the analyses'
booklet (docs/social-round.md)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from cases import models as m

ANALYSIS_PARTS = (("completion", "重点工作任务完成情况"), ("innovation", "工作创新和亮点"),
                  ("weaknesses", "工作难点和薄弱环节"))
LATE_LABEL = "材料逾期报送"


def late_deduction(round: m.Round) -> Decimal:
    """Points deducted per material delivered late (config `late_material_deduction`; 0: flagged only)."""
    return Decimal(str((round.config or {}).get("late_material_deduction", "0")))


def analysis_dict(analysis: m.PerformanceAnalysis | None) -> dict[str, Any] | None:
    if analysis is None:
        return None
    return {"completion": analysis.completion, "innovation": analysis.innovation,
            "weaknesses": analysis.weaknesses, "status": analysis.status,
            "signed_at": analysis.signed_at.isoformat() if analysis.signed_at else None}


def materials_of(case: m.Case) -> dict[str, Any]:
    """Everything the unit has delivered or drafted, with each material's delivery against its due."""
    questionnaire = m.Questionnaire.objects.filter(case=case).first()
    analysis = m.PerformanceAnalysis.objects.filter(case=case).first()
    situation = m.SituationReport.objects.filter(case=case).first()
    deliveries = {d.material: d for d in m.MaterialDelivery.objects.filter(case=case)}
    return {
        "case": case.pk,
        "questionnaire": None if questionnaire is None else {
            "topic": questionnaire.topic, "questions": questionnaire.questions, "status": questionnaire.status,
            "review_comment": questionnaire.review_comment},
        "analysis": None if analysis is None else {**(analysis_dict(analysis) or {}),
                                                   "sign_comment": analysis.sign_comment},
        "situation": None if situation is None else {
            "liaison": situation.liaison, "liaison_phone": situation.liaison_phone, "leaders": situation.leaders,
            "rectification_report": situation.rectification_report,
            "performance_report": situation.performance_report,
            "submitted_at": situation.submitted_at.isoformat()},
        "deliveries": [_delivery(value, str(label), deliveries.get(value)) for value, label in m.Material.choices],
    }


def _delivery(material: str, label: str, row: m.MaterialDelivery | None) -> dict[str, Any]:
    return {"material": material, "label": label, "delivered": row is not None,
            "due": row.due.isoformat() if row is not None and row.due else None,
            "first_delivered_at": row.first_delivered_at.isoformat() if row is not None else None,
            "late": row is not None and row.late}


def late_deductions(round: m.Round, cases: list[m.Case]) -> dict[int, list[tuple[str, Decimal]]]:
    """Per case, one deduction per material delivered late, where the round deducts for them (seed 004
    六(三): 从该部门评价得分中扣减相应分值)."""
    per_material = late_deduction(round)
    if per_material <= 0:
        return {}
    found: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    rows = m.MaterialDelivery.objects.filter(case__in=[c.pk for c in cases], late=True).order_by("case_id", "material")
    for row in rows:
        found[row.case_id].append((f"{LATE_LABEL}（{row.get_material_display()}）", per_material))
    return dict(found)


def signed_analyses(round: m.Round) -> list[dict[str, Any]]:
    """The booklet's pages (编印成册): every unit of the round in order, with its signed analysis or None."""
    cases = round.cases.select_related("unit", "performance_analysis").order_by("unit__sort_order", "unit__code")
    out = []
    for case in cases:
        analysis = getattr(case, "performance_analysis", None)
        signed = analysis if analysis is not None and analysis.status == m.DraftStatus.APPROVED else None
        out.append({"case": case.pk, "unit_name": case.unit.name,
                    "parts": [(label, getattr(signed, name)) for name, label in ANALYSIS_PARTS] if signed else None})
    return out


def round_overview(round: m.Round) -> list[dict[str, Any]]:
    """Per unit: each material's delivery (and lateness), the questionnaire's and the analysis's states."""
    cases = list(round.cases.select_related("unit").order_by("unit__sort_order", "unit__code"))
    deliveries = {(d.case_id, d.material): d for d in m.MaterialDelivery.objects.filter(round=round)}
    questionnaires = dict(m.Questionnaire.objects.filter(case__round=round).values_list("case_id", "status"))
    analyses = dict(m.PerformanceAnalysis.objects.filter(case__round=round).values_list("case_id", "status"))
    return [{"case": c.pk, "unit": c.unit_id, "unit_name": c.unit.name,
             "questionnaire": questionnaires.get(c.pk), "analysis": analyses.get(c.pk),
             "materials": {value: {"delivered": (c.pk, value) in deliveries,
                                   "late": (c.pk, value) in deliveries and deliveries[(c.pk, value)].late}
                           for value in m.Material.values}}
            for c in cases]
