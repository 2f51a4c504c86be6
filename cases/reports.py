"""What the round's official documents say, read from the domain (query-only, no writes).

Each function returns plain rows for one document: the launch notice's group table, the results
notice's ranking, the committee's working version, one unit's feedback. `notifications.documents`
renders them; it never queries the domain's tables itself.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from cases import models as m
from cases.scoring import adapter, engine, results

# A unit whose experts' sheet totals lie further apart than this share of the rubric's total is
# flagged for the committee (one expert far off the others).
SPREAD_SHARE = Decimal("0.10")
# A group whose mean lies further from the round's mean than this share of the rubric's total is
# flagged as lenient (or strict).
LENIENCY_SHARE = Decimal("0.03")


@dataclass(frozen=True)
class Person:
    name: str
    title: str = ""
    office_phone: str = ""
    mobile: str = ""


@dataclass(frozen=True)
class GroupRow:
    number: int
    name: str
    leaders: tuple[Person, ...]
    deputies: tuple[Person, ...]
    liaisons: tuple[Person, ...]
    phone: str
    units: tuple[str, ...]


def _person(user: m.User) -> Person:
    return Person(name=str(user), title=user.title, office_phone=user.office_phone, mobile=user.mobile)


def round_groups(round: m.Round) -> list[GroupRow]:
    """The round's groups with their leaders, deputies, liaisons, phones and units (seed 000's 附件2)."""
    members: dict[int, dict[str, list[Person]]] = defaultdict(lambda: defaultdict(list))
    for gm in m.GroupMember.objects.filter(group__round=round).select_related("user").order_by("pk"):
        members[gm.group_id][gm.role].append(_person(gm.user))
    units: dict[int, list[str]] = defaultdict(list)
    for group_id, name in m.Case.objects.filter(round=round).order_by(
        "unit__sort_order", "unit__code"
    ).values_list("group_id", "unit__name"):
        units[group_id].append(name)
    return [
        GroupRow(
            number=g.number, name=g.name,
            leaders=tuple(members[g.pk][m.GroupRole.LEADER]),
            deputies=tuple(members[g.pk][m.GroupRole.DEPUTY]),
            liaisons=tuple(members[g.pk][m.GroupRole.LIAISON]),
            phone=g.phone, units=tuple(units[g.pk]),
        )
        for g in round.groups.order_by("number")
    ]


def round_phases(round: m.Round) -> list[tuple[str, object]]:
    """(phase label, due) in phase order."""
    return [(str(m.Round._meta.get_field(name).verbose_name), getattr(round, name)) for name in m.Round.DUE_FIELDS]


@dataclass(frozen=True)
class ResultRow:
    rank: int
    unit: str
    unit_id: int
    category: str
    group: str
    panel: Decimal
    deductions: Decimal
    bonus: Decimal
    total: Decimal
    grade: str
    movement: int | None
    veto: bool
    sheet_scores: tuple[Decimal, ...] = ()
    components: tuple[tuple[str, str], ...] = ()
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class CategoryTable:
    category: str  # "" when the round ranks all units together
    rows: tuple[ResultRow, ...]


def _results(round: m.Round) -> list[m.Result]:
    return list(
        m.Result.objects.filter(round=round)
        .select_related("case__unit", "case__group")
        .order_by("category", "rank", "case__unit__sort_order", "case__unit__code")
    )


def _row(r: m.Result, flags: tuple[str, ...] = ()) -> ResultRow:
    return ResultRow(
        rank=r.rank, unit=r.case.unit.name, unit_id=r.case.unit_id, category=r.category, group=r.case.group.name,
        panel=r.panel, deductions=r.deductions, bonus=r.bonus, total=r.total, grade=r.grade, movement=r.movement,
        veto=r.veto, sheet_scores=tuple(Decimal(str(score)) for _, score in r.sheet_scores),
        components=tuple((str(name), str(score)) for name, score in r.components), flags=flags,
    )


def _by_category(rows: list[ResultRow]) -> list[CategoryTable]:
    tables: dict[str, list[ResultRow]] = {}
    for row in rows:
        tables.setdefault(row.category, []).append(row)
    return [CategoryTable(category=c, rows=tuple(r)) for c, r in tables.items()]


def round_ranking(round: m.Round) -> list[CategoryTable]:
    """The stored results in rank order, one table per unit category where the round ranks by category."""
    return _by_category([_row(r) for r in _results(round)])


@dataclass(frozen=True)
class GroupMean:
    group: str
    mean: Decimal
    difference: Decimal  # from the round's mean
    flagged: bool


@dataclass(frozen=True)
class CommitteeView:
    tables: list[CategoryTable]
    group_means: list[GroupMean]
    overall_mean: Decimal | None
    grade_distribution: dict[str | None, int]
    flagged: list[ResultRow] = field(default_factory=list)


def _flags(r: m.Result, total_max: Decimal, threshold: Decimal | None) -> tuple[str, ...]:
    flags = []
    scores = [Decimal(str(score)) for _, score in r.sheet_scores]
    if len(scores) > 1 and max(scores) - min(scores) > total_max * SPREAD_SHARE:
        flags.append(f"评分差异大（{min(scores)}–{max(scores)}）")
    if r.case.panel_override is not None:
        flags.append(f"组长调整为{r.case.panel_override}")
    if r.veto:
        flags.append("一票否决")
    if threshold is not None and r.total < threshold:
        flags.append(f"总分低于{threshold}")
    return tuple(flags)


def round_committee_view(round: m.Round) -> CommitteeView:
    """The committee's working version (党委会材料): the ranking with score components, each group's mean
    beside the round's (the leniency comparison) and the units flagged for a closer look."""
    stored = _results(round)
    summary = results.summary(round, stored)
    total_max = round.rubric.total_max
    low = (round.config or {}).get("low_total_threshold")
    threshold = Decimal(str(low)) if low is not None else None
    rows = [_row(r, _flags(r, total_max, threshold)) for r in stored]
    overall = summary["overall_mean"]
    means = []
    for group, mean in summary["group_means"].items():
        difference = mean - overall if overall is not None else Decimal("0")
        means.append(GroupMean(group, mean, difference, abs(difference) > total_max * LENIENCY_SHARE))
    return CommitteeView(
        tables=_by_category(rows), group_means=means, overall_mean=overall,
        grade_distribution=summary["grade_distribution"], flagged=[row for row in rows if row.flags],
    )


