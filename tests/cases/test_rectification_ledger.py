"""The rectification ledger (整改台账): rows, figures against a hand-computed example, filters, the permission
matrix on the endpoint, the Excel export and the lowest-band repeat flag across two rounds.

Today is frozen at 2026-06-15 10:00 in Asia/Shanghai. Round A (units u0, u1, u2; group g0 = u0 and u2,
group g1 = u1) and round B (the same units, a later round of the same kind):

| # | round | unit | due   | status      | closed (Shanghai) | light  | days overdue | on time |
|---|-------|------|-------|-------------|-------------------|--------|--------------|---------|
| 1 | A     | u0   | 06-20 | planning    |                   | green  | 0            |         |
| 2 | A     | u0   | 06-18 | in_progress |                   | yellow | 0            |         |
| 3 | A     | u1   | 06-10 | verifying   |                   | red    | 5            |         |
| 4 | A     | u1   | 06-09 | closed      | 06-10 01:00       |        | 1            | no      |
| 5 | A     | u2   | 06-01 | closed      | 05-30 10:00       |        | 0            | yes     |
| 6 | A     | u2   | 06-14 | signing     | (lowest band)     | red    | 1            |         |
| 7 | B     | u0   | 07-01 | in_progress | (recurs #1)       | green  | 0            |         |
| 8 | B     | u1   | 06-15 | closed      | 06-15 09:00       |        | 0            | yes     |

Round A: open 4, overdue 2, closed 2, on time 1 (50.0 %). Round B: open 1, overdue 0, closed 1, on time 1
(100.0 %). Across both: open 5, overdue 2, closed 3, on time 2 (66.7 %). #4 was closed on 06-09 in UTC but on
06-10 in Shanghai: late by a day.
"""

import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from cases import models as m
from cases.rectification import selectors as s
from tests.conftest import module_world
from tests.factories import make_round

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=SH)
ON = NOW.date()
GRADES = {"scheme": "thresholds", "bands": [["优秀", "90"], ["良好", "80"], ["一般", "0"]]}
URL = "/api/v1/rectification-ledger/"


def _rect(setup, unit_index, n, due, status, *, closed_at=None, source="finding", **extra):
    case = setup.case(unit_index)
    finding = None
    if source == "finding":
        finding = m.Finding.objects.create(case=case, source=m.FindingSource.INSPECTION, description=f"问题{n}",
                                           requires_rectification=True)
    return m.Rectification.objects.create(
        round=setup.round, case=case, unit=case.unit, group=case.group, source=source, finding=finding,
        status=status, problem=f"问题{n}" if finding else f"末档整改{n}", plan_due=date(2026, 5, 20), due_date=due,
        closed_at=closed_at, **extra)


def _result(setup, unit_index, grade, rank):
    case = setup.case(unit_index)
    m.Result.objects.create(case=case, round=setup.round, panel=Decimal("80"), deductions=Decimal("0"),
                            bonus=Decimal("0"), total=Decimal("80"), rank=rank, grade=grade)


