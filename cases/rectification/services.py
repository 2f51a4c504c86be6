"""Rectification (整改) writes: starting a round's rectifications and each step of one rectification.

Keyword-only, typed, atomic and audited like `cases.services`. Who may act is asked of `cases.access`;
a step taken in the wrong state is a `Conflict` (HTTP 409); bad input is a `ValidationError` naming
every bad field by its path ("measures[1].due_date"). The workflow (`workflow.flows.RectificationFlow`)
decides when a step happens and calls these from its step handlers.
"""

from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.rectification.models import PUBLICATION_MIN_DAYS
from cases.rectification.selectors import previous_round_of_kind
from cases.reports import rectification_due
from cases.scoring.round_config import grade_names
from cases.services.audit import audit
from cases.services.common import require_office

PLAN_DAYS = 10
S = m.RectificationStatus
# Round config `rectification_start`: "approval" (default) starts a round's rectifications when its results
# are approved; "finding" starts each as soon as its finding is recorded as requiring one.
START_ON_FINDING = "finding"

# Sent in the creating transaction with the rectifications just created (`rectifications`, a list): the
# workflow (a layer above) opens one process for each.
rectifications_created = Signal()


def _today() -> date:
    return timezone.localdate()


def _days(config: dict[str, Any] | None, key: str, default: int) -> int:
    value = (config or {}).get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 366:
        return default
    return value


# --- starting a round's rectifications ----------------------------------------------------------


def _recurring(previous: m.Round | None) -> tuple[dict[tuple[int, str], int], dict[int, int]]:
    """The previous round's rectifications: {(unit, item code): pk} for findings, {unit: pk} for the
    lowest band."""
    if previous is None:
        return {}, {}
    by_item: dict[tuple[int, str], int] = {}
    lowest: dict[int, int] = {}
    rows = (m.Rectification.objects.filter(round=previous).order_by("pk")
            .values_list("pk", "unit_id", "source", "finding__item__code"))
    for pk, unit_id, source, code in rows:
        if source == m.RectificationSource.LOWEST_GRADE:
            lowest.setdefault(unit_id, pk)
        elif code:
            by_item.setdefault((unit_id, code), pk)
    return by_item, lowest


def _for_finding(finding: m.Finding, *, plan_due: date, due: date,
                 by_item: dict[tuple[int, str], int]) -> m.Rectification:
    case = finding.case
    code = finding.item.code if finding.item is not None else None
    return m.Rectification(
        round_id=case.round_id, case=case, unit_id=case.unit_id, group_id=case.group_id,
        source=m.RectificationSource.FINDING, finding=finding, problem=finding.description,
        plan_due=plan_due, due_date=due, recurring_of_id=by_item.get((case.unit_id, code)) if code else None,
    )


def _plan_due(round: m.Round) -> date:
    return _today() + timedelta(days=_days(round.config, "rectification_plan_days", PLAN_DAYS))


def _created(rects: list[m.Rectification], round: m.Round) -> list[m.Rectification]:
    """Audit the new rectifications and tell the workflow to open their processes."""
    for rect in rects:
        audit(actor=None, action="rectification.start", obj=rect, round_id=round.pk,
              after={"source": rect.source, "unit": rect.unit_id, "plan_due": rect.plan_due.isoformat(),
                     "due_date": rect.due_date.isoformat()})
    if rects:
        rectifications_created.send(sender=m.Rectification, rectifications=rects)
    return rects


