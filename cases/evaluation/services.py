"""Writes of the leader evaluation and the publication duties. Keyword-only, atomic, audited.

Wrong states are `Conflict` (409), wrong people `PermissionDenied` (403), bad input `ValidationError`
(400, every bad field named). Who acts: the office assigns the evaluators and compiles the component;
an assigned evaluator submits one form per unit; the leader approves the compiled results (after which
another round's composite may name them); a unit's staff or head record the unit's publications.
"""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.evaluation import forms, selectors
from cases.services.audit import audit
from cases.services.common import require_office

MAX_EVALUATORS = 1000


def _require_social(round: m.Round) -> None:
    if round.kind != m.RoundKind.SOCIAL:
        raise Conflict("只有社会评价轮次有领导评价和公示事项。")


def _require_open(round: m.Round) -> None:
    if round.results_frozen_at is not None:
        raise Conflict("领导评价结果已审定，不能再更改。")


def evaluators_set(*, user: m.User, round: m.Round, user_ids: list[int]) -> list[m.LeaderEvaluator]:
    """The office replaces the round's list of leader evaluators (领导评价人)."""
    require_office(user)
    _require_social(round)
    _require_open(round)
    wanted = list(dict.fromkeys(user_ids))
    if len(wanted) > MAX_EVALUATORS:
        raise ValidationError({"users": [f"最多 {MAX_EVALUATORS} 人。"]})
    found = set(m.User.objects.filter(pk__in=wanted, is_active=True).values_list("pk", flat=True))
    unknown = [pk for pk in wanted if pk not in found]
    if unknown:
        raise ValidationError({"users": [f"用户 {pk} 不存在或已停用。" for pk in unknown[:20]]})
    with transaction.atomic():
        m.Round.objects.select_for_update().get(pk=round.pk)
        before = sorted(m.LeaderEvaluator.objects.filter(round=round).values_list("user_id", flat=True))
        m.LeaderEvaluator.objects.filter(round=round).exclude(user_id__in=wanted).delete()
        have = set(m.LeaderEvaluator.objects.filter(round=round).values_list("user_id", flat=True))
        m.LeaderEvaluator.objects.bulk_create([m.LeaderEvaluator(round=round, user_id=pk, assigned_by=user)
                                               for pk in wanted if pk not in have])
        audit(actor=user, action="leader_evaluators_set", obj=round, before={"users": before},
              after={"users": sorted(wanted)}, round_id=round.pk)
    return list(m.LeaderEvaluator.objects.filter(round=round))


def form_submit(*, user: m.User, case: m.Case, score: object) -> None:
    """An evaluator's anonymous form for one unit. The participation row (unique per evaluator and unit)
    and the answer are written in one transaction; the answer names nobody and has no time. Returns
    nothing that could identify the answer."""
    round = case.round
    _require_social(round)
    if not selectors.is_evaluator(user, round):
        raise PermissionDenied("只有考核办指定的领导评价人可以填写领导评价表。")
    _require_open(round)
    if isinstance(score, bool) or not isinstance(score, int | str) or str(score).strip() not in {
            str(s) for s in forms.SCORES}:
        raise ValidationError({"score": ["评价分必须是 5、4、3、2 或 1（优秀、良好、一般、差、很差）。"]})
    value = int(str(score).strip())
    try:
        with transaction.atomic():
            participation = m.LeaderEvaluationParticipation.objects.create(round=round, case=case, evaluator=user)
            m.LeaderEvaluationAnswer.objects.create(round=round, case=case, form=forms.form_for(case.unit.category),
                                                    score=value)
            # The audit names the evaluator and the unit, never the score or the answer.
            audit(actor=user, action="leader_evaluation_submit", obj=participation,
                  after={"case": case.pk}, round_id=round.pk)
    except IntegrityError:
        raise Conflict("您已提交过对该单位的领导评价表。") from None


