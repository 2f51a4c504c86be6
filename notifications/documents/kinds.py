"""The kinds of official document: for each, one template and one small function.

A kind's function takes the round (and the unit, for a letter to one unit) and returns `Content`: the
text parts the office may edit before issue (title, addressees, body paragraphs, cc) and the data
tables, which always come from the round as it stands (`cases.reports`). To add a kind: a template in
`templates/documents/pdf/`, a function here, an entry in `KINDS` and a `DocumentKind` choice.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from cases import models as m
from cases import reports
from cases.rectification import selectors as rectification
from cases.scoring import round_config
from cases.social.materials import selectors as social_materials
from notifications.documents.models import DocumentKind

Tables = dict[str, Any]
NUMERALS = "一二三四五六七八九十"


@dataclass
class Content:
    title: str
    addressees: str
    body: list[str]
    attachments: list[str] = field(default_factory=list)  # 附件 titles, in order
    cc: str = ""
    tables: Tables = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    code: str
    build: Callable[[m.Round, m.Unit | None, Mapping[str, Any]], Content]
    # Numbered kinds take the issuer's next 发文字号 on issue; letters to one unit and internal
    # working papers carry none (they are identified by round and unit).
    numbered: bool
    # Who reads an issued one: everyone in the round, the addressed unit (and its group's leaders), or
    # only the office, leaders and auditors (see `cases.access.document_q`).
    audience: str  # "round" | "unit" | "internal"
    per_unit: bool = False
    # A kind about one row of the round names it in the document's `data` under this key (the closure sheet:
    # {"rectification": id}); `services._check_target` checks it belongs to the round and the unit.
    target: str = ""
    # A kind made for one kind of round (the analysis booklet: social rounds only); `services._check_target`
    # refuses a draft for any other (400), `services.issue_request` an issue (409).
    round_kind: str = ""

    @property
    def template(self) -> str:
        return f"documents/pdf/{self.code}.html"


def _day(value: datetime | date | None) -> str:
    """A date in the Arabic-numeral form of official documents: 2026年3月5日 (no leading zeros)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localdate(value)
    return f"{value.year}年{value.month}月{value.day}日"


def _subject(round: m.Round) -> str:
    return round.title.removeprefix("关于").removeprefix("开展").removesuffix("的通知")


def _span(phase: reports.Phase) -> str:
    if phase.start is None:
        return f"{_day(phase.due)}前"
    if phase.start == phase.due:
        return _day(phase.due)
    end = f"{phase.due.month}月{phase.due.day}日" if phase.start.year == phase.due.year else _day(phase.due)
    return f"{_day(phase.start)}至{end}"


# What each phase asks of whom (the seed notices' 责任人 and 任务), by the phase's label.
PHASE_WORK = {
    "准备阶段": "各被考评单位形成自评报告，准备佐证材料，经单位负责人审定后通过系统报送",
    "检查阶段": "各考评组到被考评单位开展现场考评",
    "评审阶段": "各考评组专家对照考评细则逐项评分，考评组召开评审会，形成考评意见",
    "审定阶段": "考核办汇总考评结果，报领导审定",
    "通报阶段": "考核办通报考评结果，向各单位反馈考评意见",
}


METHOD_WORK = {
    "听汇报": "各单位向考评组汇报工作完成情况，汇报时间原则上不超过20分钟",
    "查资料": "考评组对照考评细则，对各单位报送的自评报告和佐证材料逐项核查",
    "现场察访": "考评组检查机关纪律作风，对相关工作现场进行实地察访",
    "座谈交流": "考评组通过座谈交流等方式，深入了解实际情况，听取意见建议",
}
# Beyond this many units a reminder is addressed to 各有关单位 (the list is in the annex).
ADDRESSEE_UNITS = 10