@transaction.atomic
def rectifications_start(*, round: m.Round) -> list[m.Rectification]:
    """One rectification per finding of the round that requires one, and one per unit graded in the
    round's lowest band. Idempotent: those that exist (a finding's, started when it was recorded) are left
    alone; returns the new ones."""
    plan_due, due = _plan_due(round), rectification_due(round)
    by_item, lowest = _recurring(previous_round_of_kind(round))
    done_findings = set(m.Rectification.objects.filter(round=round, finding__isnull=False)
                        .values_list("finding_id", flat=True))
    done_units = set(m.Rectification.objects.filter(round=round, source=m.RectificationSource.LOWEST_GRADE)
                     .values_list("unit_id", flat=True))
    findings = (m.Finding.objects.filter(case__round=round, requires_rectification=True)
                .exclude(pk__in=done_findings).select_related("case", "item").order_by("case__unit__sort_order", "pk"))
    new = [_for_finding(finding, plan_due=plan_due, due=due, by_item=by_item) for finding in findings]
    names = grade_names(round.config or {})
    if names:
        results = (m.Result.objects.filter(round=round, grade=names[-1]).exclude(case__unit_id__in=done_units)
                   .select_related("case").order_by("case__unit__sort_order", "pk"))
        for result in results:
            case = result.case
            new.append(m.Rectification(
                round=round, case=case, unit_id=case.unit_id, group_id=case.group_id,
                source=m.RectificationSource.LOWEST_GRADE,
                problem=f"本轮考评等次为“{result.grade}”（末档），须书面整改。",
                plan_due=plan_due, due_date=due, recurring_of_id=lowest.get(case.unit_id),
            ))
    return _created(m.Rectification.objects.bulk_create(new), round)


def finding_recorded(finding: m.Finding) -> m.Rectification | None:
    """When the finding's round starts rectifications as findings are recorded (`rectification_start`:
    "finding") and the finding requires one it does not have yet: its rectification, started now (called
    inside the recording transaction). Otherwise None: the round's approval starts it."""
    round = finding.case.round
    if (not finding.requires_rectification or (round.config or {}).get("rectification_start") != START_ON_FINDING
            or m.Rectification.objects.filter(finding=finding).exists()):
        return None
    by_item, _ = _recurring(previous_round_of_kind(round))
    rect = _for_finding(finding, plan_due=_plan_due(round), due=rectification_due(round), by_item=by_item)
    rect.save()
    return _created([rect], round)[0]


# --- who acts, in which state ------------------------------------------------------------------


def _require_status(rect: m.Rectification, *statuses: str) -> None:
    if rect.status not in statuses:
        raise Conflict(f"整改当前状态为“{rect.get_status_display()}”，不能进行此操作。")


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _lock(rect: m.Rectification) -> m.Rectification:
    """The rectification re-read under a row lock: its state is judged on the row as it is now."""
    return m.Rectification.objects.select_for_update().get(pk=rect.pk)


def _set_status(rect: m.Rectification, status: str, **fields: Any) -> None:
    rect.status = status
    rect.updated = timezone.now()
    for key, value in fields.items():
        setattr(rect, key, value)
    rect.save(update_fields=["status", "updated", *fields])


def _decision_comment(approve: bool, comment: str) -> str:
    text = comment.strip() if isinstance(comment, str) else ""
    if not approve and not text:
        raise ValidationError({"comment": ["退回时必须填写意见。"]})
    return text


def _review(rect: m.Rectification, user: m.User, stage: str, approve: bool, comment: str) -> None:
    decision = m.RectificationReview.Decision.ACCEPT if approve else m.RectificationReview.Decision.RETURN
    m.RectificationReview.objects.create(rectification=rect, stage=stage, decision=decision, comment=comment,
                                         reviewer=user)


# --- the plan ----------------------------------------------------------------------------------


def _parse_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _check_measure(n: int, row: object, rect: m.Rectification, today: date,
                   errors: dict[str, list[str]]) -> m.RectificationMeasure | None:
    path = f"measures[{n}]"
    before = len(errors)
    if not isinstance(row, dict):
        errors[path] = ["必须是对象（text、responsible、due_date）。"]
        return None
    text, responsible = _text(row.get("text")), _text(row.get("responsible"))
    if not text:
        errors[f"{path}.text"] = ["请填写整改措施。"]
    if not responsible:
        errors[f"{path}.responsible"] = ["请填写责任人。"]
    elif len(responsible) > 64:
        errors[f"{path}.responsible"] = ["责任人不能超过 64 个字符。"]
    due = _parse_date(row.get("due_date"))
    if due is None:
        errors[f"{path}.due_date"] = ["请填写完成时限（YYYY-MM-DD）。"]
    elif due < today:
        errors[f"{path}.due_date"] = ["完成时限不能早于今天。"]
    elif due > rect.due_date:
        errors[f"{path}.due_date"] = [f"完成时限不能晚于整改完成截止日期（{rect.due_date.isoformat()}）。"]
    if len(errors) > before or due is None:
        return None
    return m.RectificationMeasure(rectification=rect, position=n, text=text, responsible=responsible, due_date=due)


