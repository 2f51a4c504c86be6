"""Reads of the rectification ledger (整改台账): rows, filters, figures, the lowest-band repeats and the
publication duty.

Every function takes the queryset to read (already narrowed by `cases.access`: callers start from
`access.restrict(qs, user)` or `access.visible(m.Rectification, user)`), so nothing here decides who sees
what. Each row's finding, unit, group, owner and latest verification come in the same query (joins and
correlated subqueries), never one query per row. Dates are Asia/Shanghai dates (`TIME_ZONE`).
"""

from collections.abc import Iterator, Mapping
from dataclasses import astuple, dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from cases import models as m
from cases.db import values_page
from cases.rectification.models import PUBLICATION_MIN_DAYS, Rectification, RectificationReview, RectificationStatus
from cases.scoring.round_config import grade_names

FIGURES_TTL = 60  # seconds a scope's figures are kept at most (a changed round title or owner shows after this)
WARN_DAYS = 3  # yellow from this many days before the due date (as the tasks' traffic lights)
RECURRING = "反复出现"
ORGANISATIONAL_ACTION = "组织处理建议"  # seed 002: lowest band in two consecutive rounds of a kind

LEDGER_FIELDS = (
    "pk", "round_id", "round_title", "unit_id", "unit_name", "group_id", "group_name", "source", "finding_id",
    "finding_text", "problem", "owner", "plan_due", "due_date", "status", "closed_on", "verification",
    "verified_by_name", "verified_at", "recurring_of_id", "published_from", "published_until",
)


@dataclass(frozen=True)
class LedgerFilters:
    round: int | None = None
    unit: int | None = None
    group: int | None = None
    status: str | None = None
    overdue: bool | None = None


@dataclass(frozen=True)
class LedgerRow:
    pk: int
    round_id: int
    round_title: str
    unit_id: int
    unit_name: str
    group_id: int
    group_name: str
    source: str
    finding_id: int | None
    finding: str  # the finding's description, or the rectification's problem (a lowest-band unit)
    owner: str  # the unit's staff, by name
    plan_due: date
    due_date: date
    status: str
    status_label: str
    closed_on: date | None
    light: str | None  # green / yellow / red; None once closed
    days_overdue: int  # open: days past the due date today; closed: days it was closed late
    verification: str | None  # the latest verification decision: accept / return
    verification_label: str
    verified_by: str
    verified_at: date | None
    recurrence: str  # 反复出现 when it repeats an earlier rectification
    published_from: date | None
    published_until: date | None


@dataclass(frozen=True)
class Figures:
    open: int
    overdue: int
    closed: int
    closed_on_time: int
    closed_on_time_pct: Decimal | None  # one decimal; None when nothing is closed


@dataclass(frozen=True)
class RoundFigures:
    round_id: int
    round_title: str
    figures: Figures


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def today() -> date:
    return timezone.localdate()


def _closed_on() -> TruncDate:
    return TruncDate("closed_at", tzinfo=_tz())


def filtered(qs: QuerySet[Rectification], filters: LedgerFilters, *, on: date | None = None) -> QuerySet[Rectification]:
    """`qs` narrowed by the ledger's filters (round, unit, group, status, overdue)."""
    on = on or today()
    if filters.round is not None:
        qs = qs.filter(round_id=filters.round)
    if filters.unit is not None:
        qs = qs.filter(unit_id=filters.unit)
    if filters.group is not None:
        qs = qs.filter(group_id=filters.group)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.overdue is not None:
        late = Q(due_date__lt=on) & ~Q(status=RectificationStatus.CLOSED)
        qs = qs.filter(late) if filters.overdue else qs.exclude(late)
    return qs


def ledger_values(qs: QuerySet[Rectification]) -> QuerySet[Rectification, dict[str, Any]]:
    """The ledger's columns as dicts, in the ledger's order (round, unit, pk): one query."""
    # The unit's (first) staff member answers for the unit's rectifications; a plain subquery, so that the
    # ledger reads the same on SQLite (the demo) as on PostgreSQL.
    staff = (
        m.UnitMembership.objects.filter(unit_id=OuterRef("unit_id"), role=m.UnitRole.STAFF)
        .order_by("user_id").annotate(name=Coalesce("user__display_name", "user__username")).values("name")[:1]
    )
    verification = RectificationReview.objects.filter(
        rectification_id=OuterRef("pk"), stage=RectificationReview.Stage.VERIFICATION
    ).order_by("-at", "-pk")
    rows: QuerySet[Rectification, dict[str, Any]] = (
        qs.order_by("round_id", "unit__sort_order", "pk")
        .annotate(
            round_title=F("round__title"), unit_name=F("unit__name"), group_name=F("group__name"),
            finding_text=F("finding__description"), owner=Subquery(staff),
            closed_on=_closed_on(),
            verification=Subquery(verification.values("decision")[:1]),
            verified_at=Subquery(verification.values("at")[:1]),
            verified_by_name=Coalesce("verified_by__display_name", "verified_by__username"),
        )
        .values(*LEDGER_FIELDS)
    )
    return rows


