"""Seed 001's pages: the unit fills its self-check table on its case, the group sees the shortfalls,
heads recommend and the group sees the tally, the unit declares a bonus item and the office decides."""

import pytest
from django.test import Client

from cases import models as m
from tests.cases.test_party_building import CONFIG, COUNTS
from tests.factories import advance_case, make_round

pytestmark = pytest.mark.django_db


def _as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _fill(r, index, counts):
    data = {}
    for code, value in counts.items():
        if value is None:
            data[f"na_{code}"] = "1"
        else:
            data[f"count_{code}"] = str(value)
    return _as(r.staff[index]).post(f"/cases/{r.cases[index].pk}/self-check/", data)


def test_self_check_pages():
    r = make_round(units=3, experts=2, launch=True, config=CONFIG)
    case = r.cases[0]
    page = _as(r.staff[0]).get(f"/cases/{case.pk}/")
    assert "自查统计表" in page.content.decode() and "填写自查统计表" in page.content.decode()
    bad = _as(r.staff[0]).post(f"/cases/{case.pk}/self-check/", {"count_A01": "六", "count_A02": "-1"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "counts.A01" in text and "counts.A02" in text
    assert not m.Submission.objects.filter(case=case).exists()
    assert _fill(r, 0, COUNTS[0]).status_code == 302
    shown = _as(r.staff[0]).get(f"/cases/{case.pk}/self-check/").content.decode()
    assert "少3次" in shown and "3.50" in shown
    # Someone else's unit cannot write it; the head reads it but cannot write it.
    assert _as(r.staff[1]).post(f"/cases/{case.pk}/self-check/", {"count_A01": "6"}).status_code == 404
    assert _as(r.heads[0]).post(f"/cases/{case.pk}/self-check/", {"count_A01": "6"}).status_code == 403
    for i in (1, 2):
        _fill(r, i, COUNTS[i])
    for i in range(3):
        advance_case(r, i, upto="inspect")
    group = r.groups[0].group
    review = _as(r.groups[0].leader).get(f"/groups/{group.pk}/self-check/")
    assert review.status_code == 200
    text = review.content.decode()
    assert "党委会（3/6，少3次）" in text and "4.00" in text
    assert _as(r.staff[0]).get(f"/groups/{group.pk}/self-check/").status_code == 403


def test_recommendation_and_declaration_pages():
    r = make_round(units=3, experts=2, launch=True, config=CONFIG)
    for i in range(3):
        _fill(r, i, COUNTS[i])
        advance_case(r, i, upto="inspect")
    group = r.groups[0].group
    url = f"/groups/{group.pk}/recommendations/"
    u0, u1, u2 = (u.pk for u in r.units)
    too_many = _as(r.heads[0]).post(url, {"organisations": [str(u1), str(u2), str(u0)]})
    assert too_many.status_code == 400 and "organisations" in too_many.content.decode()
    done = _as(r.heads[0]).post(url, {"organisations": [str(u1)], "worker_unit_0": str(u2), "worker_name_0": "李四",
                                      "worker_post_0": "组织委员"})
    assert done.status_code == 302
    again = _as(r.heads[0]).get(url).content.decode()  # the form starts from the unit's ballot
    assert 'value="李四"' in again and 'value="组织委员"' in again
    assert _as(r.staff[0]).post(url, {"organisations": [str(u1)]}).status_code == 403
    tally = _as(r.groups[0].leader).get(url).content.decode()
    assert "推荐结果" in tally and "李四" in tally and "已推荐单位 1 / 3" in tally
    assert "推荐结果" not in _as(r.heads[1]).get(url).content.decode()
    # Declared bonus items.
    durl = f"/cases/{r.cases[0].pk}/bonus-declarations/"
    assert _as(r.staff[0]).post(durl, {"action": "declare", "title": "", "reason": "", "points_requested": "x"}
                                ).status_code == 400
    assert _as(r.staff[0]).post(durl, {"action": "declare", "title": "省级文明单位", "reason": "获评",
                                       "points_requested": "2"}).status_code == 302
    declaration = m.BonusDeclaration.objects.get(case=r.cases[0])
    assert _as(r.staff[0]).post(durl, {"action": "approve", "declaration": declaration.pk,
                                       "points_granted": "2"}).status_code == 400  # shown as an error, nothing done
    refused = _as(r.office).post(durl, {"action": "refuse", "declaration": declaration.pk, "reason": ""})
    assert refused.status_code == 400 and "reason" in refused.content.decode()
    assert _as(r.office).post(durl, {"action": "approve", "declaration": declaration.pk,
                                     "points_granted": "1.5"}).status_code == 302
    declaration.refresh_from_db()
    assert declaration.status == "approved" and str(declaration.points_granted) == "1.50"
    assert "已批准" in _as(r.staff[0]).get(durl).content.decode()


def test_the_compile_page_shows_the_deductions_item_by_item():
    r = make_round(units=3, experts=2, launch=True, config=CONFIG)
    for i in range(3):
        _fill(r, i, COUNTS[i])
        advance_case(r, i, upto="done")
    task = r.task("compile")
    page = _as(r.office).get(f"/tasks/{task.pk}/").content.decode()
    assert "自查统计表：党委会少3次，计入S1.1 −1.50" in page
