"""The 年度绩效分析汇编 (seed 004 三: 各部门绩效分析表统一编印成册，供领导评价时参考) of a social round of three units,
two with an analysis signed by their head and one whose analysis is still a draft: drafted and issued through the
API, rendered by the worker's function, the real PDF read back — the cover, the contents with page numbers, each
signed unit's heading and its three parts at 小四 (12 pt), the unsigned unit listed as 未报送 (its draft text not
printed), only embedded CJK subsets, no red head and no number. Refused for a round that is not a social one."""

import hashlib
import io
import re

import pytest
from pypdf import PdfReader

from cases import models as m
from notifications.documents import kinds as k
from notifications.documents import services
from notifications.documents.models import Document, DocumentStatus
from tests.conftest import module_world
from tests.factories import UnitFactory, make_round
from tests.notifications.documents import pdfcheck as pc

pytestmark = pytest.mark.django_db

UNITS = ["自治区发展和改革委员会", "自治区统计局", "自治区地方志办公室"]
# A long first part (about 700 characters over three paragraphs): its row runs over a page.
LONG = "\n".join(
    f"（{n}）围绕自治区党委、政府中心工作，全面完成年度重点工作任务第{n}项，" + "各项指标均达到或超过年初目标，" * 18 + "成效明显。"
    for n in "一二三"
)
SIGNED = {
    0: {"completion": LONG, "innovation": "推行“一站式”审批服务，办理时限平均压缩百分之四十。",
        "weaknesses": "基层调研不够深入，部分项目推进较慢。"},
    1: {"completion": "统计调查任务按期完成，数据质量稳步提高。", "innovation": "建成联网直报平台，企业报送时间缩短一半。",
        "weaknesses": "基层统计力量薄弱，人员流动较大。"},
}
LABEL_WIDTH = 0.30  # the label column's share of the type area (the template's table.analysis th)
DRAFT = {"completion": "这段草稿尚未审定不应印出", "innovation": "草稿亮点", "weaknesses": "草稿难点"}


def build():
    units = [UnitFactory(name=name, code=f"SOCB{i + 1}", sort_order=i + 1) for i, name in enumerate(UNITS)]
    setup = make_round(units=3, experts=1, unit_objs=units)
    m.Round.objects.filter(pk=setup.round.pk).update(kind=m.RoundKind.SOCIAL, year=2015,
                                                     title="2015年度自治区直属机关社会评价")
    setup.round.refresh_from_db()
    for i, parts in SIGNED.items():
        m.PerformanceAnalysis.objects.create(case=setup.case(i), status=m.DraftStatus.APPROVED,
                                             signed_by=setup.heads[i], **parts)
    m.PerformanceAnalysis.objects.create(case=setup.case(2), status=m.DraftStatus.SUBMITTED, **DRAFT)
    other = make_round(units=1, experts=1)  # a half-year round
    return setup, other


world = module_world(build)


def flat(text: str) -> str:
    return "".join(text.split())


def column(pdf: bytes, *, labels: bool) -> str:
    """One column of the analyses' tables alone, page after page (pdftotext interleaves a part's label, set in
    the left column, with the lines of its text): the characters left (labels) or right (texts) of the label
    column's edge, inside the type area."""
    edge = pc.LEFT + LABEL_WIDTH * (pc.RIGHT - pc.LEFT)
    out = []
    for page in pc.checked(pdf):
        chars = [c for c in page.chars if round(c["size"], 1) == 12.0 and pc.baseline(c) < pc.BOTTOM
                 and (c["x1"] <= edge if labels else c["x0"] >= edge)]
        out.extend(c["text"] for c in sorted(chars, key=lambda c: (round(pc.baseline(c), 1), c["x0"])))
    return "".join(out)


