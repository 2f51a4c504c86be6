"""Seed 001 on PostgreSQL: the self-check statistics table (自查统计表) with a shortfall deduction worked
out by hand, the democratic recommendation (民主推荐) and its tally, the bonus items units declare
(capped with the special bonus), bad input named field by field, and who may do what."""

from decimal import Decimal

import pytest

from cases import models as m
from tests.api_helpers import API, ok
from tests.factories import UnitFactory, act, advance_case, make_round

pytestmark = pytest.mark.django_db

# The test rubric (tests.factories.rubric_spec): S1.1 max 6, S1.2 max 4, S2.1 max 3, S2.2 max 2; 15 in all.
ROWS = [
    {"code": "A01", "name": "党委会", "target": 6, "deduction": "0.5", "cap": "2", "item": "S1.1"},
    {"code": "A02", "name": "党员大会", "target": 4, "deduction": "1", "item": "S2.2"},
    {"code": "A03", "name": "政治学习", "target": 24},
    {"code": "A04", "name": "总支会", "target": 8, "optional": True, "deduction": "1", "item": "S1.1"},
]
CONFIG = {
    "self_check": {"rows": ROWS},
    "recommendation": {"organisations": 2, "workers": 2, "allow_self": False},
    "special_bonus_cap": "3",
}
COUNTS = [
    # 党委会 3 of 6: 3 × 0.5 = 1.5; 党员大会 0 of 4: 4 × 1 = 4, capped by S2.2's max 2; 政治学习 over;
    # 总支会 不适用 → 3.50
    {"A01": 3, "A02": 0, "A03": 30, "A04": None},
    {"A01": 6, "A02": 4, "A03": 24, "A04": 8},  # → 0
    # 党委会 0 of 6: 3, capped at 2; 党员大会 3 of 4: 1; 政治学习 0 of 24: no deduction; 总支会 7 of 8: 1 → 4.00
    {"A01": 0, "A02": 3, "A03": 0, "A04": 7},
]


def _round(**extra):
    return make_round(units=3, experts=2, launch=True, config={**CONFIG, **extra})


def _self_check(api, r, index, counts, status=200):
    return ok(api(r.staff[index]).put(f"{API}/cases/{r.cases[index].pk}/self-check/", {"counts": counts},
                                      format="json"), status)


def _to_group_step(api, r):
    for i, counts in enumerate(COUNTS):
        _self_check(api, r, i, counts)
        advance_case(r, i, upto="inspect")


def test_counts_shortfalls_and_the_deduction_by_hand(api):
    r = _round()
    body = _self_check(api, r, 0, COUNTS[0])
    rows = {row["code"]: row for row in body["rows"]}
    assert (rows["A01"]["shortfall"], rows["A01"]["deduction"]) == (3, "1.50")
    assert (rows["A02"]["shortfall"], rows["A02"]["deduction"]) == (4, "2.00")  # the item's max caps it
    assert (rows["A03"]["shortfall"], rows["A03"]["deduction"]) == (0, "0.00")
    assert rows["A04"]["not_applicable"] and rows["A04"]["shortfall"] == 0
    assert body["deduction"] == "3.50" and body["shortfall_rows"] == 2
    _to_group_step(api, r)
    # The group's review sees each unit's shortfalls.
    group = ok(api(r.groups[0].leader).get(f"{API}/groups/{r.groups[0].group.pk}/self-check/"))
    by_unit = {u["unit"]: u for u in group["units"]}
    assert by_unit[r.units[0].pk]["deduction"] == "3.50"
    assert [s["code"] for s in by_unit[r.units[0].pk]["shortfalls"]] == ["A01", "A02"]
    assert by_unit[r.units[1].pk]["shortfalls"] == [] and by_unit[r.units[1].pk]["deduction"] == "0.00"
    assert by_unit[r.units[2].pk]["deduction"] == "4.00"
    # Results: every expert deducts 1 on S1.1 (advance_case) → panel 14.00, less the table's deductions.
    for i in range(3):
        advance_case(r, i, upto="done")
    results = ok(api(r.office).post(f"{API}/rounds/{r.round.pk}/compute-results/"))
    got = {row["case"]: (row["panel"], row["deductions"], row["total"]) for row in results}
    assert got == {r.cases[0].pk: ("14.00", "3.50", "10.50"), r.cases[1].pk: ("14.00", "0.00", "14.00"),
                   r.cases[2].pk: ("14.00", "4.00", "10.00")}
    # The result's breakdown names each row's deduction.
    items = {row["case"]: row["deduction_items"] for row in results}
    assert items[r.cases[0].pk] == [["自查统计表：党委会少3次，计入S1.1", "1.50"], ["自查统计表：党员大会少4次，计入S2.2", "2.00"]]
    assert items[r.cases[1].pk] == []
    assert [amount for _, amount in items[r.cases[2].pk]] == ["2.00", "1.00", "1.00"]
    stored = m.Result.objects.get(case=r.cases[0])
    assert stored.deductions == Decimal("3.50") and len(stored.deduction_items) == 2


