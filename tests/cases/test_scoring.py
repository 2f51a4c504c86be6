"""Worked examples for cases.scoring; every expected number is computed by hand in a comment.

Pure tests: no database, no Django.
"""

from decimal import ROUND_FLOOR, Decimal, localcontext

import pytest

from cases.scoring.engine import (
    GradeScheme,
    Incident,
    ItemMarks,
    ScoringConfig,
    ScoringError,
    ScoringItem,
    ScoringRubric,
    ScoringSection,
    Sheet,
    UnitInput,
    aggregate,
    competition_ranks,
    compute_results,
    decimal_str,
    distribution_boundaries,
    grade_distribution,
    group_means,
    panel_score,
    points_composite,
    rescale,
    result_to_json,
    results_to_json,
    round2,
    sheet_breakdown,
    sheet_score,
    weighted_composite,
)

D = Decimal

SEED_002_BANDS = GradeScheme(
    "distribution",
    [("优秀", D(25)), ("良好", D(35)), ("达标", D(34)), ("不达标", D(6))],
)
THRESHOLDS = GradeScheme("thresholds", [("优秀", D(90)), ("良好", D(80)), ("达标", D(60)), ("不达标", D(0))])

# One item worth 100 points: a sheet's score is 100 − its deduction, handy for totals.
SINGLE = ScoringRubric([ScoringSection("S", D(100), [ScoringItem("I", D(100))])], D(5))


def sheet(expert: str, score: str) -> Sheet:
    """A sheet on SINGLE scoring exactly `score`."""
    return Sheet(expert, {"I": ItemMarks((D(100) - D(score),))})


def unit(code: str, *scores: str, **kwargs) -> UnitInput:
    return UnitInput(code, sheets=[sheet(f"E{i}", s) for i, s in enumerate(scores)], **kwargs)


def by_code(results):
    return {r.code: r for r in results}


# ---------------------------------------------------------------------------------------
# Items, sections, sheets
# ---------------------------------------------------------------------------------------

CAPPED = ScoringRubric(
    [
        ScoringSection(
            "S1",
            D(8),
            [ScoringItem("A", D(5), bonus_cap=D(3)), ScoringItem("B", D(5))],
        )
    ]
)


def test_item_clamp_section_cap_and_bonus_caps():
    s = Sheet(
        "E1",
        {
            # 5 − (3 + 4) = −2 → clamped to 0; bonus 2 + 2 = 4 → capped at 3
            "A": ItemMarks((D(3), D(4)), (D(2), D(2))),
            # no deduction → 5; bonus 1 but bonus_cap defaults to 0 → 0
            "B": ItemMarks((), (D(1),)),
        },
    )
    b = sheet_breakdown(CAPPED, s)
    assert b.item_base == {"A": D(0), "B": D(5)}
    assert b.item_bonus == {"A": D(3), "B": D(0)}
    assert b.section_base == {"S1": D(5)}  # min(0 + 5, 8)
    assert b.total == D(8)  # 5 + 3
    assert sheet_score(CAPPED, s) == D(8)


def test_missing_items_score_their_max_and_section_max_caps_the_sum():
    # items 5 + 5 = 10 but the section max is 8
    assert sheet_score(CAPPED, Sheet("E1", {})) == D(8)
    b = sheet_breakdown(CAPPED, Sheet("E1", {"A": ItemMarks((D("1.5"),))}))
    assert b.item_base == {"A": D("3.5"), "B": D(5)}
    assert b.section_base == {"S1": D(8)}  # min(8.5, 8)


def test_deductions_larger_than_max_never_go_negative_and_negative_sums_never_exceed_max():
    rubric = ScoringRubric([ScoringSection("S", D(10), [ScoringItem("I", D(10))])])
    assert sheet_score(rubric, Sheet("E", {"I": ItemMarks((D(7), D(7)))})) == D(0)
    # a (validator-rejected) negative deduction cannot lift an item above its max
    assert sheet_score(rubric, Sheet("E", {"I": ItemMarks((D(-3),))})) == D(10)


def test_unknown_item_in_sheet_is_an_error():
    with pytest.raises(ScoringError, match="unknown item 'X'"):
        sheet_score(CAPPED, Sheet("E1", {"X": ItemMarks()}))


