"""Evidence uploads: size and type limits, stored outside the web root, served only through a permission check."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import models as m
from cases.services import inspections
from tests.factories import make_round

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 evidence of the leading group meeting"


def upload(api, user, case, *, name="会议记录.pdf", content=PDF, purpose="evidence", items=("S1.1", "S2.2")):
    return api(user).post(
        f"/api/v1/attachments/?case={case.pk}",
        {"case": case.pk, "purpose": purpose, "file": SimpleUploadedFile(name, content), "items": list(items)},
        format="multipart",
    )


def test_staff_attaches_one_file_to_several_items_and_the_group_downloads_it(api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    r = make_round(units=2, experts=1, launch=True)
    case = r.cases[0]

    response = upload(api, r.staff[0], case)

    assert response.status_code == 201, response.content
    body = response.json()
    assert sorted(body["items"]) == ["S1.1", "S2.2"]
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    stored = m.Attachment.objects.get(pk=body["id"])
    assert stored.file.path.startswith(str(tmp_path))
    assert m.AuditEntry.objects.filter(action="attachment.create", object_id=str(stored.pk)).exists()

    leader = r.groups[0].leader
    download = api(leader).get(f"/api/v1/attachments/{stored.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert "attachment;" in download["Content-Disposition"]


def test_outsiders_can_neither_see_nor_download(api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    r = make_round(units=2, experts=1, launch=True)
    attachment_id = upload(api, r.staff[0], r.cases[0]).json()["id"]

    other_unit_staff = r.staff[1]
    outsider = m.User.objects.create(username="outsider")
    for user in (other_unit_staff, outsider):
        assert api(user).get(f"/api/v1/attachments/{attachment_id}/download/").status_code == 404
        assert api(user).get("/api/v1/attachments/").json()["count"] == 0
    assert api().get(f"/api/v1/attachments/{attachment_id}/download/").status_code in (401, 403)


@pytest.mark.parametrize(
    "name, content, field",
    [("script.exe", PDF, "file"), ("empty.pdf", b"", "file"), ("fake.pdf", b"<html>" * 100, "file")],
)
def test_bad_files_are_refused_and_nothing_is_stored(api, settings, tmp_path, name, content, field):
    settings.MEDIA_ROOT = tmp_path
    settings.UPLOAD_MAX_BYTES = 1024
    r = make_round(units=1, experts=1, launch=True)

    response = upload(api, r.staff[0], r.cases[0], name=name, content=content)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not m.Attachment.objects.exists()
    assert not any(tmp_path.rglob("*.*"))


def test_unknown_item_and_wrong_role_are_refused(api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    r = make_round(units=1, experts=1, launch=True)

    unknown = upload(api, r.staff[0], r.cases[0], items=("S9.9",))
    assert unknown.status_code == 400 and unknown.json()["errors"] == {"items": ["未知的评分项：S9.9"]}
    # An inspection record of another unit's case.
    other = make_round(units=1, experts=1, launch=True)
    foreign = inspections.inspection_record_create(user=other.groups[0].leader, case=other.cases[0],
                                                     method="听汇报", date="2026-07-01")
    response = api(r.groups[0].leader).post(f"/api/v1/attachments/?case={r.cases[0].pk}", {
        "case": r.cases[0].pk, "purpose": "inspection", "file": SimpleUploadedFile("a.pdf", PDF),
        "items": [], "inspection": foreign.pk}, format="multipart")
    assert response.status_code == 400 and response.json()["errors"] == {"inspection": ["检查记录不属于该单位。"]}
    # The unit head signs off; uploading evidence is the staff's job.
    assert upload(api, r.heads[0], r.cases[0]).status_code == 403
    assert not m.Attachment.objects.exists()