def launch_notice(round: m.Round, unit: m.Unit | None, data: Mapping[str, Any]) -> Content:
    groups = reports.round_groups(round)
    units = sum(len(g.units) for g in groups)
    phases = reports.round_phases(round)
    config = round.config or {}
    # The round's methods and requirements when its template (cases.round_templates) gave them.
    methods = [str(label) for value, label in m.InspectionMethod.choices if value in config.get("methods", [value])]
    requirements = config.get("notice_requirements") or [
        "各单位要如实提供材料，不得弄虚作假；逾期未报送的，按考评细则扣分。",
        "考评工作中遇到的问题，请及时与所在考评组联络员联系。",
    ]
    body = [
        f"根据年度工作安排，决定开展{_subject(round)}。现将有关事项通知如下。",
        "一、考评对象和分组",
        f"本次考评对象为{units}个单位，分{len(groups)}个考评组进行。各考评组设组长"
        + ("、副组长" if any(g.deputies for g in groups) else "") + "和联络员，分组情况见附件。",
        "二、时间安排",
        *(f"（{NUMERALS[i]}）{p.label}（{_span(p)}）。{PHASE_WORK.get(p.label, '')}。".replace("。。", "。")
          for i, p in enumerate(phases)),
        "三、考评方式",
        f"考评组主要采取{'、'.join(methods)}等方式进行，对照考评细则逐项评分，结果经审定后通报。",
        *(f"（{NUMERALS[i]}）{label}。{METHOD_WORK.get(label, '')}".rstrip("。") + "。" for i, label in enumerate(methods)),
        "四、有关要求",
        f"（一）各单位于{_day(round.prepare_due)}前通过系统报送自评报告（不超过{round.report_char_limit}字）和佐证材料，"
        "经单位负责人审定后提交。",
        *(f"（{NUMERALS[i + 1]}）{text}" for i, text in enumerate(requirements)),
    ]
    return Content(
        title=f"关于开展{_subject(round)}的通知", addressees="各被考评单位：", body=body,
        attachments=[f"{_subject(round)}分组情况"],
        tables={"groups": groups, "deputies": any(g.deputies for g in groups)},
    )


def _distribution(counts: list[tuple[str, int]]) -> str:
    return "、".join(f"{grade}{n}个" for grade, n in counts)


def _commendation_and_rewards(round: m.Round) -> list[str]:
    """Who loses the eligibility for commendation (取消当年评先资格: 违法案件, seed 003; a barred grade,
    seed 002) and, when the round configures them, the grades' 奖励系数 (seed 002)."""
    lines = []
    barred: dict[str, list[str]] = {}
    for unit, reason in (m.Result.objects.filter(round=round).exclude(commendation_barred="")
                         .order_by("rank", "case__unit__code").values_list("case__unit__name", "commendation_barred")):
        barred.setdefault(reason, []).append(unit)
    for reason, units in barred.items():
        lines.append(f"{'、'.join(units)}因{reason}，取消当年评先资格（不影响其得分和名次）。")
    coefficients = round_config.reward_coefficients(round.config or {})
    if coefficients:
        lines.append("按照考评结果兑现奖惩，各等次奖励系数为：" + "，".join(
            f"{grade}{value}" for grade, value in coefficients.items()) + "。")
    return lines


def results_notice(round: m.Round, unit: m.Unit | None, data: Mapping[str, Any]) -> Content:
    tables = reports.round_ranking(round)
    units = sum(len(t.rows) for t in tables)
    by_category = any(t.category for t in tables)
    counts = reports.grade_distribution(round, tables)
    overview = f"本次共考评{units}个单位"
    if by_category:
        overview += "，按单位类别分别排名（" + "、".join(f"{t.category}{len(t.rows)}个" for t in tables) + "）"
    overview += f"。其中，{_distribution(counts)}。" if counts else "。"
    vetoed = [r.unit for t in tables for r in t.rows if r.veto]
    body = [
        f"按照工作安排，{_subject(round)}已经完成。经考评组考评、考核办审核、领导审定，现将结果通报如下。",
        "一、总体情况",
        overview,
        *([f"{'、'.join(vetoed)}因存在一票否决情形，排在其他单位之后。"] if vetoed else []),
        *_commendation_and_rewards(round),
        "各单位得分、名次、等次及与上一轮次相比的名次变化见附件。",
        "二、有关要求",
        "各单位要认真对照考评反馈意见，查找不足，抓好整改，整改情况按要求报送。",
    ]
    return Content(
        title=f"关于{_subject(round)}结果的通报", addressees="各被考评单位：", body=body,
        attachments=[f"{_subject(round)}结果"], tables={"tables": tables, "by_category": by_category},
    )