# ---------------------------------------------------------------------------------------
# Aggregation and rounding
# ---------------------------------------------------------------------------------------


def test_mean_rounds_half_up_once():
    # (80.01 + 80.00) / 2 = 80.005 → 80.01 (ROUND_HALF_UP; banker's rounding gives 80.00)
    assert aggregate([D("80.01"), D("80.00")], "mean") == D("80.01")
    # (70 + 80 + 85.01) / 3 = 78.33666… → 78.34
    assert aggregate([D(70), D(80), D("85.01")], "mean") == D("78.34")


def test_trimmed_mean_with_five_sheets_drops_one_highest_and_one_lowest():
    scores = [D(80), D(85), D(90), D(70), D("99.5")]
    # drop 99.5 and 70: (80 + 85 + 90) / 3 = 85
    assert aggregate(scores, "trimmed_mean", 5) == D("85.00")
    # the same through the unit computation
    config = ScoringConfig("trimmed_mean")
    [r] = compute_results(SINGLE, config, [unit("U", "80", "85", "90", "70", "99.5")])
    assert r.panel == D("85.00")


def test_trimmed_mean_below_threshold_is_the_plain_mean():
    # 4 sheets < trim_min_sheets 5: (80 + 85 + 90 + 70) / 4 = 81.25
    assert aggregate([D(80), D(85), D(90), D(70)], "trimmed_mean", 5) == D("81.25")
    # with trim_min_sheets = 4 the same sheets are trimmed: (80 + 85) / 2 = 82.5
    assert aggregate([D(80), D(85), D(90), D(70)], "trimmed_mean", 4) == D("82.50")


def test_trimmed_mean_drops_only_one_of_equal_extremes():
    # 90, 90, 80, 70, 70 → drop one 90 and one 70: (90 + 80 + 70) / 3 = 80
    assert aggregate([D(90), D(90), D(80), D(70), D(70)], "trimmed_mean") == D("80.00")


def test_median_odd_and_even():
    assert aggregate([D(90), D(70), D(85)], "median") == D("85.00")
    # sorted 70, 80, 85, 90 → (80 + 85) / 2 = 82.5
    assert aggregate([D(80), D(85), D(90), D(70)], "median") == D("82.50")
    # (80.01 + 80.02) / 2 = 80.015 → 80.02
    assert aggregate([D("80.02"), D("80.01")], "median") == D("80.02")


def test_unknown_aggregation_and_empty_panel_are_errors():
    with pytest.raises(ScoringError):
        aggregate([D(1)], "mode")
    with pytest.raises(ScoringError):
        aggregate([], "mean")
    with pytest.raises(ScoringError):
        ScoringConfig("mode")
    with pytest.raises(ScoringError):
        ScoringConfig("trimmed_mean", trim_min_sheets=2)


def test_item_level_aggregation_applies_section_caps_after_averaging():
    sheets = [
        Sheet("E1", {}),  # 5 + 5 = 10 → capped 8
        Sheet("E2", {"A": ItemMarks((D(4),))}),  # 1 + 5 = 6
    ]
    # per total: (8 + 6) / 2 = 7
    assert panel_score(CAPPED, ScoringConfig("mean"), sheets) == D("7.00")
    # per item: A (5 + 1) / 2 = 3, B 5 → min(8, 8) = 8
    item_level = ScoringConfig("mean", aggregation_level="item")
    assert panel_score(CAPPED, item_level, sheets) == D("8.00")


def test_item_level_median_aggregates_each_item_separately():
    rubric = ScoringRubric([ScoringSection("S", D(20), [ScoringItem("A", D(10)), ScoringItem("B", D(10))])])
    sheets = [
        Sheet("E1", {"A": ItemMarks((D(4),))}),  # A 6, B 10 → 16
        Sheet("E2", {"B": ItemMarks((D(4),))}),  # A 10, B 6 → 16
        Sheet("E3", {"A": ItemMarks((D(1),)), "B": ItemMarks((D(1),))}),  # 9 + 9 = 18
    ]
    # total level: median(16, 16, 18) = 16
    assert panel_score(rubric, ScoringConfig("median"), sheets) == D("16.00")
    # item level: median A (6, 10, 9) = 9, median B (10, 6, 9) = 9 → 18
    config = ScoringConfig("median", aggregation_level="item")
    assert panel_score(rubric, config, sheets) == D("18.00")


