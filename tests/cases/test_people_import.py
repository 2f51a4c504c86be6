"""Excel import of units, people and a round's groups: every problem by sheet/row/column and nothing
changed; idempotent re-import; the seeds' own group tables; one-time passwords; the office's only,
refused before the file is read; bounded."""

import io

import pytest
from django.contrib.auth.hashers import get_hasher
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from openpyxl import Workbook, load_workbook
from rest_framework.parsers import MultiPartParser
from rest_framework.test import APIClient

from cases import models as m
from cases.imports import services
from cases.imports.sheets import EXAMPLES, GROUPS, PEOPLE, UNITS, build_xlsx, group_number, person_ref, split_list
from tests.cases.seed_group_tables import (
    SEED_000_GROUPS,
    SEED_000_SIZES,
    SEED_003_GROUPS,
    SEED_003_SIZES,
    unit_rows,
)
from tests.factories import make_round, make_user

pytestmark = pytest.mark.django_db

PEOPLE_URL = "/api/v1/imports/people/"


def groups_url(round_id):
    return f"/api/v1/rounds/{round_id}/groups/import/"


def upload(client, url, content, name="导入.xlsx", **data):
    return client.post(url, {"file": SimpleUploadedFile(name, content), **data}, format="multipart")


@pytest.fixture
def office():
    return make_user("office-import", org_role=m.OrgRole.OFFICE, display_name="考核办")


@pytest.fixture
def draft_round(office):
    return make_round(units=0, groups=0, office=office).round


def snapshot():
    """Everything an import may write, to show that a refused or repeated import wrote nothing."""
    return {
        "units": list(m.Unit.objects.order_by("pk").values()),
        "users": list(m.User.objects.order_by("pk").values()),
        "memberships": list(m.UnitMembership.objects.order_by("pk").values()),
        "groups": list(m.Group.objects.order_by("pk").values()),
        "members": list(m.GroupMember.objects.order_by("pk").values()),
        "cases": list(m.Case.objects.order_by("pk").values()),
        "audit": m.AuditEntry.objects.count(),
    }


def full_file():
    return build_xlsx({
        UNITS: [["市直工委", "工委", "党委工作部门", "", 1, ""],
                ["市直工委办公室", "工委办", "党委工作部门", "市直工委", 2, "GWB"],
                ["市财政局", "财政局", "政府工作部门", "", 3, ""]],
        PEOPLE: [["张三", "", "市财政局", "填报员", "科员", "0391-3568226", 13800000001, "z3@example.cn"],
                 ["李四", "lisi", "财政局", "单位负责人", "局长", "", "", ""],
                 ["王五", "", "", "专家", "", "", "13800000003", ""]],
        GROUPS: [["第一组", "石书明（市直工委副书记）", "", "王五、陈东晓（科员）", "马玥", "3568226", "13694308321",
                  "市直工委办公室、财政局"]],
    })


# --- the cells ------------------------------------------------------------------------------------


def test_cells_people_type_are_split_as_the_notices_write_them():
    assert split_list("省委政研室（省改革办）、省委党校（省行政学院），文联。") == [
        "省委政研室（省改革办）", "省委党校（省行政学院）", "文联"]
    assert split_list("陈东晓（办公室主任科员、科员）\n孔倩雯") == ["陈东晓（办公室主任科员、科员）", "孔倩雯"]
    assert person_ref("杜  娟（市直工委组织部主任科员）") == ("杜娟", "市直工委组织部主任科员")
    assert person_ref("石书明") == ("石书明", "")
    assert person_ref("石（书）明（x）") is None
    assert [group_number(t) for t in ("1", "第一组", "第一考核调研组", "第十二组", "二十", "甲组")] == [1, 1, 1, 12, 20, None]


# --- a full import, then the same file again ----------------------------------------------------------


