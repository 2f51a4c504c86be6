"""Publication (公示) of approved results, objections (异议) and finality: the writes.

Keyword-only, typed, atomic, audited. Who may act: the office opens the publication, resolves
objections and finalises; a unit's staff or head files an objection to its own result, within the
period. Wrong states are `Conflict` (409), wrong people `PermissionDenied` (403), bad input
`ValidationError` (400, every bad field named).
"""

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.dispatch import Signal
from django.utils import timezone

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.rectification.services import rectifications_start
from cases.scoring import results, round_config
from cases.services.audit import audit
from cases.services.common import parse_points, require_office

DEFAULT_PUBLICATION_DAYS = 5
MAX_TEXT = 5000

# Announced inside the write's transaction, for the layers above (the domain sends no messages itself):
# `notifications.objections` tells the units and the office.
publication_opened = Signal()  # round
objection_filed = Signal()  # objection
objection_resolved = Signal()  # objection

WorkdayCounter = Callable[[dt.date, int], dt.date]


def _weekdays(day: dt.date, n: int) -> dt.date:
    """Monday to Friday: the fallback until the workflow layer registers China's working-day calendar."""
    while n > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


_workday_counter: list[WorkdayCounter] = [_weekdays]


def register_workday_counter(counter: WorkdayCounter) -> None:
    """The working-day calendar (调休 included) lives in `workflow.deadlines.calendar`, a layer above:
    `workflow` registers its `add_workdays` here at start-up."""
    _workday_counter[0] = counter


def period_end(start: dt.datetime, days: int, kind: str) -> dt.datetime:
    """The end of a publication of `days` days opened at `start`: the end (local midnight) of the
    `days`-th working (or calendar) day after the day it opens, counted as the calendar counts dues."""
    local = timezone.localtime(start).date()
    last = _workday_counter[0](local, days) if kind == "working" else local + dt.timedelta(days=days)
    midnight = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min)
    return timezone.make_aware(midnight, timezone.get_current_timezone())


def _snapshot(round: m.Round) -> dict[str, list[object]]:
    return {str(case_id): [str(total), rank, grade] for case_id, total, rank, grade in
            m.Result.objects.filter(round=round).values_list("case_id", "total", "rank", "grade")}


def _require_published(round: m.Round) -> None:
    if round.publication_starts_at is None or round.publication_ends_at is None:
        raise Conflict("考评结果尚未公示。")


def _require_not_final(round: m.Round) -> None:
    if round.results_final_at is not None:
        raise Conflict("考评结果已经最终确定，不能再更改。")


# --- publication ------------------------------------------------------------------------------


@transaction.atomic
def publication_open(*, user: m.User, round: m.Round, days: int | None = None,
                     now: dt.datetime | None = None) -> m.Round:
    """The office publishes the leader-approved results for `days` days (default: the round's
    `publication_days`, else 5), working days unless the round says `publication_day_kind: calendar`."""
    require_office(user)
    round = m.Round.objects.select_for_update().get(pk=round.pk)
    if round.results_frozen_at is None:
        raise Conflict("考评结果尚未经领导审定，不能公示。")
    if round.publication_starts_at is not None:
        raise Conflict("考评结果已经公示。")
    _require_not_final(round)
    config = round.config or {}
    if days is None:
        days = round_config.publication_days(config) or DEFAULT_PUBLICATION_DAYS
    if not 1 <= days <= 60:
        raise ValidationError({"days": ["公示天数必须在 1 到 60 之间。"]})
    kind = config.get("publication_day_kind", "working")
    start = now or timezone.now()
    round.publication_starts_at = start
    round.publication_ends_at = period_end(start, days, kind)
    round.save(update_fields=["publication_starts_at", "publication_ends_at"])
    audit(actor=user, action="round.publication_open", obj=round, round_id=round.pk,
          after={"starts_at": start.isoformat(), "ends_at": round.publication_ends_at.isoformat(),
                 "days": days, "day_kind": kind})
    publication_opened.send(sender=m.Round, round=round)
    return round