def test_item_level_mean_equals_total_level_mean_when_no_cap_binds():
    rubric = ScoringRubric([ScoringSection("S", D(20), [ScoringItem("A", D(10)), ScoringItem("B", D(10))])])
    sheets = [
        Sheet("E1", {"A": ItemMarks((D("0.01"),))}),
        Sheet("E2", {"B": ItemMarks((D(3),))}),
        Sheet("E3", {}),
    ]
    # (19.99 + 17 + 20) / 3 = 18.99666… → 19.00 both ways
    for level in ("total", "item"):
        config = ScoringConfig("mean", aggregation_level=level)
        assert panel_score(rubric, config, sheets) == D("19.00")


def test_round2_and_decimal_str():
    assert round2(D("2.675")) == D("2.68")
    assert round2(D("-2.675")) == D("-2.68")  # half away from zero
    assert decimal_str(D(3)) == "3.00"
    assert decimal_str(D("-3.5")) == "-3.50"
    assert decimal_str(D("-0.001")) == "0.00"


def test_results_do_not_depend_on_the_ambient_decimal_context():
    units = [unit("U1", "80.01", "80.00"), unit("U2", "70", "80", "85.01")]
    expected = compute_results(SINGLE, ScoringConfig(), units)
    with localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = ROUND_FLOOR
        assert compute_results(SINGLE, ScoringConfig(), units) == expected
    assert [r.panel for r in expected] == [D("80.01"), D("78.34")]


# ---------------------------------------------------------------------------------------
# Deductions, special bonus, total
# ---------------------------------------------------------------------------------------


def test_total_is_panel_minus_incidents_plus_capped_special_bonus():
    u = unit(
        "U",
        "88",
        incidents=[
            Incident("活动缺勤", D("0.5"), 3),  # 1.5
            Incident("违法违纪", D(6), 1),  # 6
            Incident("察访核验发现问题", D(1), 0),  # 0
        ],
        special_bonus=[D(3), D(2), D(1)],  # 6 → capped at 5
    )
    [r] = compute_results(SINGLE, ScoringConfig(), [u])
    assert (r.panel, r.deductions, r.bonus) == (D("88.00"), D("7.50"), D("5.00"))
    assert r.total == D("85.50")  # 88 − 7.5 + 5


def test_special_bonus_cap_defaults_to_zero():
    rubric = ScoringRubric([ScoringSection("S", D(10), [ScoringItem("I", D(10))])])
    [r] = compute_results(
        rubric,
        ScoringConfig(),
        [UnitInput("U", sheets=[Sheet("E", {})], special_bonus=[D(2)])],
    )
    assert r.bonus == D("0.00")
    assert r.total == D("10.00")


def test_total_has_no_floor():
    u = unit("U", "2", incidents=[Incident("群体性事件", D(10), 1)])
    [r] = compute_results(SINGLE, ScoringConfig(), [u])
    assert r.total == D("-8.00")
    assert result_to_json(r)["total"] == "-8.00"


# ---------------------------------------------------------------------------------------
# Ranking
# ---------------------------------------------------------------------------------------


def test_competition_ranks():
    assert competition_ranks({"a": D(90), "b": D(85), "c": D(85), "d": D(80)}) == {
        "a": 1,
        "b": 2,
        "c": 2,
        "d": 4,
    }


def test_equal_totals_share_a_rank_and_are_ordered_by_code():
    units = [unit("U3", "85"), unit("U1", "90"), unit("U2", "85"), unit("U4", "80")]
    results = compute_results(SINGLE, ScoringConfig(), units)
    assert [(r.code, r.rank) for r in results] == [
        ("U1", 1),
        ("U2", 2),
        ("U3", 2),
        ("U4", 4),
    ]