def light_of(due_date: date, status: str, on: date) -> str | None:
    """green: more than 3 days left; yellow: 3 days or fewer (the due day itself too); red: overdue;
    None once closed."""
    if status == RectificationStatus.CLOSED:
        return None
    left = (due_date - on).days
    if left < 0:
        return "red"
    return "yellow" if left <= WARN_DAYS else "green"


def days_overdue(due_date: date, closed_on: date | None, on: date) -> int:
    end = closed_on if closed_on is not None else on
    return max((end - due_date).days, 0)


_STATUS_LABELS = dict(RectificationStatus.choices)
_DECISION_LABELS = dict(RectificationReview.Decision.choices)


def row_of(values: dict[str, Any], on: date) -> LedgerRow:
    closed_on: date | None = values["closed_on"] if values["status"] == RectificationStatus.CLOSED else None
    verified_at = values["verified_at"]
    decision = values["verification"]
    return LedgerRow(
        pk=values["pk"], round_id=values["round_id"], round_title=values["round_title"],
        unit_id=values["unit_id"], unit_name=values["unit_name"], group_id=values["group_id"],
        group_name=values["group_name"], source=values["source"], finding_id=values["finding_id"],
        finding=values["finding_text"] or values["problem"], owner=values["owner"] or "",
        plan_due=values["plan_due"], due_date=values["due_date"], status=values["status"],
        status_label=str(_STATUS_LABELS.get(values["status"], values["status"])), closed_on=closed_on,
        light=light_of(values["due_date"], values["status"], on),
        days_overdue=days_overdue(values["due_date"], closed_on, on),
        verification=decision, verification_label=str(_DECISION_LABELS.get(decision, "")) if decision else "",
        verified_by=values["verified_by_name"] or "",
        verified_at=timezone.localtime(verified_at, _tz()).date() if verified_at else None,
        recurrence=RECURRING if values["recurring_of_id"] else "",
        published_from=values["published_from"], published_until=values["published_until"],
    )


def ledger_page(qs: QuerySet[Rectification], *, offset: int, limit: int, on: date | None = None) -> list[LedgerRow]:
    """A page of the ledger's rows (one prepared statement on PostgreSQL: the query's eight tables take
    longer to plan than to run)."""
    on = on or today()
    return [row_of(values, on) for values in values_page(ledger_values(qs), offset=offset, limit=limit)]


def ledger_rows(qs: QuerySet[Rectification], *, on: date | None = None) -> Iterator[LedgerRow]:
    """Every row of `qs` as a ledger row (one query; iterated in chunks, so any length is bounded in memory)."""
    on = on or today()
    for values in ledger_values(qs).iterator(chunk_size=2000):
        yield row_of(values, on)


def _figure_aggregates(on: date) -> dict[str, Count]:
    closed = Q(status=RectificationStatus.CLOSED)
    return {
        "n_open": Count("pk", filter=~closed),
        "n_overdue": Count("pk", filter=~closed & Q(due_date__lt=on)),
        "n_closed": Count("pk", filter=closed),
        "n_on_time": Count("pk", filter=closed & Q(closed_on__lte=F("due_date"))),
    }


def _figures(row: Mapping[str, Any]) -> Figures:
    closed, on_time = row["n_closed"], row["n_on_time"]
    pct = (Decimal(on_time * 100) / closed).quantize(Decimal("0.1"), ROUND_HALF_UP) if closed else None
    return Figures(open=row["n_open"], overdue=row["n_overdue"], closed=closed, closed_on_time=on_time,
                   closed_on_time_pct=pct)


_COUNTS = ("n_open", "n_overdue", "n_closed", "n_on_time")