def committee_version(round: m.Round, unit: m.Unit | None, data: Mapping[str, Any]) -> Content:
    view = reports.round_committee_view(round)
    leaning = [f"{g.group}{g.leaning}" for g in view.group_means if g.flagged]
    units = sum(len(t.rows) for t in view.tables)
    overall = view.overall_mean if view.overall_mean is not None else "—"
    body = [
        f"{_subject(round)}结果（审议稿）如下，提请审议。",
        "一、总体情况",
        f"本次共考评{units}个单位，全部单位平均总分{view.overall_total_mean if view.overall_total_mean is not None else '—'}分"
        + (f"。拟定等次：{_distribution(view.grade_distribution)}。" if view.grade_distribution else "。"),
        "二、得分构成",
        "各单位专家评分、扣分、加分、总分及各评分表得分见附件1。",
        "三、各组评分宽严比较",
        f"全部单位专家评分平均{overall}分。"
        + (f"{'、'.join(leaning)}，其平均分与总体平均分相差超过{view.leniency_threshold}分，请予关注。" if leaning
           else f"各组平均分与总体平均分相差均在{view.leniency_threshold}分以内。"),
        "四、需关注事项",
        f"共{len(view.flagged)}个单位存在专家评分差异大、组长调整评分、一票否决、评分表得分偏低或名次变化较大等情况，详见附件2。"
        if view.flagged else "未发现需特别关注的情况。",
    ]
    return Content(
        title=f"{_subject(round)}结果（党委会审议稿）", addressees="", body=body,
        attachments=["得分构成明细", "各组评分宽严比较及需关注事项"], tables={"view": view},
    )


def feedback_letter(round: m.Round, unit: m.Unit | None, data: Mapping[str, Any]) -> Content:
    assert unit is not None
    case = m.Case.objects.select_related("round__rubric", "unit", "group").get(round=round, unit=unit)
    feedback = reports.case_feedback(case)
    due = _day(feedback.rectification_due)
    result = feedback.result
    summary = (
        f"你单位得分{result.total}分，" + (f"在{result.category}中" if result.category else "")
        + f"名次第{result.rank}名" + (f"，等次为“{result.grade}”" if result.grade else "") + "。"
        if result else "你单位的考评结果尚未汇总。"
    )
    to_fix = feedback.to_rectify
    body = [
        f"根据{_subject(round)}安排，{feedback.group}对你单位进行了考评。现将考评意见反馈如下。",
        "一、考评得分",
        summary + "各部分得分见附件。",
        "二、发现的问题",
        f"考评中发现问题{len(feedback.findings)}个，详见附件。" if feedback.findings else "考评中未发现需要指出的问题。",
        "三、整改要求",
        *([f"（一）对需整改的{len(to_fix)}个问题，请逐项制定整改措施，明确责任人和完成时限，于{due}前完成整改。",
           "（二）整改完成后，请将整改情况报告及佐证材料通过系统报送考核办。",
           "（三）考核办将对整改情况进行跟踪督查，整改不到位的，在下一轮次考评中扣分。"] if to_fix
          else ["请对照考评意见，巩固提升工作成效。"]),
    ]
    return Content(
        title=f"关于{unit.name}{_subject(round)}的反馈意见", addressees=f"{unit.name}：", body=body,
        attachments=[f"{unit.name}考评得分及问题清单"], tables={"feedback": feedback, "rectification_due": due},
    )


def reminder_letter(round: m.Round, unit: m.Unit | None, data: Mapping[str, Any]) -> Content:
    rows = list(data.get("overdue", []))
    units = list(dict.fromkeys(row["unit"] for row in rows if row.get("unit")))  # in the rows' (official) order
    body = [
        f"截至{_day(timezone.localdate())}，{_subject(round)}中仍有{len(units)}个单位的{len(rows)}项工作逾期未完成（见附件）。",
        "请有关单位高度重视，抓紧办理，于3个工作日内完成。逾期仍未完成的，按考评细则扣分，并将情况报告领导。",
    ] if rows else [f"截至{_day(timezone.localdate())}，{_subject(round)}各项工作均在规定时间内办理，无逾期事项。"]
    addressees = "、".join(units) + "：" if 0 < len(units) <= ADDRESSEE_UNITS else "各有关单位："
    return Content(
        title=f"关于催办{_subject(round)}有关工作的通知", addressees=addressees,
        body=body, attachments=["逾期未完成事项清单"], tables={"overdue": rows},
    )