def test_a_self_assessment_needs_every_row_and_good_counts(api):
    r = _round()
    case = r.cases[0]
    # Every bad entry is named, and nothing is saved.
    bad = _self_check(api, r, 0, {"A01": -1, "A02": "三", "A03": 1.5, "A04": True, "A09": 1}, 400)
    assert set(bad["errors"]) == {"counts.A01", "counts.A02", "counts.A03", "counts.A04", "counts.A09"}
    bad = _self_check(api, r, 0, {"A01": None}, 400)  # only an optional row may be 不适用
    assert set(bad["errors"]) == {"counts.A01"}
    assert not m.Submission.objects.filter(case=case).exists()
    ok(api(r.staff[0]).put(f"{API}/cases/{case.pk}/self-check/", {"counts": {}, "extra": 1}, format="json"), 400)
    # A draft may leave rows out; the submission may not.
    _self_check(api, r, 0, {"A01": 6})
    with pytest.raises(Exception) as exc:
        act(r, r.staff[0], "prepare", case, report="自评报告。")
    assert "statistics.A02" in str(exc.value.message_dict) and "statistics.A01" not in str(exc.value.message_dict)
    # The submission API goes through the same check.
    sub = ok(api(r.staff[0]).put(f"{API}/cases/{case.pk}/submission/", {"statistics": {"A01": -3}}, format="json"), 400)
    assert "statistics.A01" in sub["errors"]
    _self_check(api, r, 0, COUNTS[0])
    act(r, r.staff[0], "prepare", case, report="自评报告。")
    # Submitted: the table is closed to edits.
    _self_check(api, r, 0, COUNTS[1], 409)
    assert m.AuditEntry.objects.filter(action="self_check.save", round=r.round).count() == 2


def test_a_bad_table_is_refused_when_the_round_is_configured(api):
    r = make_round(units=1)
    bad = {"self_check": {"rows": [{"code": "A01", "name": "党委会", "target": -1, "deduction": "0.5"},
                                   {"code": "A01", "target": 2, "colour": "red"}]},
           "recommendation": {"organisations": "two"}, "special_bonus_cap": "-1"}
    body = ok(api(r.office).patch(f"{API}/rounds/{r.round.pk}/", {"config": {**r.round.config, **bad}},
                                  format="json"), 400)
    text = " ".join(body["errors"]["config"])
    for part in ("rows[0].target", "rows[0].item", "rows[1].code", "rows[1].colour", "recommendation.organisations",
                 "special_bonus_cap"):
        assert part in text
    # A deduction charged to an item the rubric lacks stops the launch.
    r2 = make_round(units=1, config={"self_check": {"rows": [{"code": "A", "name": "党委会", "target": 1,
                                                              "deduction": "1", "item": "S9.9"}]}})
    body = ok(api(r2.office).post(f"{API}/rounds/{r2.round.pk}/launch/"), 400)
    assert "S9.9" in " ".join(body["errors"]["config"])


