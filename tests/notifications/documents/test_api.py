"""/api/v1/documents/ and /api/v1/document-batches/: the lifecycle (draft → 样稿 → issued → corrected),
bad input named field by field with nothing changed, row-level access per role, the audit log and the
addressees' notifications, bulk feedback letters with progress and retry. The worker's functions are
called directly here (the request only queues them); real PDFs are read back with pdftotext."""

import hashlib
import subprocess

import pytest

from cases import models as m
from cases.scoring import results
from notifications.documents import services
from notifications.documents.models import Document, DocumentStatus, RenderStatus
from notifications.models import Notification
from tests.conftest import module_world
from tests.factories import advance_case, make_round


def build():
    setup = make_round(units=3, experts=2, launch=True)
    for i in range(3):
        advance_case(setup, i)
    results.round_compute_results(user=setup.office, round=setup.round)
    results.round_freeze_results(round=setup.round)  # as the leader's approval does
    other = make_round(units=1, experts=1)
    return setup, other


world = module_world(build)


def text_of(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def flat(text: str) -> str:
    return "".join(text.split())


def create(api, user, **body):
    return api(user).post("/api/v1/documents/", body, format="json")


@pytest.fixture
def office_api(api, world):
    return lambda: api(world[0].office)


def test_draft_preview_issue_download(world, api, django_capture_on_commit_callbacks):
    setup, _ = world
    client = api(setup.office)
    response = create(api, setup.office, round=setup.round.pk, kind="launch_notice")
    assert response.status_code == 201, response.content
    doc = response.json()
    assert doc["status"] == "draft" and doc["title"].startswith("关于开展") and doc["body"]

    response = client.patch(f"/api/v1/documents/{doc['id']}/", {
        "title": "关于开展2026年度机关党建考核的通知", "body": ["一、总体要求", "各单位要高度重视。"], "cc": "市委办公室",
    }, format="json")
    assert response.status_code == 200, response.content

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.post(f"/api/v1/documents/{doc['id']}/preview/").status_code == 202
    assert len(callbacks) == 1  # the worker is asked after the commit, never rendered in the request
    services.preview_render(doc["id"])
    document = Document.objects.get(pk=doc["id"])
    assert document.render_status == RenderStatus.DONE and document.status == DocumentStatus.DRAFT
    preview = client.get(f"/api/v1/documents/{doc['id']}/download/")
    assert preview.status_code == 200 and preview["Content-Type"] == "application/pdf"
    preview_text = flat(text_of(b"".join(preview.streaming_content)))
    # The watermark 样稿 lies across the page: its two characters come out apart from the text.
    assert {"样", "稿"} <= set(preview_text) and "各单位要高度重视" in preview_text

    assert client.post(f"/api/v1/documents/{doc['id']}/issue/").status_code == 202
    assert services.issue_render(doc["id"]) is True
    document.refresh_from_db()
    assert document.status == DocumentStatus.ISSUED and document.number is not None
    assert document.doc_number == f"考评办〔{document.year}〕{document.number}号"
    response = client.get(f"/api/v1/documents/{doc['id']}/download/")
    pdf = b"".join(response.streaming_content)
    assert hashlib.sha256(pdf).hexdigest() == document.sha256
    text = flat(text_of(pdf))
    assert document.doc_number in text and "关于开展2026年度机关党建考核的通知" in text and "样" not in text
    assert "抄送：市委办公室" in text
    actions = set(m.AuditEntry.objects.filter(object_type="document", object_id=str(document.pk))
                  .values_list("action", flat=True))
    assert {"document.draft", "document.edit", "document.issue_request", "document.issue"} <= actions
    # Every unit person of the round is told, once.
    told = set(Notification.objects.filter(event="document_issued", link=f"/documents/{document.pk}/")
               .values_list("recipient_id", flat=True))
    assert told == {u.pk for u in setup.staff + setup.heads}


def test_issued_is_immutable_and_issuing_twice_conflicts(world, api):
    setup, _ = world
    client = api(setup.office)
    doc = create(api, setup.office, round=setup.round.pk, kind="reminder_letter").json()
    assert client.post(f"/api/v1/documents/{doc['id']}/issue/").status_code == 202
    again = client.post(f"/api/v1/documents/{doc['id']}/issue/")
    assert again.status_code == 409 and again.json()["detail"]
    services.issue_render(doc["id"])
    before = Document.objects.get(pk=doc["id"])
    edit = client.patch(f"/api/v1/documents/{doc['id']}/", {"title": "改"}, format="json")
    assert edit.status_code == 409
    after = Document.objects.get(pk=doc["id"])
    assert (after.title, after.sha256, after.status) == (before.title, before.sha256, DocumentStatus.ISSUED)
    assert services.issue_render(doc["id"]) is False  # idempotent: nothing happens to an issued one

    correction = client.post(f"/api/v1/documents/{doc['id']}/correct/")
    assert correction.status_code == 201
    fix = correction.json()
    assert fix["version"] == 2 and fix["replaces"] == doc["id"] and fix["status"] == "draft"
    assert client.post(f"/api/v1/documents/{doc['id']}/correct/").status_code == 409  # one correction at a time
    client.post(f"/api/v1/documents/{fix['id']}/issue/")
    services.issue_render(fix["id"])
    before.refresh_from_db()
    assert before.status == DocumentStatus.SUPERSEDED
    fixed = Document.objects.get(pk=fix["id"])
    assert fixed.number != before.number and fixed.status == DocumentStatus.ISSUED


@pytest.mark.parametrize("body, fields", [
    ({"kind": "nonsense"}, {"kind"}),
    ({"kind": "feedback_letter"}, {"unit"}),
    ({"kind": "launch_notice", "colour": "red"}, {"colour"}),
    ({"kind": "launch_notice", "unit": 999999}, {"unit"}),
])
def test_bad_drafts_are_refused_by_field(world, api, body, fields):
    setup, _ = world
    count = Document.objects.count()
    response = create(api, setup.office, round=setup.round.pk, **body)
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == fields
    assert Document.objects.count() == count


def test_a_unit_of_another_round_and_results_before_results_are_refused(world, api):
    setup, other = world
    response = create(api, setup.office, round=setup.round.pk, kind="feedback_letter", unit=other.units[0].pk)
    assert response.status_code == 400 and set(response.json()["errors"]) == {"unit"}
    response = create(api, other.office, round=other.round.pk, kind="results_notice")
    assert response.status_code == 400 and set(response.json()["errors"]) == {"round"}


def test_results_are_issued_only_once_approved(world, api):
    setup, _ = world
    client = api(setup.office)
    notice = create(api, setup.office, round=setup.round.pk, kind="results_notice").json()
    m.Round.objects.filter(pk=setup.round.pk).update(results_frozen_at=None)
    try:
        refused = client.post(f"/api/v1/documents/{notice['id']}/issue/")
        assert refused.status_code == 409 and "审定" in refused.json()["detail"]
        assert client.post("/api/v1/document-batches/", {"round": setup.round.pk}, format="json").status_code == 409
        assert Document.objects.get(pk=notice["id"]).status == DocumentStatus.DRAFT
        assert client.post(f"/api/v1/documents/{notice['id']}/preview/").status_code == 202  # a 样稿 is fine
    finally:
        results.round_freeze_results(round=setup.round)


def test_bad_text_is_named_and_changes_nothing(world, api):
    setup, _ = world
    client = api(setup.office)
    doc = create(api, setup.office, round=setup.round.pk, kind="launch_notice").json()
    response = client.patch(f"/api/v1/documents/{doc['id']}/", {
        "title": "", "body": ["好的段落", "缺字\U0001F600"], "cc": "x" * 501, "number": 5,
    }, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"title", "cc", "number"}
    response = client.patch(f"/api/v1/documents/{doc['id']}/", {"body": ["好的段落", "缺字\U0001F600"]}, format="json")
    assert response.status_code == 400 and "body.1" in response.json()["errors"]
    assert "\U0001F600" in response.json()["errors"]["body.1"][0]
    assert Document.objects.get(pk=doc["id"]).body == doc["body"]


def test_access_by_role(world, api):
    setup, other = world
    office = api(setup.office)
    letter = create(api, setup.office, round=setup.round.pk, kind="feedback_letter", unit=setup.units[0].pk).json()
    committee = create(api, setup.office, round=setup.round.pk, kind="committee_version").json()
    draft = create(api, setup.office, round=setup.round.pk, kind="launch_notice").json()
    for doc in (letter, committee):
        office.post(f"/api/v1/documents/{doc['id']}/issue/")
        services.issue_render(doc["id"])

    def sees(user, doc) -> bool:
        return api(user).get(f"/api/v1/documents/{doc['id']}/download/").status_code == 200

    assert sees(setup.staff[0], letter) and sees(setup.heads[0], letter)
    assert not sees(setup.staff[1], letter)  # another unit's letter: 404
    assert sees(setup.groups[0].leader, letter)  # the unit's group leader
    assert not sees(other.staff[0], letter)
    assert sees(setup.auditor, letter) and sees(setup.leader, committee)
    assert not sees(setup.staff[0], committee) and not sees(setup.groups[0].leader, committee)  # internal
    assert api(setup.staff[0]).get(f"/api/v1/documents/{draft['id']}/").status_code == 404  # drafts: office
    listed = {d["id"] for d in api(setup.staff[1]).get("/api/v1/documents/?page_size=500").json()["results"]}
    assert letter["id"] not in listed and committee["id"] not in listed
    # Writes are the office's, refused before the body is read.
    for user in (setup.staff[0], setup.leader, setup.auditor, setup.groups[0].leader):
        assert create(api, user, round=setup.round.pk, kind="launch_notice").status_code == 403
        assert api(user).post(f"/api/v1/documents/{draft['id']}/issue/").status_code in (403, 404)
    assert api(setup.staff[0]).get(f"/api/v1/documents/{letter['id']}/docx/").status_code == 403


def test_docx_of_a_draft(world, api):
    from io import BytesIO

    from docx import Document as WordDocument

    setup, _ = world
    doc = create(api, setup.office, round=setup.round.pk, kind="launch_notice").json()
    response = api(setup.office).get(f"/api/v1/documents/{doc['id']}/docx/")
    assert response.status_code == 200
    word = WordDocument(BytesIO(response.content))
    text = [p.text for p in word.paragraphs]
    assert doc["title"] in text and doc["body"][0] in text
    assert round(word.sections[0].top_margin.mm) == 37 and round(word.sections[0].left_margin.mm) == 28


def test_bulk_feedback_letters_with_progress_and_retry(world, api):
    setup, _ = world
    client = api(setup.office)
    response = client.post("/api/v1/document-batches/", {"round": setup.round.pk}, format="json")
    assert response.status_code == 201, response.content
    batch = response.json()
    assert batch["progress"] == {"total": 3, "done": 0, "pending": 3, "failed": []}
    ids = list(Document.objects.filter(batch_id=batch["id"]).order_by("pk").values_list("pk", flat=True))
    # The request only made the rows; each letter's text is written by the worker as it renders it.
    assert list(Document.objects.filter(pk__in=ids).values_list("title", flat=True)) == ["", "", ""]
    # One letter fails (a character no font has, put in behind the service's back), the others issue.
    Document.objects.filter(pk=ids[0]).update(title="无法排版\U0001F600")
    for pk in ids:
        services.issue_render(pk)
    progress = client.get(f"/api/v1/document-batches/{batch['id']}/").json()["progress"]
    assert progress["done"] == 2 and progress["pending"] == 0 and len(progress["failed"]) == 1
    issued = Document.objects.get(pk=ids[1])
    assert issued.title.startswith("关于") and issued.title.endswith("的反馈意见") and issued.body
    assert progress["failed"][0]["document"] == ids[0] and "\U0001F600" in progress["failed"][0]["error"]
    Document.objects.filter(pk=ids[0]).update(title="")  # back to the kind's text, as a bulk letter starts
    assert client.post(f"/api/v1/document-batches/{batch['id']}/retry/").json() == {"retried": 1}
    services.issue_render(ids[0])
    progress = client.get(f"/api/v1/document-batches/{batch['id']}/").json()["progress"]
    assert progress == {"total": 3, "done": 3, "pending": 0, "failed": []}
    # A second batch leaves out the units whose letters are issued.
    again = client.post("/api/v1/document-batches/", {"round": setup.round.pk}, format="json").json()
    assert again["progress"]["total"] == 0
    assert api(setup.staff[0]).post("/api/v1/document-batches/", {"round": setup.round.pk}, format="json").status_code == 403
    assert api(setup.staff[0]).get(f"/api/v1/document-batches/{batch['id']}/").status_code == 404
