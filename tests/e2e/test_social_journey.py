"""Seed 004 in the browser: a unit's staff drafts the questionnaire (blank rows ignored), sees the
analysis's character count move as they type (app.js, under the CSP), submits the questionnaire, and the
office approves it and reads the round's materials overview."""

import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases import models as m
from cases import round_templates
from cases.services import rounds as round_services
from tests.e2e.conftest import _user, login
from workflow import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def social_round(db):
    office = _user("office", org_role=m.OrgRole.OFFICE)
    unit = m.Unit.objects.create(code="S01", name="自治区商务厅", category=m.UnitCategory.GOVERNMENT)
    m.UnitMembership.objects.create(user=_user("staff"), unit=unit, role=m.UnitRole.STAFF)
    m.UnitMembership.objects.create(user=_user("head"), unit=unit, role=m.UnitRole.HEAD)
    template = round_templates.ready_template("social_evaluation")
    template = dataclasses.replace(template, config={**template.config, "sample_minimums": {"economic": 2}})
    round = round_services.round_create_from_template(user=office, template=template, year=2015,
                                                      start=timezone.localdate() - timedelta(days=2))
    round_services.group_create(user=office, round=round, number=1, name="政府工作部门",
                                members=[{"user": _user("liaison"), "role": m.GroupRole.LIAISON}], units=[unit])
    services.round_launch(user=office, round_id=round.pk)
    return round


def test_staff_drafts_and_submits_the_questionnaire_office_approves(page, live_server, social_round):
    base = live_server.url
    case = social_round.cases.get()

    login(page, base, "staff")
    page.click("text=制定评议问卷")
    expect(page.locator("h1")).to_contain_text("自治区商务厅")
    page.fill("#topic", "优化口岸营商环境工作")
    for n in range(3):
        page.fill(f"textarea[name=question__{n * 2}]", f"您对口岸通关效率第{n + 1}项的评价？")
    page.click("button[value=save]")
    expect(page.locator(".messages")).to_contain_text("已保存问卷草稿")
    assert m.Questionnaire.objects.get(case=case).questions == [f"您对口岸通关效率第{n}项的评价？" for n in (1, 2, 3)]
    # Too few questions: the error beside the questions, the task still open.
    page.click("button[value=submit]")
    expect(page.locator(".field-error").first).to_contain_text("问题不少于 5 个")
    for n in (3, 4):
        page.fill(f"textarea[name=question__{n}]", f"您对口岸通关效率第{n + 1}项的评价？")
    page.click("button[value=submit]")
    expect(page.locator(".messages")).to_contain_text("已办理")

    # The analysis's count follows the typing (whitespace not counted).
    page.click("text=填写年度绩效分析")
    page.fill("#completion", "全年 任务\n完成")
    expect(page.locator("[data-char-used]")).to_have_text("6")
    page.fill("#innovation", "一站式")
    expect(page.locator("[data-char-used]")).to_have_text("9")

    page.click("text=退出")
    login(page, base, "office")
    page.click("text=审核评议问卷")
    expect(page.locator("#questions")).to_contain_text("您对口岸通关效率第5项的评价？")
    page.click("button[value=approve]")
    expect(page.locator(".messages")).to_contain_text("已办理")
    assert m.Questionnaire.objects.get(case=case).status == m.DraftStatus.APPROVED

    page.goto(f"{base}/rounds/{social_round.pk}/")
    page.click("text=材料报送情况")
    expect(page.locator("#social-materials")).to_contain_text("自治区商务厅")
    expect(page.locator("#social-materials")).to_contain_text("已通过")