def test_veto_units_rank_after_all_others():
    units = [
        unit("A", "90"),
        unit("B", "95", veto=True),
        unit("C", "80"),
        unit("D", "70"),
        unit("E", "60", veto=True),
        unit("F", "95", veto=True),
    ]
    results = compute_results(SINGLE, ScoringConfig(grades=THRESHOLDS), units)
    # non-veto: A 1, C 2, D 3; veto: B and F tie at 95 → rank 4, E → 6
    assert [(r.code, r.rank, r.grade, r.veto) for r in results] == [
        ("A", 1, "优秀", False),
        ("C", 2, "良好", False),
        ("D", 3, "达标", False),
        ("B", 4, "不达标", True),
        ("F", 4, "不达标", True),
        ("E", 6, "不达标", True),
    ]


def test_movement_is_previous_rank_minus_rank():
    units = [
        unit("A", "90", previous_rank=4),  # 4 − 1 = +3 (up)
        unit("B", "80", previous_rank=1),  # 1 − 3 = −2 (down)
        unit("C", "85"),  # new: None
        unit("D", "79", previous_rank=4),  # 4 − 4 = 0
    ]
    results = by_code(compute_results(SINGLE, ScoringConfig(), units))
    assert {c: (r.rank, r.movement) for c, r in results.items()} == {
        "A": (1, 3),
        "B": (3, -2),
        "C": (2, None),
        "D": (4, 0),
    }


def test_categories_are_ranked_and_graded_separately():
    units = [
        unit("P1", "70", category="政府工作部门"),
        unit("P2", "90", category="政府工作部门"),
        unit("Q1", "60", category="党委工作部门"),
        unit("Q2", "95", category="党委工作部门"),
        unit("R1", "50"),
    ]
    grades = GradeScheme("distribution", [("前", D(50)), ("后", D(50))])
    results = compute_results(SINGLE, ScoringConfig(grades=grades), units)
    # ordered by category ("" < "党委工作部门" < "政府工作部门" by code point), then rank
    assert [(r.category, r.code, r.rank, r.grade) for r in results] == [
        ("", "R1", 1, "前"),  # M = 1: C_1 = round_half_up(0.5) = 1 → 前
        ("党委工作部门", "Q2", 1, "前"),  # M = 2: C = [1, 2]
        ("党委工作部门", "Q1", 2, "后"),
        ("政府工作部门", "P2", 1, "前"),
        ("政府工作部门", "P1", 2, "后"),
    ]


# ---------------------------------------------------------------------------------------
# Grades
# ---------------------------------------------------------------------------------------


def test_seed_002_boundaries_for_20_units():
    # C1 = 20 × 25 / 100 = 5; C2 = 20 × 60 / 100 = 12; C3 = 20 × 94 / 100 = 18.8 → 19; C4 = 20
    assert distribution_boundaries(20, [D(25), D(35), D(34), D(6)]) == [5, 12, 19, 20]
    # 10 units: 2.5 → 3, 6, 9.4 → 9, 10
    assert distribution_boundaries(10, [D(25), D(35), D(34), D(6)]) == [3, 6, 9, 10]


def test_seed_002_forced_distribution_over_20_units():
    units = [unit(f"U{i:02d}", str(100 - i)) for i in range(20)]  # 100, 99, … 81
    results = compute_results(SINGLE, ScoringConfig(grades=SEED_002_BANDS), units)
    grades = [r.grade for r in results]
    assert grades == ["优秀"] * 5 + ["良好"] * 7 + ["达标"] * 7 + ["不达标"]
    assert grade_distribution(results, SEED_002_BANDS) == {
        "优秀": 5,
        "良好": 7,
        "达标": 7,
        "不达标": 1,
    }


def test_tie_across_a_boundary_takes_the_better_band():
    scores = [str(100 - i) for i in range(20)]
    scores[5] = scores[4]  # positions 5 and 6 tie at 96
    scores[12] = scores[11]  # positions 12 and 13 tie at 89
    units = [unit(f"U{i:02d}", s) for i, s in enumerate(scores)]
    results = compute_results(SINGLE, ScoringConfig(grades=SEED_002_BANDS), units)
    got = {r.code: (r.rank, r.grade) for r in results}
    assert got["U04"] == got["U05"] == (5, "优秀")
    assert got["U11"] == got["U12"] == (12, "良好")
    assert got["U13"] == (14, "达标")
    assert grade_distribution(results, SEED_002_BANDS) == {
        "优秀": 6,  # positions 1–6
        "良好": 7,  # positions 7–13
        "达标": 6,  # positions 14–19
        "不达标": 1,
    }