def build():
    a = make_round(units=3, experts=1, groups=2, config={"grades": GRADES}, title="上半年考评")
    b = make_round(units=3, experts=1, groups=2, config={"grades": GRADES}, title="下半年考评",
                   unit_objs=a.units, unit_people=(a.staff, a.heads))
    b.round.previous_round = a.round
    b.round.save()
    st = m.RectificationStatus
    r = {}
    r[1] = _rect(a, 0, 1, date(2026, 6, 20), st.PLANNING)
    r[2] = _rect(a, 0, 2, date(2026, 6, 18), st.IN_PROGRESS)
    r[3] = _rect(a, 1, 3, date(2026, 6, 10), st.VERIFYING)
    r[4] = _rect(a, 1, 4, date(2026, 6, 9), st.CLOSED, closed_at=datetime(2026, 6, 10, 1, 0, tzinfo=SH),
                 verified_by=a.office)
    r[5] = _rect(a, 2, 5, date(2026, 6, 1), st.CLOSED, closed_at=datetime(2026, 5, 30, 10, 0, tzinfo=SH),
                 verified_by=a.office, published_from=date(2026, 6, 1), published_until=date(2026, 6, 30),
                 published_where="门户网站")
    r[6] = _rect(a, 2, 6, date(2026, 6, 14), st.SIGNING, source="lowest_grade")
    r[7] = _rect(b, 0, 7, date(2026, 7, 1), st.IN_PROGRESS, recurring_of=r[1])
    r[8] = _rect(b, 1, 8, date(2026, 6, 15), st.CLOSED, closed_at=datetime(2026, 6, 15, 9, 0, tzinfo=SH),
                 verified_by=b.office)
    review = m.RectificationReview.objects.create
    verification = m.RectificationReview.Stage.VERIFICATION
    review(rectification=r[3], stage=verification, decision="return", comment="佐证不足", reviewer=a.office,
           at=datetime(2026, 6, 12, 9, 0, tzinfo=SH))
    review(rectification=r[5], stage=verification, decision="return", reviewer=a.office,
           at=datetime(2026, 5, 28, 9, 0, tzinfo=SH))
    review(rectification=r[5], stage=verification, decision="accept", reviewer=a.office,
           at=datetime(2026, 5, 30, 10, 0, tzinfo=SH))
    review(rectification=r[5], stage=m.RectificationReview.Stage.PLAN, decision="return", reviewer=a.office,
           at=datetime(2026, 5, 31, 10, 0, tzinfo=SH))  # a later review of another stage: not the verification
    # Lowest band (一般): u0 in both rounds (flagged); u1 only in A; u2 only in B.
    for setup, grades in ((a, ["一般", "一般", "良好"]), (b, ["一般", "良好", "一般"])):
        for i, grade in enumerate(grades):
            _result(setup, i, grade, i + 1)
    return {"a": a, "b": b, "r": r}


world = module_world(build)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _pks(world, numbers):
    return {world["r"][n].pk for n in numbers}


def _number(world):
    return {v.pk: k for k, v in world["r"].items()}


def _all(world):
    return m.Rectification.objects.filter(round__in=[world["a"].round, world["b"].round])


def test_rows_light_days_verification_recurrence(world):
    rows = {_number(world)[row.pk]: row for row in s.ledger_rows(_all(world))}
    assert {n: rows[n].light for n in rows} == {1: "green", 2: "yellow", 3: "red", 4: None, 5: None, 6: "red",
                                                7: "green", 8: None}
    assert {n: rows[n].days_overdue for n in rows} == {1: 0, 2: 0, 3: 5, 4: 1, 5: 0, 6: 1, 7: 0, 8: 0}
    assert rows[4].closed_on == date(2026, 6, 10)  # 2026-06-09 17:00 UTC
    assert (rows[3].verification, rows[3].verification_label) == ("return", "退回")
    assert (rows[5].verification, rows[5].verified_at) == ("accept", date(2026, 5, 30))
    assert rows[1].verification is None
    assert rows[7].recurrence == "反复出现" and rows[1].recurrence == ""
    a = world["a"]
    assert rows[1].owner == a.staff[0].display_name and rows[1].unit_name == a.units[0].name
    assert rows[6].finding == "末档整改6" and rows[6].finding_id is None
    assert rows[1].finding == "问题1" and rows[1].group_name == a.groups[0].group.name
    assert rows[5].verified_by == str(a.office.display_name)


def test_figures_match_the_hand_computed_example(world):
    total, rounds = s.figures_with_rounds(_all(world))
    assert total == s.Figures(open=5, overdue=2, closed=3, closed_on_time=2, closed_on_time_pct=Decimal("66.7"))
    by_round = {r.round_id: r.figures for r in rounds}
    assert by_round[world["a"].round.pk] == s.Figures(4, 2, 2, 1, Decimal("50.0"))
    assert by_round[world["b"].round.pk] == s.Figures(1, 0, 1, 1, Decimal("100.0"))
    empty, _ = s.figures_with_rounds(_all(world).none())
    assert empty == s.Figures(0, 0, 0, 0, None)


