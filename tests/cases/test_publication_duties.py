"""Seed 004's publication duties (公告 ≥ 14 days, 年度绩效 ≥ 30 days, 上年度整改情况 ≥ 30 days, all by the
round's date): a unit records where and since when; the office's list flags a duty not met by its date in
red and, where the round says so (`publication_deduction`), deducts it.

Hand-worked (the due date D = today − 40 days, 0.50 per red duty):
    A: notice from D−1, still up (42 days ≥ 14): met; performance D−5 … D+10 (16 days < 30): short, red;
       rectification not recorded: missing, red → 2 red, 1.00 deducted
    B: all three from D, still up (41 days): met → 0
    C: notice from D+1: late, red; the others missing → 3 red, 1.50 deducted
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from cases import models as m
from cases.evaluation import selectors
from cases.scoring import results
from tests.factories import make_round, make_user

pytestmark = pytest.mark.django_db


def _social(due: dt.date, deduction: str | None = "0.50"):
    config = {"publication_due": due.isoformat(), "leader_evaluation_points": "5"}
    if deduction is not None:
        config["publication_deduction"] = deduction
    setup = make_round(units=3, experts=1, config=config)
    m.Round.objects.filter(pk=setup.round.pk).update(kind=m.RoundKind.SOCIAL)
    setup.round.refresh_from_db()
    return setup


def _record(api, user, case, kind, expect=200, **body):
    r = api(user).put(f"/api/v1/cases/{case.pk}/publication-duties/{kind}/", body, format="json")
    assert r.status_code == expect, r.content
    return r


def _recorded(api):
    due = timezone.localdate() - dt.timedelta(days=40)
    setup = _social(due)
    a, b, c = setup.cases
    sa, sb, sc = setup.staff
    _record(api, sa, a, "notice", place="https://a.example.gov.cn/gg", start_date=str(due - dt.timedelta(days=1)))
    _record(api, setup.heads[0], a, "performance", place="机关宣传栏", start_date=str(due - dt.timedelta(days=5)),
            end_date=str(due + dt.timedelta(days=10)))
    for kind in ("notice", "performance", "rectification"):
        _record(api, sb, b, kind, place=f"https://b.example.gov.cn/{kind}", start_date=str(due))
    _record(api, sc, c, "notice", place="https://c.example.gov.cn/", start_date=str(due + dt.timedelta(days=1)))
    return setup, due


def test_office_list_flags_duties_not_met_in_red(api):
    setup, due = _recorded(api)
    body = api(setup.office).get(f"/api/v1/rounds/{setup.round.pk}/publication-duties/").json()
    assert body["due_date"] == str(due) and body["red"] == 5
    state = {(row["case"], row["kind"]): (row["status"], row["red"], row["deduction"]) for row in body["duties"]}
    a, b, c = setup.cases
    assert state[(a.pk, "notice")] == ("met", False, "0")
    assert state[(a.pk, "performance")] == ("short", True, "0.50")
    assert state[(a.pk, "rectification")] == ("missing", True, "0.50")
    assert {state[(b.pk, k)] for k in ("notice", "performance", "rectification")} == {("met", False, "0")}
    assert state[(c.pk, "notice")] == ("late", True, "0.50")
    assert state[(c.pk, "performance")][:2] == ("missing", True)
    rect_rows = [row for row in body["duties"] if row["kind"] == "rectification"]
    assert all(row["ledger"] == {"published": 0, "due": 0} for row in rect_rows)  # no last-year ledger here


def test_red_duties_are_deducted_by_the_results_engine_and_in_the_component(api):
    setup, _ = _recorded(api)
    a, b, c = setup.cases
    incidents, _ = results.incidents_of(setup.round, setup.cases)
    assert sum(i.amount * i.count for i in incidents[a.pk]) == D("1.00")
    assert b.pk not in incidents
    assert sum(i.amount * i.count for i in incidents[c.pk]) == D("1.50")
    assert {i.kind for i in incidents[a.pk]} == {"公示义务未履行（年度绩效情况展示）", "公示义务未履行（上年度整改情况公布）"}
    # The social round's component: every unit scored 4 by one evaluator → 4.00 points, less the deductions.
    evaluator = make_user()
    m.LeaderEvaluator.objects.create(round=setup.round, user=evaluator)
    for case in setup.cases:
        r = api(evaluator).post(f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/submit/",
                                {"case": case.pk, "score": 4}, format="json")
        assert r.status_code == 201
    assert api(setup.office).post(f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/compile/").status_code == 200
    totals = {res.case_id: (res.deductions, res.total, res.rank) for res in m.Result.objects.filter(round=setup.round)}
    assert totals == {a.pk: (D("1.00"), D("3.00"), 2), b.pk: (D("0.00"), D("4.00"), 1),
                      c.pk: (D("1.50"), D("2.50"), 3)}


def test_flagged_but_not_deducted_without_the_round_setting(api):
    due = timezone.localdate() - dt.timedelta(days=40)
    setup = _social(due, deduction=None)
    body = api(setup.office).get(f"/api/v1/rounds/{setup.round.pk}/publication-duties/").json()
    assert body["red"] == 9 and all(row["deduction"] == "0" for row in body["duties"])
    incidents, _ = results.incidents_of(setup.round, setup.cases)
    assert not incidents


def test_states_at_the_boundaries():
    due = dt.date(2026, 12, 10)
    pub = m.DutyPublication(start_date=due - dt.timedelta(days=13), end_date=due)  # 14 days, both ends included
    assert selectors.duty_state(pub, due=due, need=14, on=due + dt.timedelta(days=5)).status == "met"
    pub.end_date = due - dt.timedelta(days=1)  # 13 days
    assert selectors.duty_state(pub, due=due, need=14, on=due + dt.timedelta(days=5)).status == "short"
    pub.end_date = None  # still up, 6 days so far: not red yet
    assert selectors.duty_state(pub, due=due, need=14, on=due - dt.timedelta(days=8)).status == "running"
    assert selectors.duty_state(None, due=due, need=30, on=due).status == "pending"
    assert selectors.duty_state(None, due=due, need=30, on=due + dt.timedelta(days=1)).status == "missing"
    pub.start_date = due + dt.timedelta(days=1)
    assert selectors.duty_state(pub, due=due, need=14, on=due + dt.timedelta(days=30)).status == "late"


def test_bad_input_is_a_field_level_400_and_changes_nothing(api):
    setup = _social(timezone.localdate())
    case, staff = setup.cases[0], setup.staff[0]
    r = _record(api, staff, case, "notice", expect=400, place="", start_date="2026-13-01", colour="red")
    assert {"place", "start_date", "colour"} <= set(r.json()["errors"])
    today = timezone.localdate()
    r = _record(api, staff, case, "notice", expect=400, place="网站", start_date=str(today),
                end_date=str(today - dt.timedelta(days=1)))
    assert set(r.json()["errors"]) == {"end_date"}
    r = _record(api, staff, case, "notice", expect=400, place="网站", start_date=str(today + dt.timedelta(days=1)))
    assert set(r.json()["errors"]) == {"start_date"}
    r = _record(api, staff, case, "poster", expect=400, place="网站", start_date=str(today))
    assert set(r.json()["errors"]) == {"kind"}
    assert not m.DutyPublication.objects.exists()


def test_a_new_record_replaces_the_old_one_audited(api):
    setup = _social(timezone.localdate())
    case, staff = setup.cases[0], setup.staff[0]
    today = str(timezone.localdate())
    _record(api, staff, case, "notice", place="旧网址", start_date=today)
    _record(api, staff, case, "notice", place="新网址", start_date=today)
    assert list(m.DutyPublication.objects.values_list("place", flat=True)) == ["新网址"]
    entries = m.AuditEntry.objects.filter(action="publication_duty_record").order_by("pk")
    assert [e.after["place"] for e in entries] == ["旧网址", "新网址"] and entries[1].before["place"] == "旧网址"


def test_permission_matrix(api):
    setup = _social(timezone.localdate())
    case = setup.cases[0]
    body = {"place": "网站", "start_date": str(timezone.localdate())}
    expert = setup.groups[0].experts[0]
    for user in (setup.office, setup.leader, expert, setup.staff[1]):
        r = api(user).put(f"/api/v1/cases/{case.pk}/publication-duties/notice/", body, format="json")
        assert r.status_code in (403, 404), (user, r.status_code)
    assert not m.DutyPublication.objects.exists()
    _record(api, setup.staff[0], case, "notice", **body)
    # The office's list has every unit; a unit's staff see their own unit's three duties; an expert none.
    assert len(api(setup.office).get(f"/api/v1/rounds/{setup.round.pk}/publication-duties/").json()["duties"]) == 9
    own = api(setup.staff[0]).get(f"/api/v1/rounds/{setup.round.pk}/publication-duties/").json()["duties"]
    assert {row["case"] for row in own} == {case.pk} and len(own) == 3
    assert api(expert).get(f"/api/v1/rounds/{setup.round.pk}/publication-duties/").status_code == 403


def test_page_unit_records_office_sees_red(client):
    due = timezone.localdate() - dt.timedelta(days=40)
    setup = _social(due)
    url = f"/rounds/{setup.round.pk}/leader-evaluation/"
    client.force_login(setup.staff[0])
    r = client.post(url, {"action": "record", "case": setup.cases[0].pk, "kind": "notice", "place": "https://a.example",
                          "start_date": str(due)})
    assert r.status_code == 302
    bad = client.post(url, {"action": "record", "case": setup.cases[0].pk, "kind": "notice", "place": "",
                            "start_date": "x"})
    assert bad.status_code == 400
    # Another unit's case is not the staff member's to record.
    other = client.post(url, {"action": "record", "case": setup.cases[1].pk, "kind": "notice", "place": "网站",
                              "start_date": str(due)})
    assert other.status_code == 403
    client.force_login(setup.office)
    page = client.get(url).content.decode()
    assert "8 项未按要求完成" in page and "https://a.example" in page


def test_round_config_keys_are_checked():
    from cases.scoring import round_config
    assert round_config.problems({"publication_due": "2026-12-10", "publication_deduction": "0.5",
                                  "publication_min_days": {"notice": 14}, "leader_evaluation_points": "10"}) == []
    found = round_config.problems({"publication_due": "12月10日", "publication_deduction": "-1",
                                   "publication_min_days": {"poster": 3}, "leader_evaluation_points": "x"})
    assert len(found) == 4