def compile_results(*, user: m.User, round: m.Round) -> list[m.Result]:
    """The office stores the component as the social round's results: per unit the mean score mapped to the
    component's points (`Result.panel`), less the publication deductions where the round deducts for them,
    ranked by total (equal totals share a rank). Recomputed until the leader approves."""
    require_office(user)
    _require_social(round)
    _require_open(round)
    summary = selectors.unit_summary(round)
    missing = [row["unit_name"] for row in summary if row["mean"] is None]
    if missing:
        raise ValidationError({"round": [f"{name}尚无领导评价表。" for name in missing[:20]]})
    cases = {c.pk: c for c in round.cases.select_related("unit")}
    deductions = selectors.deductions_by_case(round, list(cases.values()))
    rows = []
    for row in summary:
        items = deductions.get(row["case"], [])
        deducted = sum((amount for _, amount in items), Decimal("0"))
        rows.append((row, items, deducted, row["points"] - deducted))
    totals = sorted((total for *_, total in rows), reverse=True)
    with transaction.atomic():
        m.Round.objects.select_for_update().get(pk=round.pk)
        m.Result.objects.filter(round=round).delete()
        now = timezone.now()
        results = m.Result.objects.bulk_create([
            m.Result(case_id=row["case"], round=round, panel=row["points"], deductions=deducted,
                     bonus=Decimal("0"), total=total, rank=totals.index(total) + 1,
                     components=[["leader_evaluation", str(row["mean"])]],
                     deduction_items=[[kind, str(amount)] for kind, amount in items], computed_at=now)
            for row, items, deducted, total in rows])
        audit(actor=user, action="leader_evaluation_compile", obj=round, round_id=round.pk,
              after={"units": len(results)})
    return results


def results_approve(*, user: m.User, round: m.Round) -> None:
    """The leader approves the compiled component (领导审定): the results are frozen and another round's
    composite may name this round (docs/scoring.md, Composites across rounds)."""
    if user.org_role != m.OrgRole.LEADER:
        raise PermissionDenied("只有领导可以审定领导评价结果。")
    _require_social(round)
    _require_open(round)
    with transaction.atomic():
        locked = m.Round.objects.select_for_update().get(pk=round.pk)
        if not m.Result.objects.filter(round=round).exists():
            raise Conflict("领导评价结果尚未汇总。")
        locked.results_frozen_at = timezone.now()
        locked.save(update_fields=["results_frozen_at"])
        audit(actor=user, action="leader_evaluation_approve", obj=locked, round_id=round.pk)
    round.results_frozen_at = locked.results_frozen_at


# --- publication duties ----------------------------------------------------------------------------


def _date(value: object, field: str, errors: dict[str, list[str]], *, required: bool) -> dt.date | None:
    if value in (None, ""):
        if required:
            errors[field] = ["必须填写日期。"]
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors[field] = ["日期格式应为 YYYY-MM-DD。"]
        return None


def publication_record(*, user: m.User, case: m.Case, kind: str, place: str, start_date: object,
                       end_date: object = None) -> m.DutyPublication:
    """A unit's staff or head record where and since when the unit published for a duty (a new record
    replaces the unit's previous one for that duty)."""
    if not (access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF)
            or access.is_unit_member(user, case.unit_id, m.UnitRole.HEAD)):
        raise PermissionDenied("只有本单位可以登记本单位的公示情况。")
    _require_social(case.round)
    errors: dict[str, list[str]] = {}
    if kind not in m.DutyKind.values:
        errors["kind"] = ["未知的公示事项。"]
    place = (place or "").strip()
    if not place:
        errors["place"] = ["请填写发布位置（网址或地点）。"]
    elif len(place) > 500:
        errors["place"] = ["不能超过 500 个字符。"]
    start = _date(start_date, "start_date", errors, required=True)
    end = _date(end_date, "end_date", errors, required=False)
    if start is not None and start > timezone.localdate():
        errors["start_date"] = ["开始日期不能晚于今天。"]
    if start is not None and end is not None and end < start:
        errors["end_date"] = ["结束日期不能早于开始日期。"]
    if errors:
        raise ValidationError(errors)
    assert start is not None
    with transaction.atomic():
        old = m.DutyPublication.objects.select_for_update().filter(case=case, kind=kind).first()
        before = None if old is None else {"place": old.place, "start_date": str(old.start_date),
                                           "end_date": str(old.end_date) if old.end_date else None}
        pub, _ = m.DutyPublication.objects.update_or_create(
            case=case, kind=kind,
            defaults={"round": case.round, "place": place, "start_date": start, "end_date": end,
                      "recorded_by": user, "recorded_at": timezone.now()})
        audit(actor=user, action="publication_duty_record", obj=pub, before=before, round_id=case.round_id,
              after={"kind": kind, "place": place, "start_date": str(start), "end_date": str(end) if end else None})
    return pub
