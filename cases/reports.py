"""What the round's official documents say, read from the domain (query-only, no writes).

Each function returns plain rows for one document: the launch notice's group table, the results
notice's ranking, the committee's working version, one unit's feedback. `notifications.documents`
renders them; it never queries the domain's tables itself. Every read is a fixed number of queries,
whatever the number of units (no query per row).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from cases import models as m
from cases.scoring import adapter, engine, results

# A unit whose experts' sheet totals lie further apart than this share of the rubric's total is
# flagged for the committee (one expert far off the others). So is a unit with a sheet below the round's
# `low_total_threshold` (the sheet's own threshold, which already asks the expert for a reason), one the
# group leader overrode, one vetoed, and one that moved MOVEMENT_FLAG places or more.
SPREAD_SHARE = Decimal("0.10")
# A group whose mean panel score (the experts' marks, before the office's deductions and bonuses,
# which are not the group's doing) lies further from the round's mean than this share of the
# rubric's total is flagged as lenient (or strict). A group of one unit says nothing about leniency.
LENIENCY_SHARE = Decimal("0.03")
LENIENCY_MIN_UNITS = 2
# A unit that moves this many places or more against the previous round is flagged.
MOVEMENT_FLAG = 5
# Days a unit has to rectify, counted from the round's 通报 due, unless the round's config says.
RECTIFICATION_DAYS = 30

CENT = Decimal("0.01")
CATEGORY_ORDER = {value: i for i, value in enumerate(m.UnitCategory.values)}


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
    phone: str  # the group's own phone (shown where a liaison has no office phone)
    units: tuple[str, ...]

    @property
    def contacts(self) -> tuple[Person, ...]:
        """The liaisons with the office phone to print: their own, else the group's."""
        return tuple(
            Person(p.name, p.title, p.office_phone or self.phone, p.mobile) for p in self.liaisons
        ) or ((Person("", "", self.phone, ""),) if self.phone else ())


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


@dataclass(frozen=True)
class Phase:
    label: str  # 准备阶段
    start: date | None  # the day after the previous phase's due; the launch day (if launched) for the first
    due: date


def _local_day(value: datetime) -> date:
    return timezone.localdate(value)


def round_phases(round: m.Round) -> list[Phase]:
    """The round's phases in order, each with its first and last day."""
    phases: list[Phase] = []
    start: date | None = _local_day(round.launched_at) if round.launched_at else None
    for name in m.Round.DUE_FIELDS:
        due = _local_day(getattr(round, name))
        label = str(getattr(m.Round._meta.get_field(name), "verbose_name", name)).removesuffix("截止")
        phases.append(Phase(label, start if start is not None and start <= due else None, due))
        start = due + timedelta(days=1)
    return phases


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
    """The stored results, one query: categories in the official order (UnitCategory), then rank."""
    stored = list(
        m.Result.objects.filter(round=round)
        .select_related("case__unit", "case__group")
        .order_by("rank", "case__unit__sort_order", "case__unit__code")
    )
    stored.sort(key=lambda r: (CATEGORY_ORDER.get(r.category, len(CATEGORY_ORDER)), r.category))  # stable
    return stored


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


def grade_distribution(round: m.Round, tables: list[CategoryTable]) -> list[tuple[str, int]]:
    """(grade, units) in the round's band order (every band, 0 if unused), then any other grade given
    (a group leader's proposal); units without a grade are left out."""
    counts = Counter(row.grade for table in tables for row in table.rows if row.grade)
    scheme = results.scoring_config(round).grades
    names = list(scheme.names) if scheme is not None else []
    names += sorted(g for g in counts if g not in names)
    return [(name, counts.get(name, 0)) for name in names]


@dataclass(frozen=True)
class GroupMean:
    group: str
    units: int
    mean: Decimal  # mean panel score (the experts' marks) of the group's units
    difference: Decimal  # from the round's mean panel score
    flagged: bool

    @property
    def leaning(self) -> str:
        if not self.flagged:
            return ""
        return "偏宽" if self.difference > 0 else "偏严"


@dataclass(frozen=True)
class CommitteeView:
    tables: list[CategoryTable]
    group_means: list[GroupMean]
    overall_mean: Decimal | None  # of the panel scores, what the group means are compared with
    overall_total_mean: Decimal | None  # of the totals
    grade_distribution: list[tuple[str, int]]
    flagged: list[ResultRow] = field(default_factory=list)
    leniency_threshold: Decimal = Decimal("0")
    spread_threshold: Decimal = Decimal("0")


