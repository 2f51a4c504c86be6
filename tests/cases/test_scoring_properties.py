"""Property tests for cases.scoring (hypothesis): caps, floors, order independence,
grade boundaries, tie handling, the exchange roundtrip and competition ranks. Pure: no database."""

import math
import random
from decimal import Decimal
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cases.scoring.engine import (
    GradeScheme,
    Incident,
    ItemMarks,
    ScoringConfig,
    ScoringItem,
    ScoringRubric,
    ScoringSection,
    Sheet,
    UnitInput,
    compute_results,
    distribution_boundaries,
    results_to_json,
    sheet_breakdown,
    sheet_score,
)
from cases.scoring.exchange import ExchangeInput, compute_exchange, exchange_to_dict

D = Decimal
PROFILE = settings(max_examples=100, deadline=None)

amounts = st.integers(min_value=0, max_value=2000).map(lambda n: D(n).scaleb(-2))
small_amounts = st.integers(min_value=0, max_value=800).map(lambda n: D(n).scaleb(-2))


@st.composite
def rubrics(draw):
    sections = []
    n = 0
    for si in range(draw(st.integers(1, 4))):
        items = []
        for _ in range(draw(st.integers(1, 3))):
            n += 1
            items.append(
                ScoringItem(
                    f"I{n}",
                    draw(st.integers(0, 2000).map(lambda v: D(v).scaleb(-2))),
                    draw(st.sampled_from([D(0), D(0), D(1), D("2.5"), D(5)])),
                )
            )
        total = sum((i.max for i in items), D(0))
        # section max below, at or above the sum of its items (never below an item max,
        # which the exchange format rejects)
        below = max(max(i.max for i in items), (total / 2).quantize(D("0.01")))
        smax = draw(st.sampled_from([total, below, total + 3]))
        sections.append(ScoringSection(f"S{si}", smax, items))
    return ScoringRubric(sections, draw(st.sampled_from([D(0), D(3), D(5)])))


@st.composite
def sheets_for(draw, rubric, expert):
    codes = [i.code for s in rubric.sections for i in s.items]
    chosen = draw(st.lists(st.sampled_from(codes), unique=True))
    items = {
        code: ItemMarks(
            tuple(draw(st.lists(small_amounts, max_size=3))),
            tuple(draw(st.lists(small_amounts, max_size=2))),
        )
        for code in chosen
    }
    return Sheet(expert, items)


@st.composite
def scenarios(draw, max_units=8):
    rubric = draw(rubrics())
    n_units = draw(st.integers(1, max_units))
    units = []
    for u in range(n_units):
        n_sheets = draw(st.integers(1, 5))
        sheets = [draw(sheets_for(rubric, f"E{e}")) for e in range(n_sheets)]
        units.append(
            UnitInput(
                code=f"U{u:02d}",
                category=draw(st.sampled_from(["", "", "甲", "乙"])),
                veto=draw(st.integers(0, 9)) == 0,
                previous_rank=draw(st.none() | st.integers(1, 20)),
                sheets=tuple(sheets),
                incidents=tuple(
                    Incident("k", a, c)
                    for a, c in draw(st.lists(st.tuples(small_amounts, st.integers(0, 3)), max_size=2))
                ),
                special_bonus=tuple(draw(st.lists(small_amounts, max_size=3))),
            )
        )
    config = ScoringConfig(
        aggregation=draw(st.sampled_from(["mean", "trimmed_mean", "median"])),
        trim_min_sheets=draw(st.integers(3, 6)),
        grades=draw(
            st.sampled_from(
                [
                    None,
                    GradeScheme(
                        "distribution",
                        [
                            ("优秀", D(25)),
                            ("良好", D(35)),
                            ("达标", D(34)),
                            ("不达标", D(6)),
                        ],
                    ),
                    GradeScheme("distribution", [("A", D("33.33")), ("B", D("66.67"))]),
                    GradeScheme("thresholds", [("A", D(30)), ("B", D(10)), ("C", D(0))]),
                ]
            )
        ),
        aggregation_level=draw(st.sampled_from(["total", "item"])),
    )
    return rubric, config, units


def shuffled(units, seed):
    """The same inputs in another order: units, sheets, item dicts, incidents, bonuses."""
    rnd = random.Random(seed)
    out = []
    for u in units:
        sheets = []
        for s in u.sheets:
            keys = list(s.items)
            rnd.shuffle(keys)
            marks = {
                k: ItemMarks(
                    tuple(rnd.sample(s.items[k].deductions, len(s.items[k].deductions))),
                    tuple(rnd.sample(s.items[k].bonus, len(s.items[k].bonus))),
                )
                for k in keys
            }
            sheets.append(Sheet(s.expert, marks))
        rnd.shuffle(sheets)
        out.append(
            UnitInput(
                u.code,
                u.category,
                u.veto,
                u.previous_rank,
                tuple(sheets),
                tuple(rnd.sample(u.incidents, len(u.incidents))),
                tuple(rnd.sample(u.special_bonus, len(u.special_bonus))),
            )
        )
    rnd.shuffle(out)
    return out


