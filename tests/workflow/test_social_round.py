"""Seed 004's social evaluation (社会评价) for five units, through the API from the round's creation to its
report: the office creates the round from the seed's template (start 2015-11-02, so the materials fall due
on 11月13日, 12月10日 and 12月20日 as the notice says), imports its units and people, launches it; each unit
uploads its lists, delivers them, drafts and submits its questionnaire (the office returns one), delivers
the situation table with its two reports and its performance analysis (a head returns one); units record
their publications; four leaders fill anonymous forms; the office compiles, the leader approves, the
office reports. The clock is moved with time_machine so that some materials come late.

Worked out by hand (5 points at most, late material and red duty 0.5 each):

  unit              forms        sum  mean   deductions                           total  rank
  发改委 A          5 5 4 4      18   4.50   —                                     4.50   1
  统计局 B          4 4 4 3      15   3.75   —                                     3.75   3
  交通运输厅 C      5 4 4 4      17   4.25   — (questionnaire returned, first on time) 4.25 2
  直属机关工委 D    5 5 5 4      19   4.75   situation late, notice published late  3.75   3
  地方志办 E        4 4 3        11   3.67   lists late, analysis late              2.67   5
"""

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import models as m
from cases.imports.sheets import GROUPS, PEOPLE, UNITS, build_xlsx
from tests.api_helpers import API, act, find_task, ok
from tests.cases.test_sample_frames import person, xlsx
from tests.factories import make_user

pytestmark = pytest.mark.django_db
D = Decimal
TZ = ZoneInfo("Asia/Shanghai")
K = m.SampleListKind
TEMPLATE = Path(__file__).resolve().parents[2] / "cases/fixtures/round_templates/social_evaluation.yaml"

UNITS_ROWS = [  # 名称, 类别, the lists its family owes
    ("自治区发展和改革委员会", m.UnitCategory.GOVERNMENT, (K.GOV_SYSTEM, K.GOV_HOT)),
    ("自治区统计局", m.UnitCategory.GOVERNMENT, (K.GOV_SYSTEM, K.GOV_HOT)),
    ("自治区交通运输厅", m.UnitCategory.GOVERNMENT, (K.GOV_SYSTEM, K.GOV_HOT)),
    ("自治区直属机关工委", m.UnitCategory.PARTY, (K.PARTY_SYSTEM, K.PARTY_HOT)),
    ("自治区地方志办公室", m.UnitCategory.INSTITUTION, (K.INSTITUTION_SYSTEM, K.INSTITUTION_HOT)),
]
QUESTIONS = [f"您对本部门热点工作第{n}项的满意程度如何？" for n in range(1, 6)]
ANALYSIS = {"completion": "全年重点工作任务按期完成。", "innovation": "推行“一站式”服务。", "weaknesses": "基层调研不够。"}
SITUATION = {"liaison": "韦明（办公室主任）", "liaison_phone": "0771-2800001", "leaders": "覃华（党组书记、主任）",
             "rectification_report": "2014年度存在问题已全部整改。", "performance_report": "1月1日至11月30日工作情况。"}


def at(day: str, hour: int = 10):
    return time_machine.travel(datetime.fromisoformat(day).replace(hour=hour, tzinfo=TZ), tick=False)


