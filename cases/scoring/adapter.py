"""The database → engine adapter: a stored rubric and score sheet as :mod:`cases.scoring.engine`
takes them. Reads only; the arithmetic stays in the engine."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from decimal import Decimal

from cases import models as m
from cases.scoring import engine

# Frozen rubric's pk → its items with their sections, and the rubric as the engine takes it. A frozen
# rubric (a round has launched on it) never changes (a new version is published instead), so both may
# be kept for the life of the process; every score submission needs them. Bounded: a process sees a
# handful of live rubrics, and the oldest one kept is dropped first.
FROZEN_RUBRICS_KEPT = 16
_Read = tuple[list[m.RubricItem], engine.ScoringRubric]
_frozen_rubrics: dict[int, _Read] = {}
_frozen_lock = threading.Lock()


def _read(rubric: m.Rubric) -> _Read:
    """The rubric's items and engine rubric, worked out once per rubric instance, and once per
    process for a frozen rubric."""
    read: _Read | None = rubric.__dict__.get("_scoring_read")
    if read is None:
        read = _frozen_rubrics.get(rubric.pk) if rubric.frozen else None
        if read is None:
            items = list(rubric.items.select_related("section"))
            read = (items, _engine_rubric(rubric, items))
            if rubric.frozen:
                _keep_frozen(rubric.pk, read)
        # A memo on the instance, as cached_property would keep it: a draft rubric read again
        # (a new instance) sees its latest items.
        rubric.__dict__["_scoring_read"] = read
    return read


def _keep_frozen(pk: int, read: _Read) -> None:
    with _frozen_lock:
        while len(_frozen_rubrics) >= FROZEN_RUBRICS_KEPT:
            del _frozen_rubrics[next(iter(_frozen_rubrics))]  # dicts keep insertion order
        _frozen_rubrics[pk] = read


def rubric_items(rubric: m.Rubric) -> list[m.RubricItem]:
    """The rubric's items with their sections (read-only)."""
    return _read(rubric)[0]


def scoring_rubric(rubric: m.Rubric) -> engine.ScoringRubric:
    """The rubric as the scoring engine takes it (a sheet's total, the round's results)."""
    return _read(rubric)[1]


def _engine_rubric(rubric: m.Rubric, items: list[m.RubricItem]) -> engine.ScoringRubric:
    sections: dict[int, m.RubricSection] = {}
    items_of: dict[int, list[engine.ScoringItem]] = {}
    for item in items:
        sections[item.section_id] = item.section
        items_of.setdefault(item.section_id, []).append(
            engine.ScoringItem(code=item.code, max=item.max_points, bonus_cap=item.bonus_cap))
    return engine.ScoringRubric(
        sections=tuple(
            engine.ScoringSection(code=sections[pk].code, max=sections[pk].max_points, items=tuple(items_of[pk]))
            for pk in sorted(sections, key=lambda pk: sections[pk].position)
        ),
        special_bonus_cap=Decimal(str(rubric.spec.get("special_bonus_cap") or "0")),
    )


def sheet_total(sheet: m.ScoreSheet, scores: Iterable[m.ItemScore] | None = None) -> Decimal:
    """The sheet's score by the engine (`engine.sheet_score`): the one place for the arithmetic.
    `scores`: the sheet's item scores if the caller has them already."""
    rubric = sheet.case.round.rubric
    codes = {item.pk: item.code for item in rubric_items(rubric)}
    marks = {codes[s.item_id]: engine.ItemMarks((s.deduction,), (s.bonus,))
             for s in (sheet.item_scores.all() if scores is None else scores)}
    return engine.sheet_score(scoring_rubric(rubric), engine.Sheet(expert=str(sheet.expert_id), items=marks))


def grade_quota(percent: str | int | Decimal, group_size: int) -> int:
    """Places in a band for a group: round_half_up(size × percent / 100), the rule the forced
    distribution uses for its boundaries."""
    return engine.distribution_boundaries(group_size, [Decimal(str(percent))])[0]
