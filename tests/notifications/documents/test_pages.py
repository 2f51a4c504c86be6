"""The documents pages: the office drafts, edits, previews and issues on them, and follows a bulk issue on
its progress page; a unit sees only what it may read. Same services and access rule as the API."""

import re

import pytest
from django.test import Client

from cases.scoring import results
from notifications.documents import services
from notifications.documents.models import Document, DocumentStatus
from tests.conftest import module_world
from tests.factories import advance_case, make_round


def build():
    setup = make_round(units=2, experts=1, launch=True)
    for i in range(2):
        advance_case(setup, i)
    results.round_compute_results(user=setup.office, round=setup.round)
    results.round_freeze_results(round=setup.round)
    return setup


world = module_world(build)
pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_office_drafts_edits_issues_on_the_pages(world):
    office = client_for(world.office)
    page = office.get("/documents/")
    assert page.status_code == 200 and "起草公文" in page.content.decode()
    response = office.post("/documents/", {"draft-round": world.round.pk, "draft-kind": "launch_notice", "draft-unit": ""})
    assert response.status_code == 302
    document = Document.objects.latest("pk")
    assert response["Location"] == f"/documents/{document.pk}/"
    detail = office.get(response["Location"]).content.decode()
    assert "修改文字" in detail and "生成样稿" in detail and document.title in detail

    office.post(f"/documents/{document.pk}/", {"action": "save", "title": "新的标题", "addressees": "各单位：",
                                              "body": "第一段。\n\n一、第二段", "cc": ""})
    document.refresh_from_db()
    assert document.title == "新的标题" and document.body == ["第一段。", "一、第二段"]
    # A bad edit names the field on the page and changes nothing.
    page = office.post(f"/documents/{document.pk}/", {"action": "save", "title": "标题", "addressees": "",
                                                     "body": "缺字\U0001F600", "cc": ""}).content.decode()
    assert "body.0" in page and "\U0001F600" in page
    document.refresh_from_db()
    assert document.body == ["第一段。", "一、第二段"]

    office.post(f"/documents/{document.pk}/", {"action": "issue"})
    document.refresh_from_db()
    assert document.status == DocumentStatus.ISSUING
    page = office.get(f"/documents/{document.pk}/").content.decode()
    assert 'http-equiv="refresh"' in page  # waits for the worker, refreshing itself
    services.issue_render(document.pk)
    page = office.get(f"/documents/{document.pk}/").content.decode()
    document.refresh_from_db()
    assert document.doc_number in page and document.sha256 in page and "下载正式文件" in page
    download = office.get(f"/documents/{document.pk}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")


def test_bulk_progress_page_and_unit_view(world):
    office = client_for(world.office)
    response = office.post("/documents/", {"batch-round": world.round.pk})
    assert response.status_code == 302
    progress = office.get(response["Location"]).content.decode()
    assert re.search(r'<progress value="0" max="2"', progress) and "已完成 0 / 2" in progress
    for pk in Document.objects.filter(round=world.round, kind="feedback_letter").values_list("pk", flat=True):
        services.issue_render(pk)
    letters = list(Document.objects.filter(round=world.round, kind="feedback_letter").order_by("pk"))
    assert all(letter.title for letter in letters)  # the worker wrote each letter's text
    progress = office.get(response["Location"]).content.decode()
    assert "已完成 2 / 2" in progress and 'http-equiv="refresh"' not in progress

    unit = client_for(world.staff[0])
    listing = unit.get("/documents/").content.decode()
    own = next(d for d in letters if d.unit_id == world.units[0].pk)
    other = next(d for d in letters if d.unit_id == world.units[1].pk)
    assert own.title in listing and other.title not in listing and "起草公文" not in listing
    assert unit.get(f"/documents/{own.pk}/download/").status_code == 200
    assert unit.get(f"/documents/{other.pk}/download/").status_code == 404
    assert unit.post("/documents/", {"draft-round": world.round.pk, "draft-kind": "launch_notice"}).status_code == 403
    assert unit.post(f"/documents/{own.pk}/", {"action": "correct"}).status_code == 403
    assert unit.get(response["Location"]).status_code == 403


def test_office_uploads_a_seal_in_the_admin_png_only(world, tmp_path):
    from notifications.documents.models import Issuer
    from workflow.demo import _seal_png, office_admin_group

    world.office.is_staff = True
    world.office.save()
    world.office.groups.add(office_admin_group())
    office = client_for(world.office)
    issuer = services.issuer_default()
    url = f"/admin/notifications/issuer/{issuer.pk}/change/"
    form = {"name": issuer.name, "mark": issuer.mark, "code": issuer.code, "is_default": "on"}
    with open(tmp_path / "seal.png", "wb") as f:
        f.write(b"GIF89a not a png")
    with open(tmp_path / "seal.png", "rb") as f:
        page = office.post(url, {**form, "seal": f})
    assert page.status_code == 200 and "印章图片必须是 PNG 文件" in page.content.decode()
    with open(tmp_path / "seal.png", "wb") as f:
        f.write(_seal_png())
    with open(tmp_path / "seal.png", "rb") as f:
        assert office.post(url, {**form, "seal": f}).status_code == 302
    assert Issuer.objects.get(pk=issuer.pk).seal.read(8) == b"\x89PNG\r\n\x1a\n"