@pytest.fixture(scope="module")
def issued(world, django_db_blocker):
    """The booklet drafted and issued through the API, rendered by the worker's function, downloaded."""
    from rest_framework.test import APIClient

    setup, _ = world
    with django_db_blocker.unblock():
        client = APIClient()
        client.force_authenticate(setup.office)
        response = client.post("/api/v1/documents/", {"round": setup.round.pk, "kind": "analysis_booklet"},
                               format="json")
        assert response.status_code == 201, response.content
        doc = response.json()
        assert client.post(f"/api/v1/documents/{doc['id']}/issue/").status_code == 202
        assert services.issue_render(doc["id"]) is True
        document = Document.objects.get(pk=doc["id"])
        download = client.get(f"/api/v1/documents/{doc['id']}/download/")
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
        pdf = b"".join(download.streaming_content)
    return doc, document, pdf


def test_drafted_as_an_internal_unnumbered_booklet(issued):
    doc, document, pdf = issued
    assert doc["title"] == "2015年度自治区直属机关绩效分析汇编（供领导评价参考）"
    assert doc["audience"] == "internal" and doc["kind_display"] == "年度绩效分析汇编"
    assert document.status == DocumentStatus.ISSUED
    assert document.number is None and document.doc_number == ""  # no 发文字号, like the committee's version
    assert hashlib.sha256(pdf).hexdigest() == document.sha256


def test_the_pdf_has_every_signed_units_heading_and_three_parts(issued):
    _, _, pdf = issued
    text = flat("".join(pc.pdftotext(pdf)))
    assert "2015年度自治区直属机关绩效分析汇编" in text and "供领导评价参考" in text and "目录" in text
    for i in SIGNED:
        assert f"{UNITS[i]}2015年度绩效分析" in text
    labels = column(pdf, labels=True)
    for label in ("重点工作任务完成情况", "工作创新和亮点", "工作难点和薄弱环节"):
        assert labels.count(label) == len(SIGNED), (label, labels)
    texts = column(pdf, labels=False)
    for parts in SIGNED.values():
        for value in parts.values():
            for paragraph in value.splitlines():
                assert flat(paragraph) in texts, paragraph[:20]
    # No red head, no number, no 版记 (an internal booklet).
    assert "〔" not in text and "印发" not in text


def test_each_unit_starts_its_own_page_and_the_contents_give_it(issued):
    _, document, pdf = issued
    pages = [flat(p) for p in pc.pdftotext(pdf)]
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == document.pages == len(pages)
    assert len(pages) >= len(UNITS) + 1
    contents = next(n for n, p in enumerate(pages) if "目录" in p)
    entries = {}  # name → page, from the contents' lines: "1. 自治区统计局 ........ 5"
    for line in pc.pdftotext(pdf)[contents].splitlines():
        found = re.fullmatch(r"\s*(?:\d+\.)?\s*(\S+?)\s*[.·…]+\s*(\d+)\s*", line)
        if found:
            entries[found.group(1)] = int(found.group(2))
    for i in SIGNED:
        start = next(n for n, p in enumerate(pages) if p.startswith(f"{UNITS[i]}2015年度绩效分析"))
        assert entries.get(UNITS[i]) == start + 1, (UNITS[i], entries)
    assert entries.get("未报送单位（1个）") == len(pages), entries
    # The long first unit runs over a page: the second unit starts after it, on a new page.
    first = next(n for n, p in enumerate(pages) if p.startswith(f"{UNITS[0]}2015"))
    second = next(n for n, p in enumerate(pages) if p.startswith(f"{UNITS[1]}2015"))
    assert second > first + 1


def test_the_unsigned_unit_is_listed_at_the_end_and_its_draft_not_printed(issued):
    _, _, pdf = issued
    pages = [flat(p) for p in pc.pdftotext(pdf)]
    text = "".join(pages)
    assert "未报送单位（1个）" in text  # in the contents
    last = pages[-1]
    # Its analysis waits for the head's sign-off: 尚未审定.
    assert last.startswith("未报送单位")
    row = [line.text for line in pc.checked(pdf)[-1].lines() if UNITS[2] in line.text]
    assert row == [f"1{UNITS[2]}尚未审定"], row
    assert f"{UNITS[2]}2015年度绩效分析" not in text
    for value in DRAFT.values():
        assert value not in text


