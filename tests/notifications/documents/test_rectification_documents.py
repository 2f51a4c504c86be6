"""The rectification documents rendered to real PDFs and read back with pdftotext: the closure sheet (整改销号单)
names the finding, the measures, the evidence, the verifier and the date; the notice (整改通知) every finding
of the unit with its due date; the ledger (整改台账) every row of the round. A closure sheet must name a
rectification of the round and of its unit."""

import re
import subprocess
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from cases import models as m
from notifications.documents import render, services
from tests.conftest import module_world
from tests.factories import make_round

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
ON = date(2026, 6, 15)


def _rect(setup, unit_index, text, due, status=m.RectificationStatus.IN_PROGRESS, **extra):
    case = setup.case(unit_index)
    finding = m.Finding.objects.create(case=case, source=m.FindingSource.INSPECTION, description=text,
                                       requires_rectification=True)
    return m.Rectification.objects.create(
        round=setup.round, case=case, unit=case.unit, group=case.group, source="finding", finding=finding,
        status=status, problem=text, target="建立长效机制", plan_due=date(2026, 6, 1), due_date=due, **extra)


def build():
    setup = make_round(units=2, experts=1)
    setup.office.display_name = "王验收"
    setup.office.save()
    closed = _rect(setup, 0, "制度台账不完整", date(2026, 6, 30), m.RectificationStatus.CLOSED,
                   verified_by=setup.office, closed_at=datetime(2026, 6, 12, 15, 0, tzinfo=SH))
    other = _rect(setup, 0, "值班记录缺页", date(2026, 7, 10))
    third = _rect(setup, 0, "公示时间不足", date(2026, 7, 20), m.RectificationStatus.PLANNING)
    foreign = _rect(setup, 1, "档案管理混乱", date(2026, 8, 1))
    m.RectificationMeasure.objects.create(rectification=closed, position=1, text="修订台账管理办法", responsible="李责任",
                                          due_date=date(2026, 6, 20))
    m.RectificationMeasure.objects.create(rectification=closed, position=2, text="补齐全年台账", responsible="赵责任",
                                          due_date=date(2026, 6, 25))
    report = m.RectificationReport.objects.create(rectification=closed, kind="completion", text="已全部整改到位",
                                                  reported_by=setup.staff[0])
    for name in ("台账管理办法.pdf", "补齐台账照片.jpg"):
        report.evidence.add(m.Attachment.objects.create(
            case=setup.case(0), purpose=m.Attachment.Purpose.RECTIFICATION, file=f"attachments/{name}",
            original_name=name, size=100, sha256="0" * 64))
    m.RectificationReview.objects.create(rectification=closed, stage="verification", decision="accept",
                                         reviewer=setup.office, at=datetime(2026, 6, 12, 15, 0, tzinfo=SH))
    return {"setup": setup, "closed": closed, "other": other, "third": third, "foreign": foreign}


world = module_world(build)


def _text(document) -> str:
    html = services.html_of(document, preview=False, on=ON)
    pdf = render.render_pdf(html).pdf
    raw = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return re.sub(r"\s+", "", raw)


def _draft(world, kind, unit=None, data=None):
    setup = world["setup"]
    return services.draft_create(user=setup.office, round=setup.round, kind=kind, unit=unit, data=data)


def test_closure_sheet_names_finding_measures_evidence_verifier_and_date(world):
    setup = world["setup"]
    doc = _draft(world, "closure_sheet", setup.units[0], {"rectification": world["closed"].pk})
    assert doc.data == {"rectification": world["closed"].pk} and doc.audience == "unit"
    text = _text(doc)
    for part in ("整改销号单", "制度台账不完整", "修订台账管理办法", "李责任", "补齐全年台账", "台账管理办法.pdf",
                 "补齐台账照片.jpg", "已全部整改到位", "王验收", "2026-06-12", "2026-06-30", setup.units[0].name):
        assert part in text, part


def test_closure_sheet_must_name_a_rectification_of_the_round_and_unit(world):
    setup = world["setup"]
    other_round = make_round(units=1, experts=1)
    elsewhere = _rect(other_round, 0, "别的轮次的问题", date(2026, 7, 1))
    for unit, data in (
        (setup.units[0], None),
        (setup.units[0], {"rectification": "x"}),
        (setup.units[0], {"rectification": world["foreign"].pk}),  # another unit's
        (setup.units[0], {"rectification": elsewhere.pk}),  # another round's
    ):
        with pytest.raises(ValidationError) as refused:
            _draft(world, "closure_sheet", unit, data)
        assert "rectification" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        _draft(world, "closure_sheet", None, {"rectification": world["closed"].pk})
    assert "unit" in refused.value.message_dict


def test_rectification_notice_lists_every_open_finding_with_its_due_date(world):
    setup = world["setup"]
    text = _text(_draft(world, "rectification_notice", setup.units[0]))
    for part in ("值班记录缺页", "2026-07-10", "公示时间不足", "2026-07-20", f"{setup.units[0].name}：",
                 "最迟于2026年7月20日前全部完成"):
        assert part in text, part
    assert "档案管理混乱" not in text  # another unit's
    assert "制度台账不完整" not in text  # closed already


def test_rectification_ledger_has_every_row(world):
    text = _text(_draft(world, "rectification_ledger"))
    setup = world["setup"]
    for part in ("整改台账", "制度台账不完整", "值班记录缺页", "公示时间不足", "档案管理混乱", setup.units[1].name,
                 "共有整改事项4项：已销号1项", "按期销号率100.0%"):
        assert part in text, part


def test_the_ledger_pdf_is_a_document_drafted_from_the_ledger_page(world, client):
    """No PDF is rendered in a request: the page offers the office a 整改台账 draft, which the worker renders."""
    from notifications.documents.models import Document

    setup = world["setup"]
    client.force_login(setup.office)
    page = client.get("/rectification-ledger/", {"round": setup.round.pk}).content.decode()
    assert 'value="rectification_ledger"' in page
    response = client.post("/documents/", {"draft-round": setup.round.pk, "draft-kind": "rectification_ledger"})
    assert response.status_code == 302
    assert Document.objects.filter(round=setup.round, kind="rectification_ledger", status="draft").exists()
    client.force_login(setup.staff[0])
    assert 'value="rectification_ledger"' not in client.get("/rectification-ledger/").content.decode()


def test_closure_sheet_drafted_through_the_api_names_its_rectification(world, api):
    setup = world["setup"]
    url = "/api/v1/documents/"
    body = {"round": setup.round.pk, "kind": "closure_sheet", "unit": setup.units[0].pk}
    missing = api(setup.office).post(url, body, format="json")
    assert missing.status_code == 400 and "rectification" in missing.json()["errors"]
    foreign = api(setup.office).post(url, {**body, "rectification": world["foreign"].pk}, format="json")
    assert foreign.status_code == 400 and "rectification" in foreign.json()["errors"]
    created = api(setup.office).post(url, {**body, "rectification": world["closed"].pk}, format="json")
    assert created.status_code == 201, created.content
    assert m.AuditEntry.objects.filter(action="document.draft").count() == 1
    assert created.json()["title"] == f"{setup.units[0].name}整改销号单"
