"""Ready rubrics by one command; rubric files imported and exported through the API, all or nothing."""

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from cases import models as m
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_load_rubrics_loads_the_five_seed_rubrics_once():
    out = StringIO()
    call_command("load_rubrics", stdout=out)
    totals = dict(m.Rubric.objects.values_list("code", "total_max"))
    assert {k: str(v) for k, v in totals.items()} == {
        "wuxing_2016": "100.00", "city_organ_2013": "90.00", "luoyang_2013": "1000.00",
        "jilin_half_year_2018": "100.00", "guangxi_social_2015": "5.00"}
    wuxing = m.Rubric.objects.get(code="wuxing_2016")
    assert wuxing.items.count() == 26  # 5 + 5 + 4 + 4 + 4 + 4
    assert [str(s.max_points) for s in wuxing.sections.all()] == ["25.00", "20.00", "15.00", "15.00", "10.00", "15.00"]
    half_year = m.Rubric.objects.get(code="jilin_half_year_2018")  # seed 000's four contents (reconstructed)
    assert [str(s.max_points) for s in half_year.sections.all()] == ["40.00", "20.00", "25.00", "15.00"]
    call_command("load_rubrics", stdout=out)
    assert m.Rubric.objects.count() == 5
    assert "already loaded" in out.getvalue()


def _yaml(version=1, total="10"):
    return f"""code: demo
title: 测试细则
version: {version}
total_max: {total}
sections:
  - code: S1
    title: 组织领导
    max: 10
    items:
      - {{code: S1.1, content: 有领导小组, max: 6}}
      - {{code: S1.2, content: 有方案, max: 4, bonus_cap: 1}}
""".encode()


def test_import_export_round_trip_and_errors(api):
    office = make_user("office-rubric", org_role=m.OrgRole.OFFICE)
    upload = lambda name, content: api(office).post(  # noqa: E731
        "/api/v1/rubrics/import/", {"file": SimpleUploadedFile(name, content)}, format="multipart")

    created = upload("demo.yaml", _yaml())
    assert created.status_code == 201, created.content
    rubric_id = created.json()["id"]
    assert created.json()["total_max"] == "10.00"

    again = upload("demo.yaml", _yaml())
    assert again.status_code == 400 and "version" in again.json()["errors"]

    broken = upload("demo.yaml", _yaml(version=2, total="11"))  # sections add up to 10, not 11
    assert broken.status_code == 400
    assert any("total_max" in msg for msg in broken.json()["errors"]["file"])
    assert m.Rubric.objects.count() == 1

    for fmt in ("yaml", "json", "xlsx"):
        exported = api(office).get(f"/api/v1/rubrics/{rubric_id}/export/?as={fmt}")
        assert exported.status_code == 200
        content = exported.content
        if fmt == "xlsx":
            from io import BytesIO

            from cases.rubrics.excel import load_rubric_xlsx

            spec = load_rubric_xlsx(BytesIO(content))
            assert [(i.code, str(i.max)) for s in spec.sections for i in s.items] == [("S1.1", "6"), ("S1.2", "4")]
        else:
            content = content.replace(b"version: 1", b"version: 9").replace(b'"version": 1', b'"version": 9')
            reimported = upload(f"demo.{fmt}", content)
            assert reimported.status_code == 201, reimported.content
            new = m.Rubric.objects.get(pk=reimported.json()["id"])
            assert list(new.items.values_list("code", "max_points", "bonus_cap")) == list(
                m.Rubric.objects.get(pk=rubric_id).items.values_list("code", "max_points", "bonus_cap"))
            m.Rubric.objects.filter(pk=new.pk).delete()

    outsider = make_user("expert-rubric")
    refused = api(outsider).post("/api/v1/rubrics/import/", {"file": SimpleUploadedFile("x.yaml", _yaml(3))},
                                 format="multipart")
    assert refused.status_code == 403
    assert m.Rubric.objects.count() == 1


def test_a_rubric_stored_from_a_minimal_dict_exports_in_every_format(api):
    """`rubric_create` (the e2e fixture's and the benchmarks' way in) once stored the dict as given, without
    the `total_max` a rubric file needs: the export answered 500 (found by schemathesis)."""
    from cases.rubrics.services import rubric_create

    office = make_user("office-minimal", org_role=m.OrgRole.OFFICE)
    rubric = rubric_create(spec={"code": "minimal", "title": "最小细则", "sections": [
        {"code": "1", "title": "组织领导", "max": "10", "items": [{"code": "1.1", "content": "有领导小组", "max": "10"}]}]})
    media = {"yaml": "application/yaml", "json": "application/json",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    for fmt, media_type in media.items():
        exported = api(office).get(f"/api/v1/rubrics/{rubric.pk}/export/?as={fmt}")
        assert exported.status_code == 200, exported.content
        assert exported["Content-Type"] == media_type


def test_an_unknown_export_format_is_a_field_error(api):
    """`?as=` names the file: a value with a line break once reached the Content-Disposition header and
    crashed the response (found by schemathesis); any value but yaml/json/xlsx fell back to YAML."""
    from cases.rubrics.services import rubric_create
    from tests.factories import rubric_spec

    rubric = rubric_create(spec=rubric_spec())
    office = make_user("office-export", org_role=m.OrgRole.OFFICE)
    for bad in ("x\ny", "pdf"):
        response = api(office).get(f"/api/v1/rubrics/{rubric.pk}/export/", {"as": bad})
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["as"]


def test_values_the_database_cannot_hold_are_field_errors_not_a_crash(api):
    """An amount past DecimalField(8, 2) or a code past its column reached the INSERT and answered 500."""
    office = make_user("office-bounds", org_role=m.OrgRole.OFFICE)
    text = (_yaml().decode()
            .replace("total_max: 10", "total_max: 100000010")
            .replace("max: 10\n", "max: 100000010\n")
            .replace("code: S1\n", f"code: S{'x' * 40}\n")
            .replace("code: S1.2,", '"code": "S1 2",'))
    refused = api(office).post("/api/v1/rubrics/import/", {"file": SimpleUploadedFile("big.yaml", text.encode())},
                               format="multipart")
    assert refused.status_code == 400, refused.content
    messages = " ".join(refused.json()["errors"]["file"])
    assert "sections[0].max" in messages and "above 999999.99" in messages
    assert "sections[0].code" in messages and "sections[0].items[1].code" in messages
    assert m.Rubric.objects.count() == 0


def test_an_export_names_its_file_safely(api):
    from cases.rubrics.services import rubric_create

    office = make_user("office-export-name", org_role=m.OrgRole.OFFICE)
    rubric = rubric_create(spec={"code": 'a"b', "title": "t", "sections": [
        {"code": "1", "title": "组织领导", "max": "10", "items": [{"code": "1.1", "content": "有领导小组", "max": "10"}]}]})
    response = api(office).get(f"/api/v1/rubrics/{rubric.pk}/export/?as=json")
    assert response.status_code == 200
    # The quote is escaped inside the quoted name; before, it ended the name early.
    assert response["Content-Disposition"].startswith('attachment; filename="a\\"b')