def test_a_unit_with_no_analysis_or_a_returned_one_is_not_delivered(world):
    setup, _ = world
    analysis = m.PerformanceAnalysis.objects.get(case=setup.case(2))
    for status in (m.DraftStatus.RETURNED, m.DraftStatus.DRAFT, None):
        if status is None:
            analysis.delete()
        else:
            m.PerformanceAnalysis.objects.filter(pk=analysis.pk).update(status=status)
        content = k.analysis_booklet(setup.round, None, {})
        assert [u["unit_name"] for u in content.tables["units"]] == UNITS[:2]
        assert content.tables["missing"] == [{"unit_name": UNITS[2], "state": "未报送"}], status


def test_the_parts_are_set_at_small_four(issued):
    _, _, pdf = issued
    values = [flat(value) for parts in SIGNED.values() for value in parts.values()]
    lines = [line for page in pc.checked(pdf) for line in page.lines()
             if len(flat(line.text)) >= 4 and any(flat(line.text) in value for value in values)]
    assert len(lines) > 20  # the long part's many lines among them
    assert {line.size for line in lines} == {12.0}
    found = [line for page in pc.checked(pdf) for line in page.lines() if "统计调查任务按期完成" in line.text]
    assert found and all(line.size == 12.0 for line in found)


def test_only_embedded_cjk_fonts(issued):
    _, _, pdf = issued
    fonts = pc.pdffonts(pdf)
    assert fonts
    for font in fonts:
        assert font["emb"] == "yes" and font["sub"] == "yes", font
        assert re.match(r"^[A-Z]{6}\+", font["name"]), font
        assert "CJK" in font["name"] or "UKai" in font["name"], font


def test_refused_for_a_round_that_is_not_social(world, api):
    setup, other = world
    response = api(other.office).post("/api/v1/documents/", {"round": other.round.pk, "kind": "analysis_booklet"},
                                      format="json")
    assert response.status_code == 400, response.content
    assert "社会评价" in " ".join(response.json()["errors"]["round"])
    assert not Document.objects.filter(round=other.round, kind="analysis_booklet").exists()


def test_issue_refused_when_the_round_is_no_longer_social(world, api):
    setup, _ = world
    created = api(setup.office).post("/api/v1/documents/", {"round": setup.round.pk, "kind": "analysis_booklet"},
                                     format="json")
    assert created.status_code == 201, created.content
    m.Round.objects.filter(pk=setup.round.pk).update(kind=m.RoundKind.ANNUAL)
    response = api(setup.office).post(f"/api/v1/documents/{created.json()['id']}/issue/")
    assert response.status_code == 409 and "社会评价" in response.json()["detail"]
    assert Document.objects.get(pk=created.json()["id"]).status == DocumentStatus.DRAFT


def test_only_the_office_drafts_it(world, api):
    setup, _ = world
    response = api(setup.leader).post("/api/v1/documents/", {"round": setup.round.pk, "kind": "analysis_booklet"},
                                      format="json")
    assert response.status_code == 403


def test_the_social_rounds_page_offers_the_office_the_booklet(world, client):
    from django.urls import reverse

    setup, other = world
    client.force_login(setup.office)
    page = client.get(reverse("ui:round", args=[setup.round.pk])).content.decode()
    assert 'value="analysis_booklet"' in page
    client.force_login(other.office)
    assert 'value="analysis_booklet"' not in client.get(reverse("ui:round", args=[other.round.pk])).content.decode()
    response = client.post("/documents/", {"draft-round": other.round.pk, "draft-kind": "analysis_booklet"})
    assert response.status_code == 200 and "社会评价" in response.content.decode()  # the refusal, on the page
