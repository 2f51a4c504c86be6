"""Exact scoring engine: panel scores, deductions, bonuses, ranks, grades, movement.

Plain Python on :class:`decimal.Decimal` (never float) with no Django import, so it can be
imported, tested and benchmarked without a configured project. The rules implemented here
are the normative ones written down in ``docs/scoring.md``; keep both in step.

Every public function is deterministic and independent of the order of its inputs: sums of
Decimals with at most two places are exact, aggregates are computed as exact ratios, and
every ordering falls back to the unit code.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any, Literal, NamedTuple, TypeVar

__all__ = [
    "AGGREGATIONS",
    "AGGREGATION_LEVELS",
    "GRADE_SCHEMES",
    "GradeScheme",
    "Incident",
    "ItemMarks",
    "ScoringConfig",
    "ScoringError",
    "ScoringItem",
    "ScoringRubric",
    "ScoringSection",
    "Sheet",
    "SheetBreakdown",
    "UnitInput",
    "UnitResult",
    "aggregate",
    "competition_ranks",
    "compute_results",
    "decimal_str",
    "distribution_boundaries",
    "grade_distribution",
    "group_means",
    "panel_score",
    "points_composite",
    "rescale",
    "result_to_json",
    "results_to_json",
    "round2",
    "sheet_breakdown",
    "sheet_score",
    "weighted_composite",
]

ZERO = Decimal(0)
HUNDRED = Decimal(100)
TWO_PLACES = Decimal("0.01")

AGGREGATIONS = ("mean", "trimmed_mean", "median")
AGGREGATION_LEVELS = ("total", "item")
GRADE_SCHEMES = ("distribution", "thresholds")

Aggregation = Literal["mean", "trimmed_mean", "median"]
AggregationLevel = Literal["total", "item"]

# Working precision for every computation. Inputs have at most 12 integer digits and 2
# decimals (enforced by the exchange validator), so sums of millions of them stay exact.
_PRECISION = 60


class ScoringError(ValueError):
    """Inputs the engine cannot score (unknown item, unit without sheets, duplicate code...)."""


# ---------------------------------------------------------------------------------------
# Rounding helpers
# ---------------------------------------------------------------------------------------


def round2(value: Decimal | int) -> Decimal:
    """Round to 2 decimals, ROUND_HALF_UP (halves away from zero), independent of context."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _nonneg_zero(Decimal(value).quantize(TWO_PLACES, rounding=ROUND_HALF_UP))


def _round_fraction(value: Fraction) -> Decimal:
    """Exactly round a rational to 2 decimals, ROUND_HALF_UP (halves away from zero)."""
    scaled = value * 100
    negative = scaled < 0
    if negative:
        scaled = -scaled
    q, r = divmod(scaled.numerator, scaled.denominator)
    if 2 * r >= scaled.denominator:
        q += 1
    return Decimal(-q if negative and q else q).scaleb(-2)


def _round_ratio(numerator: Decimal, denominator: int) -> Decimal:
    """Exactly round ``numerator / denominator`` to 2 decimals, ROUND_HALF_UP.

    No intermediate division is ever rounded, so there is no double rounding.
    """
    if denominator == 1:
        return _nonneg_zero(numerator.quantize(TWO_PLACES, rounding=ROUND_HALF_UP))
    return _round_fraction(Fraction(numerator) / denominator)