def test_filters(world):
    a = world["a"]
    F = s.LedgerFilters
    cases = [
        (F(round=a.round.pk), [1, 2, 3, 4, 5, 6]),
        (F(unit=a.units[1].pk), [3, 4, 8]),
        (F(group=a.groups[0].group.pk), [1, 2, 5, 6]),
        (F(status="closed"), [4, 5, 8]),
        (F(overdue=True), [3, 6]),
        (F(overdue=False), [1, 2, 4, 5, 7, 8]),
        (F(round=a.round.pk, unit=a.units[2].pk, overdue=True), [6]),
    ]
    for filters, expected in cases:
        assert {r.pk for r in s.ledger_rows(s.filtered(_all(world), filters))} == _pks(world, expected), filters


def test_one_query_for_any_number_of_rows(world):
    with CaptureQueriesContext(connection) as few:
        list(s.ledger_rows(s.filtered(_all(world), s.LedgerFilters(unit=world["a"].units[0].pk))))
    with CaptureQueriesContext(connection) as many:
        list(s.ledger_rows(_all(world)))
    assert len(few) == len(many) == 1


def test_api_figures_filters_and_a_bad_filter(world, api):
    a = world["a"]
    body = api(a.office).get(URL).json()
    assert body["count"] == 8 and len(body["results"]) == 8
    assert body["figures"] == {"open": 5, "overdue": 2, "closed": 3, "closed_on_time": 2, "closed_on_time_pct": 66.7}
    rounds = {r["round"]: r for r in body["by_round"]}
    assert rounds[a.round.pk]["closed_on_time_pct"] == 50.0 and rounds[a.round.pk]["open"] == 4
    body = api(a.office).get(URL, {"round": a.round.pk, "overdue": "true"}).json()
    assert {r["pk"] for r in body["results"]} == _pks(world, [3, 6]) and body["by_round"] == []
    row = next(r for r in body["results"] if r["pk"] == world["r"][3].pk)
    assert (row["light"], row["days_overdue"], row["due_date"]) == ("red", 5, "2026-06-10")
    paged = api(a.office).get(URL, {"page_size": 3, "page": 3}).json()
    assert paged["count"] == 8 and len(paged["results"]) == 2
    bad = api(a.office).get(URL, {"status": "nonsense", "unit": "x"})
    assert bad.status_code == 400
    assert {"status", "unit"} <= set(str(bad.content, "utf-8").replace('"', " ").split())


def test_permission_matrix(world, api):
    a, b = world["a"], world["b"]
    everything = _pks(world, range(1, 9))
    personas = {
        "office": (a.office, everything),
        "auditor": (a.auditor, everything),
        "leader": (a.leader, everything),
        "group leader of A's g0": (a.groups[0].leader, _pks(world, [1, 2, 5, 6])),
        "group liaison of B's g1": (b.groups[1].liaison, _pks(world, [8])),
        "unit u1 staff": (a.staff[1], _pks(world, [3, 4, 8])),
        "unit u0 head": (a.heads[0], _pks(world, [1, 2, 7])),
        "an expert": (a.groups[0].experts[0], set()),
    }
    for name, (user, expected) in personas.items():
        body = api(user).get(URL, {"page_size": 200}).json()
        assert {r["pk"] for r in body["results"]} == expected, name
        assert body["count"] == len(expected), name
    # Asking for another unit's rows shows nothing of it.
    body = api(a.staff[1]).get(URL, {"unit": a.units[0].pk}).json()
    assert body["count"] == 0 and body["results"] == [] and body["figures"]["open"] == 0
    assert api().get(URL).status_code in (401, 403)
    assert api().get("/api/v1/rectification-ledger.xlsx").status_code in (401, 403)