def publication_is_open(round: m.Round, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return (round.publication_starts_at is not None and round.publication_ends_at is not None
            and round.results_final_at is None and round.publication_starts_at <= now < round.publication_ends_at)


# --- objections -------------------------------------------------------------------------------


def _text(value: str, field: str, errors: dict[str, list[str]]) -> str:
    text = (value or "").strip()
    if not text:
        errors[field] = ["必须填写。"]
    elif len(text) > MAX_TEXT:
        errors[field] = [f"不能超过 {MAX_TEXT} 字。"]
    return text


@transaction.atomic
def objection_file(*, user: m.User, case: m.Case, reasons: str, evidence_ids: Sequence[int] = (),
                   now: dt.datetime | None = None) -> m.Objection:
    """A unit (its staff or head) objects to its own published result, with reasons and evidence
    (files of its case), within the publication period."""
    if not (access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF)
            or access.is_unit_member(user, case.unit_id, m.UnitRole.HEAD)):
        raise PermissionDenied("只有本单位可以对本单位的考评结果提出异议。")
    round = m.Round.objects.select_for_update().get(pk=case.round_id)
    if not publication_is_open(round, now):
        raise PermissionDenied("不在公示期内，不能提出异议。")
    errors: dict[str, list[str]] = {}
    text = _text(reasons, "reasons", errors)
    ids = list(dict.fromkeys(evidence_ids))
    evidence = list(case.attachments.filter(pk__in=ids))
    if len(evidence) != len(ids):
        errors["evidence"] = ["只能引用本单位考评中的附件。"]
    if errors:
        raise ValidationError(errors)
    objection = m.Objection.objects.create(round=round, case=case, reasons=text, filed_by=user,
                                           filed_at=now or timezone.now())
    objection.evidence.set(evidence)
    audit(actor=user, action="objection.file", obj=objection, round_id=round.pk,
          after={"case": case.pk, "unit": case.unit.name, "reasons": text, "evidence": sorted(a.pk for a in evidence)})
    objection_filed.send(sender=m.Objection, objection=objection)
    return objection


def parse_adjustment(value: object, field: str = "adjustment") -> Decimal:
    """A signed correction in points ("-1.50", "2"): the one number parser on its magnitude; not zero."""
    text = str(value).strip() if value is not None else ""
    negative = text.startswith("-")
    magnitude = parse_points(text[1:] if negative else text.lstrip("+"), field)
    if magnitude == 0:
        raise ValidationError({field: ["更正分值不能为 0。"]})
    return -magnitude if negative else magnitude


@transaction.atomic
def objection_resolve(*, user: m.User, objection: m.Objection, decision: str, resolution: str,
                      adjustment: object = None) -> m.Objection:
    """The office resolves an open objection with a written reason: upheld, with a correction of the
    unit's total (every unit's result of the round is recomputed: totals, ranks, grades; audited with
    before and after), or rejected."""
    require_office(user)
    objection = m.Objection.objects.select_for_update().select_related("case__unit").get(pk=objection.pk)
    round = m.Round.objects.select_for_update().get(pk=objection.round_id)
    if objection.status != m.ObjectionStatus.OPEN:
        raise Conflict("该异议已经处理。")
    _require_not_final(round)
    errors: dict[str, list[str]] = {}
    if decision not in ("uphold", "reject"):
        errors["decision"] = ["必须是 uphold（异议成立）或 reject（异议不成立）。"]
    text = _text(resolution, "resolution", errors)
    amount = None
    if decision == "uphold":
        try:
            amount = parse_adjustment(adjustment)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    elif decision == "reject" and adjustment not in (None, ""):
        errors["adjustment"] = ["异议不成立时不能更正分值。"]
    if errors:
        raise ValidationError(errors)
    objection.status = m.ObjectionStatus.UPHELD if decision == "uphold" else m.ObjectionStatus.REJECTED
    objection.resolution = text
    objection.adjustment = amount
    objection.resolved_by = user
    objection.resolved_at = timezone.now()
    objection.save()
    audit(actor=user, action="objection.resolve", obj=objection, round_id=round.pk,
          before={"status": m.ObjectionStatus.OPEN},
          after={"status": objection.status, "adjustment": str(amount) if amount is not None else None},
          comment=text)
    if amount is not None:
        _recompute(user=user, round=round, objection=objection)
    objection_resolved.send(sender=m.Objection, objection=objection)
    return objection