def _round_counts(qs: QuerySet[Rectification], on: date) -> list[tuple[int, str, int, int, int, int]]:
    """(round, title, open, overdue, closed, closed on time) per round of `qs`, in round order: one pass over
    the rows grouped by round, and one read of the rounds' titles."""
    rows: list[dict[str, Any]] = [dict(r) for r in qs.order_by().annotate(closed_on=_closed_on()).values("round_id")
                                  .annotate(**_figure_aggregates(on)).order_by("round_id")]
    titles = dict(m.Round.objects.filter(pk__in=[r["round_id"] for r in rows]).values_list("pk", "title"))
    return [(r["round_id"], titles.get(r["round_id"], ""), *(r[k] for k in _COUNTS)) for r in rows]


def _with_rounds(counts: list[tuple[int, str, int, int, int, int]]) -> tuple[Figures, list[RoundFigures]]:
    total = _figures({k: sum(c[2 + i] for c in counts) for i, k in enumerate(_COUNTS)})
    return total, [RoundFigures(c[0], c[1], _figures(dict(zip(_COUNTS, c[2:], strict=True)))) for c in counts]


def figures_with_rounds(qs: QuerySet[Rectification], *, on: date | None = None) -> tuple[Figures, list[RoundFigures]]:
    """The figures across `qs` and per round: what the ledger shows on every page."""
    return _with_rounds(_round_counts(qs, on or today()))


def ledger_key(*, scope: str, filters: LedgerFilters, on: date) -> str:
    """The cache key of what `scope` (`access.scope_key`) sees of the ledger with `filters` on day `on`, as
    the rectifications stand now. The office's ledger is read far more often than it changes, and its
    figures rescan every matching row; so reads are cached under a key that holds the latest `updated` of all
    rectifications (every write sets it; one index-only read). Every process reads that from the database,
    so a per-process cache stays right: a change is seen at once. What the key does not cover (a renamed
    round or unit, a new owner) shows after at most `FIGURES_TTL` seconds."""
    latest = Rectification.objects.aggregate(v=Max("updated"))["v"]
    chosen = ",".join(map(str, astuple(filters)))
    return f"rectification-ledger:{scope}:{chosen}:{on.isoformat()}:{latest.isoformat() if latest else '-'}"


def ledger_figures(qs: QuerySet[Rectification], *, key: str, on: date) -> tuple[Figures, list[RoundFigures]]:
    """`figures_with_rounds` of `qs` (what `ledger_key` names), cached under `key`. The cache holds plain
    tuples (unpickling 100 dataclasses with Decimals cost ~2 ms a request)."""
    counts: list[tuple[int, str, int, int, int, int]] | None = cache.get(f"{key}:figures")
    if counts is None:
        counts = _round_counts(qs, on)
        cache.set(f"{key}:figures", counts, FIGURES_TTL)
    return _with_rounds(counts)


# --- history across rounds ----------------------------------------------------------------------


@dataclass(frozen=True)
class LowestBandRepeat:
    unit_id: int
    unit_name: str
    grade: str
    previous_round_id: int
    previous_grade: str
    flag: str = ORGANISATIONAL_ACTION


def previous_round_of_kind(round: m.Round) -> m.Round | None:
    """The round before `round` of the same kind: its `previous_round` when that is of the kind, otherwise
    the latest earlier round of the kind (by year, then creation)."""
    previous = round.previous_round
    if previous is not None and previous.kind == round.kind:
        return previous
    earlier = Q(year__lt=round.year) | Q(year=round.year, created__lt=round.created)
    return m.Round.objects.filter(earlier, kind=round.kind).exclude(pk=round.pk).order_by("-year", "-created").first()


def _lowest_band(round: m.Round) -> str | None:
    names = grade_names(round.config or {})
    return names[-1] if names else None


def lowest_band_repeats(round: m.Round) -> list[LowestBandRepeat]:
    """Units graded in the lowest band of `round` and of the round before it of the same kind (seed 002:
    组织处理建议), in the units' order. Two queries at most beyond the previous round's."""
    lowest = _lowest_band(round)
    previous = previous_round_of_kind(round)
    if lowest is None or previous is None:
        return []
    previous_lowest = _lowest_band(previous)
    if previous_lowest is None:
        return []
    before = set(m.Result.objects.filter(round=previous, grade=previous_lowest).values_list("case__unit_id", flat=True))
    rows = (
        m.Result.objects.filter(round=round, grade=lowest, case__unit_id__in=before)
        .order_by("case__unit__sort_order", "case__unit__code").values_list("case__unit_id", "case__unit__name")
    )
    return [LowestBandRepeat(unit_id, name, lowest, previous.pk, previous_lowest) for unit_id, name in rows]