def test_the_rubric_targets_are_the_table_without_rows():
    r = make_round(units=1, config={"self_check": {"rows": [{"code": "A01", "deduction": "1", "item": "S1.1"}]}})
    r.round.rubric.spec = {**r.round.rubric.spec, "activity_targets": [
        {"code": "A01", "name": "党委会", "target": 6}, {"code": "A11", "name": "其中主要领导上党课", "target": None}]}
    r.round.rubric.save()
    from cases.party_building import selectors

    rows = selectors.table(r.round)
    assert [(row.code, row.name, row.target, row.deduction, row.item) for row in rows] == [
        ("A01", "党委会", 6, Decimal("1.00"), "S1.1"), ("A11", "其中主要领导上党课", None, None, "")]


def test_recommendation_tally_and_bad_input(api):
    r = _round()
    group = r.groups[0].group
    url = f"{API}/groups/{group.pk}/recommendations/"
    u0, u1, u2 = (u.pk for u in r.units)
    # Before the group step: not yet.
    ok(api(r.heads[0]).put(url, {"organisations": [u1]}, format="json"), 409)
    _to_group_step(api, r)
    ok(api(r.heads[0]).put(url, {"organisations": [u1, u2], "workers": [{"unit": u1, "name": "张三", "post": "支部书记"}]},
                           format="json"))
    ok(api(r.heads[1]).put(url, {"organisations": [u2], "workers": [{"unit": u2, "name": "李四"},
                                                                     {"unit": u0, "name": "王五"}]}, format="json"))
    ok(api(r.heads[2]).put(url, {"organisations": [u1], "workers": [{"unit": u1, "name": "张三"}]}, format="json"))
    # A unit may replace its ballot: the last one counts.
    ok(api(r.heads[2]).put(url, {"organisations": [u1], "workers": [{"unit": u1, "name": "张三"}]}, format="json"))
    tally = ok(api(r.groups[0].leader).get(url))["tally"]
    assert tally["ballots"] == 3 and tally["units"] == 3
    assert [(o["unit"], o["votes"]) for o in tally["organisations"]] == [(u1, 2), (u2, 2)]
    assert [(w["name"], w["unit"], w["votes"]) for w in tally["workers"]] == [("张三", u1, 2), ("王五", u0, 1),
                                                                             ("李四", u2, 1)]
    assert tally["workers"][0]["post"] == "支部书记"
    before = ok(api(r.heads[0]).get(url))["own_ballots"]
    outsider = UnitFactory()
    cases = [
        ({"organisations": [outsider.pk]}, {"organisations[0]"}),                      # outside the group
        ({"organisations": [u1, u2, u1]}, {"organisations", "organisations[2]"}),       # too many, twice
        ({"organisations": [u0]}, {"organisations[0]"}),                                # itself (allow_self false)
        ({"workers": [{"unit": u1, "name": "张三"}, {"unit": u1, "name": "张三"}]}, {"workers[1]"}),
        ({"workers": [{"unit": u1, "name": ""}, {"name": "赵六", "age": 3}]},
         {"workers[0].name", "workers[1].unit", "workers[1].age"}),
        ({"organisations": ["x", 0]}, {"organisations[0]", "organisations[1]"}),
        ({"organisations": [u1], "colour": 1}, {"colour"}),
    ]
    for body, fields in cases:
        got = ok(api(r.heads[0]).put(url, body, format="json"), 400)
        assert set(got["errors"]) == fields, (body, got)
    assert ok(api(r.heads[0]).get(url))["own_ballots"] == before
    assert "tally" not in ok(api(r.heads[0]).get(url))  # a unit sees its own ballot, not the count
    assert m.AuditEntry.objects.filter(action="recommendation.save", round=r.round).count() == 4


