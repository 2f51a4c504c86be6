"""Every kind of page in Chromium under the Content-Security-Policy (no inline script or style): the
pages, the flow diagram, the dashboard, the audit log, the admin and Swagger UI, with no violation
reported (the `page` fixture fails the test on one). Screenshots go to $SCREENSHOT_DIR when set."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from viewflow.workflow.models import Task

from cases import models as m
from tests.e2e.conftest import PASSWORD, login
from workflow import services
from workflow.flows import CaseFlow

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("SCREENSHOT_DIR")


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_office_pages_admin_and_api_docs_work_under_the_policy(page, live_server, launched_round):
    base = live_server.url
    admin = m.User.objects.create_superuser("admin", password=PASSWORD)  # configuration only
    case = launched_round.cases.get()
    staff = m.User.objects.get(username="staff")
    task = Task.objects.get(process__artifact_object_id=case.pk, process__flow_class=CaseFlow,
                            flow_task=CaseFlow.prepare)
    if task.owner_id is None:
        services.task_claim(user=staff, task_id=task.pk)
    services.task_act(user=staff, task_id=task.pk, action="submit", data={"report": "自评报告。"})

    response = page.goto(f"{base}/accounts/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert "camera=()" in response.headers["permissions-policy"]
    login(page, base, "office")

    page.goto(f"{base}/rounds/{launched_round.pk}/")
    expect(page.locator("h1")).to_contain_text("半年跟踪考评")
    shot(page, "round")
    page.goto(f"{base}/rounds/{launched_round.pk}/dashboard/")
    expect(page.locator("h1")).to_contain_text("督办看板")
    expect(page.locator(".light.green").first).to_be_visible()
    shot(page, "dashboard")

    page.goto(f"{base}/cases/{case.pk}/")
    current = page.locator(".diagram svg g.current rect.task")
    expect(current).to_have_count(1)
    expect(page.locator(".diagram svg g.current")).to_contain_text("当前")
    # styled from the stylesheet, not left to the SVG default (black): the policy blocks inline styles
    assert current.evaluate("r => getComputedStyle(r).fill") == "rgb(255, 224, 178)"
    done = page.locator(".diagram svg g.done rect.task").first
    assert done.evaluate("r => getComputedStyle(r).fill") == "rgb(200, 230, 201)"
    assert set(page.locator(".diagram svg text.edge-label").all_text_contents()) == {"通过", "退回"}
    shot(page, "case")

    page.goto(f"{base}/audit/")
    expect(page.locator("table.audit")).to_contain_text("提交自评材料")
    shot(page, "audit")

    page.click("text=退出")
    login(page, base, admin.username)
    page.goto(f"{base}/admin/")
    expect(page.locator("#content")).to_contain_text("审计日志")
    page.goto(f"{base}/admin/cases/auditentry/")
    expect(page.locator("#result_list")).to_contain_text("操作")
    shot(page, "admin")

    page.goto(f"{base}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Assessment rounds API", timeout=20000)
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    shot(page, "api-docs")

    # The language switch is a script file now (no onchange attribute): choosing English reloads.
    page.goto(f"{base}/")
    page.select_option("select[name=language]", "en")
    expect(page.locator("h1")).to_have_text("Tasks")
    page.select_option("select[name=language]", "zh-hans")
    expect(page.locator("h1")).to_have_text("任务")


def test_staff_uploads_evidence_and_claims_from_the_landing_page(page, live_server, launched_round, tmp_path,
                                                                settings):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    base = live_server.url
    m.UnitMembership.objects.create(user=m.User.objects.create_user("staff2", password=PASSWORD),
                                    unit=m.Unit.objects.get(code="U01"), role=m.UnitRole.STAFF)
    login(page, base, "staff")
    shot(page, "landing")
    claimable = page.locator("#tasks-claimable")
    if claimable.count():  # queued (two staff members may take it): claimed from the landing page
        expect(claimable).to_contain_text("准备自评材料")
        claimable.locator("button[value=claim]").first.click()
    else:
        page.click("#tasks-inbox >> text=准备自评材料")
    expect(page.locator("#evidence")).to_be_visible()
    evidence = tmp_path / "会议记录.pdf"
    evidence.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    page.set_input_files("#evidence-file", str(evidence))
    page.click("#evidence button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("已上传")
    expect(page.locator("table.attachments")).to_contain_text("会议记录.pdf")
    shot(page, "prepare")
    assert m.Attachment.objects.get().original_name == "会议记录.pdf"