def _round_half_up_int(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _nonneg_zero(value: Decimal) -> Decimal:
    return abs(value) if value == 0 else value


def decimal_str(value: Decimal) -> str:
    """Render a Decimal with exactly two decimals ("12.30", "-3.00", "0.00")."""
    return format(round2(value), "f")


# ---------------------------------------------------------------------------------------
# Input types
# ---------------------------------------------------------------------------------------


_T = TypeVar("_T")


def _tuple(value: Iterable[_T]) -> tuple[_T, ...]:
    return value if isinstance(value, tuple) else tuple(value)


@dataclass(frozen=True)
class ScoringItem:
    """One rubric item: its maximum and the cap on the bonus it can earn (0 = no bonus)."""

    code: str
    max: Decimal
    bonus_cap: Decimal = ZERO


@dataclass(frozen=True)
class ScoringSection:
    """A rubric section; the sum of its item bases is capped at ``max``."""

    code: str
    max: Decimal
    items: tuple[ScoringItem, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", _tuple(self.items))


@dataclass(frozen=True)
class ScoringRubric:
    """The part of a rubric the arithmetic needs ("RubricSpec-lite")."""

    sections: tuple[ScoringSection, ...]
    special_bonus_cap: Decimal = ZERO

    def __post_init__(self) -> None:
        object.__setattr__(self, "sections", _tuple(self.sections))
        seen_sections: set[str] = set()
        seen_items: set[str] = set()
        for section in self.sections:
            if section.code in seen_sections:
                raise ScoringError(f"duplicate section code {section.code!r}")
            seen_sections.add(section.code)
            for item in section.items:
                if item.code in seen_items:
                    raise ScoringError(f"duplicate item code {item.code!r}")
                seen_items.add(item.code)

    @property
    def max_total(self) -> Decimal:
        return sum((s.max for s in self.sections), ZERO)


@dataclass(frozen=True)
class GradeScheme:
    """Grades by forced distribution (bands of percentages) or by fixed thresholds.

    ``bands`` is an ordered sequence of ``(name, value)``, best band first. For
    ``distribution`` the values are percentages summing to 100; for ``thresholds`` they are
    minimum totals, strictly descending.
    """

    scheme: Literal["distribution", "thresholds"]
    bands: tuple[tuple[str, Decimal], ...]

    def __post_init__(self) -> None:
        bands = tuple((str(name), Decimal(value)) for name, value in self.bands)
        object.__setattr__(self, "bands", bands)
        if self.scheme not in GRADE_SCHEMES:
            raise ScoringError(f"unknown grade scheme {self.scheme!r}")
        if not bands:
            raise ScoringError("a grade scheme needs at least one band")
        if len({name for name, _ in bands}) != len(bands):
            raise ScoringError("grade band names must be unique")
        if self.scheme == "distribution":
            if any(v < 0 for _, v in bands):
                raise ScoringError("distribution percentages must not be negative")
            if sum((v for _, v in bands), ZERO) != HUNDRED:
                raise ScoringError("distribution percentages must sum to 100")
        else:
            values = [v for _, v in bands]
            if any(a <= b for a, b in itertools.pairwise(values)):
                raise ScoringError("threshold minimums must be strictly descending")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.bands)

    @property
    def last(self) -> str:
        return self.bands[-1][0]


@dataclass(frozen=True)
class ScoringConfig:
    """How sheets are aggregated into a panel score and how grades are given."""

    aggregation: Aggregation = "mean"
    trim_min_sheets: int = 5
    grades: GradeScheme | None = None
    aggregation_level: AggregationLevel = "total"
    # Weighted composite across rounds (seed 001: 70 % this round + 30 % 平时考核; seed 000: the
    # half-year round counts 20 %): ("self", weight) plus one (name, weight) per other component, in
    # percent summing to 100. Each unit supplies the other components' scores (`UnitInput.components`)
    # and is then ranked and graded on the composite total.
    composite_weights: tuple[tuple[str, Decimal], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "composite_weights", tuple((str(k), Decimal(w)) for k, w in self.composite_weights))
        if self.composite_weights:
            names = [k for k, _ in self.composite_weights]
            if "self" not in names or len(set(names)) != len(names):
                raise ScoringError("composite weights need 'self' and unique component names")
            if sum((w for _, w in self.composite_weights), ZERO) != HUNDRED or any(
                    w < 0 for _, w in self.composite_weights):
                raise ScoringError("composite weights must be non-negative and sum to 100")
        if self.aggregation not in AGGREGATIONS:
            raise ScoringError(f"unknown aggregation {self.aggregation!r}")
        if self.aggregation_level not in AGGREGATION_LEVELS:
            raise ScoringError(f"unknown aggregation level {self.aggregation_level!r}")
        if isinstance(self.trim_min_sheets, bool) or not isinstance(self.trim_min_sheets, int):
            raise ScoringError("trim_min_sheets must be an integer")
        if self.trim_min_sheets < 3:
            raise ScoringError("trim_min_sheets must be at least 3")


class ItemMarks(NamedTuple):
    """What one expert wrote against one item: deduction amounts and bonus amounts.

    A NamedTuple rather than a frozen dataclass: a large panel has hundreds of thousands
    of these and tuple construction is several times cheaper.
    """

    deductions: tuple[Decimal, ...] = ()
    bonus: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class Sheet:
    """One expert's score sheet for one unit. Items not listed score their max, no bonus."""

    expert: str
    items: Mapping[str, ItemMarks] = field(default_factory=dict)


@dataclass(frozen=True)
class Incident:
    """A catalogue deduction applied to the unit: ``amount`` per occurrence, ``count`` times."""

    kind: str
    amount: Decimal
    count: int = 1


@dataclass(frozen=True)
class UnitInput:
    code: str
    category: str = ""
    veto: bool = False
    previous_rank: int | None = None
    sheets: tuple[Sheet, ...] = ()
    incidents: tuple[Incident, ...] = ()
    special_bonus: tuple[Decimal, ...] = ()
    # The group leader's decision, with a reason recorded elsewhere: it replaces the aggregate
    # as the panel score (the sheets still have to be there and are still reported).
    panel_override: Decimal | None = None
    # Scores of the other composite components, by name (see ScoringConfig.composite_weights).
    components: tuple[tuple[str, Decimal], ...] = ()
    # A correction of the unit's own total (signed), e.g. from an upheld objection during the
    # publication of the results (cases.objections); added after deductions and bonus.
    adjustment: Decimal = ZERO

    def __post_init__(self) -> None:
        object.__setattr__(self, "sheets", _tuple(self.sheets))
        object.__setattr__(self, "incidents", _tuple(self.incidents))
        object.__setattr__(self, "special_bonus", _tuple(self.special_bonus))


@dataclass(frozen=True)
class UnitResult:
    """The computed result of one unit. Numbers are Decimals with exactly 2 places."""

    code: str
    category: str
    panel: Decimal
    deductions: Decimal
    bonus: Decimal
    total: Decimal
    rank: int
    grade: str | None
    movement: int | None
    veto: bool
    # Extra for the product, not part of the exchange output: each sheet's exact score
    # as (expert, score) pairs sorted by expert.
    sheet_scores: tuple[tuple[str, Decimal], ...] = field(default=(), compare=False)
    # With a composite: ("self", this round's own total) and the other components' scores.
    components: tuple[tuple[str, Decimal], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class SheetBreakdown:
    """One sheet in detail, e.g. for a feedback letter: item bases/bonuses, section bases."""

    item_base: dict[str, Decimal]
    item_bonus: dict[str, Decimal]
    section_base: dict[str, Decimal]
    bonus: Decimal
    total: Decimal


# ---------------------------------------------------------------------------------------
# Sheets
# ---------------------------------------------------------------------------------------


class _RubricIndex:
    """Flattened rubric for the hot loop: item code -> (section index, max, bonus cap)."""

    __slots__ = (
        "item_codes",
        "item_max",
        "item_section",
        "items",
        "position",
        "section_item_sum",
        "section_max",
    )

    def __init__(self, rubric: ScoringRubric) -> None:
        self.items: dict[str, tuple[int, Decimal, Decimal]] = {}
        self.section_max: list[Decimal] = []
        self.section_item_sum: list[Decimal] = []
        self.item_codes: list[str] = []
        self.item_section: list[int] = []
        self.item_max: list[Decimal] = []
        self.position: dict[str, int] = {}
        for sidx, section in enumerate(rubric.sections):
            self.section_max.append(section.max)
            self.section_item_sum.append(sum((i.max for i in section.items), ZERO))
            for item in section.items:
                self.items[item.code] = (sidx, item.max, item.bonus_cap)
                self.position[item.code] = len(self.item_codes)
                self.item_codes.append(item.code)
                self.item_max.append(item.max)
                self.item_section.append(sidx)


_INDEX_CACHE: dict[int, tuple[ScoringRubric, _RubricIndex]] = {}


def _index(rubric: ScoringRubric) -> _RubricIndex:
    cached = _INDEX_CACHE.get(id(rubric))
    if cached is not None and cached[0] is rubric:
        return cached[1]
    index = _RubricIndex(rubric)
    if len(_INDEX_CACHE) > 32:
        _INDEX_CACHE.clear()
    _INDEX_CACHE[id(rubric)] = (rubric, index)
    return index


def _item_values(
    index: _RubricIndex, code: str, marks: ItemMarks, expert: str
) -> tuple[int, Decimal, Decimal, Decimal]:
    """(section index, item max, item base, item bonus) for one item of one sheet."""
    try:
        sidx, imax, cap = index.items[code]
    except KeyError:
        raise ScoringError(f"sheet of {expert!r}: unknown item {code!r}") from None
    deducted = sum(marks.deductions, ZERO)
    base = imax - deducted
    if base < 0:
        base = ZERO
    elif base > imax:
        base = imax
    bonus = sum(marks.bonus, ZERO) if marks.bonus else ZERO
    if bonus > cap:
        bonus = cap
    elif bonus < 0:
        bonus = ZERO
    return sidx, imax, base, bonus


def _sheet_total(index: _RubricIndex, sheet: Sheet) -> Decimal:
    """Sheet score = Σ section bases + Σ item bonuses (hot path: only listed items visited).

    Conditional expressions instead of min() on purpose: this loop runs once per item per
    sheet and a builtin call costs several times more than an inline comparison.
    """
    sums = list(index.section_item_sum)
    bonus = ZERO
    items = index.items
    for code, marks in sheet.items.items():
        try:
            sidx, imax, cap = items[code]
        except KeyError:
            raise ScoringError(f"sheet of {sheet.expert!r}: unknown item {code!r}") from None
        ded = marks.deductions
        if ded:
            d = sum(ded, ZERO)
            if d > 0:
                sums[sidx] -= d if d < imax else imax
        bon = marks.bonus
        if bon and cap:
            b = sum(bon, ZERO)
            if b > 0:
                bonus += b if b < cap else cap
    total = bonus
    for s, smax in zip(sums, index.section_max):
        total += s if s < smax else smax
    return total


def sheet_score(rubric: ScoringRubric, sheet: Sheet) -> Decimal:
    """The exact (unrounded, at most 2-place) score of one sheet."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _sheet_total(_index(rubric), sheet)


def sheet_breakdown(rubric: ScoringRubric, sheet: Sheet) -> SheetBreakdown:
    """Every item base and bonus, every section base and the sheet total of one sheet."""
    index = _index(rubric)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        item_base: dict[str, Decimal] = {}
        item_bonus: dict[str, Decimal] = {}
        for section in rubric.sections:
            for item in section.items:
                item_base[item.code] = item.max
                item_bonus[item.code] = ZERO
        for code in sorted(sheet.items):
            _, _, base, bonus = _item_values(index, code, sheet.items[code], sheet.expert)
            item_base[code] = base
            item_bonus[code] = bonus
        section_base = {s.code: min(sum((item_base[i.code] for i in s.items), ZERO), s.max) for s in rubric.sections}
        bonus_total = sum(item_bonus.values(), ZERO)
        total = sum(section_base.values(), ZERO) + bonus_total
    return SheetBreakdown(item_base, item_bonus, section_base, bonus_total, total)


# ---------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------


def _aggregate_ratio(values: Sequence[Decimal], method: str, trim_min_sheets: int) -> tuple[Decimal, int]:
    """Aggregate as an exact ratio ``(numerator, denominator)``.

    The denominator depends only on the method and ``len(values)``, which lets the
    item-level mode add per-item aggregates without any intermediate rounding.
    """
    n = len(values)
    if n == 0:
        raise ScoringError("cannot aggregate zero sheets")
    if method == "mean":
        return sum(values, ZERO), n
    if method == "trimmed_mean":
        if n >= trim_min_sheets and n >= 3:
            return sum(values, ZERO) - max(values) - min(values), n - 2
        return sum(values, ZERO), n
    if method == "median":
        ordered = sorted(values)
        mid = n // 2
        if n % 2:
            return ordered[mid], 1
        return ordered[mid - 1] + ordered[mid], 2
    raise ScoringError(f"unknown aggregation {method!r}")


def aggregate(values: Sequence[Decimal], method: str = "mean", trim_min_sheets: int = 5) -> Decimal:
    """Aggregate sheet scores (mean / trimmed_mean / median), rounded once to 2 places."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        num, den = _aggregate_ratio(list(values), method, trim_min_sheets)
        return _round_ratio(num, den)


def _panel_total_level(
    index: _RubricIndex, config: ScoringConfig, sheets: Sequence[Sheet]
) -> tuple[Decimal, list[Decimal]]:
    scores = [_sheet_total(index, sheet) for sheet in sheets]
    num, den = _aggregate_ratio(scores, config.aggregation, config.trim_min_sheets)
    return _round_ratio(num, den), scores


def _panel_item_level(
    index: _RubricIndex, config: ScoringConfig, sheets: Sequence[Sheet]
) -> tuple[Decimal, list[Decimal]]:
    """Aggregate every item's base and bonus across sheets, then apply the section caps.

    All per-item aggregates share one denominator (it depends only on the sheet count), so
    section caps are applied to the numerators against ``max × denominator``: exact.
    """
    if not sheets:
        raise ScoringError("cannot aggregate zero sheets")
    n_items = len(index.item_codes)
    item_max = index.item_max
    position = index.position
    item_section = index.item_section
    base_rows: list[list[Decimal]] = []
    bonus_rows: list[list[Decimal]] = []
    scores: list[Decimal] = []
    for sheet in sheets:
        bases = list(item_max)
        bonuses = [ZERO] * n_items
        for code, marks in sheet.items.items():
            pos = position.get(code)
            if pos is None:
                raise ScoringError(f"sheet of {sheet.expert!r}: unknown item {code!r}")
            _, _, bases[pos], bonuses[pos] = _item_values(index, code, marks, sheet.expert)
        sums = [ZERO] * len(index.section_max)
        for pos in range(n_items):
            sums[item_section[pos]] += bases[pos]
        scores.append(sum(bonuses, ZERO) + sum((min(s, m) for s, m in zip(sums, index.section_max)), ZERO))
        base_rows.append(bases)
        bonus_rows.append(bonuses)
    method, trim = config.aggregation, config.trim_min_sheets
    section_num = [ZERO] * len(index.section_max)
    bonus_num = ZERO
    den = 1
    for pos, (base_col, bonus_col) in enumerate(zip(zip(*base_rows), zip(*bonus_rows))):
        num, den = _aggregate_ratio(base_col, method, trim)
        section_num[item_section[pos]] += num
        bonus_num += _aggregate_ratio(bonus_col, method, trim)[0]
    total_num = bonus_num
    for snum, smax in zip(section_num, index.section_max):
        total_num += min(smax * den, snum)
    return _round_ratio(total_num, den), scores


def panel_score(rubric: ScoringRubric, config: ScoringConfig, sheets: Sequence[Sheet]) -> Decimal:
    """The panel score of one unit's sheets, rounded once to 2 places."""
    if not sheets:
        raise ScoringError("a panel needs at least one sheet")
    index = _index(rubric)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if config.aggregation_level == "item":
            return _panel_item_level(index, config, sheets)[0]
        return _panel_total_level(index, config, sheets)[0]


# ---------------------------------------------------------------------------------------
# Ranking and grades
# ---------------------------------------------------------------------------------------


def competition_ranks(totals: Mapping[str, Decimal]) -> dict[str, int]:
    """Standard competition ranks (1, 2, 2, 4) by total descending; ties ordered by code."""
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    ranks: dict[str, int] = {}
    prev_total = None
    prev_rank = 0
    for position, (code, total) in enumerate(ordered, start=1):
        if total != prev_total:
            prev_rank, prev_total = position, total
        ranks[code] = prev_rank
    return ranks


def distribution_boundaries(m: int, percents: Sequence[Decimal]) -> list[int]:
    """Cumulative boundaries C_i = round_half_up(m × (p_1 + … + p_i) / 100)."""
    out = []
    cumulative = ZERO
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        for p in percents:
            cumulative += p
            out.append(_round_half_up_int(m * cumulative / HUNDRED))
    return out


def _distribution_grades(totals_in_rank_order: Sequence[Decimal], scheme: GradeScheme) -> list[str]:
    names = scheme.names
    bounds = distribution_boundaries(len(totals_in_rank_order), [v for _, v in scheme.bands])
    grades: list[str] = []
    band = 0
    group_grade = ""  # set at the first position: a first total always starts a tie group
    prev_total: Decimal | None = None
    for position, total in enumerate(totals_in_rank_order, start=1):
        while band < len(bounds) - 1 and position > bounds[band]:
            band += 1
        if total != prev_total:
            # A new tie group takes the band of its first (best) position; the whole group
            # keeps it, so ties are never split across bands.
            group_grade = names[band]
            prev_total = total
        grades.append(group_grade)
    return grades


def _threshold_grade(total: Decimal, scheme: GradeScheme) -> str:
    for name, minimum in scheme.bands:
        if minimum <= total:
            return name
    return scheme.last


# ---------------------------------------------------------------------------------------
# The whole computation
# ---------------------------------------------------------------------------------------


class _Scored(NamedTuple):
    """One unit scored, before ranking: its panel, deductions, bonus and total."""

    unit: UnitInput
    panel: Decimal
    deductions: Decimal
    bonus: Decimal
    total: Decimal
    sheet_scores: tuple[tuple[str, Decimal], ...]
    components: tuple[tuple[str, Decimal], ...]


_PanelOf = Callable[[_RubricIndex, ScoringConfig, Sequence[Sheet]], tuple[Decimal, list[Decimal]]]


def compute_results(rubric: ScoringRubric, config: ScoringConfig, units: Sequence[UnitInput]) -> list[UnitResult]:
    """Score, rank and grade every unit; see ``docs/scoring.md`` for the exact rules.

    Returns results ordered by category, then rank order (non-veto units first, ties by
    code). Raises :class:`ScoringError` for duplicate unit codes, a unit without sheets,
    unknown item codes, or duplicate experts in one unit.
    """
    index = _index(rubric)
    seen_codes: set[str] = set()
    for unit in units:
        if unit.code in seen_codes:
            raise ScoringError(f"duplicate unit code {unit.code!r}")
        seen_codes.add(unit.code)

    panel_of = _panel_item_level if config.aggregation_level == "item" else _panel_total_level

    with localcontext() as ctx:
        ctx.prec = _PRECISION
        by_category: dict[str, list[_Scored]] = {}
        for unit in units:
            scored = _score_unit(unit, index, config, panel_of, rubric.special_bonus_cap)
            by_category.setdefault(unit.category, []).append(scored)
        results: list[UnitResult] = []
        for category in sorted(by_category):
            results.extend(_rank_category(category, by_category[category], config.grades))
    return results


def _score_unit(
    unit: UnitInput, index: _RubricIndex, config: ScoringConfig, panel_of: _PanelOf, special_cap: Decimal
) -> _Scored:
    """Panel (or the leader's override) − catalogue deductions + capped special bonus; with a
    composite, the weighted total of this round's and the other components' scores."""
    if not unit.sheets:
        raise ScoringError(f"unit {unit.code!r}: at least one sheet is required")
    experts = [s.expert for s in unit.sheets]
    if len(set(experts)) != len(experts):
        raise ScoringError(f"unit {unit.code!r}: duplicate expert")
    try:
        panel, scores = panel_of(index, config, unit.sheets)
    except ScoringError as exc:
        raise ScoringError(f"unit {unit.code!r}: {exc}") from None
    if unit.panel_override is not None:
        panel = round2(unit.panel_override)
    deductions = round2(sum((i.amount * i.count for i in unit.incidents), ZERO))
    bonus_sum = sum(unit.special_bonus, ZERO)
    bonus = round2(min(special_cap, bonus_sum))
    total = panel - deductions + bonus + round2(unit.adjustment)
    sheet_scores = tuple(sorted(zip(experts, scores)))
    components: tuple[tuple[str, Decimal], ...] = ()
    if config.composite_weights:
        parts = {"self": total, **dict(unit.components)}
        weights = dict(config.composite_weights)
        if set(parts) != set(weights):
            raise ScoringError(f"unit {unit.code!r}: composite components {sorted(parts)} "
                               f"do not match the weights {sorted(weights)}")
        components = tuple((k, round2(v)) for k, v in sorted(parts.items()))
        total = weighted_composite(parts, weights)
    return _Scored(unit, panel, deductions, bonus, total, sheet_scores, components)


def _rank_category(category: str, rows: list[_Scored], scheme: GradeScheme | None) -> list[UnitResult]:
    """Rank and grade one category: non-veto units first (ties share a rank), then vetoed units
    after them with the last grade."""
    normal = sorted((r for r in rows if not r.unit.veto), key=lambda r: (-r.total, r.unit.code))
    vetoed = sorted((r for r in rows if r.unit.veto), key=lambda r: (-r.total, r.unit.code))
    grades_normal: list[str | None] = [None] * len(normal)
    if scheme is not None:
        if scheme.scheme == "distribution":
            grades_normal = list(_distribution_grades([r.total for r in normal], scheme))
        else:
            grades_normal = [_threshold_grade(r.total, scheme) for r in normal]
    veto_grade = scheme.last if scheme is not None else None
    results: list[UnitResult] = []
    for group, offset, grades in (
        (normal, 0, grades_normal),
        (vetoed, len(normal), [veto_grade] * len(vetoed)),
    ):
        prev_total = None
        rank = 0
        for position, (row, grade) in enumerate(zip(group, grades), start=1):
            unit = row.unit
            if row.total != prev_total:
                rank, prev_total = offset + position, row.total
            movement = None if unit.previous_rank is None else unit.previous_rank - rank
            results.append(
                UnitResult(
                    code=unit.code,
                    category=category,
                    panel=row.panel,
                    deductions=row.deductions,
                    bonus=row.bonus,
                    total=_nonneg_zero(row.total),
                    rank=rank,
                    grade=grade,
                    movement=movement,
                    veto=unit.veto,
                    sheet_scores=row.sheet_scores,
                    components=row.components,
                )
            )
    return results


def result_to_json(result: UnitResult) -> dict[str, Any]:
    """One result as the exchange format's JSON object (numbers as 2-decimal strings)."""
    return {
        "code": result.code,
        "category": result.category,
        "panel": decimal_str(result.panel),
        "deductions": decimal_str(result.deductions),
        "bonus": decimal_str(result.bonus),
        "total": decimal_str(result.total),
        "rank": result.rank,
        "grade": result.grade,
        "movement": result.movement,
        "veto": result.veto,
    }


def results_to_json(results: Iterable[UnitResult]) -> dict[str, Any]:
    return {"units": [result_to_json(r) for r in results]}


# ---------------------------------------------------------------------------------------
# Helpers for the product: composites, group means, grade counts
# ---------------------------------------------------------------------------------------


def _check_same_keys(a: Mapping[str, object], b: Mapping[str, object], what: str) -> None:
    if set(a) != set(b):
        missing = sorted(set(b) - set(a))
        extra = sorted(set(a) - set(b))
        raise ScoringError(f"{what}: missing {missing}, unexpected {extra}")


def weighted_composite(scores: Mapping[str, Decimal], weights: Mapping[str, Decimal]) -> Decimal:
    """Σ score_c × weight_c / 100 with percentage weights summing to 100, rounded once.

    Seed 001: ``{"年终集中考核": 70, "平时考核": 30}``; seed 000: the half-year result counts
    20 % of the annual score, i.e. ``{"年终": 80, "半年": 20}``.
    """
    _check_same_keys(scores, weights, "weighted_composite")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if sum((Decimal(w) for w in weights.values()), ZERO) != HUNDRED:
            raise ScoringError("weighted_composite: weights must sum to 100")
        if any(Decimal(w) < 0 for w in weights.values()):
            raise ScoringError("weighted_composite: weights must not be negative")
        total = sum((Decimal(scores[k]) * Decimal(weights[k]) for k in sorted(scores)), ZERO)
        return _round_ratio(total, 100)


def points_composite(scores: Mapping[str, Decimal], maxima: Mapping[str, Decimal] | None = None) -> Decimal:
    """Σ component scores, each on its own points scale (seed 002: 90 + 5 + 5).

    With ``maxima``, every component must be present and lie in ``[0, max]``.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if maxima is not None:
            _check_same_keys(scores, maxima, "points_composite")
            for key in sorted(scores):
                if not ZERO <= Decimal(scores[key]) <= Decimal(maxima[key]):
                    raise ScoringError(f"points_composite: {key} is outside [0, {maxima[key]}]")
        return round2(sum((Decimal(v) for v in scores.values()), ZERO))


def rescale(score: Decimal, from_max: Decimal, to_max: Decimal) -> Decimal:
    """Convert a score to another full mark (e.g. 1000-point to 100-point), rounded once."""
    if Decimal(from_max) <= 0:
        raise ScoringError("rescale: from_max must be positive")
    return _round_fraction(Fraction(Decimal(score)) * Fraction(Decimal(to_max)) / Fraction(Decimal(from_max)))


def group_means(
    results: Iterable[UnitResult],
    groups: Mapping[str, str],
    *,
    field_name: str = "total",
) -> dict[str, Decimal]:
    """Mean of ``field_name`` (default total) per group, rounded once; groups in sorted order.

    ``groups`` maps unit code → group key; units without a group are ignored. Used to spot
    a group that scores far more leniently than the others.
    """
    sums: dict[str, Decimal] = {}
    counts: Counter[str] = Counter()
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        for r in results:
            group = groups.get(r.code)
            if group is None:
                continue
            sums[group] = sums.get(group, ZERO) + getattr(r, field_name)
            counts[group] += 1
        return {g: _round_ratio(sums[g], counts[g]) for g in sorted(sums)}


def grade_distribution(results: Iterable[UnitResult], scheme: GradeScheme | None = None) -> dict[str | None, int]:
    """Number of units per grade. With ``scheme`` every band appears (0 if unused), in
    band order; otherwise grades appear in sorted order (``None`` last)."""
    counts = Counter(r.grade for r in results)
    if scheme is not None:
        out: dict[str | None, int] = {name: counts.pop(name, 0) for name in scheme.names}
        for name in sorted(counts, key=lambda g: (g is None, g or "")):
            out[name] = counts[name]
        return out
    return {g: counts[g] for g in sorted(counts, key=lambda g: (g is None, g or ""))}