def test_a_round_without_recommendation_holds_none(api):
    r = make_round(units=2, launch=True)
    advance_case(r, 0, upto="inspect")
    url = f"{API}/groups/{r.groups[0].group.pk}/recommendations/"
    assert ok(api(r.groups[0].leader).get(url)) == {"group": r.groups[0].group.pk, "enabled": False, "rules": None,
                                                     "own_ballots": []}
    ok(api(r.heads[0]).put(url, {"organisations": [r.units[1].pk]}, format="json"), 409)
    assert not ok(api(r.groups[0].leader).get(f"{API}/groups/{r.groups[0].group.pk}/self-check/"))["enabled"]
    assert not ok(api(r.staff[0]).get(f"{API}/cases/{r.cases[0].pk}/self-check/"))["enabled"]
    ok(api(r.staff[1]).put(f"{API}/cases/{r.cases[1].pk}/self-check/", {"counts": {}}, format="json"), 409)
    # Without a table, the statistics stay a free-form object, as before.
    ok(api(r.staff[1]).put(f"{API}/cases/{r.cases[1].pk}/submission/", {"statistics": {"党委会": {"done": 3}}},
                           format="json"))


def _evidence(api, r, index):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("证明.txt", "表彰文件".encode(), content_type="text/plain")
    return ok(api(r.staff[index]).post(f"{API}/attachments/?case={r.cases[index].pk}",
                                       {"file": upload, "purpose": "evidence"}, format="multipart"), 201)["id"]


def _declare(api, r, index, status=201, **body):
    data = {"case": r.cases[index].pk, "title": "市级文明单位", "reason": "2013年获评", "points_requested": "2",
            **body}
    return ok(api(r.staff[index]).post(f"{API}/bonus-declarations/", data, format="json"), status)


def test_declared_bonus_items_feed_the_capped_special_bonus(api):
    r = _round()
    evidence = _evidence(api, r, 0)  # evidence is uploaded while preparing, and cited when declaring
    _to_group_step(api, r)
    first = _declare(api, r, 0, evidence_ids=[evidence])
    assert first["evidence"] == [evidence] and first["status"] == "declared"
    second = _declare(api, r, 0, title="省级表彰", points_requested="2.5")
    third = _declare(api, r, 2, title="自评优秀")
    office = api(r.office)
    ok(office.post(f"{API}/bonus-declarations/{first['id']}/approve/", {"points_granted": "2"}, format="json"))
    ok(office.post(f"{API}/bonus-declarations/{second['id']}/approve/", {"points_granted": "2.5", "reason": "属实"},
                   format="json"))
    # Refusing needs a reason; granting more than requested is refused; a decided item stays decided.
    got = ok(office.post(f"{API}/bonus-declarations/{third['id']}/refuse/", {"reason": " "}, format="json"), 400)
    assert set(got["errors"]) == {"reason"}
    got = ok(office.post(f"{API}/bonus-declarations/{third['id']}/approve/", {"points_granted": "2.01"},
                         format="json"), 400)
    assert set(got["errors"]) == {"points_granted"}
    refused = ok(office.post(f"{API}/bonus-declarations/{third['id']}/refuse/", {"reason": "无表彰文件"}, format="json"))
    assert refused["status"] == "refused" and refused["special_bonus"] is None
    ok(office.post(f"{API}/bonus-declarations/{third['id']}/approve/", {"points_granted": "1"}, format="json"), 409)
    assert m.SpecialBonus.objects.filter(case=r.cases[0], level="单位申报").count() == 2
    assert not m.SpecialBonus.objects.filter(case=r.cases[2]).exists()
    for i in range(3):
        advance_case(r, i, upto="done")
    results = ok(office.post(f"{API}/rounds/{r.round.pk}/compute-results/"))
    got = {row["case"]: (row["deductions"], row["bonus"], row["total"]) for row in results}
    # Unit 0: 14 − 3.50 + min(2 + 2.5, cap 3) = 13.50; unit 2: 14 − 4 = 10.00, nothing added.
    assert got[r.cases[0].pk] == ("3.50", "3.00", "13.50")
    assert got[r.cases[2].pk] == ("4.00", "0.00", "10.00")
    actions = set(m.AuditEntry.objects.filter(round=r.round).values_list("action", flat=True))
    assert {"bonus_declaration.create", "bonus_declaration.approve", "bonus_declaration.refuse",
            "special_bonus.create"} <= actions


