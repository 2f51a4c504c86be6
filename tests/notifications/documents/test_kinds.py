"""Each kind of official document, drafted by the service and rendered to a real PDF, read back with
pdftotext: the title, the addressees, the number of a numbered kind and every row of its tables."""

import io
import logging
import os
import re
import subprocess
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pdfplumber
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cases import models as m
from notifications.documents import kinds as k
from notifications.documents import render, services
from tests.conftest import module_world
from tests.factories import UnitFactory, advance_case, make_round
from workflow.models import TaskDeadline
from workflow.selectors import OPEN

pytestmark = pytest.mark.django_db

ON = date(2026, 3, 5)
GRADES = {"scheme": "thresholds", "bands": [["优秀", "90"], ["良好", "80"], ["一般", "0"]]}
CATEGORIES = [m.UnitCategory.PARTY] * 3 + [m.UnitCategory.GOVERNMENT] * 3
# (unit index, total, rank within its category, grade, movement, veto, sheet scores)
RESULTS = [
    (0, "12.50", 2, "良好", 2, False, ["13.00", "12.00"]),
    (1, "14.00", 1, "优秀", None, False, ["14.00", "14.00"]),
    (2, "9.00", 3, "一般", -3, True, ["9.00", "9.00"]),
    (3, "13.25", 1, "优秀", 0, False, ["14.50", "12.00"]),
    (4, "11.00", 3, "一般", -1, False, ["11.00", "11.00"]),
    (5, "12.00", 2, "良好", 1, False, ["12.00", "12.00"]),
]


def _late_due():
    day = timezone.localdate() - timedelta(days=3)
    return timezone.make_aware(datetime.combine(day, time(12)))


def build():
    units = [UnitFactory(category=c, name=f"文档单位{i + 1}", code=f"DOCU{i + 1}") for i, c in enumerate(CATEGORIES)]
    r = make_round(units=6, experts=2, groups=2, launch=True, unit_objs=units,
                   config={"rank_by_category": True, "grades": GRADES, "rectification_days": 20})
    for g in r.groups:
        g.liaison.mobile = f"1390000000{g.group.number}"
        g.liaison.office_phone = f"0431-8890215{g.group.number}"
        g.liaison.save()
    advance_case(r, 0, upto="done")  # two submitted sheets, each S1.1 −1
    case0 = r.case(0)
    s11 = r.round.rubric.items.get(code="S1.1")
    m.Finding.objects.create(case=case0, source=m.FindingSource.INSPECTION, description="制度台账不完整", item=s11,
                             severity=m.Severity.MEDIUM, deduction_amount=Decimal("0.50"), occurrences=2,
                             requires_rectification=True)
    m.Finding.objects.create(case=case0, source=m.FindingSource.SPOT_CHECK, description="值班记录缺页",
                             requires_rectification=False)
    m.Case.objects.filter(pk=r.case(4).pk).update(panel_override=Decimal("11.00"))
    cases = {c.unit_id: c for c in r.round.cases.all()}
    for index, total, rank, grade, movement, veto, sheets in RESULTS:
        unit = r.units[index]
        total = Decimal(total)
        m.Result.objects.create(
            case=cases[unit.pk], round=r.round, category=unit.category, panel=total, deductions=Decimal("0"),
            bonus=Decimal("0"), total=total, rank=rank, grade=grade, movement=movement, veto=veto,
            sheet_scores=[[f"e{n}", s] for n, s in enumerate(sheets)],
        )
    # Units 1 and 3 are late with their self-assessment: their prepare tasks fell due 3 days ago (at noon,
    # so the count of days does not depend on the hour the tests run).
    late = [cases[r.units[i].pk].pk for i in (1, 3)]
    TaskDeadline.objects.filter(round=r.round, case_id__in=late, task__status__in=OPEN).update(due=_late_due())
    return r


world = module_world(build)