def test_import_creates_then_reimport_changes_nothing(api, office, draft_round):
    first = upload(api(office), groups_url(draft_round.pk), full_file())
    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["units"], body["groups"]) == ({"created": 3, "updated": 0, "unchanged": 0},
                                                {"created": 1, "updated": 0, "unchanged": 0})
    # 3 from the 人员 sheet, 3 new from the group (石书明, 陈东晓, 马玥)
    assert body["people"] == {"created": 6, "updated": 0, "unchanged": 0}
    assert first["Cache-Control"] == "no-store"
    accounts = {a["display_name"]: a for a in body["accounts"]}
    assert set(accounts) == {"张三", "李四", "王五", "石书明", "陈东晓", "马玥"}
    assert accounts["张三"]["username"] == "13800000001" and accounts["李四"]["username"] == "lisi"

    office_unit = m.Unit.objects.get(name="市直工委办公室")
    assert (office_unit.code, office_unit.parent.name, office_unit.short_name) == ("GWB", "市直工委", "工委办")
    zhang = m.User.objects.get(username="13800000001")
    assert (zhang.display_name, zhang.title, zhang.office_phone, zhang.email) == ("张三", "科员", "0391-3568226", "z3@example.cn")
    assert list(zhang.unit_memberships.values_list("unit__name", "role")) == [("市财政局", "staff")]
    assert list(m.User.objects.get(username="lisi").unit_memberships.values_list("unit__name", "role")) == [("市财政局", "head")]
    group = draft_round.groups.get()
    assert (group.number, group.name, group.phone) == (1, "第一组", "3568226")
    roles = sorted((gm.user.display_name, gm.role) for gm in group.members.select_related("user"))
    assert roles == [("王五", "expert"), ("石书明", "leader"), ("陈东晓", "expert"), ("马玥", "liaison")]
    assert m.User.objects.get(display_name="石书明").title == "市直工委副书记"
    assert m.User.objects.get(display_name="马玥").mobile == "13694308321"
    assert sorted(group.cases.values_list("unit__name", flat=True)) == ["市直工委办公室", "市财政局"]
    assert m.AuditEntry.objects.filter(action="user.import_create").count() == 6
    assert m.AuditEntry.objects.filter(action="group.create").count() == 1

    before = snapshot()
    again = upload(api(office), groups_url(draft_round.pk), full_file())
    assert again.status_code == 200, again.content
    assert again.json() == {"dry_run": False, "accounts": [],
                            "units": {"created": 0, "updated": 0, "unchanged": 3},
                            "people": {"created": 0, "updated": 0, "unchanged": 6},
                            "groups": {"created": 0, "updated": 0, "unchanged": 1}}
    assert snapshot() == before  # nothing written, not even an audit entry