def test_declaration_bad_input_is_named_and_changes_nothing(api):
    r = _round()
    other = make_round(units=1, launch=True)
    foreign = _evidence(api, other, 0)
    got = _declare(api, r, 0, 400, title="", reason="", points_requested="0", evidence_ids=[foreign])
    assert set(got["errors"]) == {"title", "reason", "points_requested", "evidence_ids[0]"}
    got = _declare(api, r, 0, 400, colour="red")
    assert set(got["errors"]) == {"colour"}
    got = _declare(api, r, 0, 400, points_requested="1.234")
    assert set(got["errors"]) == {"points_requested"}
    assert not m.BonusDeclaration.objects.exists()


def test_permission_matrix(api):
    """Three personas on every new endpoint: the unit (its staff or head), the group (its leader), the office."""
    r = _round()
    _to_group_step(api, r)
    case, other_case = r.cases[0], r.cases[1]
    group = r.groups[0].group
    staff, head, other_staff, leader, office = r.staff[0], r.heads[0], r.staff[1], r.groups[0].leader, r.office
    sc = f"{API}/cases/{case.pk}/self-check/"
    # The case's table: the unit, its group and the office read; a unit never reads another unit's.
    for user, code in ((staff, 200), (head, 200), (leader, 200), (office, 200), (other_staff, 404)):
        ok(api(user).get(sc), code)
    # Writing it is the unit staff's alone (here 409: the case is past preparing; the others are 403 first).
    for user, code in ((staff, 409), (head, 403), (leader, 403), (office, 403), (other_staff, 404)):
        ok(api(user).put(sc, {"counts": COUNTS[1]}, format="json"), code)
    gsc = f"{API}/groups/{group.pk}/self-check/"
    for user, code in ((staff, 403), (head, 403), (leader, 200), (r.groups[0].liaison, 200), (office, 200)):
        ok(api(user).get(gsc), code)
    rec = f"{API}/groups/{group.pk}/recommendations/"
    for user, code in ((staff, 403), (leader, 403), (office, 403), (head, 200)):
        ok(api(user).put(rec, {"organisations": [r.units[1].pk]}, format="json"), code)
    assert "tally" in ok(api(office).get(rec)) and "tally" in ok(api(leader).get(rec))
    assert ok(api(other_staff).get(rec))["own_ballots"] == []
    # Declarations: the unit's staff declare; the office decides; each sees what its access rule gives.
    for user in (head, leader, office):
        _declare_as = {"case": case.pk, "title": "表彰", "reason": "理由", "points_requested": "1"}
        ok(api(user).post(f"{API}/bonus-declarations/", _declare_as, format="json"), 403)
    ok(api(other_staff).post(f"{API}/bonus-declarations/", {"case": case.pk, "title": "表彰", "reason": "理由",
                                                            "points_requested": "1"}, format="json"), 404)
    mine = _declare(api, r, 0)
    theirs = _declare(api, r, 1)
    for user in (staff, head, leader):
        ok(api(user).post(f"{API}/bonus-declarations/{mine['id']}/approve/", {"points_granted": "1"}, format="json"),
           403)
        ok(api(user).post(f"{API}/bonus-declarations/{mine['id']}/refuse/", {"reason": "否"}, format="json"), 403)
    listed = {u: {row["id"] for row in ok(api(u).get(f"{API}/bonus-declarations/"))["results"]}
              for u in (staff, other_staff, leader, office)}
    assert listed[staff] == {mine["id"]} and listed[other_staff] == {theirs["id"]}
    assert listed[leader] == listed[office] == {mine["id"], theirs["id"]}
    ok(api(other_staff).get(f"{API}/bonus-declarations/{mine['id']}/"), 404)
    ok(api(office).post(f"{API}/bonus-declarations/{mine['id']}/approve/", {"points_granted": "1"}, format="json"))
    assert other_case.pk != case.pk
