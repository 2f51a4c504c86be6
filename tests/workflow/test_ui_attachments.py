"""The self-assessment page uploads evidence (the API had it, the page did not): a multipart form to
a page view that calls the same service, with the same checks."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import models as m
from tests.factories import make_round

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def prepare(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    r = make_round(units=2, experts=1, launch=True)
    return r, r.task("prepare", r.cases[0])


def test_staff_uploads_evidence_from_the_prepare_page(client, prepare):
    r, task = prepare
    client.force_login(r.staff[0])
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert 'enctype="multipart/form-data"' in page and f'action="/tasks/{task.pk}/attachments/"' in page

    code = r.rubric.items.order_by("position").first().code
    response = client.post(f"/tasks/{task.pk}/attachments/",
                           {"file": SimpleUploadedFile("会议记录.pdf", PDF, "application/pdf"), "items": [code]})
    assert response.status_code == 302 and response["Location"] == f"/tasks/{task.pk}/"
    attachment = m.Attachment.objects.get(case=r.cases[0])
    assert (attachment.purpose, attachment.original_name, attachment.size) == ("evidence", "会议记录.pdf", len(PDF))
    assert list(attachment.items.values_list("code", flat=True)) == [code]
    assert m.AuditEntry.objects.filter(action="attachment.create", object_id=str(attachment.pk)).exists()
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "会议记录.pdf" in page and f"/api/v1/attachments/{attachment.pk}/download/" in page


def test_a_refused_file_is_shown_on_the_page_and_nothing_is_stored(client, prepare):
    r, task = prepare
    client.force_login(r.staff[0])
    response = client.post(f"/tasks/{task.pk}/attachments/",
                           {"file": SimpleUploadedFile("tool.exe", b"MZ...", "application/octet-stream"),
                            "items": ["no-such-item"]}, follow=True)
    page = response.content.decode()
    assert "不支持的文件类型 .exe" in page and "未知的评分项" in page
    assert not m.Attachment.objects.exists()


@pytest.mark.parametrize("who", ["other_staff", "head", "office"])
def test_only_the_units_staff_may_upload(client, prepare, who):
    r, task = prepare
    user = {"other_staff": r.staff[1], "head": r.heads[0], "office": r.office}[who]
    client.force_login(user)
    response = client.post(f"/tasks/{task.pk}/attachments/",
                           {"file": SimpleUploadedFile("a.pdf", PDF, "application/pdf")})
    assert response.status_code in (403, 404)
    assert not m.Attachment.objects.exists()