def _rectifications(round: m.Round, unit: m.Unit | None = None) -> list[rectification.LedgerRow]:
    qs = m.Rectification.objects.filter(round=round)
    if unit is not None:
        qs = qs.filter(unit=unit)
    return list(rectification.ledger_rows(qs))


def rectification_notice(round: m.Round, unit: m.Unit | None, data: Mapping[str, Any]) -> Content:
    """整改通知 to one unit: its problems to rectify, each with its due date."""
    assert unit is not None
    rows = [r for r in _rectifications(round, unit) if r.status != m.RectificationStatus.CLOSED]
    last_due = max((r.due_date for r in rows), default=None)
    body = [
        f"根据{_subject(round)}结果，你单位存在{len(rows)}个需要整改的问题（见附件）。现就整改工作通知如下。",
        "一、制定整改方案",
        "请对照问题清单逐项制定整改方案，明确整改目标、整改措施、责任人和完成时限，经单位负责人审签后于方案报送截止日期前通过系统报送。",
        "二、按期完成整改",
        f"请按附件所列时限完成整改，最迟于{_day(last_due)}前全部完成，并及时报送整改进展和佐证材料。" if rows
        else "你单位目前没有需要整改的问题。",
        "三、验收销号",
        "整改完成后，由考评组或考核办验收，验收通过的予以销号；整改不到位的，退回继续整改，并在下一轮次考评中扣分。",
    ]
    return Content(
        title=f"关于{unit.name}做好{_subject(round)}问题整改的通知", addressees=f"{unit.name}：", body=body,
        attachments=[f"{unit.name}整改问题清单"], tables={"rows": rows},
    )


def rectification_ledger(round: m.Round, unit: m.Unit | None, data: Mapping[str, Any]) -> Content:
    """整改台账 of a round (internal): every rectification with its status, light and verification."""
    qs = m.Rectification.objects.filter(round=round)
    rows = list(rectification.ledger_rows(qs))
    f, _ = rectification.figures_with_rounds(qs)
    pct = f"{f.closed_on_time_pct}%" if f.closed_on_time_pct is not None else "—"
    body = [
        f"截至{_day(timezone.localdate())}，{_subject(round)}共有整改事项{len(rows)}项：已销号{f.closed}项，"
        f"未销号{f.open}项，其中逾期{f.overdue}项；按期销号率{pct}。",
        "各事项的责任人、完成时限、状态、预警和验收情况见附件。",
    ]
    return Content(
        title=f"{_subject(round)}整改台账", addressees="", body=body, attachments=[f"{_subject(round)}整改台账"],
        tables={"rows": rows, "figures": f},
    )


def closure_sheet(round: m.Round, unit: m.Unit | None, data: Mapping[str, Any]) -> Content:
    """整改销号单 of one rectification (`data["rectification"]`): the problem, the measures, the evidence, the
    verifier and the date."""
    sheet = rectification.closure_of(m.Rectification.objects.filter(round=round), int(data["rectification"]))
    body = [
        f"{sheet.unit_name}：{sheet.finding}" + (f"（{sheet.recurrence}）" if sheet.recurrence else ""),
        f"经{sheet.verifier or '验收人'}验收，该问题已按要求完成整改，准予销号。" if sheet.closed_on
        else "该问题尚未验收销号。",
    ]
    return Content(
        title=f"{sheet.unit_name}整改销号单", addressees="", body=body, attachments=["整改销号单"],
        tables={"sheet": sheet},
    )