@PROFILE
@given(data=st.data())
def test_caps_and_floors_are_never_exceeded(data):
    rubric = data.draw(rubrics())
    s = data.draw(sheets_for(rubric, "E"))
    b = sheet_breakdown(rubric, s)
    bonus_room = D(0)
    for section in rubric.sections:
        assert D(0) <= b.section_base[section.code] <= section.max
        for item in section.items:
            assert D(0) <= b.item_base[item.code] <= item.max
            assert D(0) <= b.item_bonus[item.code] <= item.bonus_cap
            bonus_room += item.bonus_cap
    assert b.total == sheet_score(rubric, s)
    assert D(0) <= b.total <= rubric.max_total + bonus_room


@PROFILE
@given(scenario=scenarios())
def test_panel_and_totals_respect_the_caps(scenario):
    rubric, config, units = scenario
    bonus_room = sum((i.bonus_cap for s in rubric.sections for i in s.items), D(0))
    for r in compute_results(rubric, config, units):
        scores = [score for _, score in r.sheet_scores]
        assert D(0) <= r.panel <= rubric.max_total + bonus_room
        if config.aggregation_level == "total":
            # any of the three aggregates lies between the lowest and highest sheet
            assert min(scores) - D("0.005") <= r.panel <= max(scores) + D("0.005")
        assert D(0) <= r.bonus <= rubric.special_bonus_cap
        assert r.deductions >= 0
        assert r.total == r.panel - r.deductions + r.bonus
        for value in (r.panel, r.deductions, r.bonus, r.total):
            assert value == value.quantize(D("0.01"))


@PROFILE
@given(scenario=scenarios(), seed=st.integers(0, 10**6))
def test_results_do_not_depend_on_input_order(scenario, seed):
    rubric, config, units = scenario
    expected = compute_results(rubric, config, units)
    again = compute_results(rubric, config, shuffled(units, seed))
    assert again == expected
    assert [r.sheet_scores for r in again] == [r.sheet_scores for r in expected]
    assert results_to_json(again) == results_to_json(expected)


@PROFILE
@given(scenario=scenarios())
def test_the_exchange_roundtrip_gives_the_same_results(scenario):
    rubric, config, units = scenario
    doc = exchange_to_dict(ExchangeInput(rubric, config, tuple(units)))
    assert compute_exchange(doc) == results_to_json(compute_results(rubric, config, units))


@PROFILE
@given(scenario=scenarios())
def test_ranks_are_competition_ranks_within_each_category(scenario):
    rubric, config, units = scenario
    results = compute_results(rubric, config, units)
    for r in results:
        peers = [p for p in results if p.category == r.category]
        normal = [p for p in peers if not p.veto]
        if not r.veto:
            assert r.rank == 1 + sum(1 for p in normal if p.total > r.total)
        else:
            vetoed = [p for p in peers if p.veto]
            assert r.rank == len(normal) + 1 + sum(1 for p in vetoed if p.total > r.total)
        unit = next(u for u in units if u.code == r.code)
        assert r.movement == (None if unit.previous_rank is None else unit.previous_rank - r.rank)
    # output order: category, then non-veto before veto, rank, code
    keys = [(r.category, r.veto, r.rank, r.code) for r in results]
    assert keys == sorted(keys)


@PROFILE
@given(scenario=scenarios())
def test_ties_are_never_split_and_grades_are_monotonic(scenario):
    rubric, config, units = scenario
    assume(config.grades is not None)
    names = config.grades.names
    results = compute_results(rubric, config, units)
    for a in results:
        if a.veto:
            assert a.grade == config.grades.last
        for b in results:
            if a.category != b.category or a.veto or b.veto:
                continue
            if a.total == b.total:
                assert (a.grade, a.rank) == (b.grade, b.rank)
            elif a.total > b.total:
                assert names.index(a.grade) <= names.index(b.grade)


percent_bands = st.lists(st.integers(0, 100), min_size=1, max_size=5).filter(lambda xs: sum(xs) > 0)


@PROFILE
@given(weights=percent_bands, m=st.integers(1, 60))
def test_distribution_counts_follow_the_boundaries_when_there_are_no_ties(weights, m):
    # Turn arbitrary weights into percentages summing exactly to 100 (2 decimals).
    total = sum(weights)
    percents = [(D(w) * 100 / total).quantize(D("0.01")) for w in weights]
    percents[-1] += D(100) - sum(percents)
    assume(percents[-1] >= 0)
    scheme = GradeScheme("distribution", [(f"G{i}", p) for i, p in enumerate(percents)])
    rubric = ScoringRubric([ScoringSection("S", D(1000), [ScoringItem("I", D(1000))])])
    units = [
        UnitInput(f"U{k:03d}", sheets=[Sheet("E", {"I": ItemMarks((D(k),))})])
        for k in range(m)  # distinct totals 1000, 999, …
    ]
    results = compute_results(rubric, ScoringConfig(grades=scheme), units)
    # The boundaries worked out here, not by the engine's own helper: C_i = ⌊m·(p_1+…+p_i)/100 + ½⌋.
    cumulative, bounds = Fraction(0), []
    for p in percents:
        cumulative += Fraction(p)
        bounds.append(math.floor(m * cumulative / 100 + Fraction(1, 2)))
    assert bounds[-1] == m
    assert distribution_boundaries(m, percents) == bounds
    expected_counts = [b - a for a, b in zip([0, *bounds], bounds)]
    counts = [sum(1 for r in results if r.grade == name) for name in scheme.names]
    assert counts == expected_counts
