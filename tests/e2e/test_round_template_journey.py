"""The office drafts a round from a seed's template in Chromium: picks the template on /rounds/, gives the
start day, and lands on the draft round with the template's title and dues. Screenshots go to
$SCREENSHOT_DIR when set."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cases import models as m
from tests.e2e.conftest import _user, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("SCREENSHOT_DIR")


def test_the_office_drafts_a_round_from_a_template(page, live_server):
    _user("office", org_role=m.OrgRole.OFFICE)
    base = live_server.url
    login(page, base, "office")
    page.goto(f"{base}/rounds/")
    expect(page.locator("h2")).to_contain_text("按模板新建考评轮次")
    page.locator('input[name="template"][value="wuxing_creation"]').check()
    page.fill('input[name="year"]', "2016")
    page.fill('input[name="start"]', "2017-05-08")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/rounds-template.png", full_page=True)
    page.click("text=新建轮次")
    expect(page.locator("h1")).to_contain_text("2016年度市直机关创建“五型机关”调研考核")
    round = m.Round.objects.get()
    assert round.rubric.code == "wuxing_2016" and round.status == m.RoundStatus.DRAFT
    assert round.inspect_due.date().isoformat() == "2017-05-27"
