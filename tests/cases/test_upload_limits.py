"""Uploads that cannot take the service down: the permission before a byte of the body is parsed, a body
refused at the limit while it streams (nothing beyond it on disk), workbooks read within rows, cells and
seconds, and content that must match its extension."""

import io
import re
import time
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.middleware.csrf import _get_new_csrf_string
from rest_framework.parsers import MultiPartParser
from rest_framework.test import APIClient

from cases import models as m
from cases import workbooks
from cases.rubrics.document import RubricError, rubric_from_dict
from cases.rubrics.excel import load_rubric_xlsx, rubric_to_xlsx
from cases.workbooks import WorkbookError, WorkbookLimits, open_workbook
from tests.factories import make_round, make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 minutes of the leading group meeting"
KIB = 1024


@pytest.fixture
def parses(monkeypatch):
    """Every multipart parse and every workbook load, recorded (the real ones still run)."""
    calls = []
    real_parse, real_load = MultiPartParser.parse, workbooks.load_workbook

    def parse(self, *args, **kwargs):
        calls.append("multipart")
        return real_parse(self, *args, **kwargs)

    def load(*args, **kwargs):
        calls.append("workbook")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(MultiPartParser, "parse", parse)
    monkeypatch.setattr(workbooks, "load_workbook", load)
    return calls