def _check_plan(rect: m.Rectification, target: object, measures: object) -> tuple[str, list[m.RectificationMeasure]]:
    errors: dict[str, list[str]] = {}
    text = _text(target)
    if not isinstance(target, str):
        errors["target"] = ["必须是文本。"]
    rows: list[m.RectificationMeasure] = []
    if not isinstance(measures, list) or not measures:
        errors["measures"] = ["请至少填写一项整改措施。"]
    else:
        today = _today()
        for n, row in enumerate(measures):
            measure = _check_measure(n, row, rect, today, errors)
            if measure is not None:
                rows.append(measure)
    if errors:
        raise ValidationError(errors)
    return text, rows


@transaction.atomic
def plan_save(*, user: m.User, rectification: m.Rectification, target: str,
              measures: list[dict[str, Any]]) -> m.Rectification:
    """The unit's staff save the plan: the target and the measures (each with a responsible person and a
    due date between today and the rectification's due date). The measures replace the saved ones."""
    rect = _lock(rectification)
    _require(access.can_draft_rectification(user, rect), "只有本单位填报人员可以填写整改方案。")
    _require_status(rect, S.PLANNING)
    text, rows = _check_plan(rect, target, measures)
    before = {"target": rect.target, "measures": list(rect.measures.values("text", "responsible", "due_date"))}
    rect.measures.all().delete()
    m.RectificationMeasure.objects.bulk_create(rows)
    rect.target = text
    rect.updated = timezone.now()
    rect.save(update_fields=["target", "updated"])
    audit(actor=user, action="rectification.plan_save", obj=rect, round_id=rect.round_id,
          before={"target": before["target"], "measures": len(before["measures"])},
          after={"target": text, "measures": len(rows)})
    return rect


@transaction.atomic
def plan_submit(*, user: m.User, rectification: m.Rectification) -> m.Rectification:
    """The unit's staff hand the saved plan to their head for signing."""
    rect = _lock(rectification)
    _require(access.can_draft_rectification(user, rect), "只有本单位填报人员可以报送整改方案。")
    _require_status(rect, S.PLANNING)
    if not rect.measures.exists():
        raise ValidationError({"measures": ["请至少填写一项整改措施。"]})
    _set_status(rect, S.SIGNING)
    audit(actor=user, action="rectification.plan_submit", obj=rect, round_id=rect.round_id)
    return rect


@transaction.atomic
def plan_sign(*, user: m.User, rectification: m.Rectification, approve: bool, comment: str = "") -> m.Rectification:
    """The unit head signs the plan (on to review) or returns it to the staff with a comment."""
    rect = _lock(rectification)
    _require(access.can_sign_rectification(user, rect), "只有本单位负责人可以审签整改方案。")
    _require_status(rect, S.SIGNING)
    text = _decision_comment(approve, comment)
    _review(rect, user, m.RectificationReview.Stage.SIGN, approve, text)
    _set_status(rect, S.PLAN_REVIEW if approve else S.PLANNING)
    audit(actor=user, action="rectification.sign" if approve else "rectification.sign_return", obj=rect,
          comment=text, round_id=rect.round_id)
    return rect


