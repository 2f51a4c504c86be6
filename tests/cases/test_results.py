"""A round's results from the database: the numbers worked out by hand, recompute, override, freeze."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from cases import models as m
from tests.factories import act, advance_case, make_round
from workflow.pages.views import _round_context

pytestmark = pytest.mark.django_db

GRADES = {"scheme": "thresholds", "bands": [["优秀", "16"], ["良好", "14"], ["达标", "0"]]}


def _score(r, index, sheets):
    """Carry case `index` to scoring, then each expert submits their items."""
    case = advance_case(r, index, upto="score")
    for expert, items in zip(r.group_of(index).experts, sheets):
        reason = "" if items else "材料齐全，全部满分"
        act(r, expert, "score", case, items=items, reason=reason)
    act(r, r.group_of(index).leader, "review", case, "approve")
    return case


def _scored_round():
    """Rubric (tests.factories.rubric_spec): S1 max 10 = S1.1 (6) + S1.2 (4, bonus cap 2); S2 max 5."""
    r = make_round(units=3, experts=2, launch=True, config={"grades": GRADES})
    r.round.rubric.spec = {**r.round.rubric.spec, "special_bonus_cap": "2"}
    r.round.rubric.save()
    # A: 15 − 2 = 13 and 15 − 1 + 2 (bonus) = 16 → mean 14.50
    a = _score(r, 0, [[{"item": "S1.1", "deduction": "2", "reason": "缺方案"}],
                      [{"item": "S1.1", "deduction": "1", "reason": "缺总结"},
                       {"item": "S1.2", "bonus": "2", "reason": "省级推广"}]])
    # B: 15 and 14.5 → mean 14.75, minus 通报批评 3 × 1 → 11.75
    b = _score(r, 1, [[], [{"item": "S2.2", "deduction": "0.5", "reason": "迟报"}]])
    m.Finding.objects.create(case=b, source=m.FindingSource.CRITICISM, description="被专项通报批评",
                             deduction_kind="通报批评", deduction_amount=Decimal("3"), occurrences=1)
    # C: 14.67 twice → 14.67, plus special bonus min(2 + 1, cap 2) = 2 → 16.67
    c = _score(r, 2, [[{"item": "S1.1", "deduction": "0.33", "reason": "略"}],
                      [{"item": "S1.1", "deduction": "0.33", "reason": "略"}]])
    m.SpecialBonus.objects.create(case=c, level="国家级", title="全国文明单位", amount=Decimal("2"))
    m.SpecialBonus.objects.create(case=c, level="市级", title="市级表彰", amount=Decimal("1"))
    return r, a, b, c


def _rows(response):
    assert response.status_code == 200, response.content
    return {row["unit_code"]: (row["panel"], row["deductions"], row["bonus"], row["total"], row["rank"], row["grade"])
            for row in response.json()}


def test_compute_results_by_hand(api):
    r, a, b, c = _scored_round()
    rows = _rows(api(r.office).post(f"/api/v1/rounds/{r.round.pk}/compute-results/"))
    assert rows == {
        c.unit.code: ("14.67", "0.00", "2.00", "16.67", 1, "优秀"),
        a.unit.code: ("14.50", "0.00", "0.00", "14.50", 2, "良好"),
        b.unit.code: ("14.75", "3.00", "0.00", "11.75", 3, "达标"),
    }
    summary = api(r.office).get(f"/api/v1/rounds/{r.round.pk}/results-summary/").json()
    assert summary["grade_distribution"] == [{"grade": "优秀", "count": 1}, {"grade": "良好", "count": 1},
                                             {"grade": "达标", "count": 1}]
    # (16.67 + 14.50 + 11.75) / 3 = 14.306… → 14.31
    assert summary["overall_mean"] == "14.31"

    # A veto finding sends A after every unit without one, with the last grade.
    m.Finding.objects.create(case=a, source=m.FindingSource.INSPECTION, description="违纪案件", veto=True)
    rows = _rows(api(r.office).post(f"/api/v1/rounds/{r.round.pk}/compute-results/"))
    assert [rows[u.unit.code][4:] for u in (c, b, a)] == [(1, "优秀"), (2, "达标"), (3, "达标")]
    entry = m.AuditEntry.objects.filter(action="round.results_computed").order_by("-pk").first()
    assert entry.before[str(a.pk)] == ["14.50", 2, "良好"] and entry.after[str(a.pk)] == ["14.50", 3, "达标"]


def test_panel_override_needs_a_reason_and_is_audited(api):
    r, a, b, c = _scored_round()
    leader = r.group_of(0).leader
    url = f"/api/v1/cases/{b.pk}/panel-override/"
    refused = api(leader).post(url, {"panel": "15", "reason": ""}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()["errors"]
    assert api(r.staff[1]).post(url, {"panel": "15", "reason": "复核"}, format="json").status_code in (403, 404)
    assert api(leader).post(url, {"panel": "15", "reason": "组务会复核后确定"}, format="json").status_code == 200

    rows = _rows(api(r.office).post(f"/api/v1/rounds/{r.round.pk}/compute-results/"))
    assert rows[b.unit.code][:4] == ("15.00", "3.00", "0.00", "12.00")
    entry = m.AuditEntry.objects.get(action="case.panel_override", object_id=str(b.pk))
    assert entry.after == {"panel_override": "15.00"} and entry.comment == "组务会复核后确定"


def test_results_freeze_on_approval_and_units_see_their_own_only_then(api):
    r, a, b, c = _scored_round()
    staff = r.staff[0]
    act(r, r.office, "compile")
    assert m.Result.objects.filter(round=r.round).count() == 3
    assert api(staff).get("/api/v1/results/").json()["count"] == 0  # not before approval
    # While the leader decides, what they were given cannot change under them.
    assert api(r.office).post(f"/api/v1/rounds/{r.round.pk}/compute-results/").status_code == 409
    override = api(r.group_of(0).leader).post(f"/api/v1/cases/{a.pk}/panel-override/",
                                               {"panel": "15", "reason": "复核"}, format="json")
    assert override.status_code == 409

    act(r, r.leader, "approve", action="approve")
    r.round.refresh_from_db()
    assert r.round.results_frozen_at is not None
    frozen = list(m.Result.objects.filter(round=r.round).values_list("case_id", "total", "rank", "grade"))
    m.Finding.objects.create(case=a, source=m.FindingSource.INSPECTION, description="迟到的问题", veto=True)
    assert api(r.office).post(f"/api/v1/rounds/{r.round.pk}/compute-results/").status_code == 409
    assert list(m.Result.objects.filter(round=r.round).values_list("case_id", "total", "rank", "grade")) == frozen

    mine = api(staff).get("/api/v1/results/").json()
    assert [row["unit_code"] for row in mine["results"]] == [a.unit.code]


def test_compute_endpoint_checks_the_arithmetic_and_names_bad_fields(api):
    r = make_round(units=1, experts=1)
    doc = {
        "rubric": {"sections": [{"code": "S1", "max": "10", "items": [{"code": "S1.1", "max": "10"}]}]},
        "config": {"aggregation": "mean"},
        "units": [{"code": "U1", "sheets": [{"expert": "E1", "items": {"S1.1": {"deductions": ["1.5"]}}},
                                            {"expert": "E2", "items": {}}]}],
    }
    ok = api(r.office).post("/api/v1/scoring/compute", doc, format="json")
    assert ok.status_code == 200
    assert ok.json()["units"][0]["total"] == "9.25"  # (8.50 + 10) / 2
    doc["units"][0]["sheets"][0]["items"] = {"S9.9": {"deductions": ["1"]}}
    bad = api(r.office).post("/api/v1/scoring/compute", doc, format="json")
    assert bad.status_code == 400
    assert any("units[0].sheets[0].items.S9.9" in msg for msg in bad.json()["errors"]["input"])


def test_results_and_score_sheets_export_to_excel(api):
    from io import BytesIO

    from openpyxl import load_workbook

    r, a, b, c = _scored_round()
    api(r.office).post(f"/api/v1/rounds/{r.round.pk}/compute-results/")
    response = api(r.office).get(f"/api/v1/rounds/{r.round.pk}/results-export/")
    assert response.status_code == 200
    rows = list(load_workbook(BytesIO(response.content)).active.values)
    assert rows[0][:3] == ("名次", "单位编码", "单位")
    assert [(row[0], row[1], row[8], row[9]) for row in rows[1:]] == [
        (1, c.unit.code, 16.67, "优秀"), (2, a.unit.code, 14.5, "良好"), (3, b.unit.code, 11.75, "达标")]

    sheets = list(load_workbook(BytesIO(api(r.office).get(
        f"/api/v1/rounds/{r.round.pk}/score-sheets-export/").content)).active.values)
    # A: two item rows for expert 2, one for expert 1; B: a full-marks sheet row and one item row; C: two rows.
    assert len(sheets) - 1 == 3 + 2 + 2
    # An expert's export holds only their own sheets.
    expert = r.group_of(0).experts[0]
    mine = list(load_workbook(BytesIO(api(expert).get(
        f"/api/v1/rounds/{r.round.pk}/score-sheets-export/").content)).active.values)
    assert {row[2] for row in mine[1:]} == {str(expert)}


def test_group_quota_is_enforced_when_grades_are_proposed_and_proposals_can_decide(api):
    # 3 units in the group, 优秀 quota 34% → round_half_up(1.02) = 1 place.
    config = {"grades": GRADES, "group_quotas": {"优秀": "34"}, "grade_source": "proposal"}
    r = make_round(units=3, experts=1, launch=True, config=config)
    leader = r.group_of(0).leader
    for index in range(3):
        advance_case(r, index, upto="review")
    act(r, leader, "review", r.case(0), "approve", grade="优秀")
    with pytest.raises(ValidationError) as refused:
        act(r, leader, "review", r.case(1), "approve", grade="优秀")
    assert "名额已满（1/1）" in str(refused.value)
    assert r.task("review", r.case(1)) is not None  # nothing moved
    act(r, leader, "review", r.case(1), "approve", grade="良好")
    act(r, leader, "review", r.case(2), "approve", grade="达标")

    # The compile page's preview shows what will be stored: the proposals.
    preview = _round_context(r.round)
    assert preview["results_preview"]
    assert sorted(result.grade for result in preview["results"]) == ["优秀", "良好", "达标"]
    rows = _rows(api(r.office).post(f"/api/v1/rounds/{r.round.pk}/compute-results/"))
    # Every case scored 15 − 1 = 14 (advance_case deducts 1): the proposals, not the thresholds, decide.
    assert sorted(row[5] for row in rows.values()) == ["优秀", "良好", "达标"]
    assert rows[r.units[0].code][5] == "优秀"
    assert m.AuditEntry.objects.filter(action="case.propose_grade").count() == 3


def test_composite_across_rounds_seed_001_seventy_thirty(api):
    """Seed 001: year-end assessment 70 % + ordinary (平时) assessment 30 %, ranked on the composite."""
    ordinary = make_round(units=2, experts=1, launch=True)
    _score(ordinary, 0, [[{"item": "S1.1", "deduction": "1", "reason": "略"}]])  # 14.00
    _score(ordinary, 1, [[{"item": "S1.1", "deduction": "3", "reason": "略"}]])  # 12.00
    act(ordinary, ordinary.office, "compile")
    act(ordinary, ordinary.leader, "approve", action="approve")  # only approved results enter a composite

    composite = {"self_weight": "70", "rounds": [{"round": ordinary.round.pk, "name": "平时考核", "weight": "30"}]}
    year_end = make_round(units=2, experts=1, launch=True, unit_objs=ordinary.units,
                          unit_people=(ordinary.staff, ordinary.heads), office=ordinary.office,
                          config={"composite": composite})
    _score(year_end, 0, [[{"item": "S1.1", "deduction": "2", "reason": "略"}]])  # own 13.00
    _score(year_end, 1, [[{"item": "S1.1", "deduction": "1.5", "reason": "略"}]])  # own 13.50
    response = api(ordinary.office).post(f"/api/v1/rounds/{year_end.round.pk}/compute-results/")
    assert response.status_code == 200, response.content
    rows = {row["unit_code"]: row for row in response.json()}
    first, second = ordinary.units
    # 0.7 × 13.00 + 0.3 × 14.00 = 13.30 beats 0.7 × 13.50 + 0.3 × 12.00 = 13.05: the order flips.
    assert (rows[first.code]["total"], rows[first.code]["rank"]) == ("13.30", 1)
    assert (rows[second.code]["total"], rows[second.code]["rank"]) == ("13.05", 2)
    assert rows[second.code]["components"] == [["self", "13.50"], ["平时考核", "12.00"]]


def test_composite_names_units_missing_from_the_other_round(api):
    ordinary = make_round(units=1, experts=1, launch=True)
    _score(ordinary, 0, [[{"item": "S1.1", "deduction": "1", "reason": "略"}]])
    api(ordinary.office).post(f"/api/v1/rounds/{ordinary.round.pk}/compute-results/")
    composite = {"self_weight": "80", "rounds": [{"round": ordinary.round.pk, "name": "半年考评", "weight": "20"}]}
    annual = make_round(units=1, experts=1, launch=True, config={"composite": composite})  # another unit
    _score(annual, 0, [[]])
    url = f"/api/v1/rounds/{annual.round.pk}/compute-results/"
    response = api(annual.office).post(url)
    assert response.status_code == 400
    assert "“半年考评”的结果尚未经领导审定" in response.json()["errors"]["composite"][0]
    act(ordinary, ordinary.office, "compile")
    act(ordinary, ordinary.leader, "approve", action="approve")
    response = api(annual.office).post(url)
    assert response.status_code == 400
    assert "在“半年考评”中没有结果" in response.json()["errors"]["composite"][0]
    assert not m.Result.objects.filter(round=annual.round).exists()


def test_a_malformed_composite_is_refused_when_the_round_is_configured(api):
    r = make_round(units=1, experts=1)
    bad = {"composite": {"self_weight": "70", "rounds": [{"round": r.round.pk, "name": "平时考核", "weight": "20"}]}}
    response = api(r.office).patch(f"/api/v1/rounds/{r.round.pk}/", {"config": bad}, format="json")
    assert response.status_code == 400 and "composite" in response.json()["errors"]["config"][0]
    bad_bands = {"grades": {"scheme": "distribution", "bands": [["优秀", "x"]]}}
    response = api(r.office).patch(f"/api/v1/rounds/{r.round.pk}/", {"config": bad_bands}, format="json")
    assert response.status_code == 400 and "评分配置有误" in response.json()["errors"]["config"][0]
    r.round.refresh_from_db()
    assert "composite" not in r.round.config and "grades" not in r.round.config
    for key, value in (("rectification_days", 0), ("rectification_days", "30"), ("report_char_limit", True)):
        response = api(r.office).patch(f"/api/v1/rounds/{r.round.pk}/", {"config": {key: value}}, format="json")
        assert response.status_code == 400 and f"{key} 必须是正整数" in response.json()["errors"]["config"][0]


def test_units_do_not_see_the_groups_working_decisions(api):
    r, a, b, c = _scored_round()
    leader = r.group_of(1).leader
    api(leader).post(f"/api/v1/cases/{b.pk}/panel-override/", {"panel": "12.50", "reason": "复核"}, format="json")
    seen_by_unit = api(r.staff[1]).get(f"/api/v1/cases/{b.pk}/").json()
    assert "panel_override" not in seen_by_unit and "proposed_grade" not in seen_by_unit
    seen_by_leader = api(leader).get(f"/api/v1/cases/{b.pk}/").json()
    assert seen_by_leader["panel_override"] == "12.50"
    assert api(r.office).get(f"/api/v1/cases/{b.pk}/").json()["panel_override"] == "12.50"
    listed = {row["id"]: row for row in api(leader).get("/api/v1/cases/").json()["results"]}
    assert listed[b.pk]["panel_override"] == "12.50"
    listed_by_unit = api(r.staff[1]).get("/api/v1/cases/").json()["results"]
    assert listed_by_unit and all("panel_override" not in row for row in listed_by_unit)


def test_veto_findings_and_special_bonuses_are_set_through_the_api(api):
    r, a, b, c = _scored_round()
    m.SpecialBonus.objects.all().delete()
    url = "/api/v1/special-bonuses/"
    body = {"case": a.pk, "level": "国家级", "title": "全国文明单位", "amount": "3"}
    assert api(r.group_of(0).leader).post(url, body, format="json").status_code == 403
    assert api(r.office).post(url, body, format="json").status_code == 201
    veto = {"case": b.pk, "source": "complaint", "description": "投诉查处：违法违纪案件", "veto": True}
    # After the review the group is done; the office still records what reaches it.
    assert api(r.group_of(0).leader).post("/api/v1/findings/", veto, format="json").status_code == 409
    assert api(r.office).post("/api/v1/findings/", veto, format="json").status_code == 201
    rows = _rows(api(r.office).post(f"/api/v1/rounds/{r.round.pk}/compute-results/"))
    # A: 14.50 + min(3, cap 2) = 16.50; C: 14.67 (its bonuses were removed); B vetoed, last.
    assert rows[a.unit.code][2:5] == ("2.00", "16.50", 1)
    assert rows[c.unit.code][3:5] == ("14.67", 2)
    assert rows[b.unit.code][4:] == (3, "达标")
    assert m.AuditEntry.objects.filter(action="special_bonus.create").count() == 1