def _recompute(*, user: m.User, round: m.Round, objection: m.Objection) -> list[m.Result]:
    """Recompute the approved results with the upheld corrections: the one exception to their freeze,
    audited with every changed unit's [total, rank, grade] before and after."""
    before = _snapshot(round)
    computed = results.compute(round)
    m.Result.objects.filter(round=round).delete()
    stored = m.Result.objects.bulk_create(results.result_rows(round, computed))
    after = _snapshot(round)
    changed = sorted(k for k in after if before.get(k) != after[k])
    audit(actor=user, action="round.results_corrected", obj=round, round_id=round.pk,
          before={k: before.get(k) for k in changed}, after={k: after[k] for k in changed},
          comment=f"异议 #{objection.pk}（{objection.case.unit.name}）成立：更正 {objection.adjustment} 分。")
    # A unit the correction put in the lowest band owes its written rectification too (idempotent: the
    # others have theirs). One that left the band keeps the one it has, to be closed by verification.
    rectifications_start(round=round)
    return stored


# --- finality ---------------------------------------------------------------------------------


def finality_problem(round: m.Round, now: dt.datetime | None = None) -> str | None:
    """Why the round's results cannot become final yet (None: they can)."""
    now = now or timezone.now()
    if round.results_final_at is not None:
        return "考评结果已经最终确定。"
    if round.publication_starts_at is None or round.publication_ends_at is None:
        return "考评结果尚未公示。"
    if now < round.publication_ends_at:
        end = timezone.localtime(round.publication_ends_at)
        return f"公示期尚未结束（至 {end:%Y-%m-%d %H:%M}），结果不能最终确定。"
    pending = round.objections.filter(status=m.ObjectionStatus.OPEN).count()
    if pending:
        return f"尚有 {pending} 件异议未处理，结果不能最终确定。"
    return None


@transaction.atomic
def publication_finalise(*, user: m.User | None, round: m.Round, now: dt.datetime | None = None) -> m.Round:
    """The results become final: the period is over and no objection is open. By the office, or by
    the system's periodic check (`user=None`, `finalise_due`)."""
    if user is not None:
        require_office(user)
    round = m.Round.objects.select_for_update().get(pk=round.pk)
    problem = finality_problem(round, now)
    if problem:
        raise Conflict(problem)
    round.results_final_at = now or timezone.now()
    round.save(update_fields=["results_final_at"])
    counts = dict(round.objections.order_by().values_list("status").annotate(n=Count("pk")))
    audit(actor=user, action="round.results_final", obj=round, round_id=round.pk,
          after={"final_at": round.results_final_at.isoformat(),
                 "objections": {str(k): v for k, v in counts.items()}})
    return round


def finalise_due(now: dt.datetime | None = None) -> int:
    """The periodic check: finalise every round whose publication has ended with no objection open.
    Returns how many became final."""
    now = now or timezone.now()
    due = (m.Round.objects.filter(results_final_at__isnull=True, publication_ends_at__lte=now)
           .exclude(objections__status=m.ObjectionStatus.OPEN).values_list("pk", flat=True))
    done = 0
    for pk in list(due):
        try:
            publication_finalise(user=None, round=m.Round(pk=pk), now=now)
        except Conflict:  # an objection filed or a finalisation made meanwhile
            continue
        done += 1
    return done
