"""The unit's self-assessment (report, self-scores, statistics table) and its head's sign-off.

Input comes as the user sent it (JSON or a form), so the values are checked here, not trusted.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.party_building import selfcheck
from cases.services.audit import audit
from cases.services.common import parse_points


def _current_submission(case: m.Case) -> m.Submission:
    sub = case.submissions.order_by("-attempt").first()
    if sub is None or sub.status == m.SubmissionStatus.RETURNED:
        previous = sub
        sub = m.Submission.objects.create(
            case=case,
            attempt=(previous.attempt + 1) if previous else 1,
            # Enter once: a returned report comes back as the starting point of the next attempt.
            report=previous.report if previous else "",
            self_scores=previous.self_scores if previous else {},
            statistics=previous.statistics if previous else {},
        )
    return sub


def _validate_self_scores(case: m.Case, self_scores: object) -> dict[str, str]:
    if not isinstance(self_scores, dict):
        raise ValidationError({"self_scores": ["必须是以评分项编码为键的对象。"]})
    items = {i.code: i for i in case.round.rubric.items.all()}
    errors: list[str] = []
    cleaned: dict[str, str] = {}
    for code, value in self_scores.items():
        item = items.get(code)
        if item is None:
            errors.append(f"{code}: 未知的评分项。")
            continue
        try:
            points = parse_points(value, "self_scores")
        except ValidationError:
            errors.append(f"{code}: 必须是不超过两位小数的非负数。")
            continue
        if points > item.max_points + item.bonus_cap:
            errors.append(f"{code}: 不能超过该项满分 {item.max_points}。")
            continue
        cleaned[code] = str(points)
    if errors:
        raise ValidationError({"self_scores": errors})
    return cleaned


def _check_draft(case: m.Case, report: object, statistics: object) -> None:
    errors = {}
    if report is not None:
        if not isinstance(report, str):
            errors["report"] = ["必须是文本。"]
        elif len(report) > case.round.report_char_limit:
            errors["report"] = [
                f"汇报材料不超过{case.round.report_char_limit}字，当前{len(report)}字。"
            ]
    if statistics is not None and not isinstance(statistics, dict):
        errors["statistics"] = ["必须是对象。"]
    elif statistics is not None:
        # A round with a self-check table (seed 001) takes only its rows' counts (docs/party-building.md).
        rows = selfcheck.table(case.round.config or {}, case.round.rubric.spec)
        if rows is not None:
            try:
                selfcheck.clean_counts(rows, statistics, field="statistics")
            except ValidationError as exc:
                errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


# Sent inside `submission_save`'s transaction before the draft is written (kwargs `user`, `case`):
# saving a draft is taking up the unit's task, and who holds that task is the workflow's to say —
# its receiver claims the task for the saver or raises (a colleague holds it: Conflict), which
# refuses the save. The domain knows no engine; it only announces the write.
draft_saving = Signal()


@transaction.atomic
def submission_save(*, user: m.User, case: m.Case, report: object = None, self_scores: object = None,
                    statistics: object = None) -> m.Submission:
    """Save the unit's self-assessment draft (report, self-scores, statistics table); a part not
    given (None) keeps its value."""
    if not access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF):
        raise PermissionDenied("只有本单位填报员可以填写自评材料。")
    # Lock the case: two colleagues saving the first draft at once must not both start attempt 1.
    status = (m.Case.objects.select_for_update(of=("self",)).filter(pk=case.pk).order_by()
              .values_list("status", flat=True).first())
    if status != m.CaseStatus.PREPARE:
        raise Conflict("当前阶段不能修改自评材料。")
    _check_draft(case, report, statistics)
    cleaned_scores = _validate_self_scores(case, self_scores) if self_scores is not None else None
    draft_saving.send(sender=m.Case, user=user, case=case)
    sub = _current_submission(case)
    # After _check_draft, a report or statistics that was given has the right type.
    if isinstance(report, str):
        sub.report = report
    if cleaned_scores is not None:
        sub.self_scores = cleaned_scores
    if isinstance(statistics, dict):
        sub.statistics = statistics
    sub.save()
    return sub


@transaction.atomic
def submission_submit(*, user: m.User, case: m.Case, due: datetime | None = None) -> m.Submission:
    """Hand the self-assessment to the unit head. Flags (and audits) a late submission: later than
    `due` (the workflow passes the task's effective, possibly extended, due) or the round's prepare due."""
    sub = submission_save(user=user, case=case)
    errors: dict[str, list[str]] = {}
    if not sub.report.strip():
        errors["report"] = ["请填写自评报告后再提交。"]
    rows = selfcheck.table(case.round.config or {}, case.round.rubric.spec)
    if rows is not None:  # seed 001: the self-check table is handed in with every row filled
        errors.update(selfcheck.missing(rows, sub.statistics if isinstance(sub.statistics, dict) else {}))
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    sub.status = m.SubmissionStatus.SUBMITTED
    sub.submitted_by = user
    sub.submitted_at = now
    sub.save()
    case.submitted_at = now
    case.late = now > (due or case.round.prepare_due)
    case.status = m.CaseStatus.SIGN_OFF
    case.save(update_fields=["submitted_at", "late", "status"])
    audit(actor=user, action="submission.submit", obj=sub, after={"late": case.late}, round_id=case.round_id)
    return sub


@transaction.atomic
def submission_sign_off(*, user: m.User, case: m.Case, approve: bool, comment: str = "") -> m.Submission:
    """The unit head approves the submission, or returns it to the staff with a comment."""
    if not access.is_unit_member(user, case.unit_id, m.UnitRole.HEAD):
        raise PermissionDenied("只有单位负责人可以审定。")
    sub = case.submissions.order_by("-attempt").first()
    if sub is None or sub.status != m.SubmissionStatus.SUBMITTED:
        raise Conflict("没有待审定的自评材料。")
    if not approve and not comment.strip():
        raise ValidationError({"comment": ["退回时必须填写意见。"]})
    sub.status = m.SubmissionStatus.SIGNED if approve else m.SubmissionStatus.RETURNED
    sub.reviewed_by = user
    sub.reviewed_at = timezone.now()
    sub.return_comment = "" if approve else comment
    sub.save()
    case.status = m.CaseStatus.INSPECT if approve else m.CaseStatus.PREPARE
    case.save(update_fields=["status"])
    audit(
        actor=user,
        action="submission.sign_off" if approve else "submission.return",
        obj=sub,
        comment=comment,
        round_id=case.round_id,
    )
    return sub