class SocialRound:
    def __init__(self, api):
        self.api = api
        self.office = make_user("soc-office", org_role=m.OrgRole.OFFICE)
        # The template as a changed copy: the seed's list minimums (500/300) made small for the test.
        text = TEMPLATE.read_text(encoding="utf-8").replace(
            "  aggregation: mean\n", "  aggregation: mean\n  sample_minimums: {economic: 3, party_mass: 2, institution: 2}\n")
        body = ok(api(self.office).post(f"{API}/round-templates/create-round/",
                                        {"template_yaml": text, "year": 2015, "start": "2015-11-02"}, format="json"), 201)
        self.round = m.Round.objects.get(pk=body["id"])
        units = [[name, "", str(category), "", n, ""] for n, (name, category, _) in enumerate(UNITS_ROWS, start=1)]
        people = [["社评领导", "soc-leader", "", "领导", "", "", "13900000000", ""],
                  ["考评办联络员", "soc-liaison", "", "", "", "", "13900000001", ""]]
        for n, (name, _, _) in enumerate(UNITS_ROWS, start=1):
            people += [[f"填报员{n}", f"soc-staff{n}", name, "填报员", "", "", f"1390000{n:04d}", ""],
                       [f"负责人{n}", f"soc-head{n}", name, "单位负责人", "", "", f"1391000{n:04d}", ""]]
        groups = [["1", "考评办联络员", "", "", "", "", "", "、".join(u[0] for u in UNITS_ROWS)]]
        content = build_xlsx({UNITS: units, PEOPLE: people, GROUPS: groups})
        ok(api(self.office).post(f"{API}/rounds/{self.round.pk}/groups/import/",
                                 {"file": SimpleUploadedFile("分组.xlsx", content)}, format="multipart"))
        self.leader = m.User.objects.get(username="soc-leader")

    def user(self, kind: str, n: int) -> m.User:
        return m.User.objects.get(username=f"soc-{kind}{n + 1}")

    def case(self, n: int) -> m.Case:
        return self.round.cases.get(unit__name=UNITS_ROWS[n][0])

    def task(self, user: m.User, step: str, n: int | None = None) -> int:
        return find_task(self.api(user), step, scope="inbox", case=self.case(n).pk if n is not None else None)["id"]

    def upload_lists(self, n: int) -> None:
        case = self.case(n)
        for k, kind in enumerate(UNITS_ROWS[n][2]):  # nobody on both of a unit's lists
            rows = [person(i, kind, mobile=f"0139{n}{k}{i:06d}") for i in (1, 2, 3)]
            url = f"{API}/rounds/{self.round.pk}/units/{case.unit_id}/sample-frames/{kind}/"
            ok(self.api(self.user("staff", n)).post(url, {"file": xlsx(kind, rows)}, format="multipart"), 201)

    def staff_act(self, n: int, step: str, **data):
        staff = self.user("staff", n)
        return act(self.api(staff), self.task(staff, step, n), "submit", **data)