def test_everyone_tied_gets_the_best_band():
    units = [unit(f"U{i}", "88") for i in range(7)]
    results = compute_results(SINGLE, ScoringConfig(grades=SEED_002_BANDS), units)
    assert {(r.rank, r.grade) for r in results} == {(1, "优秀")}


def test_a_single_unit_under_25_35_34_6():
    # M = 1: C = [round(0.25) = 0, round(0.6) = 1, …] → position 1 falls in 良好
    [r] = compute_results(SINGLE, ScoringConfig(grades=SEED_002_BANDS), [unit("U", "99")])
    assert r.grade == "良好"


def test_veto_units_do_not_count_in_the_distribution_and_get_the_last_band():
    units = [unit(f"U{i}", str(90 - i)) for i in range(4)] + [unit("V", "99", veto=True)]
    grades = GradeScheme("distribution", [("A", D(50)), ("B", D(50))])
    results = compute_results(SINGLE, ScoringConfig(grades=grades), units)
    # M = 4 non-veto: C = [2, 4]
    assert [(r.code, r.rank, r.grade) for r in results] == [
        ("U0", 1, "A"),
        ("U1", 2, "A"),
        ("U2", 3, "B"),
        ("U3", 4, "B"),
        ("V", 5, "B"),
    ]


def test_threshold_grades():
    units = [
        unit("a", "95"),
        unit("b", "90"),
        unit("c", "89.99"),
        unit("d", "60"),
        unit("e", "59.99"),
        unit("f", "1", incidents=[Incident("x", D(5), 1)]),  # −4: below every band
    ]
    results = by_code(compute_results(SINGLE, ScoringConfig(grades=THRESHOLDS), units))
    assert {c: r.grade for c, r in results.items()} == {
        "a": "优秀",
        "b": "优秀",
        "c": "良好",
        "d": "达标",
        "e": "不达标",
        "f": "不达标",
    }


def test_no_grade_scheme_gives_no_grades():
    [r] = compute_results(SINGLE, ScoringConfig(), [unit("U", "80")])
    assert r.grade is None


@pytest.mark.parametrize(
    "scheme, bands",
    [
        ("distribution", [("A", D(50)), ("B", D(49))]),
        ("distribution", [("A", D(110)), ("B", D(-10))]),
        ("thresholds", [("A", D(80)), ("B", D(80))]),
        ("thresholds", [("A", D(60)), ("B", D(80))]),
        ("thresholds", []),
        ("thresholds", [("A", D(60)), ("A", D(50))]),
        ("ranking", [("A", D(100))]),
    ],
)
def test_invalid_grade_schemes(scheme, bands):
    with pytest.raises(ScoringError):
        GradeScheme(scheme, bands)


# ---------------------------------------------------------------------------------------
# Errors, output
# ---------------------------------------------------------------------------------------


def test_engine_errors():
    with pytest.raises(ScoringError, match="at least one sheet"):
        compute_results(SINGLE, ScoringConfig(), [UnitInput("U")])
    with pytest.raises(ScoringError, match="duplicate unit code"):
        compute_results(SINGLE, ScoringConfig(), [unit("U", "1"), unit("U", "2")])
    with pytest.raises(ScoringError, match="duplicate expert"):
        compute_results(
            SINGLE,
            ScoringConfig(),
            [UnitInput("U", sheets=[sheet("E", "1"), sheet("E", "2")])],
        )
    with pytest.raises(ScoringError, match="duplicate item code"):
        ScoringRubric(
            [
                ScoringSection("S1", D(5), [ScoringItem("I", D(5))]),
                ScoringSection("S2", D(5), [ScoringItem("I", D(5))]),
            ]
        )
    with pytest.raises(ScoringError, match="duplicate section code"):
        ScoringRubric(
            [
                ScoringSection("S", D(5), [ScoringItem("I", D(5))]),
                ScoringSection("S", D(5), [ScoringItem("J", D(5))]),
            ]
        )


