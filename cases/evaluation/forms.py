"""The leader evaluation forms of seed 004 (附件9–11), transcribed.

The three attachments carry the same five grades with the same criteria and one answer (您的评价分, the
grade's points); they differ only by the kind of unit evaluated: 附件9 the government's directly
subordinate administrative bodies, 附件10 party/mass units, courts, procuratorates and democratic
parties, 附件11 the institutions managed under the civil-service law (the scraped 附件11 repeats
附件9's title; the notice's list of attachments names it, so the title below is that list's). The
evaluator is not a kind of form: every evaluator fills the form of the unit in front of them.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from cases.models import UnitCategory


@dataclass(frozen=True)
class Level:
    score: int
    label: str
    criterion: str


LEVELS: tuple[Level, ...] = (
    Level(5, "优秀", "能出色完成自治区党委、政府部署的重点工作任务，工作创新亮点多，工作在全国系统行业内处于领先水平，"
                    "对全区经济社会发展贡献很大，社会效果很好"),
    Level(4, "良好", "能较好完成自治区党委、政府部署的重点工作任务，工作创新亮点比较多，工作在全国系统行业内处于较高水平，"
                    "对全区经济社会发展贡献比较大，社会效果比较好"),
    Level(3, "一般", "基本完成自治区党委、政府部署的重点工作任务，工作在全国系统行业内处于一般水平，对全区经济社会发展贡献程度一般"),
    Level(2, "差", "没有如期完成自治区党委、政府部署的重点工作任务，工作在全国系统行业内处于较低水平，对全区经济社会发展贡献程度较小"),
    Level(1, "很差", "没有完成自治区党委、政府部署的重点工作任务，工作在全国系统行业内处于落后水平，对全区经济社会发展贡献程度很小"),
)
SCORES = frozenset(level.score for level in LEVELS)
NOTE = "本表为无记名方式，请您在评价分栏内填上相应分数。"

FORMS = {
    "附件9": _("自治区人民政府直属行政机构领导评价表"),
    "附件10": _("自治区党委群团类及法院、检察院、民主党派机关领导评价表"),
    "附件11": _("自治区参照公务员法管理的事业单位领导评价表"),
}
# The performance analysis (年度绩效分析) printed under the form: its three parts; the analysis itself is
# another part of issue #13 (not built yet), so the form shows a placeholder.
ANALYSIS_PARTS = ("重点工作任务完成情况", "工作创新和亮点", "工作难点和薄弱环节")

_BY_CATEGORY = {
    UnitCategory.GOVERNMENT: "附件9",
    UnitCategory.INSTITUTION: "附件11",
    UnitCategory.PARTY: "附件10",
    UnitCategory.CONGRESS: "附件10",
    UnitCategory.MASS: "附件10",
    UnitCategory.DEMOCRATIC: "附件10",
    UnitCategory.JUDICIAL: "附件10",
}


def form_for(category: str) -> str:
    """The attachment whose form evaluates a unit of `category` (附件9 for any other category)."""
    return _BY_CATEGORY.get(category, "附件9")  # type: ignore[call-overload]


def form_dict(category: str) -> dict[str, object]:
    code = form_for(category)
    return {"code": code, "title": str(FORMS[code]), "note": NOTE,
            "levels": [{"score": lv.score, "label": lv.label, "criterion": lv.criterion} for lv in LEVELS]}