@transaction.atomic
def plan_review(*, user: m.User, rectification: m.Rectification, approve: bool, comment: str = "") -> m.Rectification:
    """The group leader (or deputy) of the case's group, or the office, accepts the plan or returns it."""
    rect = _lock(rectification)
    _require(access.can_review_rectification(user, rect), "只有考评组组长、副组长或考核办可以审核整改方案。")
    _require_status(rect, S.PLAN_REVIEW)
    text = _decision_comment(approve, comment)
    _review(rect, user, m.RectificationReview.Stage.PLAN, approve, text)
    _set_status(rect, S.IN_PROGRESS if approve else S.PLANNING)
    audit(actor=user, action="rectification.plan_accept" if approve else "rectification.plan_return", obj=rect,
          comment=text, round_id=rect.round_id)
    return rect


# --- carrying out ------------------------------------------------------------------------------


def evidence_allowed(rect: m.Rectification) -> Q:
    """The attachments a report of `rect` may cite (entered once): any file of the same case, and the
    rectification evidence the unit uploaded for its earlier rectifications."""
    return Q(case_id=rect.case_id) | Q(case__unit_id=rect.unit_id, purpose=m.Attachment.Purpose.RECTIFICATION)


def _evidence(rect: m.Rectification, evidence_ids: object, required: bool) -> list[m.Attachment]:
    if evidence_ids is None:
        evidence_ids = []
    if not isinstance(evidence_ids, list) or not all(
            isinstance(pk, int) and not isinstance(pk, bool) for pk in evidence_ids):
        raise ValidationError({"evidence_ids": ["必须是附件编号的列表。"]})
    wanted = set(evidence_ids)
    if required and not wanted:
        raise ValidationError({"evidence_ids": ["完成整改须提供佐证材料。"]})
    found = list(m.Attachment.objects.filter(evidence_allowed(rect), pk__in=wanted))
    missing = sorted(wanted - {a.pk for a in found})
    if missing:
        raise ValidationError({"evidence_ids": [f"附件 {', '.join(map(str, missing))} 不是本单位本次考评的材料。"]})
    return found


def _report(user: m.User, rect: m.Rectification, kind: str, text: object, evidence_ids: object,
            required: bool) -> m.RectificationReport:
    body = _text(text)
    errors: dict[str, list[str]] = {}
    if not body:
        errors["text"] = ["请填写报告内容。"]
    try:
        evidence = _evidence(rect, evidence_ids, required)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        evidence = []
    if errors:
        raise ValidationError(errors)
    report = m.RectificationReport.objects.create(rectification=rect, kind=kind, text=body, reported_by=user)
    report.evidence.set(evidence)
    return report


@transaction.atomic
def report_progress(*, user: m.User, rectification: m.Rectification, text: str,
                    evidence_ids: list[int] | None = None) -> m.RectificationReport:
    """The unit's staff report progress while the rectification is being carried out."""
    rect = _lock(rectification)
    _require(access.can_draft_rectification(user, rect), "只有本单位填报人员可以报告整改进展。")
    _require_status(rect, S.IN_PROGRESS)
    report = _report(user, rect, m.RectificationReport.Kind.PROGRESS, text, evidence_ids, required=False)
    audit(actor=user, action="rectification.progress", obj=rect, round_id=rect.round_id,
          after={"report": report.pk, "evidence": sorted(a.pk for a in report.evidence.all())})
    return report


@transaction.atomic
def report_completion(*, user: m.User, rectification: m.Rectification, text: str,
                      evidence_ids: list[int] | None = None) -> m.RectificationReport:
    """The unit's staff report the rectification complete, with its evidence: on to verification."""
    rect = _lock(rectification)
    _require(access.can_draft_rectification(user, rect), "只有本单位填报人员可以报告整改完成。")
    _require_status(rect, S.IN_PROGRESS)
    report = _report(user, rect, m.RectificationReport.Kind.COMPLETION, text, evidence_ids, required=True)
    _set_status(rect, S.VERIFYING)
    audit(actor=user, action="rectification.complete", obj=rect, round_id=rect.round_id,
          after={"report": report.pk, "evidence": sorted(a.pk for a in report.evidence.all())})
    return report


