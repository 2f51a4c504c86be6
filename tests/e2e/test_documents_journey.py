"""The office issues a notice in Chromium: from the round's page it drafts a launch notice, edits a
paragraph, asks for issue; once the worker has rendered it (called here), the page shows the number and
the PDF downloads with the edited text. Under the Content-Security-Policy (the `page` fixture)."""

import subprocess

import pytest
from playwright.sync_api import expect

from notifications.documents import services
from notifications.documents.models import Document
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_office_drafts_edits_issues_and_downloads_a_notice(page, live_server, launched_round):
    base = live_server.url
    login(page, base, "office")
    page.goto(f"{base}/rounds/{launched_round.pk}/")
    page.click(".documents-card button[value=launch_notice]")
    expect(page.locator("h1")).to_contain_text("关于开展半年跟踪考评的通知")
    body = page.locator("textarea[name=body]")
    body.fill(body.input_value() + "\n请各单位指定一名联络员，于本周五前报考核办。")
    page.click("button[value=save]")
    expect(page.locator(".messages")).to_contain_text("已保存")
    page.click("button[value=issue]")
    expect(page.locator(".messages")).to_contain_text("已提交印发")

    document = Document.objects.get(round=launched_round, kind="launch_notice")
    assert services.issue_render(document.pk)  # what the worker does
    document.refresh_from_db()
    page.reload()
    expect(page.locator("dl.changes")).to_contain_text(document.doc_number)
    with page.expect_download() as download:
        page.click("text=下载正式文件（PDF）")
    pdf = open(download.value.path(), "rb").read()
    text = "".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
                   .stdout.decode().split())
    assert document.doc_number in text and "请各单位指定一名联络员，于本周五前报考核办。" in text