def test_social_round_for_five_units_through_the_api(api):
    with at("2015-11-02", 9):
        r = SocialRound(api)
        assert [r.round.prepare_due.date().isoformat(), r.round.inspect_due.date().isoformat(),
                r.round.review_due.date().isoformat()] == ["2015-11-13", "2015-12-10", "2015-12-20"]
        ok(api(r.office).post(f"{API}/rounds/{r.round.pk}/launch/", {}, format="json"))
        # Each unit has its four branches open at once, due by the seed's dates.
        staff = r.user("staff", 0)
        inbox = {t["step"]: t["due"][:10] for t in api(staff).get(f"{API}/tasks/", {"scope": "inbox"}).json()["results"]}
        assert inbox == {"samples": "2015-11-13", "questionnaire": "2015-11-13", "situation": "2015-12-10",
                         "analysis": "2015-12-20"}
        evaluators = [r.leader] + [make_user(f"soc-eval{i}") for i in (1, 2, 3)]  # leaders invited from the cities
        ok(api(r.office).put(f"{API}/rounds/{r.round.pk}/leader-evaluators/",
                             {"users": [u.pk for u in evaluators]}, format="json"))

    with at("2015-11-10"):
        # Lists: reporting them delivered before they are uploaded names what is missing.
        body = r.staff_act(0, "samples", status=400)
        assert any("附件2" in msg for msg in body["errors"]["samples"]) and any("附件3" in msg for msg in body["errors"]["samples"])
        for n in range(4):
            r.upload_lists(n)
            r.staff_act(n, "samples")
        # Questionnaires: fewer than five questions is a field error; then every unit submits.
        body = r.staff_act(1, "questionnaire", status=400, topic="统计数据质量", questions=QUESTIONS[:4])
        assert "questions" in body["errors"]
        for n in range(5):
            r.staff_act(n, "questionnaire", topic=f"热点工作{n}", questions=QUESTIONS)
        # The office returns C's with its comments, approves the others.
        for n in range(5):
            action = "return" if n == 2 else "approve"
            act(api(r.office), r.task(r.office, "questionnaire_review", n), action,
                comment="第3题表述不清，请修改。" if n == 2 else "")

    with at("2015-11-15"):
        r.upload_lists(4)
        r.staff_act(4, "samples")  # after 11月13日: late

    with at("2015-11-20"):  # C reworks its questionnaire after the due: its first delivery was on time
        r.staff_act(2, "questionnaire", questions=[*QUESTIONS[:2], "您对本部门政务公开工作的评价？", *QUESTIONS[3:]])
        act(api(r.office), r.task(r.office, "questionnaire_review", 2), "approve")

    with at("2015-12-01"):
        for n in range(5):
            for kind, start in (("notice", "2015-12-01"), ("performance", "2015-12-01"), ("rectification", "2015-12-01")):
                if n == 3 and kind == "notice":
                    continue
                ok(api(r.user("staff", n)).put(f"{API}/cases/{r.case(n).pk}/publication-duties/{kind}/",
                                               {"place": "http://www.gxjx.gov.cn/", "start_date": start}, format="json"))

    with at("2015-12-08"):
        body = r.staff_act(0, "situation", status=400, situation={**SITUATION, "liaison_phone": "电话", "extra": 1})
        assert {"situation.liaison_phone", "situation.extra"} <= set(body["errors"])
        for n in (0, 1, 2, 4):
            r.staff_act(n, "situation", situation=SITUATION)

    with at("2015-12-12"):
        r.staff_act(3, "situation", situation=SITUATION)  # after 12月10日: late
    with at("2015-12-15"):
        ok(api(r.user("staff", 3)).put(f"{API}/cases/{r.case(3).pk}/publication-duties/notice/",
                                       {"place": "内网公告栏", "start_date": "2015-12-15"}, format="json"))  # late: red
        # The analysis: over 1,400 characters together is refused; saved as a draft, then submitted.
        long = {**ANALYSIS, "completion": "完" * 1400}
        body = ok(api(r.user("staff", 0)).put(f"{API}/cases/{r.case(0).pk}/performance-analysis/", long,
                                              format="json"), 400)
        assert "analysis" in body["errors"]
        for n in range(4):
            ok(api(r.user("staff", n)).put(f"{API}/cases/{r.case(n).pk}/performance-analysis/", ANALYSIS,
                                           format="json"))
            r.staff_act(n, "analysis")
        # B's head returns it; the others sign it off for their party group.
        for n in range(4):
            head = r.user("head", n)
            act(api(head), r.task(head, "analysis_sign", n), "return" if n == 1 else "approve",
                comment="请补充数据。" if n == 1 else "")
        r.staff_act(1, "analysis", analysis={**ANALYSIS, "completion": "全年重点工作任务按期完成，数据质量提升。"})
        act(api(r.user("head", 1)), r.task(r.user("head", 1), "analysis_sign", 1), "approve")

    with at("2015-12-22"):
        r.staff_act(4, "analysis", analysis=ANALYSIS)  # after 12月20日: late
        act(api(r.user("head", 4)), r.task(r.user("head", 4), "analysis_sign", 4), "approve")
        r.round.refresh_from_db()
        assert r.round.status == m.RoundStatus.COMPILING  # every unit's four branches joined

        # The evaluators see each unit's signed analysis beside its form, and fill their forms.
        forms = ok(api(evaluators[1]).get(f"{API}/rounds/{r.round.pk}/leader-evaluation/"))["own"]
        assert all(f["analysis"]["innovation"] == ANALYSIS["innovation"] for f in forms)
        scores = {0: [5, 5, 4, 4], 1: [4, 4, 4, 3], 2: [5, 4, 4, 4], 3: [5, 5, 5, 4], 4: [4, 4, 3]}
        for n, given in scores.items():
            for evaluator, score in zip(evaluators, given):
                ok(api(evaluator).post(f"{API}/rounds/{r.round.pk}/leader-evaluation/submit/",
                                       {"case": r.case(n).pk, "score": score}, format="json"), 201)

    with at("2015-12-25"):
        overview = ok(api(r.office).get(f"{API}/rounds/{r.round.pk}/social-materials/"))["units"]
        late = {(row["unit_name"], k) for row in overview for k, v in row["materials"].items() if v["late"]}
        assert late == {("自治区直属机关工委", "situation"), ("自治区地方志办公室", "samples"),
                        ("自治区地方志办公室", "analysis")}
        assert all(v["delivered"] for row in overview for v in row["materials"].values())
        act(api(r.office), r.task(r.office, "compile"), "submit")
        act(api(r.leader), r.task(r.leader, "approve"), "approve", comment="同意")
        act(api(r.office), r.task(r.office, "report"), "submit")
        r.round.refresh_from_db()
        assert r.round.status == m.RoundStatus.CLOSED and r.round.results_frozen_at is not None

    results = {res.case.unit.name: res for res in m.Result.objects.filter(round=r.round).select_related("case__unit")}
    expected = {  # unit: (mean, points, deductions, total, rank) — the table above
        "自治区发展和改革委员会": ("4.50", "4.50", "0", "4.50", 1),
        "自治区统计局": ("3.75", "3.75", "0", "3.75", 3),
        "自治区交通运输厅": ("4.25", "4.25", "0", "4.25", 2),
        "自治区直属机关工委": ("4.75", "4.75", "1.0", "3.75", 3),
        "自治区地方志办公室": ("3.67", "3.67", "1.0", "2.67", 5),
    }
    got = {name: (res.components[0][1], str(res.panel), str(res.deductions), str(res.total), res.rank)
           for name, res in results.items()}
    assert {k: (v[0], D(v[1]), D(v[2]), D(v[3]), v[4]) for k, v in got.items()} == \
        {k: (v[0], D(v[1]), D(v[2]), D(v[3]), v[4]) for k, v in expected.items()}
    assert sorted(label for label, _ in results["自治区地方志办公室"].deduction_items) == [
        "材料逾期报送（年度绩效分析（附件9–11））", "材料逾期报送（抽样框（附件2–7））"]
    # C's questionnaire as approved, with the office's comments of its return kept in the audit log.
    materials = ok(api(r.user("staff", 2)).get(f"{API}/cases/{r.case(2).pk}/social-materials/"))
    questionnaire = materials["questionnaire"]
    assert questionnaire["status"] == "approved" and questionnaire["questions"][2].startswith("您对本部门政务公开")
    assert m.AuditEntry.objects.filter(action="social.questionnaire_reviewed", comment="第3题表述不清，请修改。").exists()