@transaction.atomic
def verify(*, user: m.User, rectification: m.Rectification, approve: bool, comment: str = "") -> m.Rectification:
    """The group leader (or deputy) or the office verifies the completion: closed (销号), or returned to
    the unit to carry on, with a comment."""
    rect = _lock(rectification)
    _require(access.can_review_rectification(user, rect), "只有考评组组长、副组长或考核办可以验收整改。")
    _require_status(rect, S.VERIFYING)
    text = _decision_comment(approve, comment)
    _review(rect, user, m.RectificationReview.Stage.VERIFICATION, approve, text)
    if approve:
        _set_status(rect, S.CLOSED, closed_at=timezone.now(), verified_by=user)
    else:
        _set_status(rect, S.IN_PROGRESS)
    audit(actor=user, action="rectification.close" if approve else "rectification.verify_return", obj=rect,
          comment=text, round_id=rect.round_id)
    return rect


# --- publication (seed 004: a closed rectification is shown to the public for at least 30 days) --------------


def publication_record(*, user: m.User, rectification: m.Rectification, published_from: date,
                       published_until: date, where: str) -> m.Rectification:
    """The office records where and for how long a closed rectification is published (公示); every bad field
    is named: the period must last at least 30 days, the place must be given."""
    require_office(user)
    errors: dict[str, list[str]] = {}
    if not where.strip():
        errors["where"] = ["请填写公示位置（如门户网站栏目、公示栏）。"]
    if (published_until - published_from).days + 1 < PUBLICATION_MIN_DAYS:
        errors["published_until"] = [f"公示期不少于 {PUBLICATION_MIN_DAYS} 天。"]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        rect = _lock(rectification)
        _require_status(rect, m.RectificationStatus.CLOSED)
        before = {"published_from": str(rect.published_from or ""), "published_until": str(rect.published_until or ""),
                  "published_where": rect.published_where}
        rect.published_from, rect.published_until, rect.published_where = published_from, published_until, where.strip()
        rect.updated = timezone.now()
        rect.save(update_fields=["published_from", "published_until", "published_where", "updated"])
        audit(actor=user, action="rectification.publish", obj=rect, round_id=rect.round_id, before=before,
              after={"published_from": str(published_from), "published_until": str(published_until),
                     "published_where": rect.published_where})
    return rect


def dues_change(*, user: m.User, rectification: m.Rectification, plan_due: date, due_date: date,
                reason: str) -> m.Rectification:
    """The office moves a rectification's dates (延期, or an earlier date), with a reason; audited. The open
    step's task follows (workflow.signals: its due, its reminders, its people told). Every bad field is
    named: a date already past, a plan due after the rectification's own, no reason."""
    require_office(user)
    today = _today()
    errors: dict[str, list[str]] = {}
    if not reason.strip():
        errors["reason"] = ["请填写调整期限的理由。"]
    if due_date < today:
        errors["due_date"] = ["整改完成截止不能早于今天。"]
    if plan_due > due_date:
        errors["plan_due"] = ["方案报送截止不能晚于整改完成截止。"]
    with transaction.atomic():
        rect = _lock(rectification)
        _require_status(rect, S.PLANNING, S.SIGNING, S.PLAN_REVIEW, S.IN_PROGRESS, S.VERIFYING)
        if plan_due != rect.plan_due and plan_due < today:
            errors["plan_due"] = ["方案报送截止不能早于今天。"]
        if errors:
            raise ValidationError(errors)
        before = {"plan_due": rect.plan_due.isoformat(), "due_date": rect.due_date.isoformat()}
        rect.plan_due, rect.due_date, rect.updated = plan_due, due_date, timezone.now()
        rect.save(update_fields=["plan_due", "due_date", "updated"])
        audit(actor=user, action="rectification.dues", obj=rect, round_id=rect.round_id, before=before,
              after={"plan_due": plan_due.isoformat(), "due_date": due_date.isoformat()}, comment=reason.strip())
    return rect