def test_a_changed_file_updates_rows_instead_of_duplicating_them(api, office, draft_round):
    assert upload(api(office), groups_url(draft_round.pk), full_file()).status_code == 200
    changed = build_xlsx({
        UNITS: [["市财政局", "财政", "政府工作部门", "市直工委", "", ""]],
        PEOPLE: [["张三", "", "市直工委", "单位负责人", "副科长", "", 13800000001, ""]],
        GROUPS: [["第一考核调研组", "石书明", "王五", "陈东晓", "", "3568999", "", "市财政局"]],
    })
    response = upload(api(office), groups_url(draft_round.pk), changed)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["units"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert body["groups"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert body["people"]["created"] == 0 and body["people"]["updated"] == 1 and body["accounts"] == []
    assert m.Unit.objects.count() == 3 and m.User.objects.filter(display_name="张三").count() == 1
    fin = m.Unit.objects.get(name="市财政局")
    assert (fin.short_name, fin.parent.name, fin.sort_order) == ("财政", "市直工委", 3)  # blank 排序 keeps 3
    zhang = m.User.objects.get(username="13800000001")
    assert zhang.title == "副科长" and zhang.office_phone == "0391-3568226"  # a blank cell keeps the value
    assert list(zhang.unit_memberships.values_list("unit__name", "role")) == [("市直工委", "head")]
    group = draft_round.groups.get()
    assert (group.name, group.phone) == ("第一考核调研组", "3568999")
    roles = sorted((gm.user.display_name, gm.role) for gm in group.members.select_related("user"))
    assert roles == [("王五", "deputy"), ("石书明", "leader"), ("陈东晓", "expert")]
    assert list(group.cases.values_list("unit__name", flat=True)) == ["市财政局"]
    assert m.AuditEntry.objects.filter(action="group.update").exists()
    assert m.AuditEntry.objects.filter(action="user.import_units", object_id=str(zhang.pk)).exists()


def test_dry_run_checks_and_counts_but_writes_nothing(api, office, draft_round):
    before = snapshot()
    response = upload(api(office), groups_url(draft_round.pk), full_file(), dry_run="true")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] and body["people"]["created"] == 6
    assert all(a["password"] == "" for a in body["accounts"])
    assert snapshot() == before


# --- one file with an error of every kind --------------------------------------------------------------


def test_every_kind_of_error_is_listed_by_sheet_row_and_column_and_nothing_changes(api, office, draft_round):
    existing = m.Unit.objects.create(code="E1", name="已有单位", category="其他")
    m.Unit.objects.create(code="E2", name="另一单位", short_name="同简称", category="其他")
    m.Unit.objects.create(code="E3", name="第三单位", short_name="同简称", category="其他")
    make_user("twin1", mobile="13900000000", display_name="重名")
    make_user("twin2", mobile="13900000000", display_name="重名")
    make_user("13911111111", mobile="13700000000")
    other = make_round(units=1, groups=1, office=office)  # noqa: F841  (a unit already in a group elsewhere is fine)
    taken_round_group = m.Group.objects.create(round=draft_round, number=9, name="第九组")
    m.Case.objects.create(round=draft_round, unit=existing, group=taken_round_group)
    bad = build_xlsx({
        UNITS: [
            ["", "", "党委工作部门", "", "", ""],  # row 2: 名称 missing
            ["甲单位", "甲" * 65, "不存在的类别", "无此单位", "-1", "坏 编码"],  # row 3: 简称 too long, 类别, 上级单位, 排序, 编码
            ["甲单位", "", "其他", "", "", ""],  # row 4: repeated 名称
            ["乙单位", "", "其他", "丙单位", "", "E1"],  # row 5: 编码 of 已有单位; parent cycle 乙 → 丙 → 乙
            ["丙单位", "", "其他", "乙单位", "", ""],  # row 6: the cycle again
            ["丁单位", "", "其他", "同简称", "", ""],  # row 7: ambiguous short name
        ],
        PEOPLE: [
            ["", "", "", "", "", "", "", ""],  # an empty row is skipped, not an error
            ["", "", "", "", "", "", "", ""],
            ["", "acc", "", "", "", "", "", ""],  # row 4: 姓名 missing
            ["赵一", "", "", "", "", "", "", ""],  # row 5: neither 账号 nor 手机
            ["赵二", "bad account!", "", "", "", "x" * 33, "12345", "not-an-email"],  # row 6: 账号, 办公电话, 手机, 邮箱
            ["赵三", "zhao3", "不存在单位", "填报员", "", "", "", ""],  # row 7: 单位
            ["赵四", "zhao4", "", "单位负责人", "", "", "", ""],  # row 8: unit role without 单位
            ["赵五", "zhao5", "已有单位", "考核办", "", "", "", ""],  # row 9: 单位 with an org role
            ["赵六", "zhao6", "", "超级管理员", "", "", "", ""],  # row 10: unknown role
            ["赵七", "zhao3", "", "", "", "", "", ""],  # row 11: repeated key
            ["赵八", "", "", "", "", "", "13900000000", ""],  # row 12: mobile of two accounts
            ["赵九", "", "", "", "", "", "13911111111", ""],  # row 13: mobile taken as another's account
            ["考核办", "office-import", "", "专家", "", "", "", ""],  # row 14: the importer's own role
            ["重名", "dup1", "", "", "", "", "13600000001", ""],
            ["重名", "dup2", "", "", "", "", "13600000002", ""],
        ],
        GROUPS: [
            ["甲组", "", "", "", "", "", "", "已有单位"],  # row 2: 组别
            ["第一组", "重名", "", "石（书）明", "", "电话abc", "123", ""],  # row 3: ambiguous, bad ref, phone, mobile, units
            ["第一组", "", "", "", "", "", "", "已有单位"],  # row 4: repeated group
            ["第二组", "", "", "王五、王五", "甲、乙", "", "13600000003", "无此单位、已有单位、已有单位"],  # row 5
            ["第三组", "", "", "", "", "", "", "已有单位"],  # row 6: unit in another group of the file
        ],
    }, headers={UNITS: ["名称", "简称", "类别", "上级单位", "排序", "编码", "备注"]})
    before = snapshot()
    response = upload(api(office), groups_url(draft_round.pk), bad)
    assert response.status_code == 400, response.content
    body = response.json()
    found = {(p["sheet"], p["row"], p["column"]) for p in body["problems"]}
    expected = {
        (UNITS, 1, "G"),  # unknown column 备注
        (UNITS, 2, "A"),
        (UNITS, 3, "B"), (UNITS, 3, "C"), (UNITS, 3, "D"), (UNITS, 3, "E"), (UNITS, 3, "F"),
        (UNITS, 4, "A"),
        (UNITS, 5, "F"), (UNITS, 5, "D"), (UNITS, 6, "D"),
        (UNITS, 7, "D"),
        (PEOPLE, 4, "A"),
        (PEOPLE, 5, "B"),
        (PEOPLE, 6, "B"), (PEOPLE, 6, "F"), (PEOPLE, 6, "G"), (PEOPLE, 6, "H"),
        (PEOPLE, 7, "C"),
        (PEOPLE, 8, "D"),
        (PEOPLE, 9, "D"),
        (PEOPLE, 10, "D"),
        (PEOPLE, 11, "B"),
        (PEOPLE, 12, "G"),
        (PEOPLE, 13, "G"),
        (PEOPLE, 14, "D"),
        (GROUPS, 2, "A"),
        (GROUPS, 3, "B"), (GROUPS, 3, "D"), (GROUPS, 3, "F"), (GROUPS, 3, "G"), (GROUPS, 3, "H"),
        (GROUPS, 4, "A"),
        (GROUPS, 5, "D"), (GROUPS, 5, "G"), (GROUPS, 5, "H"),
        (GROUPS, 6, "H"),
    }
    assert found == expected, sorted(found ^ expected)
    assert all(p["message"] for p in body["problems"])
    assert body["errors"]["人员!G12"] == ["手机：手机号对应多个账号（twin1、twin2），请填写账号。"]
    assert "未做任何修改" in body["detail"]
    assert snapshot() == before


def test_a_workbook_without_the_sheets_or_not_a_workbook_is_a_400(api, office):
    before = snapshot()
    wb = Workbook()
    wb.active.title = "别的表"
    out = io.BytesIO()
    wb.save(out)
    response = upload(api(office), PEOPLE_URL, out.getvalue())
    assert response.status_code == 400 and response.json()["problems"][0]["sheet"] == ""
    for name, content in (("people.csv", b"a,b\n"), ("people.xlsx", b"PK\x03\x04 not really"),
                          ("people.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
        response = upload(api(office), PEOPLE_URL, content, name=name)
        assert response.status_code == 400 and "file" in response.json()["errors"], (name, response.content)
    response = api(office).post(PEOPLE_URL, {"file": SimpleUploadedFile("a.xlsx", full_file()), "extra": "1"},
                                format="multipart")
    assert response.status_code == 400 and "extra" in response.json()["errors"]  # unknown fields refused
    assert snapshot() == before


def test_the_service_is_the_offices_only(draft_round):
    for role in ("", m.OrgRole.LEADER, m.OrgRole.AUDITOR):
        with pytest.raises(PermissionDenied):
            services.import_workbook(user=make_user(org_role=role), fileobj=io.BytesIO(full_file()), round=draft_round)
    assert not m.Unit.objects.exists()


def test_groups_sheet_needs_a_round_and_a_draft_one(api, office, draft_round):
    response = upload(api(office), PEOPLE_URL, full_file())
    assert response.status_code == 400 and response.json()["problems"][0]["sheet"] == GROUPS
    launched = make_round(units=1, experts=1, launch=True, office=office)
    response = upload(api(office), groups_url(launched.round.pk), full_file())
    assert response.status_code == 409


def test_bounds_rows_and_bytes(api, office, settings):
    too_many = build_xlsx({PEOPLE: [[f"人{i}", f"p{i}", "", "", "", "", "", ""] for i in range(5_001)]})
    response = upload(api(office), PEOPLE_URL, too_many)
    assert response.status_code == 400
    assert response.json()["problems"][0]["message"].startswith("每个工作表最多 5001 行（含列名行）")  # 5,000 + the header
    settings.UPLOAD_MAX_BYTES = 1024
    response = upload(api(office), PEOPLE_URL, full_file())
    assert response.status_code == 413 and not m.User.objects.filter(display_name="张三").exists()


# --- the seeds' own tables ------------------------------------------------------------------------


@pytest.mark.parametrize("groups, sizes", [(SEED_000_GROUPS, SEED_000_SIZES), (SEED_003_GROUPS, SEED_003_SIZES)],
                         ids=["seed000", "seed003"])
def test_the_seeds_group_tables_import_as_copied(api, office, draft_round, groups, sizes):
    content = build_xlsx({UNITS: unit_rows(groups), GROUPS: groups})
    response = upload(api(office), groups_url(draft_round.pk), content)
    assert response.status_code == 200, response.content
    assert response.json()["groups"]["created"] == 4
    got = [(g.number, g.cases.count()) for g in draft_round.groups.order_by("number")]
    assert got == list(enumerate(sizes, start=1))
    assert m.Case.objects.filter(round=draft_round).count() == sum(sizes)
    again = upload(api(office), groups_url(draft_round.pk), content)
    assert again.json()["groups"] == {"created": 0, "updated": 0, "unchanged": 4}


def test_seed_003_people_and_seed_000_liaisons(api, office, draft_round):
    content = build_xlsx({UNITS: unit_rows(SEED_003_GROUPS), GROUPS: SEED_003_GROUPS})
    assert upload(api(office), groups_url(draft_round.pk), content).status_code == 200
    first = draft_round.groups.get(number=1)
    assert first.name == "第一考核调研组" and first.phone == "3568226"
    people = sorted((gm.role, gm.user.display_name, gm.user.title) for gm in first.members.select_related("user"))
    assert people == [("deputy", "贾世平", "市直工委办公室主任"), ("expert", "孔倩雯", "市直工委办公室科员"),
                      ("expert", "陈东晓", "市直工委办公室主任科员"), ("leader", "石书明", "市直工委副书记")]
    assert m.User.objects.filter(display_name="杜娟").count() == 1  # “杜  娟”, typeset spaces dropped

    other_round = make_round(units=0, groups=0, office=office).round
    content = build_xlsx({UNITS: unit_rows(SEED_000_GROUPS), GROUPS: SEED_000_GROUPS})
    assert upload(api(office), groups_url(other_round.pk), content).status_code == 200
    liaison = other_round.groups.get(number=3).members.get()
    assert (liaison.role, liaison.user.display_name, liaison.user.mobile) == ("liaison", "于慕洋", "18943191279")
    assert other_round.groups.get(number=3).phone == "88902063"


# --- accounts ---------------------------------------------------------------------------------------


def test_one_time_password_signs_in_once_handed_over_and_is_rehashed_at_full_cost(api, office):
    response = upload(api(office), PEOPLE_URL, build_xlsx({PEOPLE: [["新人", "newbie", "", "", "", "", "", ""]]}))
    account = response.json()["accounts"][0]
    assert account["username"] == "newbie" and len(account["password"]) == services.ONE_TIME_PASSWORD_LENGTH
    user = m.User.objects.get(username="newbie")
    assert account["password"] not in user.password
    assert account["password"] not in str(list(m.AuditEntry.objects.values_list("after", flat=True)))
    assert f"${services.ONE_TIME_PASSWORD_ITERATIONS}$" in user.password
    client = Client()
    signed_in = client.post("/accounts/login/", {"username": "newbie", "password": account["password"]})
    assert signed_in.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)
    user.refresh_from_db()
    assert f"${get_hasher().iterations}$" in user.password  # Django upgraded the hash at sign-in


# --- who may import ---------------------------------------------------------------------------------


def test_only_the_office_imports_and_others_are_refused_before_the_file_is_read(api, office, draft_round):
    r = make_round(units=1, experts=1, office=office)
    broken_body = b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xlsx\"\r\n\r\nnot closed"
    for user in (r.staff[0], r.heads[0], r.groups[0].experts[0], r.groups[0].leader, r.leader, r.auditor):
        client = api(user)
        for url in (PEOPLE_URL, groups_url(draft_round.pk)):
            response = client.generic("POST", url, broken_body, content_type="multipart/form-data; boundary=x")
            assert response.status_code == 403, (user.username, url, response.content)
        assert client.get("/api/v1/imports/template.xlsx").status_code == 403
    assert api().post(PEOPLE_URL).status_code in (401, 403)
    # the office's own request with that body does get read, and refused for what it is
    response = api(office).generic("POST", PEOPLE_URL, broken_body, content_type="multipart/form-data; boundary=x")
    assert response.status_code == 400


def test_a_browser_session_is_refused_before_the_multipart_body_is_parsed(monkeypatch, office, draft_round):
    parses = []
    real_parse = MultiPartParser.parse

    def parse(self, *args, **kwargs):
        parses.append("multipart")
        return real_parse(self, *args, **kwargs)

    monkeypatch.setattr(MultiPartParser, "parse", parse)
    token = _get_new_csrf_string()
    staff = make_round(units=1, experts=1, office=office).staff[0]
    for user, expected in ((staff, 403), (office, 200)):
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(user)
        client.cookies["csrftoken"] = token
        for url in (PEOPLE_URL, groups_url(draft_round.pk)):
            response = client.post(url, {"file": SimpleUploadedFile("a.xlsx", full_file() if url != PEOPLE_URL else
                                                                    build_xlsx({UNITS: [["甲", "", "其他", "", "", ""]]}))},
                                   format="multipart", HTTP_X_CSRFTOKEN=token)
            assert response.status_code == expected, (user.username, url, response.content)
        assert parses == ([] if expected == 403 else ["multipart", "multipart"])


def test_template_downloads_and_its_examples_import(api, office, draft_round):
    response = api(office).get("/api/v1/imports/template.xlsx")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [UNITS, PEOPLE, GROUPS, f"{UNITS}（示例）", f"{PEOPLE}（示例）", f"{GROUPS}（示例）", "填写说明"]
    empty = upload(api(office), groups_url(draft_round.pk), response.content)  # the blank template itself
    assert empty.status_code == 200 and not empty.json()["accounts"]
    examples = build_xlsx(EXAMPLES)  # the example sheets copied into the real ones
    filled = upload(api(office), groups_url(draft_round.pk), examples)
    assert filled.status_code == 200, filled.content
    assert filled.json()["groups"]["created"] == 1


# --- the page ---------------------------------------------------------------------------------------


def test_import_page_shows_errors_then_passwords_once(office, draft_round):
    client = Client()
    client.force_login(office)
    page = client.get("/imports/")
    assert page.status_code == 200 and "导入" in page.content.decode()
    bad = build_xlsx({PEOPLE: [["赵一", "", "", "", "", "", "", ""]]})
    response = client.post("/imports/", {"file": SimpleUploadedFile("a.xlsx", bad)})
    text = response.content.decode()
    assert response.status_code == 200 and "人员" in text and "账号与手机至少填写一项" in text
    response = client.post(f"/imports/?round={draft_round.pk}", {"file": SimpleUploadedFile("a.xlsx", full_file())})
    text = response.content.decode()
    assert response.status_code == 200 and "13800000001" in text
    assert draft_round.groups.count() == 1
    assert f"/imports/?round={draft_round.pk}" in client.get(f"/rounds/{draft_round.pk}/").content.decode()
    staff = make_user("page-staff")
    client.force_login(staff)
    assert client.get("/imports/").status_code == 403
    assert client.post("/imports/", {"file": SimpleUploadedFile("a.xlsx", full_file())}).status_code == 403
    assert not m.User.objects.filter(username="page-staff", unit_memberships__isnull=False).exists()
