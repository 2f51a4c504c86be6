"""Sample frames (抽样框, seed 004 附件2–7): the seed's layouts, validation with the full error list, encryption
at rest, the permission matrix, the audit of the office's reads and exports, replacement with history."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from openpyxl import Workbook, load_workbook

from cases import models as m
from cases.social import crypto
from cases.social.layouts import LAYOUTS
from cases.social.models import SampleFrame, SampleListKind, SampleRow
from cases.social.selectors import cross_list_duplicates, minimum_for
from tests.factories import UnitFactory, make_rubric, make_user, round_dates

K = SampleListKind
# The seed's header rows as scraped (姓 名 with a space, half-width brackets).
SEED_POSTAL = ["序号", "姓 名", "性别", "单位(注明具体地址)", "职务", "区号", "办公电话", "手机号码", "邮政编码"]
SEED_PLAIN = ["序号", "姓 名", "性别", "单位", "职务", "区号", "办公电话", "手机号码", "备注"]
SEED_HEADERS = {K.GOV_SYSTEM: SEED_POSTAL, K.PARTY_SYSTEM: SEED_POSTAL, K.GOV_HOT: SEED_PLAIN,
                K.PARTY_HOT: SEED_PLAIN, K.INSTITUTION_SYSTEM: SEED_PLAIN, K.INSTITUTION_HOT: SEED_PLAIN}


def xlsx(kind, rows, header=None) -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    ws.append(["2015年度自治区XX部门XX工作评价抽样框"])
    ws.append(["报送单位：", None, None, "报送时间：2015年 11 月 10 日"])
    ws.append(header or SEED_HEADERS[kind])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = "list.xlsx"
    return out


def person(n, kind=K.GOV_SYSTEM, name=None, mobile=None):
    last = "530022" if "邮政编码" in LAYOUTS[kind] else ""
    return [n, name or f"张{n:03d}", "男" if n % 2 else "女", f"柳州市城中路{n}号 柳州市某局", "科长", "0772",
            f"{2800000 + n}", mobile or f"0139{n:08d}", last]


@pytest.fixture
def world(db):
    rubric = make_rubric()
    round = m.Round.objects.create(title="2015年度社会评价", kind=m.RoundKind.SOCIAL, year=2015, rubric=rubric,
                                   status=m.RoundStatus.RUNNING, **round_dates(),
                                   config={"sample_minimums": {"economic": 3, "party_mass": 2, "institution": 2}})
    group = m.Group.objects.create(round=round, number=1, name="第一组")
    unit, other = UnitFactory(), UnitFactory()
    for u in (unit, other):
        m.Case.objects.create(round=round, unit=u, group=group)
    people = {
        "office": make_user(org_role=m.OrgRole.OFFICE),
        "staff": make_user(), "head": make_user(), "other_staff": make_user(), "expert": make_user(),
        "leader": make_user(org_role=m.OrgRole.LEADER),
    }
    m.UnitMembership.objects.create(user=people["staff"], unit=unit, role=m.UnitRole.STAFF)
    m.UnitMembership.objects.create(user=people["head"], unit=unit, role=m.UnitRole.HEAD)
    m.UnitMembership.objects.create(user=people["other_staff"], unit=other, role=m.UnitRole.STAFF)
    m.GroupMember.objects.create(group=group, user=people["expert"], role=m.GroupRole.EXPERT)
    return type("World", (), {"round": round, "unit": unit, "other": other, **people})


def upload(api, w, user, kind, rows, header=None, unit=None):
    url = f"/api/v1/rounds/{w.round.pk}/units/{(unit or w.unit).pk}/sample-frames/{kind}/"
    return api(user).post(url, {"file": xlsx(kind, rows, header)}, format="multipart")


@pytest.mark.parametrize("kind", list(K))
def test_each_seed_layout_is_accepted(api, world, kind):
    response = upload(api, world, world.staff, kind, [person(n, kind) for n in (1, 2, 3)])
    assert response.status_code == 201, response.json()
    frame = SampleFrame.objects.get(pk=response.json()["id"])
    assert (frame.kind, frame.version, frame.row_count, frame.is_current) == (kind, 1, 3, True)
    row = frame.rows.get(seq=2)
    assert (row.gender, row.area_code, row.title) == ("女", "0772", "科长")
    assert row.postcode == ("530022" if kind in (K.GOV_SYSTEM, K.PARTY_SYSTEM) else "")


def test_one_error_of_each_kind_gives_the_full_list_and_changes_nothing(api, world):
    # A person already on the unit's hot-work list (附件3) may not appear on its system list (附件2).
    assert upload(api, world, world.staff, K.GOV_HOT, [person(n, K.GOV_HOT) for n in (1, 2, 3)]).status_code == 201
    frames, rows, audits = SampleFrame.objects.count(), SampleRow.objects.count(), m.AuditEntry.objects.count()
    good = person
    rows_in = [
        good(1, mobile="13700000001"),
        [2, "", "男", "柳州市城中路2号", "科长", "", "", "13900000002", "530022"],  # 姓名 missing
        [3, "李三", "M", "柳州市城中路3号", "科长", "", "", "13900000003", "530022"],  # 性别
        [5, "李四", "男", "柳州市城中路4号", "科长", "", "", "13900000004", "530022"],  # 序号 not continuous
        [5, "李五", "男", "某某单位", "科长", "", "", "13900000005", "530022"],  # no postal address
        [6, "李六", "男", "柳州市城中路6号", "", "", "", "13900000006", "530022"],  # 职务 missing
        [7, "李七", "男", "柳州市城中路7号", "科长", "772", "2800007", "13900000007", "530022"],  # 区号 format
        [8, "李八", "男", "柳州市城中路8号", "科长", "0772", "", "13900000008", "530022"],  # 区号 without landline
        [9, "李九", "男", "柳州市城中路9号", "科长", "", "0772-2800009", "13900000009", "530022"],  # landline format
        [10, "李十", "男", "柳州市城中路10号", "科长", "", "", "1390000001", "530022"],  # mobile format
        [11, "王一", "男", "柳州市城中路11号", "科长", "", "", "", "530022"],  # no phone at all
        [12, "王二", "男", "柳州市城中路12号", "科长", "", "", "13900000012", "5300"],  # postcode format
        [13, "王三", "男", "柳州市城中路13号", "科长", "", "", "13900000013", ""],  # postcode missing
        [14, "李五", "男", "柳州市城中路14号", "科长", "", "", "013900000005", "530022"],  # row 8's person again
        [15, "张002", "女", "柳州市城中路15号", "科长", "", "", "13900000002", "530022"],  # on the 附件3 list
    ]
    response = upload(api, world, world.staff, K.GOV_SYSTEM, rows_in, header=SEED_POSTAL + ["身份证号"])
    assert response.status_code == 400
    body = response.json()
    got = [(p["row"], p["column"], p["header"]) for p in body["problems"]]
    assert got == [
        (3, "J", "身份证号"),
        (5, "B", "姓名"),
        (6, "C", "性别"),
        (7, "A", "序号"),
        (8, "D", "单位(注明具体地址)"),
        (9, "E", "职务"),
        (10, "F", "区号"),
        (11, "F", "区号"),
        (12, "G", "办公电话"),
        (13, "H", "手机号码"),
        (14, "H", "手机号码"),
        (15, "I", "邮政编码"),
        (16, "I", "邮政编码"),
        (17, "H", "手机号码"),
        (18, "H", "手机号码"),
    ], got
    assert "与第 8 行为同一人" in body["problems"][-2]["message"]
    assert "政府部门热点、难点工作评价抽样框（附件3）”第 2 号" in body["problems"][-1]["message"]
    assert body["errors"]["Sheet!H18"]
    assert (SampleFrame.objects.count(), SampleRow.objects.count(), m.AuditEntry.objects.count()) == (
        frames, rows, audits)


def test_minimum_size_by_unit_type_and_round_config(api, world):
    world.round.config = {"sample_unit_types": {world.unit.code: "special_affairs"},
                          "sample_minimum_overrides": {world.other.code: 1}}
    world.round.save()
    assert minimum_for(world.round, world.unit, K.GOV_HOT) == 300
    assert minimum_for(world.round, world.other, K.GOV_HOT) == 1
    assert minimum_for(world.round, world.unit, K.GOV_SYSTEM) == 0
    response = upload(api, world, world.staff, K.GOV_HOT, [person(n, K.GOV_HOT) for n in (1, 2)])
    assert response.status_code == 400
    assert response.json()["problems"] == [{"sheet": "Sheet", "row": 0, "column": "", "header": "",
                                            "message": "名单共 2 人，少于要求的 300 人。"}]


def test_names_and_phones_are_encrypted_at_rest(api, world):
    rows = [person(1, name="韦小宝", mobile="13812345678"), person(2), person(3)]
    frame_id = upload(api, world, world.staff, K.GOV_SYSTEM, rows).json()["id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, office_phone, mobile, person_hash FROM cases_samplerow "
                       "WHERE frame_id = %s AND seq = 1", [frame_id])
        name, office_phone, mobile, person_hash = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM cases_samplerow WHERE name LIKE %s OR mobile LIKE %s",
                       ["%韦小宝%", "%13812345678%"])
        assert cursor.fetchone()[0] == 0
    assert "韦小宝" not in name and "13812345678" not in mobile and "2800001" not in office_phone
    cipher = crypto.current_cipher()
    assert (cipher.decrypt(name), cipher.decrypt(mobile)) == ("韦小宝", "13812345678")
    assert person_hash == cipher.person_hash("韦 小宝", "013812345678")  # normalised name and mobile


@pytest.mark.parametrize(("who", "upload_status", "rows_status"), [
    ("office", 403, 200), ("staff", 201, 403), ("head", 403, 403), ("other_staff", 403, 403),
    ("expert", 403, 403), ("leader", 403, 403)])
def test_permission_matrix(api, world, who, upload_status, rows_status):
    seeded = upload(api, world, world.staff, K.GOV_SYSTEM, [person(n) for n in (1, 2, 3)]).json()["id"]
    user = getattr(world, who)
    response = upload(api, world, user, K.PARTY_SYSTEM, [person(n, K.PARTY_SYSTEM, mobile=f"1370000000{n}")
                                                         for n in (1, 2, 3)])
    assert response.status_code == upload_status, response.content
    assert api(user).get(f"/api/v1/sample-frames/{seeded}/rows/").status_code == rows_status
    assert api(user).get(f"/api/v1/sample-frames/{seeded}/export.xlsx").status_code == rows_status
    summary = api(user).get(f"/api/v1/rounds/{world.round.pk}/sample-frames/")
    if who in ("office",):
        assert {u["unit"] for u in summary.json()["units"]} == {world.unit.pk, world.other.pk}
    elif who in ("staff", "head"):
        units = summary.json()["units"]
        assert [u["unit"] for u in units] == [world.unit.pk]
        assert units[0]["lists"][0]["rows"] == 3 and "张001" not in summary.content.decode()
    elif who == "other_staff":
        assert [u["unit"] for u in summary.json()["units"]] == [world.other.pk]
        assert all(not lst["rows"] for lst in summary.json()["units"][0]["lists"])
    else:
        assert summary.status_code == 404 or all(not lst["rows"] for u in summary.json()["units"]
                                                 for lst in u["lists"])


def test_office_reads_and_exports_are_audited(api, world):
    frame_id = upload(api, world, world.staff, K.GOV_SYSTEM,
                      [person(1, name="韦小宝"), person(2), person(3)]).json()["id"]
    body = api(world.office).get(f"/api/v1/sample-frames/{frame_id}/rows/").json()
    assert body["people"][0]["name"] == "韦小宝" and body["people"][0]["mobile"] == "013900000001"
    content = api(world.office).get(f"/api/v1/sample-frames/{frame_id}/export.xlsx").content
    sheet = load_workbook(io.BytesIO(content)).active
    assert [c.value for c in sheet[3]] == list(LAYOUTS[K.GOV_SYSTEM])
    assert [c.value for c in sheet[4]][:3] == [1, "韦小宝", "男"]
    entries = list(m.AuditEntry.objects.filter(object_type="sampleframe", object_id=str(frame_id))
                   .order_by("pk").values_list("action", "actor_id", "after__rows"))
    assert entries == [("sample_frame.upload", world.staff.pk, 3), ("sample_frame.read", world.office.pk, 3),
                       ("sample_frame.export", world.office.pk, 3)]
    # A refused read is not a read.
    api(world.staff).get(f"/api/v1/sample-frames/{frame_id}/rows/")
    assert m.AuditEntry.objects.filter(action="sample_frame.read").count() == 1


def test_a_corrected_file_replaces_the_list_with_history_kept(api, world):
    first = upload(api, world, world.staff, K.GOV_SYSTEM, [person(n) for n in (1, 2, 3)]).json()
    second = upload(api, world, world.staff, K.GOV_SYSTEM, [person(n) for n in (1, 2, 3, 4)]).json()
    assert (first["version"], second["version"]) == (1, 2)
    old, new = SampleFrame.objects.get(pk=first["id"]), SampleFrame.objects.get(pk=second["id"])
    assert (old.is_current, new.is_current) == (False, True)
    assert (old.rows.count(), new.rows.count()) == (3, 4)
    entry = m.AuditEntry.objects.filter(action="sample_frame.upload").order_by("pk").last()
    assert entry.before == {"frame": old.pk, "version": 1, "rows": 3} and entry.after["version"] == 2
    lists = api(world.staff).get(f"/api/v1/rounds/{world.round.pk}/sample-frames/").json()["units"][0]["lists"]
    gov_system = next(lst for lst in lists if lst["kind"] == K.GOV_SYSTEM)
    assert (gov_system["version"], gov_system["rows"], gov_system["versions"]) == (2, 4, 2)
    # The replaced version does not count in the cross-list check: its people may go on another list.
    response = upload(api, world, world.staff, K.GOV_HOT, [person(n, K.GOV_HOT) for n in (1, 2, 3)])
    assert response.status_code == 400  # they are on the current 附件2 list
    upload(api, world, world.staff, K.GOV_SYSTEM, [person(n, mobile=f"1370000000{n}") for n in (1, 2, 3)])
    assert upload(api, world, world.staff, K.GOV_HOT, [person(n, K.GOV_HOT) for n in (1, 2, 3)]).status_code == 201


def test_upload_only_while_a_social_round_runs(api, world):
    world.round.status = m.RoundStatus.DRAFT
    world.round.save()
    assert upload(api, world, world.staff, K.GOV_SYSTEM, [person(1)]).status_code == 409
    world.round.status, world.round.kind = m.RoundStatus.RUNNING, m.RoundKind.ANNUAL
    world.round.save()
    assert upload(api, world, world.staff, K.GOV_SYSTEM, [person(1)]).status_code == 409
    assert not SampleFrame.objects.exists()


def test_rotation_re_encrypts_every_version_under_the_new_key(api, world, settings):
    upload(api, world, world.staff, K.GOV_SYSTEM, [person(1, name="韦小宝"), person(2), person(3)])
    upload(api, world, world.staff, K.GOV_SYSTEM, [person(1, name="韦小宝"), person(2), person(3)])
    new_key = Fernet.generate_key().decode()
    call_command("rotate_sample_key", old="derived", new=new_key, stdout=io.StringIO())
    settings.SAMPLE_DATA_KEY = new_key
    cipher = crypto.current_cipher()
    rows = SampleRow.objects.filter(seq=1)
    assert rows.count() == 2
    assert {cipher.decrypt(r.name) for r in rows} == {"韦小宝"}
    assert {r.person_hash for r in rows} == {cipher.person_hash("韦小宝", "013900000001")}
    # Under the new key the upload path still finds the person across lists.
    response = upload(api, world, world.staff, K.GOV_HOT, [person(1, K.GOV_HOT, name="韦小宝"), person(2, K.GOV_HOT),
                                                            person(3, K.GOV_HOT)])
    assert response.status_code == 400


def test_cross_list_duplicates_over_the_round(world):
    cipher = crypto.current_cipher()
    for kind in (K.GOV_SYSTEM, K.GOV_HOT):
        frame = SampleFrame.objects.create(round=world.round, unit=world.unit, kind=kind, version=1, row_count=1,
                                           sha256="x")
        SampleRow.objects.create(frame=frame, seq=1, name=cipher.encrypt("韦小宝"), gender="男", organisation="x",
                                 mobile=cipher.encrypt("13812345678"),
                                 person_hash=cipher.person_hash("韦小宝", "13812345678"))
    assert cross_list_duplicates(world.round) == [
        {"unit": world.unit.pk, "person_hash": cipher.person_hash("韦小宝", "013812345678"), "rows": 2}]


def test_pages_unit_uploads_and_sees_counts_office_sees_every_unit(client, world):
    url = f"/rounds/{world.round.pk}/sample-frames/"
    client.force_login(world.staff)
    bad = client.post(url, {"unit": world.unit.pk, "kind": K.GOV_SYSTEM,
                            "file": xlsx(K.GOV_SYSTEM, [person(2)])})
    assert bad.status_code == 200 and "序号应连续" in bad.content.decode()
    assert not SampleFrame.objects.exists()
    good = client.post(url, {"unit": world.unit.pk, "kind": K.GOV_SYSTEM,
                             "file": xlsx(K.GOV_SYSTEM, [person(n, name=f"韦{n}") for n in (1, 2, 3)])})
    page = good.content.decode()
    assert good.status_code == 200 and "第 1 版，共 3 人" in page and "韦1" not in page
    assert world.other.name not in page and "sample-frames/" in page and "export.xlsx" not in page
    client.force_login(world.office)
    page = client.get(url).content.decode()
    assert world.unit.name in page and world.other.name in page and "export.xlsx" in page
    client.force_login(world.expert)
    assert client.get(url).status_code == 403
    client.force_login(world.other_staff)
    assert client.post(url, {"unit": world.unit.pk, "kind": K.GOV_SYSTEM,
                             "file": xlsx(K.GOV_SYSTEM, [person(1)])}).status_code == 200
    assert SampleFrame.objects.count() == 1  # not a choice of theirs: the form refuses the unit


def test_round_config_keys_are_checked():
    from cases.scoring.round_config import problems

    assert problems({"sample_minimums": {"economic": 400}, "sample_unit_types": {"U1": "special_affairs"},
                     "sample_minimum_overrides": {"U1": 250}}) == []
    assert problems({"sample_minimums": {"economy": 400, "party_mass": -1}, "sample_unit_types": {"U1": "x"},
                     "sample_minimum_overrides": {"U1": "many"}}) == [
        "sample_minimums：未知的单位类型“economy”。", "sample_minimums 的人数必须是 0 到 10000 之间的整数。",
        "sample_unit_types 必须是对象（单位编码: economic/public_affairs/supervision/special_affairs/party_mass/institution）。",
        "sample_minimum_overrides 必须是对象（单位编码: 0 到 10000 之间的整数）。"]


def test_a_cell_longer_than_its_column_is_refused(api, world):
    response = upload(api, world, world.staff, K.GOV_HOT, [person(1, K.GOV_HOT, name="韦" * 65), person(2, K.GOV_HOT),
                                                        person(3, K.GOV_HOT)])
    assert response.status_code == 400
    assert [(p["row"], p["header"], p["message"]) for p in response.json()["problems"]] == [
        (4, "姓名", "超过 64 个字符。")]


def test_system_check_wants_a_real_key_in_production(settings):
    settings.DEBUG = False
    settings.SAMPLE_DATA_KEY = ""
    assert [w.id for w in crypto.check_sample_data_key(deploy=True)] == ["cases.W101"]
    assert crypto.check_sample_data_key() == []  # not a deployment check: development may go without
    settings.SAMPLE_DATA_KEY = "not-a-key"
    assert [e.id for e in crypto.check_sample_data_key()] == ["cases.E101"]
    settings.SAMPLE_DATA_KEY = Fernet.generate_key().decode()
    assert crypto.check_sample_data_key(deploy=True) == []


def test_unknown_fields_are_refused_and_nothing_is_stored(api, world):
    url = f"/api/v1/rounds/{world.round.pk}/units/{world.unit.pk}/sample-frames/{K.GOV_SYSTEM}/"
    response = api(world.staff).post(url, {"file": xlsx(K.GOV_SYSTEM, [person(1)]), "bogus": "1"},
                                     format="multipart")
    assert response.status_code == 400 and "bogus" in response.json()["errors"]
    assert api(world.staff).post(url.replace(K.GOV_SYSTEM, "nonsense"), {}, format="multipart").status_code == 404
    assert not SampleFrame.objects.exists()
