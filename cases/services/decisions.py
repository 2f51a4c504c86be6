"""The case's status as its process moves, and the group's decisions on it: the panel score
override and the proposed grade (under the round's per-group quotas)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cases import access
from cases import models as m
from cases.db import update_row
from cases.errors import Conflict
from cases.scoring import round_config
from cases.scoring.adapter import grade_quota
from cases.services.audit import audit
from cases.services.common import parse_points


# No savepoint of its own (two statements fewer per call): its callers are the flow's steps, each in the
# transaction of its task action, which any error here ends whole; called alone it is its own transaction.
@transaction.atomic(savepoint=False)
def case_set_status(*, user: m.User | None, case: m.Case, status: str) -> m.Case:
    """Move the case to `status` (a done case gets its finishing time). `user=None`: the flow's own
    step (the case finishing after its review)."""
    before = {"status": case.status}
    case.status = status
    fields = ["status"]
    if status == m.CaseStatus.DONE:
        case.finished_at = timezone.now()
        fields.append("finished_at")
    update_row(case, fields)  # prepared: every step of a case's flow moves it
    audit(actor=user, action="case.status", obj=case, before=before, after={"status": status},
          round_id=case.round_id)
    return case


def _require_open_for_decisions(round: m.Round, case: m.Case) -> None:
    """Group decisions (panel override, grade proposal) stop once the results go to the leader; when the
    leader returns them to one group, only that group's are open again."""
    if round.results_frozen_at or round.status not in (m.RoundStatus.RUNNING, m.RoundStatus.COMPILING):
        raise Conflict("结果已提交领导审定，不能再调整。")
    if round.reopened_group_id is not None and case.group_id != round.reopened_group_id:
        raise Conflict("本轮结果已退回其他考评组复核，本组的评审结果暂不能调整。")


@transaction.atomic
def case_set_panel_override(*, user: m.User, case: m.Case, panel: object, reason: str) -> m.Case:
    """The group leader replaces the aggregated panel score (or clears it with panel=None)."""
    if not access.can_lead_group(user, case.group_id):
        raise PermissionDenied("只有组长或副组长可以调整评审分数。")
    _require_open_for_decisions(case.round, case)
    value = None if panel in (None, "") else parse_points(panel, "panel")
    if value is not None:
        if value > case.round.rubric.total_max:
            raise ValidationError({"panel": [f"不能超过满分 {case.round.rubric.total_max}。"]})
        if not reason.strip():
            raise ValidationError({"reason": ["调整分数必须说明理由。"]})
    before = {"panel_override": str(case.panel_override) if case.panel_override is not None else None}
    case.panel_override = value
    case.panel_override_reason = reason if value is not None else ""
    case.save(update_fields=["panel_override", "panel_override_reason"])
    audit(actor=user, action="case.panel_override", obj=case, before=before,
          after={"panel_override": str(value) if value is not None else None}, comment=reason, round_id=case.round_id)
    return case


@transaction.atomic
def case_propose_grade(*, user: m.User, case: m.Case, grade: str) -> m.Case:
    """The group leader proposes the case's grade. Where the round sets per-group quotas
    (config "group_quotas": {"优秀": "25"}), a proposal over the quota is refused at once."""
    if not access.can_lead_group(user, case.group_id):
        raise PermissionDenied("只有组长或副组长可以提出等次建议。")
    _require_open_for_decisions(case.round, case)
    bands = round_config.grade_names(case.round.config)
    if grade and bands and grade not in bands:
        raise ValidationError({"grade": [f"等次必须是：{'、'.join(bands)}。"]})
    quota_percent = (case.round.config.get("group_quotas") or {}).get(grade)
    if grade and quota_percent is not None:
        # Lock the group so that two leaders proposing at once cannot both take the last place.
        m.Group.objects.select_for_update().filter(pk=case.group_id).exists()
        size = m.Case.objects.filter(group_id=case.group_id).count()
        quota = grade_quota(quota_percent, size)
        taken = m.Case.objects.filter(group_id=case.group_id, proposed_grade=grade).exclude(pk=case.pk).count()
        if taken >= quota:
            raise ValidationError({"grade": [f"{case.group.name}“{grade}”名额已满（{taken}/{quota}）。"]})
    before = {"proposed_grade": case.proposed_grade}
    case.proposed_grade = grade
    case.save(update_fields=["proposed_grade"])
    audit(actor=user, action="case.propose_grade", obj=case, before=before, after={"proposed_grade": grade},
          round_id=case.round_id)
    return case


def grade_first_review_problems(case: m.Case, grade: str | None) -> dict[str, list[str]]:
    """What stops the group leader from finishing a grade-first case's review (seed 000): the grade must have
    been decided (and returned to the experts, whose sheets are then scored within its band); a different
    grade now would need the sheets scored again."""
    if not case.proposed_grade:
        return {"grade": ["请先根据专家的档次建议确定档次，并退回评分表由专家在档次内赋分。"]}
    if grade and grade != case.proposed_grade:
        return {"grade": [f"档次已定为“{case.proposed_grade}”；如需改变，请退回评分表由专家重新赋分。"]}
    if case.score_sheets.filter(status=m.SheetStatus.SUBMITTED).exclude(proposed_grade="").exists():
        return {"sheets": ["还有专家的评分表只是档次建议，请退回由专家在档次内赋分。"]}
    return {}
