"""A unit user logs in, opens the inbox, submits the self-assessment; the unit head signs off."""

import re

import pytest
from playwright.sync_api import expect

from cases import models as m
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_unit_submits_and_head_signs_off(page, live_server, launched_round):
    base = live_server.url
    case = launched_round.cases.get()

    login(page, base, "staff")
    # The unit's one staff member has the task in 我的待办, the landing page.
    page.click("text=准备自评材料")
    expect(page.locator("h1")).to_contain_text("省委办公厅")
    page.fill("#report", "上半年落实“五个提升”，完成重点任务。")
    page.click("button[value=submit]")
    expect(page.locator(".messages")).to_contain_text("已办理")

    submission = case.submissions.get()
    assert submission.status == m.SubmissionStatus.SUBMITTED
    assert submission.report == "上半年落实“五个提升”，完成重点任务。"
    assert submission.submitted_by.username == "staff"

    page.click("text=退出")
    login(page, base, "head")
    page.click("text=单位负责人审定")
    expect(page.locator(".report")).to_contain_text("五个提升")
    page.click("button[value=approve]")
    expect(page.locator(".messages")).to_contain_text("已办理")

    submission.refresh_from_db()
    case.refresh_from_db()
    assert submission.status == m.SubmissionStatus.SIGNED
    assert case.status == m.CaseStatus.INSPECT

    # The head's done list shows the sign-off; the case page shows the flow now at inspection.
    page.goto(f"{base}/?scope=archive")
    expect(page.locator("table")).to_contain_text("单位负责人审定")
    page.goto(f"{base}/cases/{case.pk}/")
    expect(page.locator(".diagram svg")).to_be_visible()
    expect(page.locator("table").first).to_contain_text(re.compile("单位负责人审定.*head", re.S))