@pytest.fixture
def written(monkeypatch, settings, tmp_path):
    """Bytes the temporary-file handler writes to disk (every file goes there: no in-memory uploads)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "tmp")
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    (tmp_path / "tmp").mkdir()
    total = {"bytes": 0}
    real = TemporaryFileUploadHandler.receive_data_chunk

    def receive(self, raw_data, start):
        total["bytes"] += len(raw_data)
        return real(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", receive)
    return total


def _rubric_spec():
    return rubric_from_dict({
        "code": "demo", "title": "测试细则", "version": 1, "total_max": 10,
        "sections": [{"code": "S1", "title": "组织领导", "max": 10, "items": [
            {"code": "S1.1", "content": "有领导小组", "max": 6},
            {"code": "S1.2", "content": "有方案", "max": 4},
        ]}],
    })


def _huge_items_workbook(rows: int, *, dimension: bool) -> bytes:
    """A rubric workbook whose items sheet has `rows` rows: small zipped, enormous unpacked."""
    source = zipfile.ZipFile(io.BytesIO(rubric_to_xlsx(_rubric_spec())))
    body = "<row><c><v>1</v></c></row>" * (rows - 1)  # row and cell references are optional
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + (f'<dimension ref="A1:J{rows}"/>' if dimension else "")
        + '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>section_code</t></is></c></row>'
        + body + "</sheetData></worksheet>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = sheet.encode() if info.filename == "xl/worksheets/sheet2.xml" else source.read(info.filename)
            target.writestr(info.filename, data)
    return out.getvalue()


def _import(client, name, content, **extra):
    return client.post("/api/v1/rubrics/import/", {"file": SimpleUploadedFile(name, content)}, format="multipart",
                       **extra)


# --- permission before parsing -------------------------------------------------------------------


def test_rubric_import_refuses_everyone_but_the_office_before_parsing(api, parses):
    r = make_round(units=1, experts=1, launch=True)
    workbook = rubric_to_xlsx(_rubric_spec())
    for user in (r.staff[0], r.heads[0], r.groups[0].leader, r.groups[0].experts[0], r.leader, r.auditor):
        response = _import(api(user), "demo.xlsx", workbook)
        assert response.status_code == 403, (user.username, response.content)
        assert response.json()["detail"]
    assert parses == []  # neither the multipart body nor the workbook was ever parsed
    assert not m.Rubric.objects.filter(code="demo").exists()

    assert _import(api(r.office), "demo.xlsx", workbook).status_code == 201
    assert parses == ["multipart", "workbook"]


def test_attachment_upload_checks_the_case_and_role_before_reading_the_body(api, parses, written):
    r = make_round(units=2, experts=1, launch=True)
    case = r.cases[0]
    outsider = make_user("h2-outsider")
    attempts = {
        outsider: 404,  # cannot see the case
        r.staff[1]: 404,  # another unit's staff
        r.heads[0]: 403,  # the unit's head signs off; uploading is the staff's
        r.groups[0].liaison: 403,  # the group's liaison coordinates, records nothing
    }
    for user, expected in attempts.items():
        response = api(user).post(f"/api/v1/attachments/?case={case.pk}",
                                  {"purpose": "evidence", "file": SimpleUploadedFile("a.pdf", PDF)},
                                  format="multipart")
        assert response.status_code == expected, (user.username, response.content)
    # Without the case in the address nothing can be checked first: refused, body unread.
    missing = api(r.staff[0]).post("/api/v1/attachments/", {"case": case.pk, "purpose": "evidence",
                                   "file": SimpleUploadedFile("a.pdf", PDF)}, format="multipart")
    assert missing.status_code == 400 and list(missing.json()["errors"]) == ["case"]
    assert parses == [] and written["bytes"] == 0
    assert not m.Attachment.objects.exists()

    ok = api(r.staff[0]).post(f"/api/v1/attachments/?case={case.pk}",
                              {"purpose": "evidence", "file": SimpleUploadedFile("a.pdf", PDF)}, format="multipart")
    assert ok.status_code == 201, ok.content
    assert parses == ["multipart"]


def test_a_browser_session_sends_its_csrf_token_in_the_header_and_the_form_is_not_parsed_for_it(parses):
    r = make_round(units=1, experts=1, launch=True)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(r.staff[0])
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    url = f"/api/v1/attachments/?case={r.cases[0].pk}"

    # The token as a form field would need the body parsed before any check: not accepted.
    in_form = client.post(url, {"csrfmiddlewaretoken": token, "purpose": "evidence",
                                "file": SimpleUploadedFile("a.pdf", PDF)}, format="multipart")
    assert in_form.status_code == 403 and "CSRF" in in_form.json()["detail"]
    # An outsider with a valid session and token: refused before the body is parsed.
    outsider = APIClient(enforce_csrf_checks=True)
    outsider.force_login(make_user("h2-session-outsider"))
    outsider.cookies["csrftoken"] = token
    refused = outsider.post(url, {"purpose": "evidence", "file": SimpleUploadedFile("a.pdf", PDF)},
                            format="multipart", HTTP_X_CSRFTOKEN=token)
    assert refused.status_code == 404
    assert parses == []

    accepted = client.post(url, {"purpose": "evidence", "file": SimpleUploadedFile("a.pdf", PDF)},
                           format="multipart", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.content


# --- size: refused at the limit while streaming ----------------------------------------------------


def _stored_files(settings):
    from pathlib import Path

    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()] if Path(settings.MEDIA_ROOT).exists() else []


def test_an_upload_over_the_limit_is_stopped_while_it_streams(api, settings, written, tmp_path):
    settings.UPLOAD_MAX_BYTES = 256 * KIB
    r = make_round(units=1, experts=1, launch=True)
    # Over the file limit, yet within what the Content-Length check lets through (limit + form overhead):
    # only the streaming handler can catch it.
    big = PDF + b"0" * (288 * KIB)

    response = api(r.staff[0]).post(f"/api/v1/attachments/?case={r.cases[0].pk}",
                                    {"case": r.cases[0].pk, "purpose": "evidence", "file": SimpleUploadedFile("big.pdf", big)},
                                    format="multipart")

    assert response.status_code == 413, response.content
    assert response["Content-Type"].startswith("application/json") and response.json()["detail"]
    assert 0 < written["bytes"] <= settings.UPLOAD_MAX_BYTES  # nothing beyond the limit reached the disk
    assert list((tmp_path / "tmp").iterdir()) == []  # and the partial temporary file is gone
    assert _stored_files(settings) == [] and not m.Attachment.objects.exists()


def test_a_declared_oversize_body_is_refused_before_a_byte_is_read(api, settings, written, parses):
    r = make_round(units=1, experts=1, launch=True)
    huge = str(500 * 1024 * 1024)
    upload = {"case": r.cases[0].pk, "purpose": "evidence", "file": SimpleUploadedFile("a.pdf", PDF)}

    attachment = api(r.staff[0]).post(f"/api/v1/attachments/?case={r.cases[0].pk}", upload, format="multipart",
                                      CONTENT_LENGTH=huge)
    rubric = _import(api(r.office), "demo.yaml", b"code: demo", CONTENT_LENGTH=huge)

    for response in (attachment, rubric):
        assert response.status_code == 413, response.content
        assert response.json()["detail"]
    assert written["bytes"] == 0 and parses == []
    assert _stored_files(settings) == []


def test_the_rubric_import_is_bounded_by_the_same_streaming_limit(api, settings, written):
    settings.UPLOAD_MAX_BYTES = 64 * KIB
    office = make_user("h2-office", org_role=m.OrgRole.OFFICE)
    response = _import(api(office), "demo.yaml", b"# padding\n" * (10 * KIB))
    assert response.status_code == 413, response.content
    assert written["bytes"] <= 64 * KIB


# --- workbooks: rows, columns, cells, seconds ---------------------------------------------------------


@pytest.mark.parametrize("dimension", [True, False], ids=["honest-dimension", "no-dimension"])
def test_a_300000_row_workbook_is_refused_fast(api, dimension):
    office = make_user("h2-office-xlsx", org_role=m.OrgRole.OFFICE)
    content = _huge_items_workbook(300_000, dimension=dimension)
    assert len(content) < 100 * 1024  # small on the wire, like the 96 KB of the report

    started = time.monotonic()
    response = _import(api(office), "demo.xlsx", content)
    elapsed = time.monotonic() - started

    assert response.status_code == 400, response.content
    (message,) = response.json()["errors"]["file"]
    # Refused by the byte scan of the sheet's XML part, before openpyxl (which, for a sheet without a
    # <dimension>, would parse all of it just to learn its size) opens the workbook.
    assert re.match(r"xl/worksheets/sheet2.xml: more than the 10000 rows", message), message
    assert elapsed < 5, elapsed
    assert not m.Rubric.objects.exists()


def _sheet(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_workbook_bounds_on_columns_cells_seconds_and_unpacked_size():
    wide = io.BytesIO(_sheet([list(range(30))]))
    with pytest.raises(WorkbookError, match=r"Sheet: 30 columns, more than the 20"):
        with open_workbook(wide, WorkbookLimits.from_settings(max_columns=20)) as wb:
            wb.rows("Sheet")

    many = io.BytesIO(_sheet([[1, 2, 3, 4]] * 10))
    with pytest.raises(WorkbookError, match=r"xl/worksheets/sheet1.xml: more than the 10 cells"):
        with open_workbook(many, WorkbookLimits.from_settings(max_cells=10)) as wb:
            wb.rows("Sheet")

    # A clock that moves one second per look (0 at the start, 1 for the sheet's byte scan, 2 after
    # opening, then one per row): the budget of 4 s runs out at row 3.
    ticks = iter(range(1000))
    with pytest.raises(WorkbookError, match=r"Sheet: row 3: reading took longer than 4 s"):
        with open_workbook(many, WorkbookLimits.from_settings(max_seconds=4), clock=lambda: next(ticks)) as wb:
            wb.rows("Sheet")

    with pytest.raises(WorkbookError, match=r"unpacks to \d+ bytes, more than the 1000"):
        with open_workbook(many, WorkbookLimits.from_settings(max_unzipped_bytes=1000)):
            pass

    # Two rows in the XML, but the second is row 1,000,000: its recorded dimension refuses it.
    from openpyxl import Workbook

    gap = Workbook()
    gap.active.cell(row=1, column=1, value=1)
    gap.active.cell(row=1_000_000, column=1, value=1)
    buffer = io.BytesIO()
    gap.save(buffer)
    with pytest.raises(WorkbookError, match=r"Sheet: 1000000 rows, more than the 10000"):
        with open_workbook(buffer) as wb:
            wb.rows("Sheet")

    with open_workbook(many) as wb:  # within the default bounds: every row, as Excel numbers them
        assert wb.rows("Sheet") == [(1, 2, 3, 4)] * 10


def test_rubric_workbooks_still_round_trip_and_name_their_cells():
    spec = load_rubric_xlsx(io.BytesIO(rubric_to_xlsx(_rubric_spec())))
    assert [i.code for s in spec.sections for i in s.items] == ["S1.1", "S1.2"]
    with pytest.raises(RubricError) as exc:
        load_rubric_xlsx(io.BytesIO(b"<html>not a workbook</html>"))
    assert exc.value.messages[0].startswith("not a readable .xlsx workbook")


# --- text rubric files -------------------------------------------------------------------------------


def test_yaml_aliases_and_oversize_text_are_refused(api, settings):
    office = make_user("h2-office-yaml", org_role=m.OrgRole.OFFICE)
    aliased = """code: demo