class Pdf:
    """A rendered document read back: `text` (pdftotext, whitespace removed) and `tables` (pdfplumber: each
    table's rows of cells, whitespace removed, a cell spanning columns once; thead rows start each table)."""

    def __init__(self, pdf: bytes):
        raw = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        self.text = re.sub(r"\s+", "", raw)
        with pdfplumber.open(io.BytesIO(pdf)) as document:
            self.tables = [
                [[re.sub(r"\s+", "", cell) for cell in row if cell is not None] for row in table]
                for page in document.pages for table in page.extract_tables()
            ]

    def rows(self, header_first: str) -> list[list[str]]:
        """The body rows of every table whose header starts with `header_first`, in order."""
        return [row for t in self.tables if t[0][0] == header_first for row in t[1:]]


def _pdf(document, caplog, number=None) -> Pdf:
    html = services.html_of(document, preview=False, number=number, on=ON)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        rendered = render.render_pdf(html)
    assert not [rec for rec in caplog.records if ".notdef" in rec.getMessage()]
    if os.environ.get("DOCUMENTS_DUMP"):  # to look at them: DOCUMENTS_DUMP=/tmp/docs
        os.makedirs(os.environ["DOCUMENTS_DUMP"], exist_ok=True)
        with open(os.path.join(os.environ["DOCUMENTS_DUMP"], f"{document.kind}.pdf"), "wb") as out:
            out.write(rendered.pdf)
    return Pdf(rendered.pdf)


def _draft(world, kind, unit=None):
    return services.draft_create(user=world.office, round=world.round, kind=kind, unit=unit)


def _contains(text, *parts):
    for part in parts:
        assert part in text, part


def test_launch_notice(world, caplog):
    pdf = _pdf(_draft(world, "launch_notice"), caplog, number=7)
    subject = world.round.title
    _contains(pdf.text, f"关于开展{subject}的通知", "各被考评单位：", "考评办〔2026〕7号", f"附件：{subject}分组情况",
              "一、考评对象和分组", "本次考评对象为6个单位，分2个考评组进行。各考评组设组长、副组长和联络员", "二、时间安排",
              "三、考评方式", "四、有关要求", "（一）听汇报。", "（四）座谈交流。")
    for n, phase in enumerate(world.round.DUE_FIELDS):
        due = timezone.localdate(getattr(world.round, phase))
        label = str(m.Round._meta.get_field(phase).verbose_name).removesuffix("截止")
        assert re.search(rf"（{k.NUMERALS[n]}）{label}（[^）]*{due.month}月{due.day}日）", pdf.text), label
    assert pdf.tables[0][0] == ["组别", "组长", "副组长", "联络员", "办公电话", "手机", "被考评单位"]
    assert pdf.rows("组别") == [
        [g.group.name, str(g.leader), str(g.deputy), str(g.liaison), f"0431-8890215{g.group.number}",
         f"1390000000{g.group.number}", "、".join(u.name for u in g.units)]
        for g in world.groups
    ]


def test_launch_notice_liaison_without_phone_shows_the_groups(world, caplog):
    m.User.objects.filter(pk=world.groups[0].liaison.pk).update(office_phone="", mobile="")
    m.GroupMember.objects.filter(group=world.groups[1].group, role=m.GroupRole.DEPUTY).delete()
    pdf = _pdf(_draft(world, "launch_notice"), caplog)
    first, second = pdf.rows("组别")
    assert first[3:6] == [str(world.groups[0].liaison), "0431-8890000", "—"]
    assert second[2] == "—"


MOVEMENT = {2: "↑2", None: "—", -3: "↓3", 0: "持平", -1: "↓1", 1: "↑1"}