def test_xlsx_has_every_visible_row(world, api):
    a = world["a"]
    response = api(a.office).get("/api/v1/rectification-ledger.xlsx", {"round": a.round.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(response.content), read_only=True)["整改台账"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("序号", "考评轮次", "单位", "考评组", "问题")
    assert sorted(r[4] for r in rows[1:]) == sorted(["问题1", "问题2", "问题3", "问题4", "问题5", "末档整改6"])
    by_problem = {r[4]: r for r in rows[1:]}
    assert by_problem["问题3"][9] == "红" and by_problem["问题3"][10] == 5
    assert by_problem["问题4"][11].date() == date(2026, 6, 10)
    mine = api(a.staff[1]).get("/api/v1/rectification-ledger.xlsx")
    ws = load_workbook(io.BytesIO(mine.content), read_only=True)["整改台账"]
    assert sorted(r[4] for r in list(ws.iter_rows(values_only=True))[1:]) == ["问题3", "问题4", "问题8"]


def test_lowest_band_repeats_across_two_rounds(world, api):
    a, b = world["a"], world["b"]
    flagged = s.lowest_band_repeats(b.round)
    assert [(f.unit_id, f.grade, f.previous_round_id, f.flag) for f in flagged] == [
        (a.units[0].pk, "一般", a.round.pk, "组织处理建议")]
    assert s.lowest_band_repeats(a.round) == []  # no earlier round of the kind
    assert api(a.office).get(URL, {"round": b.round.pk}).json()["lowest_band_repeats"] == [{
        "unit": a.units[0].pk, "unit_name": a.units[0].name, "grade": "一般", "previous_round": a.round.pk,
        "previous_grade": "一般", "flag": "组织处理建议"}]
    assert api(a.staff[0]).get(URL, {"round": b.round.pk}).json()["lowest_band_repeats"] == []
    assert api(a.office).get(URL).json()["lowest_band_repeats"] == []
    # Without the explicit link, the latest earlier round of the same kind is the one before.
    b.round.previous_round = None
    b.round.save()
    try:
        assert [f.unit_id for f in s.lowest_band_repeats(b.round)] == [a.units[0].pk]
    finally:
        b.round.previous_round = a.round
        b.round.save()


def test_publication_duty(world):
    duty = s.publication_duty(_all(world))
    assert [p.pk for p in duty.published] == [world["r"][5].pk]
    published = duty.published[0]
    assert (published.days, published.long_enough, published.showing) == (30, True, True)
    assert [p.pk for p in duty.due] == [world["r"][4].pk, world["r"][8].pk]  # by closing day
    since = s.publication_duty(_all(world), since=date(2026, 6, 11))
    assert [p.pk for p in since.due] == [world["r"][8].pk] and since.published == []
    until = s.publication_duty(_all(world), until=date(2026, 6, 10))
    assert {p.pk for p in until.due} == _pks(world, [4])


def test_ledger_page(world, client):
    a, b = world["a"], world["b"]
    client.force_login(a.office)
    html = client.get("/rectification-ledger/", {"round": b.round.pk}).content.decode()
    assert "组织处理建议" in html and a.units[0].name in html and "问题7" in html and "反复出现" in html
    assert "问题1" not in html  # round A's
    html = client.get("/rectification-ledger/").content.decode()
    assert "66.7%" in html and "待公示" in html
    client.force_login(a.staff[1])
    html = client.get("/rectification-ledger/").content.decode()
    assert "问题3" in html and "问题8" in html and "问题1<" not in html and "问题5" not in html
    assert "组织处理建议" not in html and "公示情况" not in html


def test_xlsx_is_bounded(world, api, monkeypatch):
    from cases.rectification import exports

    monkeypatch.setattr(exports, "MAX_ROWS", 5)
    refused = api(world["a"].office).get("/api/v1/rectification-ledger.xlsx")
    assert refused.status_code == 400 and "round" in str(refused.content, "utf-8")
    assert api(world["a"].office).get("/api/v1/rectification-ledger.xlsx", {"round": world["b"].round.pk}).status_code == 200


def test_figures_are_cached_until_a_rectification_changes(world, api):
    a = world["a"]
    assert api(a.office).get(URL).json()["figures"]["closed"] == 3
    with CaptureQueriesContext(connection) as again:
        body = api(a.office).get(URL).json()
    assert body["figures"]["closed"] == 3 and len(again) == 1  # the latest change only: the page is cached
    assert body == api(a.office).get(URL).json()
    rect = world["r"][3]
    with time_machine.travel(datetime(2026, 6, 15, 10, 5, tzinfo=SH), tick=False):
        rect.status, rect.closed_at, rect.updated = m.RectificationStatus.CLOSED, NOW, datetime.now(SH)
        rect.save()
        assert api(a.office).get(URL).json()["figures"]["closed"] == 4
        # Each scope and filter has its own figures: a unit sees its own, whatever the office's are.
        assert api(a.staff[1]).get(URL).json()["figures"]["closed"] == 3