def test_json_output_shape():
    units = [
        unit("U1", "80.5", previous_rank=2, category="群团组织"),
        unit("U2", "90", category="群团组织"),
    ]
    doc = results_to_json(compute_results(SINGLE, ScoringConfig(grades=THRESHOLDS), units))
    assert doc == {
        "units": [
            {
                "code": "U2",
                "category": "群团组织",
                "panel": "90.00",
                "deductions": "0.00",
                "bonus": "0.00",
                "total": "90.00",
                "rank": 1,
                "grade": "优秀",
                "movement": None,
                "veto": False,
            },
            {
                "code": "U1",
                "category": "群团组织",
                "panel": "80.50",
                "deductions": "0.00",
                "bonus": "0.00",
                "total": "80.50",
                "rank": 2,
                "grade": "良好",
                "movement": 0,
                "veto": False,
            },
        ]
    }


def test_sheet_scores_are_reported_per_expert():
    [r] = compute_results(SINGLE, ScoringConfig(), [unit("U", "80", "90.5")])
    assert r.sheet_scores == (("E0", D(80)), ("E1", D("90.5")))


# ---------------------------------------------------------------------------------------
# Helpers: composites, group means, grade distribution
# ---------------------------------------------------------------------------------------


def test_weighted_composite_seed_001_and_000():
    # seed 001: 85.5 × 70 % + 90 × 30 % = 59.85 + 27 = 86.85
    assert weighted_composite(
        {"年终集中考核": D("85.5"), "平时考核": D(90)},
        {"年终集中考核": D(70), "平时考核": D(30)},
    ) == D("86.85")
    # seed 000: the half-year result counts 20 %: 88 × 0.8 + 75 × 0.2 = 70.4 + 15 = 85.4
    assert weighted_composite({"年终": D(88), "半年": D(75)}, {"年终": D(80), "半年": D(20)}) == D("85.40")
    # rounded once: 85.55 × 0.7 + 90.01 × 0.3 = 59.885 + 27.003 = 86.888 → 86.89
    assert weighted_composite({"a": D("85.55"), "b": D("90.01")}, {"a": D(70), "b": D(30)}) == D("86.89")


def test_weighted_composite_errors():
    with pytest.raises(ScoringError, match="sum to 100"):
        weighted_composite({"a": D(1), "b": D(1)}, {"a": D(70), "b": D(20)})
    with pytest.raises(ScoringError, match="missing"):
        weighted_composite({"a": D(1)}, {"a": D(70), "b": D(30)})


def test_points_composite_seed_002():
    # 集中考评 85.5 + 基层和群众评议 4.2 + 领导评价 4.6 = 94.3
    scores = {"centralised": D("85.5"), "public": D("4.2"), "leader": D("4.6")}
    maxima = {"centralised": D(90), "public": D(5), "leader": D(5)}
    assert points_composite(scores, maxima) == D("94.30")
    with pytest.raises(ScoringError, match="outside"):
        points_composite({**scores, "public": D("5.5")}, maxima)


def test_rescale():
    assert rescale(D("875.5"), D(1000), D(100)) == D("87.55")
    # 2 / 3 × 100 = 66.666… → 66.67
    assert rescale(D(2), D(3), D(100)) == D("66.67")
    with pytest.raises(ScoringError):
        rescale(D(1), D(0), D(100))


def test_group_means_spot_a_lenient_group():
    units = [unit("a", "90"), unit("b", "80.01"), unit("c", "70"), unit("d", "99")]
    results = compute_results(SINGLE, ScoringConfig(), units)
    groups = {"a": "第一组", "b": "第一组", "c": "第二组"}  # d has no group: ignored
    # 第一组: (90 + 80.01) / 2 = 85.005 → 85.01; 第二组: 70
    assert group_means(results, groups) == {"第一组": D("85.01"), "第二组": D("70.00")}
    assert list(group_means(results, groups)) == sorted(["第一组", "第二组"])


def test_grade_distribution_without_scheme():
    results = compute_results(SINGLE, ScoringConfig(grades=THRESHOLDS), [unit("a", "95"), unit("b", "50")])
    assert grade_distribution(results) == {"不达标": 1, "优秀": 1}
    assert grade_distribution(results, THRESHOLDS) == {
        "优秀": 1,
        "良好": 0,
        "达标": 0,
        "不达标": 1,
    }
