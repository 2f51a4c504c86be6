"""The domain's reads for the official documents (cases.reports): the numbers, exactly, and the cost."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import models as m
from cases import reports
from cases.scoring.results import round_compute_results
from notifications.documents import kinds as k
from tests.cases.test_results import _scored_round
from tests.factories import UnitFactory, act, advance_case, make_round

pytestmark = pytest.mark.django_db

D = Decimal


def test_round_groups_people_phones_and_units():
    r = make_round(units=5, groups=2)
    m.User.objects.filter(pk=r.groups[1].liaison.pk).update(office_phone="", mobile="13912345678")
    rows = reports.round_groups(r.round)
    assert [(g.number, g.name) for g in rows] == [(1, "第1组"), (2, "第2组")]
    first, second = rows
    assert [p.name for p in first.leaders] == [str(r.groups[0].leader)]
    assert [p.name for p in first.deputies] == [str(r.groups[0].deputy)]
    assert [(p.name, p.office_phone) for p in first.liaisons] == [(str(r.groups[0].liaison), "0431-88900000")]
    assert first.units == tuple(r.units[i].name for i in (0, 2, 4)) and second.units == (r.units[1].name, r.units[3].name)
    # The office phone printed: the liaison's own, else the group's.
    assert [(p.office_phone, p.mobile) for p in first.contacts] == [("0431-88900000", "")]
    assert [(p.office_phone, p.mobile) for p in second.contacts] == [("0431-8890000", "13912345678")]


def test_round_groups_reads_in_three_queries():
    r = make_round(units=6, groups=3)
    with CaptureQueriesContext(connection) as queries:
        reports.round_groups(r.round)
    assert len(queries) == 3


def test_round_phases_run_on_from_the_launch():
    r = make_round(units=1, launch=True)
    phases = reports.round_phases(r.round)
    assert [p.label for p in phases] == ["准备阶段", "检查阶段", "评审阶段", "审定阶段", "通报阶段"]
    assert phases[0].start == timezone.localdate(r.round.launched_at)
    for before, after in zip(phases, phases[1:]):
        assert after.start == before.due + timedelta(days=1)
    assert [p.due for p in phases] == [timezone.localdate(getattr(r.round, f)) for f in m.Round.DUE_FIELDS]
    assert reports.round_phases(make_round(units=1).round)[0].start is None  # not launched: no first day


def _computed():
    r, a, b, c = _scored_round()
    round_compute_results(user=r.office, round=r.round)
    return r, a, b, c


def test_ranking_and_distribution_from_the_real_scoring():
    r, a, b, c = _computed()
    (table,) = reports.round_ranking(r.round)
    assert table.category == ""
    assert [(row.unit, row.panel, row.deductions, row.bonus, row.total, row.rank, row.grade) for row in table.rows] == [
        (c.unit.name, D("14.67"), D("0.00"), D("2.00"), D("16.67"), 1, "优秀"),
        (a.unit.name, D("14.50"), D("0.00"), D("0.00"), D("14.50"), 2, "良好"),
        (b.unit.name, D("14.75"), D("3.00"), D("0.00"), D("11.75"), 3, "达标"),
    ]
    assert table.rows[1].sheet_scores == (D("13.00"), D("16.00"))
    assert reports.grade_distribution(r.round, [table]) == [("优秀", 1), ("良好", 1), ("达标", 1)]


def test_real_scoring_ranked_within_categories():
    party, government = m.UnitCategory.PARTY, m.UnitCategory.GOVERNMENT
    units = [UnitFactory(category=c) for c in (government, party, government, party)]
    grades = {"scheme": "thresholds", "bands": [["优秀", "14"], ["良好", "13"], ["达标", "0"]]}
    r = make_round(units=4, experts=1, launch=True, unit_objs=units, config={"rank_by_category": True, "grades": grades})
    for i, deduction in enumerate(["1", "2", "3", "0.5"]):  # totals 14, 13, 12, 14.50
        case = advance_case(r, i, upto="score")
        act(r, r.group_of(i).experts[0], "score", case, items=[{"item": "S1.1", "deduction": deduction, "reason": "缺"}])
        act(r, r.group_of(i).leader, "review", case, "approve")
    round_compute_results(user=r.office, round=r.round)
    tables = reports.round_ranking(r.round)
    assert [(t.category, [(row.unit, row.total, row.rank, row.grade) for row in t.rows]) for t in tables] == [
        (party, [(units[3].name, D("14.50"), 1, "优秀"), (units[1].name, D("13.00"), 2, "良好")]),
        (government, [(units[0].name, D("14.00"), 1, "优秀"), (units[2].name, D("12.00"), 2, "达标")]),
    ]
    assert reports.grade_distribution(r.round, tables) == [("优秀", 2), ("良好", 1), ("达标", 1)]
    content = k.results_notice(r.round, None, {})
    assert content.tables["by_category"] is True
    assert "按单位类别分别排名（党委工作部门2个、政府工作部门2个）。其中，优秀2个、良好1个、达标1个。" in content.body[2]


def test_committee_view_from_the_real_scoring():
    r, a, b, c = _computed()
    view = reports.round_committee_view(r.round)
    # Panel means: (14.67 + 14.50 + 14.75) / 3 = 14.64; totals (16.67 + 14.50 + 11.75) / 3 = 14.306… → 14.31.
    assert view.overall_mean == D("14.64") and view.overall_total_mean == D("14.31")
    assert view.group_means == [reports.GroupMean("第1组", 3, D("14.64"), D("0.00"), False)]
    assert view.leniency_threshold == D("0.45") and view.spread_threshold == D("1.50")
    # A's experts gave 13.00 and 16.00: 3.00 apart, more than 15 × 10 % = 1.50.
    assert [(row.unit, row.flags) for row in view.flagged] == [(a.unit.name, ("专家评分差异大（13.00至16.00，相差3.00）",))]
    assert view.grade_distribution == [("优秀", 1), ("良好", 1), ("达标", 1)]


def test_case_feedback_sections_findings_and_due():
    r, a, b, c = _computed()
    m.Finding.objects.create(case=a, source=m.FindingSource.INSPECTION, description="方案未备案",
                             item=r.round.rubric.items.get(code="S1.1"), severity=m.Severity.HIGH,
                             deduction_amount=D("1.50"), requires_rectification=True)
    feedback = reports.case_feedback(a)
    # S1: 10 − 2 and 10 − 1 (the bonus on S1.2 is not a section's base) → 8.50; S2 untouched.
    assert [(s.code, s.max_points, s.score) for s in feedback.sections] == [("S1", D("10.00"), D("8.50")),
                                                                         ("S2", D("5.00"), D("5.00"))]
    assert feedback.result is not None and (feedback.result.total, feedback.result.rank) == (D("14.50"), 2)
    assert [(f.description, f.item, f.severity, f.deduction, f.occurrences, f.requires_rectification)
            for f in feedback.findings] == [("方案未备案", "S1.1", "严重", D("1.50"), 1, True)]
    assert feedback.to_rectify == feedback.findings
    assert feedback.rectification_due == timezone.localdate(r.round.report_due) + timedelta(days=30)
    for days, expected in ((10, 10), ("x", 30), (0, 30)):
        r.round.config = {**r.round.config, "rectification_days": days}
        assert reports.rectification_due(r.round) == timezone.localdate(r.round.report_due) + timedelta(days=expected)
    no_sheets = make_round(units=1)
    empty = reports.case_feedback(no_sheets.case(0))
    assert [s.score for s in empty.sections] == [None, None] and empty.result is None and empty.findings == []


def _results(r, rows, **config):
    """Result rows straight in the database: (unit index, panel, total, rank, movement, sheet scores)."""
    r.round.config = {**r.round.config, **config}
    r.round.save()
    cases = {c.unit_id: c for c in r.round.cases.all()}
    for index, panel, total, rank, movement, sheets in rows:
        m.Result.objects.create(
            case=cases[r.units[index].pk], round=r.round, panel=D(panel), deductions=D(panel) - D(total),
            bonus=D("0"), total=D(total), rank=rank, grade="", movement=movement,
            sheet_scores=[[str(n), s] for n, s in enumerate(sheets)],
        )


def test_committee_thresholds_are_strict_and_a_group_of_one_is_not_judged():
    r = make_round(units=5, groups=3)  # group 1: units 0, 3; group 2: units 1, 4; group 3: unit 2
    _results(r, [
        (0, "14.00", "14.00", 1, None, ["14.00", "12.50"]),  # spread 1.50 = the limit: not flagged
        (1, "13.00", "12.00", 3, 5, ["13.76", "12.24"]),  # spread 1.52: flagged; up 5 places: flagged
        (2, "11.50", "10.00", 5, -4, ["11.50"]),  # far below the mean, but a group of one; down 4 is not flagged;
        # its total 10.00 is below 11.50, but the threshold is a sheet's: its one sheet is at 11.50, not below
        (3, "13.50", "13.50", 2, 0, ["13.50", "13.50"]),
        (4, "12.50", "12.50", 4, None, ["13.80", "11.40", "11.49"]),  # two sheets below 11.50; spread 2.40
    ], low_total_threshold="11.50")
    view = reports.round_committee_view(r.round)
    # Panels: all (14 + 13 + 11.5 + 13.5 + 12.5) / 5 = 12.90; group 1 (14 + 13.5) / 2 = 13.75 (+0.85 > 0.45);
    # group 2 (13 + 12.5) / 2 = 12.75 (−0.15); group 3 11.50 (−1.40, but one unit).
    assert view.overall_mean == D("12.90")
    assert [(g.group, g.units, g.mean, g.difference, g.flagged, g.leaning) for g in view.group_means] == [
        ("第1组", 2, D("13.75"), D("0.85"), True, "偏宽"),
        ("第2组", 2, D("12.75"), D("-0.15"), False, ""),
        ("第3组", 1, D("11.50"), D("-1.40"), False, ""),
    ]
    assert {row.unit: row.flags for row in view.flagged} == {
        r.units[1].name: ("专家评分差异大（12.24至13.76，相差1.52）", "名次上升5位"),
        r.units[4].name: ("专家评分差异大（11.40至13.80，相差2.40）", "2份评分表低于11.50分（最低11.40）"),
    }


def test_ranking_by_category_in_the_official_order():
    r = make_round(units=4)
    m.Unit.objects.filter(pk__in=[r.units[0].pk, r.units[2].pk]).update(category=m.UnitCategory.MASS)
    m.Unit.objects.filter(pk=r.units[1].pk).update(category=m.UnitCategory.PARTY)
    _results(r, [(i, "10.00", "10.00", 1, None, []) for i in range(4)])
    for i, rank in ((0, 2), (2, 1)):
        m.Result.objects.filter(case__unit=r.units[i]).update(rank=rank)
    for i in range(4):
        m.Result.objects.filter(case__unit=r.units[i]).update(category=m.Unit.objects.get(pk=r.units[i].pk).category)
    tables = reports.round_ranking(r.round)
    # 党委工作部门 before 政府工作部门 before 群团组织 (UnitCategory's order, not the strings' order)
    assert [(t.category, [row.unit for row in t.rows]) for t in tables] == [
        (m.UnitCategory.PARTY, [r.units[1].name]),
        (m.UnitCategory.GOVERNMENT, [r.units[3].name]),
        (m.UnitCategory.MASS, [r.units[2].name, r.units[0].name]),
    ]


def test_a_thousand_units_build_in_one_query_and_under_a_second():
    r = make_round(units=1)
    n = 1000
    units = m.Unit.objects.bulk_create([
        m.Unit(code=f"BIG{i:04d}", name=f"大轮次单位{i:04d}", category=m.UnitCategory.values[i % 3], sort_order=i)
        for i in range(n)
    ])
    groups = [r.groups[0].group] + [m.Group.objects.create(round=r.round, number=g, name=f"第{g}组") for g in range(2, 11)]
    cases = m.Case.objects.bulk_create([m.Case(round=r.round, unit=u, group=groups[i % 10]) for i, u in enumerate(units)])
    m.Result.objects.bulk_create([
        m.Result(case=c, round=r.round, category=c.unit.category, panel=D("12.00") + D(i % 300) / 100,
                 deductions=D("0"), bonus=D("0"), total=D("12.00") + D(i % 300) / 100, rank=i // 3 + 1,
                 grade="", movement=(i % 7) - 3, sheet_scores=[["1", "12.00"], ["2", "14.00"]])
        for i, c in enumerate(cases)
    ])
    r.round.config = {**r.round.config, "rank_by_category": True}
    r.round.save()
    for build in (k.results_notice, k.committee_version):
        fresh = m.Round.objects.get(pk=r.round.pk)
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            content = build(fresh, None, {})
        elapsed = time.perf_counter() - started
        print(f"{build.__name__}: {n} units, {len(queries)} queries, {elapsed * 1000:.0f} ms")
        # the results with their units and groups (and the rubric's total, for the committee's limits)
        assert len(queries) <= 2, [q["sql"] for q in queries.captured_queries]
        assert elapsed < 1.0, elapsed  # measured: ~0.1 s (results notice), ~0.1–0.25 s (committee version)
    assert sum(len(t.rows) for t in content.tables["view"].tables) == n