@dataclass(frozen=True)
class SectionScore:
    code: str
    title: str
    max_points: Decimal
    score: Decimal | None  # None: no submitted sheet yet


@dataclass(frozen=True)
class FindingRow:
    description: str
    item: str
    severity: str
    deduction: Decimal
    requires_rectification: bool


@dataclass(frozen=True)
class Feedback:
    unit: str
    group: str
    result: ResultRow | None
    sections: list[SectionScore]
    findings: list[FindingRow]


def case_feedback(case: m.Case) -> Feedback:
    """One unit's feedback: its result, each section's score (the mean of the submitted sheets' section
    scores, as the engine computes them), its findings and which need rectification."""
    rubric = adapter.scoring_rubric(case.round.rubric)
    codes = dict(case.round.rubric.items.values_list("pk", "code"))
    per_section: dict[str, list[Decimal]] = defaultdict(list)
    sheets = case.score_sheets.filter(status=m.SheetStatus.SUBMITTED).prefetch_related("item_scores")
    for sheet in sheets:
        marks = {
            codes[s.item_id]: engine.ItemMarks((s.deduction,), (s.bonus,))
            for s in sheet.item_scores.all() if s.deduction or s.bonus
        }
        breakdown = engine.sheet_breakdown(rubric, engine.Sheet(expert=str(sheet.expert_id), items=marks))
        for code, base in breakdown.section_base.items():
            per_section[code].append(base)
    sections = [
        SectionScore(s.code, s.title, s.max_points, engine.aggregate(per_section[s.code]) if per_section[s.code] else None)
        for s in case.round.rubric.sections.order_by("position")
    ]
    findings = [
        FindingRow(f.description, f.item.code if f.item else "", f.get_severity_display(), f.deduction_amount,
                   f.requires_rectification)
        for f in case.findings.select_related("item").order_by("pk")
    ]
    result = m.Result.objects.filter(case=case).select_related("case__unit", "case__group").first()
    return Feedback(
        unit=case.unit.name, group=case.group.name, result=_row(result) if result else None,
        sections=sections, findings=findings,
    )
