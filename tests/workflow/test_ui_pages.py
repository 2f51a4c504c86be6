"""Server-rendered pages follow the same rules as the API (Django test client; the browser journey is in tests/e2e)."""

import pytest

from cases import models as m
from tests.factories import advance_case, make_round

pytestmark = pytest.mark.django_db


def test_office_launches_a_round_from_its_page(client):
    r = make_round(units=2, experts=1, launch=False)
    client.force_login(r.office)
    page = client.get(f"/rounds/{r.round.pk}/")
    assert "启动考评" in page.content.decode()
    response = client.post(f"/rounds/{r.round.pk}/", {"action": "launch"})
    assert response.status_code == 302
    r.round.refresh_from_db()
    assert r.round.status == m.RoundStatus.RUNNING
    assert set(r.round.cases.values_list("status", flat=True)) == {m.CaseStatus.PREPARE}


def test_launch_problems_are_shown_and_nothing_starts(client):
    r = make_round(units=1, experts=1, launch=False)
    m.GroupMember.objects.filter(role=m.GroupRole.EXPERT).delete()
    client.force_login(r.office)
    response = client.post(f"/rounds/{r.round.pk}/", {"action": "launch"})
    assert response.status_code == 200
    assert "没有评分专家" in response.content.decode()
    r.round.refresh_from_db()
    assert r.round.status == m.RoundStatus.DRAFT


def test_audit_page_is_for_office_and_auditor_only(client):
    r = make_round(units=1, experts=1, launch=True)
    for user, status in ((r.auditor, 200), (r.office, 200), (r.staff[0], 403), (r.leader, 403)):
        client.force_login(user)
        response = client.get("/audit/")
        assert response.status_code == status
        if status == 200:
            assert "round.launch" in response.content.decode()
    client.force_login(r.auditor)
    assert client.get("/audit/?round=abc").status_code == 200  # a bad filter is ignored, not a 500


def test_task_and_case_pages_respect_row_level_access(client):
    r = make_round(units=2, experts=1, launch=True)
    advance_case(r, 0, upto="sign_off")
    task = r.task("sign_off", r.cases[0])
    client.force_login(r.heads[1])  # the other unit's head
    assert client.get(f"/tasks/{task.pk}/").status_code == 404
    assert client.get(f"/cases/{r.cases[0].pk}/").status_code == 404
    client.force_login(r.heads[0])
    assert client.get(f"/tasks/{task.pk}/").status_code == 200
    response = client.post(f"/tasks/{task.pk}/", {"action": "return", "comment": ""})
    assert "退回时必须填写意见" in response.content.decode()
    assert r.task("sign_off", r.cases[0]).pk == task.pk  # still open
    response = client.post(f"/tasks/{task.pk}/", {"action": "return", "comment": "请补充数据"})
    assert response.status_code == 302
    assert r.cases[0].submissions.get().return_comment == "请补充数据"


def test_expert_scores_through_the_score_page(client):
    r = make_round(units=1, experts=1, launch=True)
    case = advance_case(r, 0, upto="score")
    expert = r.group_of(0).experts[0]
    task = r.task("score", case, expert=expert)
    client.force_login(expert)
    form = {"deduction__S1.1": "1.5", "reason__S1.1": "缺少会议记录", "bonus__S1.2": "3", "reason__S1.2": "推广"}
    refused = client.post(f"/tasks/{task.pk}/", {**form, "action": "submit"})
    assert "加分不能超过该项加分上限" in refused.content.decode()
    form["bonus__S1.2"] = "1"
    assert client.post(f"/tasks/{task.pk}/", {**form, "action": "submit"}).status_code == 302
    sheet = m.ScoreSheet.objects.get(case=case, expert=expert)
    assert (sheet.status, str(sheet.total)) == (m.SheetStatus.SUBMITTED, "14.50")  # 15 − 1.5 + 1


@pytest.mark.parametrize("who", ["auditor", "office", "leader"])
def test_people_who_only_see_a_score_task_cannot_write_a_sheet(client, who):
    r = make_round(units=1, experts=1, launch=True)
    case = advance_case(r, 0, upto="score")
    expert = r.group_of(0).experts[0]
    task = r.task("score", case, expert=expert)
    viewer = getattr(r, who)
    client.force_login(viewer)
    page = client.get(f"/tasks/{task.pk}/")
    assert page.status_code == 200
    assert 'value="submit"' not in page.content.decode()  # no buttons for someone who cannot act
    response = client.post(f"/tasks/{task.pk}/", {"action": "save", "deduction__S1.1": "2", "reason__S1.1": "x"})
    assert "只能填写本人的评分表" in response.content.decode()
    assert not m.ScoreSheet.objects.filter(expert=viewer).exists()
    # The expert can still finish, and the case reaches review.
    client.force_login(expert)
    assert client.post(f"/tasks/{task.pk}/", {"action": "submit", "reason": "全部满分"}).status_code == 302
    case.refresh_from_db()
    assert case.status == m.CaseStatus.REVIEW


def test_rounds_page_counts_each_unit_once(client):
    r = make_round(units=3, experts=2, launch=True)
    client.force_login(r.staff[0])
    page = client.get("/rounds/")
    assert page.context["rounds"].get(pk=r.round.pk).case_count == 3
