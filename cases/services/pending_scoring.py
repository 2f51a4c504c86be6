"""TEMPORARY: the six rubric and scoring functions that helper A moves to `cases/rubrics/` and
`cases/scoring/` in the same restructure (issue #8). They are kept here byte for byte, only their
imports changed, until the branches are merged; the merge deletes this module.
"""

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from cases import access, scoring
from cases import models as m
from cases.rubric_io import rubric_to_dict
from cases.services.audit import audit


@transaction.atomic
def rubric_create(*, spec: dict) -> m.Rubric:
    """Store a parsed rubric (the dict form of a rubric file, see docs/rubrics.md)."""
    sections = spec.get("sections") or []
    total = sum((Decimal(str(s["max"])) for s in sections), Decimal(0))
    rubric = m.Rubric.objects.create(
        code=spec["code"],
        version=int(spec.get("version", 1)),
        title=spec["title"],
        total_max=total,
        spec=spec,
    )
    items = []
    for s_pos, section_spec in enumerate(sections):
        section = m.RubricSection.objects.create(
            rubric=rubric,
            code=section_spec["code"],
            title=section_spec["title"],
            max_points=Decimal(str(section_spec["max"])),
            position=s_pos,
        )
        for i_pos, item in enumerate(section_spec.get("items") or []):
            items.append(
                m.RubricItem(
                    rubric=rubric,
                    section=section,
                    code=item["code"],
                    content=item.get("content", ""),
                    max_points=Decimal(str(item["max"])),
                    bonus_cap=Decimal(str(item.get("bonus_cap", "0"))),
                    evidence_required=bool(item.get("evidence_required", False)),
                    veto=bool(item.get("veto", False)),
                    rules=item.get("rules") or [],
                    position=i_pos,
                )
            )
    m.RubricItem.objects.bulk_create(items)
    return rubric



@transaction.atomic
def rubric_import(*, user, spec) -> m.Rubric:
    """Store a validated rubric file (`cases.rubric_io.RubricSpec`) as a new rubric version; `user=None`
    is the system (the `load_rubrics` command). A version, once stored, is never overwritten: publish
    the next version number instead."""
    if user is not None and not access.is_office(user):
        raise PermissionDenied("只有考核办可以导入考评细则。")
    exists = ValidationError({"version": [f"细则 {spec.code} 的第 {spec.version} 版已存在，请使用新的版本号。"]})
    if m.Rubric.objects.filter(code=spec.code, version=spec.version).exists():
        raise exists
    try:
        with transaction.atomic():
            rubric = rubric_create(spec=rubric_to_dict(spec))
    except IntegrityError:  # the same version imported at the same moment
        raise exists from None
    if user is not None:
        audit(actor=user, action="rubric.import", obj=rubric, after={"code": spec.code, "version": spec.version})
    return rubric



# Frozen rubric's pk → its items with their sections. A frozen rubric (a round has launched on it)
# never changes (a new version is published instead), and every score submission reads its items.
_frozen_rubric_items: dict[int, list[m.RubricItem]] = {}


def _rubric_items(rubric: m.Rubric) -> list[m.RubricItem]:
    """The rubric's items with their sections (read-only), read once per rubric instance, and once
    per process for a frozen rubric."""
    items = getattr(rubric, "_items_with_sections", None)
    if items is None:
        items = _frozen_rubric_items.get(rubric.pk) if rubric.frozen else None
        if items is None:
            items = list(rubric.items.select_related("section"))
            if rubric.frozen:
                _frozen_rubric_items[rubric.pk] = items
        rubric._items_with_sections = items
    return items




def scoring_rubric(rubric: m.Rubric) -> scoring.ScoringRubric:
    """The rubric as the scoring engine takes it (a sheet's total, the round's results)."""
    sections: dict[int, m.RubricSection] = {}
    items_of: dict[int, list[scoring.ScoringItem]] = {}
    for item in _rubric_items(rubric):
        sections[item.section_id] = item.section
        items_of.setdefault(item.section_id, []).append(
            scoring.ScoringItem(code=item.code, max=item.max_points, bonus_cap=item.bonus_cap))
    return scoring.ScoringRubric(
        sections=[
            scoring.ScoringSection(code=sections[pk].code, max=sections[pk].max_points, items=items_of[pk])
            for pk in sorted(sections, key=lambda pk: sections[pk].position)
        ],
        special_bonus_cap=Decimal(str(rubric.spec.get("special_bonus_cap") or "0")),
    )


def sheet_total(sheet: m.ScoreSheet, scores=None) -> Decimal:
    """The sheet's score by the engine (`scoring.sheet_score`): the one place for the arithmetic.
    `scores`: the sheet's item scores if the caller has them already."""
    rubric = sheet.case.round.rubric
    codes = {item.pk: item.code for item in _rubric_items(rubric)}
    marks = {codes[s.item_id]: scoring.ItemMarks((s.deduction,), (s.bonus,))
             for s in (sheet.item_scores.all() if scores is None else scores)}
    return scoring.sheet_score(scoring_rubric(rubric), scoring.Sheet(expert=str(sheet.expert_id), items=marks))



def grade_quota(percent, group_size: int) -> int:
    """Places in a band for a group: round_half_up(size × percent / 100), the rule the forced
    distribution uses for its boundaries."""
    return scoring.distribution_boundaries(group_size, [Decimal(str(percent))])[0]