def _flags(r: m.Result, spread_limit: Decimal, threshold: Decimal | None) -> tuple[str, ...]:
    flags = []
    scores = [Decimal(str(score)) for _, score in r.sheet_scores]
    if len(scores) > 1 and max(scores) - min(scores) > spread_limit:
        flags.append(f"专家评分差异大（{min(scores)}至{max(scores)}，相差{max(scores) - min(scores)}）")
    if r.case.panel_override is not None:
        flags.append(f"组长将专家评分调整为{r.case.panel_override}")
    if r.veto:
        flags.append("一票否决")
    if threshold is not None and scores and min(scores) < threshold:
        # The round's threshold is a sheet's (a sheet below it needs the expert's written reason).
        low = [score for score in scores if score < threshold]
        flags.append(f"{len(low)}份评分表低于{threshold}分（最低{min(low)}）")
    if r.movement is not None and abs(r.movement) >= MOVEMENT_FLAG:
        flags.append(f"名次{'上升' if r.movement > 0 else '下降'}{abs(r.movement)}位")
    return tuple(flags)


def _mean(values: list[Decimal]) -> Decimal | None:
    return engine.aggregate(values) if values else None


def round_committee_view(round: m.Round) -> CommitteeView:
    """The committee's working version (党委会材料): the ranking with score components, each group's mean
    panel score beside the round's (the leniency comparison) and the units flagged for a closer look."""
    stored = _results(round)
    total_max = round.rubric.total_max
    low = (round.config or {}).get("low_total_threshold")
    threshold = Decimal(str(low)) if low is not None else None
    spread_limit = (total_max * SPREAD_SHARE).quantize(CENT)
    rows = [_row(r, _flags(r, spread_limit, threshold)) for r in stored]
    overall = _mean([r.panel for r in rows])
    panels: dict[tuple[int, str], list[Decimal]] = defaultdict(list)
    for r in stored:
        panels[(r.case.group.number, r.case.group.name)].append(r.panel)
    leniency_limit = (total_max * LENIENCY_SHARE).quantize(CENT)
    means = []
    for (_, group), values in sorted(panels.items()):
        mean = engine.aggregate(values)
        difference = mean - overall if overall is not None else Decimal("0")
        flagged = len(values) >= LENIENCY_MIN_UNITS and abs(difference) > leniency_limit
        means.append(GroupMean(group, len(values), mean, difference, flagged))
    tables = _by_category(rows)
    return CommitteeView(
        tables=tables, group_means=means, overall_mean=overall, overall_total_mean=_mean([r.total for r in rows]),
        grade_distribution=grade_distribution(round, tables), flagged=[row for row in rows if row.flags],
        leniency_threshold=leniency_limit, spread_threshold=spread_limit,
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
    deduction: Decimal  # per occurrence
    occurrences: int
    requires_rectification: bool


@dataclass(frozen=True)
class Feedback:
    unit: str
    group: str
    result: ResultRow | None
    sections: list[SectionScore]
    findings: list[FindingRow]
    rectification_due: date

    @property
    def to_rectify(self) -> list[FindingRow]:
        return [f for f in self.findings if f.requires_rectification]


def rectification_due(round: m.Round) -> date:
    """When the unit's rectification is due: the round's 通报 due plus `rectification_days` (default 30).
    Fixed by the round, so a letter drafted today and issued next week gives the same day."""
    try:
        days = int((round.config or {}).get("rectification_days", RECTIFICATION_DAYS))
    except (TypeError, ValueError):
        days = RECTIFICATION_DAYS
    if not 0 < days <= 366:
        days = RECTIFICATION_DAYS
    return _local_day(round.report_due) + timedelta(days=days)


def case_feedback(case: m.Case) -> Feedback:
    """One unit's feedback: its result, each section's score (the submitted sheets' section scores
    aggregated as the round aggregates sheets), its findings and which need rectification."""
    round = case.round
    rubric = adapter.scoring_rubric(round.rubric)
    config = results.scoring_config(round)
    codes = dict(round.rubric.items.values_list("pk", "code"))
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
        SectionScore(
            s.code, s.title, s.max_points,
            engine.aggregate(per_section[s.code], config.aggregation, config.trim_min_sheets)
            if per_section[s.code] else None,
        )
        for s in round.rubric.sections.order_by("position")
    ]
    findings = [
        FindingRow(f.description, f.item.code if f.item else "", f.get_severity_display(), f.deduction_amount,
                   f.occurrences, f.requires_rectification)
        for f in case.findings.select_related("item").order_by("pk")
    ]
    result = m.Result.objects.filter(case=case).select_related("case__unit", "case__group").first()
    return Feedback(
        unit=case.unit.name, group=case.group.name, result=_row(result) if result else None,
        sections=sections, findings=findings, rectification_due=rectification_due(round),
    )