title: &t 测试细则
source: *t
version: 1
total_max: 10
sections:
  - {code: S1, title: 组织领导, max: 10, items: [{code: S1.1, content: 有领导小组, max: 10}]}
""".encode()
    response = _import(api(office), "demo.yaml", aliased)
    assert response.status_code == 400
    assert "aliases" in response.json()["errors"]["file"][0]

    settings.IMPORT_MAX_TEXT_BYTES = 100
    too_long = _import(api(office), "demo.yaml", aliased.replace(b"&t ", b"").replace(b"*t", b"x"))
    assert too_long.status_code == 400 and "more than the 100" in too_long.json()["errors"]["file"][0]
    assert not m.Rubric.objects.exists()


# --- content against extension ------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32


@pytest.mark.parametrize("name, content", [
    ("report.pdf", b"<html><script>alert(1)</script></html>"),
    ("photo.png", b"\xff\xd8\xff\xe0 a jpeg, not a png"),
    ("minutes.docx", _zip({"notes.txt": b"a zip, but no Word document"})),
    ("table.xlsx", DOCX),
    ("letter.doc", PDF),
    ("archive.zip", b"PK\x03\x04 truncated"),
    ("notes.txt", b"text\x00with a NUL"),
    ("notes.txt", b"\xff\xfe\xfd not text in any encoding \x80\x81"),
])
def test_content_that_does_not_match_the_extension_is_refused(api, settings, tmp_path, name, content):
    settings.MEDIA_ROOT = tmp_path
    r = make_round(units=1, experts=1, launch=True)
    response = api(r.staff[0]).post(f"/api/v1/attachments/?case={r.cases[0].pk}",
                                    {"case": r.cases[0].pk, "purpose": "evidence", "file": SimpleUploadedFile(name, content)},
                                    format="multipart")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["file"]
    assert not m.Attachment.objects.exists() and not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("name, content, content_type", [
    ("report.pdf", PDF, "application/pdf"),
    ("minutes.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("table.xlsx", _sheet([[1]]), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("letter.doc", OLE, "application/msword"),
    ("photo.png", PNG, "image/png"),
    ("notes.txt", "会议纪要".encode("gb18030"), "text/plain"),
])
def test_matching_content_is_stored_and_served_as_a_download_of_its_checked_type(
    api, settings, tmp_path, name, content, content_type
):
    settings.MEDIA_ROOT = tmp_path
    r = make_round(units=1, experts=1, launch=True)
    created = api(r.staff[0]).post(f"/api/v1/attachments/?case={r.cases[0].pk}",
                                   {"case": r.cases[0].pk, "purpose": "evidence", "file": SimpleUploadedFile(name, content)},
                                   format="multipart")
    assert created.status_code == 201, created.content

    download = api(r.groups[0].leader).get(f"/api/v1/attachments/{created.json()['id']}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == content_type
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == content


def test_exporting_a_large_rubric_workbook_takes_linear_time():
    # Reading each appended row back through ws.max_row scanned the whole sheet per row (quadratic):
    # 3,000 items took 18 s, 10,000 several minutes, and any user who can see a rubric may export it.
    n = 4000
    spec = rubric_from_dict({
        "code": "big", "title": "大细则", "version": 1, "total_max": n,
        "sections": [{"code": "S1", "title": "组织领导", "max": n,
                      "items": [{"code": f"S1.{i}", "content": "有领导小组" * 10, "max": 1} for i in range(n)]}],
    })
    started = time.monotonic()
    content = rubric_to_xlsx(spec)
    assert time.monotonic() - started < 15
    assert len(load_rubric_xlsx(io.BytesIO(content)).sections[0].items) == n