def test_materials_are_the_units_own_and_drafts_are_refused_before_reading(api):
    with at("2015-11-02", 9):
        r = SocialRound(api)
        ok(api(r.office).post(f"{API}/rounds/{r.round.pk}/launch/", {}, format="json"))
    with at("2015-11-05"):
        other_staff, head = r.user("staff", 1), r.user("head", 0)
        url = f"{API}/cases/{r.case(0).pk}/questionnaire/"
        # Another unit's staff cannot see the case at all; the unit's head reads but does not draft.
        assert api(other_staff).get(f"{API}/cases/{r.case(0).pk}/social-materials/").status_code == 404
        assert api(head).put(url, b"not json", content_type="application/json").status_code == 403
        ok(api(r.user("staff", 0)).put(url, {"topic": "热点", "questions": QUESTIONS, "unknown": 1}, format="json"), 400)
        ok(api(r.user("staff", 0)).put(url, {"topic": "热点", "questions": QUESTIONS}, format="json"))
        assert ok(api(head).get(f"{API}/cases/{r.case(0).pk}/social-materials/"))["questionnaire"]["questions"] == QUESTIONS
        # The office's overview is the office's.
        assert api(head).get(f"{API}/rounds/{r.round.pk}/social-materials/").status_code == 403


def test_each_material_is_reminded_by_its_own_date(api):
    from notifications.models import Notification
    from workflow.deadlines import events
    from workflow.deadlines.reminders import sweep

    with at("2015-11-02", 9):
        r = SocialRound(api)
        ok(api(r.office).post(f"{API}/rounds/{r.round.pk}/launch/", {}, format="json"))
    staff = r.user("staff", 0)

    def told(event: str) -> set[str]:
        return {n.subject for n in Notification.objects.filter(recipient=staff, event=event)}

    with at("2015-11-12"):  # within the working days before 11月13日: the lists and the questionnaire
        sweep()
    reminded = told(events.REMINDER)
    assert any("报送抽样框" in s for s in reminded) and any("制定评议问卷" in s for s in reminded)
    assert not any("年度绩效分析" in s or "情况表" in s for s in reminded)
    with at("2015-11-16"):  # past 11月13日 with nothing delivered: overdue
        sweep()
    assert any("报送抽样框" in s for s in told(events.OVERDUE))
    with at("2015-12-18"):  # the analysis's reminders come before 12月20日
        sweep()
    assert any("年度绩效分析" in s for s in told(events.REMINDER))