def test_results_notice_by_category(world, caplog):
    pdf = _pdf(_draft(world, "results_notice"), caplog, number=7)
    subject = world.round.title
    _contains(pdf.text, f"关于{subject}结果的通报", "各被考评单位：", "考评办〔2026〕7号", f"附件：{subject}结果",
              "本次共考评6个单位，按单位类别分别排名（党委工作部门3个、政府工作部门3个）。其中，优秀2个、良好2个、一般2个。",
              "文档单位3因存在一票否决情形，排在其他单位之后。", "1.党委工作部门（3个单位）", "2.政府工作部门（3个单位）")
    assert pdf.text.index("党委工作部门（3个单位）") < pdf.text.index("政府工作部门（3个单位）")
    tables = [t for t in pdf.tables if t[0] == ["名次", "单位", "总分", "等次", "名次变化"]]
    expected = []
    for category in (RESULTS[:3], RESULTS[3:]):
        expected.append([
            [str(rank), world.units[i].name + ("（一票否决）" if veto else ""), total, grade, MOVEMENT[movement]]
            for i, total, rank, grade, movement, veto, _ in sorted(category, key=lambda x: x[2])
        ])
    assert [t[1:] for t in tables] == expected


def test_results_notice_one_table(world, caplog):
    m.Result.objects.filter(round=world.round).update(category="")
    order = (1, 3, 0, 5, 4, 2)
    for rank, index in enumerate(order, 1):
        m.Result.objects.filter(case__unit=world.units[index]).update(rank=rank)
    pdf = _pdf(_draft(world, "results_notice"), caplog)
    assert "按单位类别" not in pdf.text and "党委工作部门" not in pdf.text
    assert "考评办〔2026〕\u3000号" in pdf.text or "考评办〔2026〕号" in pdf.text  # a 样稿's number is blank
    assert [row[:2] for row in pdf.rows("名次")] == [
        [str(rank), world.units[i].name + ("（一票否决）" if i == 2 else "")] for rank, i in enumerate(order, 1)
    ]


def test_committee_version(world, caplog):
    pdf = _pdf(_draft(world, "committee_version"), caplog, number=7)
    subject = world.round.title
    _contains(pdf.text, f"{subject}结果（党委会审议稿）", "附件：1.得分构成明细2.各组评分宽严比较及需关注事项",
              "拟定等次：优秀2个、良好2个、一般2个。")
    assert "考评办〔" not in pdf.text  # an internal working paper: no red head, no number
    # Group 1 has units 1, 3, 5: (12.50 + 9.00 + 11.00) / 3 = 10.833… → 10.83; group 2 units 2, 4, 6:
    # (14.00 + 13.25 + 12.00) / 3 = 13.083… → 13.08; all: 71.75 / 6 = 11.958… → 11.96. Limit 15 × 3 % = 0.45.
    _contains(pdf.text, "全部单位专家评分平均11.96分。第1组偏严、第2组偏宽，其平均分与总体平均分相差超过0.45分")
    assert [t for t in pdf.tables if t[0][0] == "考评组"][0] == [
        ["考评组", "单位数", "平均分", "与总体平均分之差", "提示"],
        ["第1组", "3", "10.83", "-1.13", "偏严"], ["第2组", "3", "13.08", "+1.12", "偏宽"],
        ["全部单位", "—", "11.96", "—", "—"],
    ]
    # Flagged: unit 3 (veto), unit 4 (sheets 12.00 and 14.50 differ by 2.50 > 15 × 10 % = 1.50), unit 5 (the
    # leader's override); unit 1's sheets differ by 1.00 only.
    _contains(pdf.text, "共3个单位存在")
    assert pdf.rows("单位") == [
        ["文档单位3", "第1组", "9.00", "一票否决"],
        ["文档单位4", "第2组", "13.25", "专家评分差异大（12.00至14.50，相差2.50）"],
        ["文档单位5", "第1组", "11.00", "组长将专家评分调整为11.00"],
    ]
    components = []
    for category in (RESULTS[:3], RESULTS[3:]):
        for i, total, rank, grade, movement, _, sheets in sorted(category, key=lambda x: x[2]):
            group = world.group_of(i).group.name
            components.append([str(rank), world.units[i].name, group, total, "0.00", "0.00", total, grade,
                               MOVEMENT[movement], "、".join(sheets)])
    assert pdf.rows("名次") == components