# --- publication duty ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Publication:
    pk: int
    unit_name: str
    finding: str
    closed_on: date | None
    published_from: date | None
    published_until: date | None
    days: int | None  # the display period, both ends counted
    long_enough: bool | None  # at least PUBLICATION_MIN_DAYS
    showing: bool  # on display today


@dataclass(frozen=True)
class PublicationDuty:
    published: list[Publication]
    due: list[Publication]  # closed, not yet published


def _publication(values: Mapping[str, Any], on: date) -> Publication:
    start, end = values["published_from"], values["published_until"]
    days = (end - start).days + 1 if start and end else None
    return Publication(
        pk=values["pk"], unit_name=values["unit__name"], finding=values["finding__description"] or values["problem"],
        closed_on=values["closed_on"], published_from=start, published_until=end, days=days,
        long_enough=days >= PUBLICATION_MIN_DAYS if days is not None else None,
        showing=bool(start and start <= on and (end is None or on <= end)),
    )


def publication_duty(qs: QuerySet[Rectification], *, since: date | None = None, until: date | None = None,
                     on: date | None = None) -> PublicationDuty:
    """Closed rectifications (closed between `since` and `until`, both included, when given): those published
    (since when, until when, whether the period is long enough, whether on display today) and those due to be
    published. One query."""
    on = on or today()
    closed = qs.filter(status=RectificationStatus.CLOSED).annotate(closed_on=_closed_on())
    if since is not None:
        closed = closed.filter(closed_on__gte=since)
    if until is not None:
        closed = closed.filter(closed_on__lte=until)
    rows = closed.order_by("closed_on", "pk").values(
        "pk", "unit__name", "finding__description", "problem", "closed_on", "published_from", "published_until")
    items = [_publication(r, on) for r in rows]
    return PublicationDuty(published=[p for p in items if p.published_from is not None],
                           due=[p for p in items if p.published_from is None])



# --- one rectification, for its closure sheet (整改销号单) ---------------------------------------------


@dataclass(frozen=True)
class MeasureLine:
    text: str
    responsible: str
    due_date: date


@dataclass(frozen=True)
class Closure:
    pk: int
    unit_name: str
    group_name: str
    round_title: str
    finding: str
    item: str  # the rubric item's code, or ""
    problem: str
    target: str
    due_date: date
    status: str
    measures: list[MeasureLine]
    evidence: list[str]  # the files' names, in the order they were reported
    completion: str  # the completion report's text
    verifier: str
    verified_on: date | None
    verification_comment: str
    closed_on: date | None
    recurrence: str


def closure_of(qs: QuerySet[Rectification], pk: int) -> Closure:
    """What a closure sheet says of rectification `pk` (one of `qs`): four queries, whatever the measures
    and the evidence. Raises Rectification.DoesNotExist when `qs` has no such row."""
    r = qs.select_related("unit", "group", "round", "finding__item", "verified_by").get(pk=pk)
    measures = [MeasureLine(x.text, x.responsible, x.due_date) for x in r.measures.order_by("position", "pk")]
    evidence = list(
        m.Attachment.objects.filter(pk__in=r.reports.values("evidence")).order_by("uploaded_at", "pk")
        .values_list("original_name", flat=True)
    )
    completion = r.reports.filter(kind="completion").order_by("-reported_at", "-pk").values_list("text", flat=True).first()
    last = (r.reviews.filter(stage=RectificationReview.Stage.VERIFICATION).select_related("reviewer")
            .order_by("-at", "-pk").first())
    verifier = r.verified_by or (last.reviewer if last else None)
    return Closure(
        pk=r.pk, unit_name=r.unit.name, group_name=r.group.name, round_title=r.round.title,
        finding=r.finding.description if r.finding else r.problem,
        item=r.finding.item.code if r.finding and r.finding.item else "", problem=r.problem, target=r.target,
        due_date=r.due_date, status=r.status, measures=measures, evidence=evidence, completion=completion or "",
        verifier=(verifier.display_name or verifier.username) if verifier else "",
        verified_on=timezone.localtime(last.at, _tz()).date() if last else None,
        verification_comment=last.comment if last else "",
        closed_on=timezone.localtime(r.closed_at, _tz()).date() if r.closed_at else None,
        recurrence=RECURRING if r.recurring_of_id else "",
    )


def is_consecutive_lowest(rect: m.Rectification) -> bool:
    """A lowest-band rectification linked to the unit's lowest-band rectification of the round before (the
    rectification's side of `lowest_band_repeats`: `rectifications_start` makes the link)."""
    return rect.source == m.RectificationSource.LOWEST_GRADE and rect.recurring_of_id is not None