def _booklet_subject(round: m.Round) -> str:
    """Whose analyses the booklet gathers, from the round's title: 2015年度自治区直属机关社会评价 → 2015年度自治区直属机关."""
    subject = _subject(round)
    for suffix in ("有关工作", "工作", "社会评价"):
        subject = subject.removesuffix(suffix)
    return subject if subject.startswith(f"{round.year}年") else f"{round.year}年度{subject}"


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def analysis_booklet(round: m.Round, unit: m.Unit | None, data: Mapping[str, Any]) -> Content:
    """年度绩效分析汇编 of a social round (seed 004 三: 各部门绩效分析表统一编印成册，供领导评价时参考; internal):
    a cover, the contents, each unit's signed analysis on its own pages (the three parts as the form's two-column
    table, at 小四), and the units whose analysis is not signed yet listed at the end (尚未审定 or 未报送)."""
    units = social_materials.signed_analyses(round)
    signed = [
        {"anchor": f"unit-{row['case']}", "unit_name": row["unit_name"],
         "heading": f"{row['unit_name']}{round.year}年度绩效分析",
         "parts": [(label, _paragraphs(text)) for label, text in row["parts"]]}
        for row in units if row["parts"] is not None
    ]
    # Not in the booklet: 尚未审定 when the unit's analysis waits for its head's sign-off, 未报送 otherwise (none,
    # a draft, or one returned for rework).
    delivered = set(m.PerformanceAnalysis.objects.filter(
        case__round=round, status=m.DraftStatus.SUBMITTED).values_list("case_id", flat=True))
    missing = [{"unit_name": row["unit_name"], "state": "尚未审定" if row["case"] in delivered else "未报送"}
               for row in units if row["parts"] is None]
    body = [
        f"根据{_subject(round)}安排，各部门对本部门1月1日至11月30日主要工作目标任务完成情况、工作创新和亮点、"
        "工作难点和薄弱环节进行了分析，填写了年度绩效分析表，经本部门党委（党组）讨论审定后报送。",
        "现将各部门年度绩效分析表统一编印成册，供领导评价时参考。未报送或尚未审定的部门列于册末。",
    ]
    return Content(
        title=f"{_booklet_subject(round)}绩效分析汇编（供领导评价参考）", addressees="", body=body,
        tables={"units": signed, "missing": missing},
    )


KINDS: dict[str, Kind] = {
    DocumentKind.LAUNCH_NOTICE: Kind(DocumentKind.LAUNCH_NOTICE, launch_notice, numbered=True, audience="round"),
    DocumentKind.RESULTS_NOTICE: Kind(DocumentKind.RESULTS_NOTICE, results_notice, numbered=True, audience="round"),
    DocumentKind.COMMITTEE_VERSION: Kind(
        DocumentKind.COMMITTEE_VERSION, committee_version, numbered=False, audience="internal"
    ),
    DocumentKind.FEEDBACK_LETTER: Kind(
        DocumentKind.FEEDBACK_LETTER, feedback_letter, numbered=False, audience="unit", per_unit=True
    ),
    DocumentKind.REMINDER_LETTER: Kind(DocumentKind.REMINDER_LETTER, reminder_letter, numbered=True, audience="round"),
    DocumentKind.RECTIFICATION_NOTICE: Kind(
        DocumentKind.RECTIFICATION_NOTICE, rectification_notice, numbered=False, audience="unit", per_unit=True
    ),
    DocumentKind.RECTIFICATION_LEDGER: Kind(
        DocumentKind.RECTIFICATION_LEDGER, rectification_ledger, numbered=False, audience="internal"
    ),
    DocumentKind.CLOSURE_SHEET: Kind(
        DocumentKind.CLOSURE_SHEET, closure_sheet, numbered=False, audience="unit", per_unit=True,
        target="rectification",
    ),
    # An internal working paper like the committee's version: no red head, no number.
    DocumentKind.ANALYSIS_BOOKLET: Kind(
        DocumentKind.ANALYSIS_BOOKLET, analysis_booklet, numbered=False, audience="internal",
        round_kind=m.RoundKind.SOCIAL,
    ),
}

# Data a kind needs from a layer above (the reminder letter's overdue list comes from `workflow`):
# registered by that layer when it starts, so imports still run one way.
DATA_PROVIDERS: dict[str, Callable[[m.Round], dict[str, Any]]] = {}


def register_data_provider(kind: str, provider: Callable[[m.Round], dict[str, Any]]) -> None:
    DATA_PROVIDERS[kind] = provider