def test_feedback_letter(world, caplog):
    unit = world.units[0]
    pdf = _pdf(_draft(world, "feedback_letter", unit), caplog, number=7)
    subject = world.round.title
    due = timezone.localdate(world.round.report_due) + timedelta(days=20)
    due_text = f"{due.year}年{due.month}月{due.day}日"
    _contains(pdf.text, f"关于{unit.name}{subject}的反馈意见", f"{unit.name}：",
              "你单位得分12.50分，在党委工作部门中名次第2名，等次为“良好”。", "考评中发现问题2个",
              f"（一）对需整改的1个问题，请逐项制定整改措施，明确责任人和完成时限，于{due_text}前完成整改。")
    assert "考评办〔" not in pdf.text  # a letter to one unit carries no number
    # sections: S1 = 10 − 1 on both sheets; S2 untouched
    assert pdf.rows("编号") == [["S1", "组织建设", "10.00", "9.00"], ["S2", "作风建设", "5.00", "5.00"],
                              ["扣分0.00加分0.00总分", "12.50"]]
    assert pdf.rows("序号") == [
        ["1", "制度台账不完整", "S1.1", "较重", "0.50×2", f"{due_text}前完成整改"],
        ["2", "值班记录缺页", "—", "一般", "0.00", "—"],
    ]


def test_reminder_letter(world, caplog):
    doc = _draft(world, "reminder_letter")
    names = [world.units[i].name for i in (1, 3)]
    assert [row["unit"] for row in doc.data["overdue"]] == names
    row = doc.data["overdue"][0]
    due = timezone.localdate() - timedelta(days=3)
    assert row["unit_id"] == world.units[1].pk and row["days"] == 3 and row["step"]
    assert row["due"] == f"{due.year}年{due.month}月{due.day}日"
    pdf = _pdf(doc, caplog, number=7)
    _contains(pdf.text, f"关于催办{world.round.title}有关工作的通知", "、".join(names) + "：", "考评办〔2026〕7号",
              "仍有2个单位的2项工作逾期未完成")
    assert pdf.rows("序号") == [
        [str(n), r["unit"], r["step"], r["assignee"], r["due"], str(r["days"])]
        for n, r in enumerate(doc.data["overdue"], 1)
    ]
    assert [r[3] for r in pdf.rows("序号")] == [str(world.staff[1]), str(world.staff[3])]


def test_reminder_letter_without_overdue_work_and_for_many_units(world):
    content = k.reminder_letter(world.round, None, {"overdue": []})
    assert content.addressees == "各有关单位：" and "无逾期事项" in content.body[0] and content.tables["overdue"] == []
    rows = [{"unit": f"单位{i}", "unit_id": i, "step": "准备", "assignee": "", "due": "2026年3月5日", "days": 1}
            for i in range(k.ADDRESSEE_UNITS + 1)]
    content = k.reminder_letter(world.round, None, {"overdue": rows})
    assert content.addressees == "各有关单位：" and f"仍有{k.ADDRESSEE_UNITS + 1}个单位的" in content.body[0]
    content = k.reminder_letter(world.round, None, {"overdue": rows[:2] + rows[:1]})
    assert content.addressees == "单位0、单位1：" and "仍有2个单位的3项工作" in content.body[0]


def test_reminder_letter_provider_is_registered():
    from workflow.deadlines.documents import reminder_letter_data

    assert k.DATA_PROVIDERS["reminder_letter"] is reminder_letter_data


def test_draft_refusals_name_the_field(world):
    def refused(field, **kwargs):
        with pytest.raises(ValidationError) as exc:
            services.draft_create(user=world.office, round=kwargs.pop("round", world.round), **kwargs)
        assert field in exc.value.message_dict, exc.value.message_dict

    refused("kind", kind="no_such_kind")
    refused("unit", kind="feedback_letter")
    refused("unit", kind="feedback_letter", unit=UnitFactory())
    refused("unit", kind="results_notice", unit=world.units[0])
    fresh = make_round(units=1, experts=1)
    refused("round", kind="results_notice", round=fresh.round)
    refused("round", kind="committee_version", round=fresh.round)
