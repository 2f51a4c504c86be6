"""Domain writes. Keyword-only, atomic, audited; they validate and raise before changing anything.

Errors: django ValidationError (field -> messages) for bad input, PermissionDenied for a user
who may not do this, `cases.errors.Conflict` for a state that no longer allows it.
"""

import hashlib
from decimal import Decimal, InvalidOperation
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.scoring import engine as scoring
from cases.scoring import round_config
from cases.scoring.adapter import grade_quota, sheet_total
from cases.scoring.adapter import rubric_items as _rubric_items


def audit(*, actor, action: str, obj, before=None, after=None, comment: str = "", round_id=None) -> None:
    m.AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        round_id=round_id,
        before=before,
        after=after,
        comment=comment,
    )


def parse_points(value, field: str) -> Decimal:
    """A non-negative amount with at most two decimals, from a string or number (never float maths)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: ["必须是数字。"]}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError({field: ["不能为负数。"]})
    if amount != amount.quantize(scoring.TWO_PLACES):
        raise ValidationError({field: ["最多两位小数。"]})
    return amount.quantize(scoring.TWO_PLACES)


# --- self-assessment --------------------------------------------------------------------------


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


def _validate_self_scores(case: m.Case, self_scores) -> dict:
    if not isinstance(self_scores, dict):
        raise ValidationError({"self_scores": ["必须是以评分项编码为键的对象。"]})
    items = {i.code: i for i in case.round.rubric.items.all()}
    errors, cleaned = [], {}
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


@transaction.atomic
def submission_save(*, user, case: m.Case, report=None, self_scores=None, statistics=None) -> m.Submission:
    """Save the unit's self-assessment draft (report, self-scores, statistics table)."""
    if not access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF):
        raise PermissionDenied("只有本单位填报员可以填写自评材料。")
    # Lock the case: two colleagues saving the first draft at once must not both start attempt 1.
    status = (m.Case.objects.select_for_update(of=("self",)).filter(pk=case.pk).order_by()
              .values_list("status", flat=True).first())
    if status != m.CaseStatus.PREPARE:
        raise Conflict("当前阶段不能修改自评材料。")
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
    if errors:
        raise ValidationError(errors)
    cleaned_scores = _validate_self_scores(case, self_scores) if self_scores is not None else None
    sub = _current_submission(case)
    if report is not None:
        sub.report = report
    if cleaned_scores is not None:
        sub.self_scores = cleaned_scores
    if statistics is not None:
        sub.statistics = statistics
    sub.save()
    return sub


@transaction.atomic
def submission_submit(*, user, case: m.Case, due=None) -> m.Submission:
    """Hand the self-assessment to the unit head. Flags (and audits) a late submission: later than
    `due` (the workflow passes the task's effective, possibly extended, due) or the round's prepare due."""
    sub = submission_save(user=user, case=case)
    if not sub.report.strip():
        raise ValidationError({"report": ["请填写自评报告后再提交。"]})
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
def submission_sign_off(*, user, case: m.Case, approve: bool, comment: str = "") -> m.Submission:
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


# --- inspection -------------------------------------------------------------------------------


def _require_finding_recorder(user, case: m.Case) -> None:
    """Findings: the group during its inspection; the office (complaints 投诉查处 and public criticism
    通报批评 reach it at any time) until the round's results are approved."""
    if access.is_office(user):
        if case.status == m.CaseStatus.DRAFT or case.round.results_frozen_at:
            raise Conflict("当前阶段不能记录问题。")
        return
    _require_inspector(user, case)


def _require_inspector(user, case: m.Case) -> None:
    if not access.can_record_inspection(user, case):
        raise PermissionDenied("只有本组考评人员可以记录检查情况。")
    if case.status in (m.CaseStatus.DRAFT, m.CaseStatus.DONE):
        raise Conflict("当前阶段不能记录检查情况。")


@transaction.atomic
def inspection_record_create(*, user, case: m.Case, **fields) -> m.InspectionRecord:
    _require_inspector(user, case)
    record = m.InspectionRecord(case=case, created_by=user, **fields)
    record.full_clean()
    record.save()
    audit(actor=user, action="inspection.create", obj=record, round_id=case.round_id)
    return record


@transaction.atomic
def finding_create(*, user, case: m.Case, **fields) -> m.Finding:
    _require_finding_recorder(user, case)
    item = fields.get("item")
    if item is not None and item.rubric_id != case.round.rubric_id:
        raise ValidationError({"item": ["评分项不属于本轮考评的细则。"]})
    finding = m.Finding(case=case, created_by=user, **fields)
    finding.full_clean()
    finding.save()
    audit(
        actor=user,
        action="finding.create",
        obj=finding,
        after={"deduction_amount": str(finding.deduction_amount), "occurrences": finding.occurrences},
        round_id=case.round_id,
    )
    return finding


@transaction.atomic
def special_bonus_create(*, user, case: m.Case, level: str, title: str, amount) -> m.SpecialBonus:
    """The office grants a special bonus for an honour (seed 002: 国家级 3, 自治区/兵团级 2, 师级 1);
    the engine caps the unit's total at the rubric's special_bonus_cap."""
    _require_office(user)
    if case.round.results_frozen_at:
        raise Conflict("结果已经领导审定，不能再加分。")
    bonus = m.SpecialBonus(case=case, level=level, title=title, amount=parse_points(amount, "amount"),
                           granted_by=user)
    bonus.full_clean()
    bonus.save()
    audit(actor=user, action="special_bonus.create", obj=bonus, after={"amount": str(bonus.amount), "level": level},
          comment=title, round_id=case.round_id)
    return bonus


# --- score sheets -----------------------------------------------------------------------------


def score_sheet_open(*, case: m.Case, expert) -> m.ScoreSheet:
    """The expert's open sheet for the case, creating the first attempt if there is none. Only an
    expert of the case's group who is not from the unit itself (recusal) has one."""
    sheet = case.score_sheets.filter(expert=expert).exclude(status=m.SheetStatus.RETURNED).order_by("-attempt").first()
    if sheet is None:
        if not access.scoring_experts(case.group_id, case.unit_id).filter(user=expert).exists():
            raise PermissionDenied("只有本组评分专家（本单位人员回避）可以评分。")
        sheet = m.ScoreSheet.objects.create(case=case, expert=expert)
    return sheet


def _clean_item_scores(sheet: m.ScoreSheet, items) -> list[dict]:
    if not isinstance(items, list):
        raise ValidationError({"items": ["必须是列表。"]})
    rubric_items = {i.code: i for i in _rubric_items(sheet.case.round.rubric)}
    errors, cleaned, seen = [], [], set()
    for n, row in enumerate(items):
        if not isinstance(row, dict) or "item" not in row:
            errors.append(f"items[{n}]: 需要 item 字段。")
            continue
        code = row["item"]
        item = rubric_items.get(code)
        if item is None:
            errors.append(f"items[{n}].item: 未知的评分项 {code}。")
            continue
        if code in seen:
            errors.append(f"items[{n}].item: 评分项 {code} 重复。")
            continue
        seen.add(code)
        try:
            deduction = parse_points(row.get("deduction", "0"), "deduction")
            bonus = parse_points(row.get("bonus", "0"), "bonus")
        except ValidationError as exc:
            for field, msgs in exc.message_dict.items():
                errors.extend(f"items[{n}].{field}: {msg}" for msg in msgs)
            continue
        if deduction > item.max_points:
            errors.append(f"items[{n}].deduction: 扣分不能超过该项分值 {item.max_points}。")
        if bonus > item.bonus_cap:
            errors.append(f"items[{n}].bonus: 加分不能超过该项加分上限 {item.bonus_cap}。")
        reason = str(row.get("reason", "")).strip()
        cleaned.append({"item": item, "deduction": deduction, "bonus": bonus, "reason": reason})
    if errors:
        raise ValidationError({"items": errors})
    return cleaned


def _require_sheet_owner(user, sheet: m.ScoreSheet) -> None:
    """The expert's own draft sheet, locked for the rest of the transaction: a save racing a submit
    of the same sheet must not rewrite its items after its total and audit entry are written. Only
    the sheet's row: its default ordering would join (and lock) the case, round, group and unit."""
    if sheet.expert_id != user.pk:
        raise PermissionDenied("只能填写本人的评分表。")
    status = (m.ScoreSheet.objects.select_for_update(of=("self",)).filter(pk=sheet.pk).order_by()
              .values_list("status", flat=True).first())
    if status != m.SheetStatus.DRAFT:
        raise Conflict("评分表已提交，不能修改。")


def _write_item_scores(sheet: m.ScoreSheet, items, reason: str | None) -> list[m.ItemScore]:
    """Replace the given item scores (items not given keep their values); the sheet's scores after."""
    cleaned = _clean_item_scores(sheet, items)
    existing = {s.item_id: s for s in sheet.item_scores.order_by()}
    to_create, to_update = [], []
    for row in cleaned:
        score = existing.get(row["item"].pk)
        if score is None:
            to_create.append(m.ItemScore(sheet=sheet, **row))
        else:
            score.deduction, score.bonus, score.reason = row["deduction"], row["bonus"], row["reason"]
            to_update.append(score)
    m.ItemScore.objects.bulk_create(to_create)
    m.ItemScore.objects.bulk_update(to_update, ["deduction", "bonus", "reason"])
    if reason is not None:
        sheet.reason = reason
        sheet.save(update_fields=["reason"])
    return [*existing.values(), *to_create]


@transaction.atomic
def score_sheet_save(*, user, sheet: m.ScoreSheet, items, reason: str | None = None) -> m.ScoreSheet:
    """Replace the given item scores on a draft sheet (items not given keep their values)."""
    _require_sheet_owner(user, sheet)
    _write_item_scores(sheet, items, reason)
    return sheet


@transaction.atomic
def score_sheet_submit(*, user, sheet: m.ScoreSheet, items=None, reason: str | None = None) -> m.ScoreSheet:
    """Save the given item scores and reason as `score_sheet_save` does, if any, and lock the sheet.
    Checks at entry: a deduction needs a reason; full marks on every item or a total below the
    round's threshold needs a written reason for the whole sheet."""
    _require_sheet_owner(user, sheet)
    if items is not None or reason is not None:
        scores = _write_item_scores(sheet, [] if items is None else items, reason)
    else:
        scores = list(sheet.item_scores.order_by())
    errors: dict[str, list[str]] = {}
    rubric = sheet.case.round.rubric
    items_by_pk = {item.pk: item for item in _rubric_items(rubric)}  # in the rubric's order
    order = {pk: n for n, pk in enumerate(items_by_pk)}
    for score in sorted(scores, key=lambda score: order.get(score.item_id, len(order))):
        if (score.deduction > 0 or score.bonus > 0) and not score.reason:
            code = (items_by_pk.get(score.item_id) or score.item).code
            errors.setdefault("items", []).append(f"{code}: 扣分或加分必须说明理由。")
    total = sheet_total(sheet, scores)
    low = sheet.case.round.config.get("low_total_threshold")
    if not sheet.reason.strip():
        if all(s.deduction == 0 for s in scores):
            errors.setdefault("reason", []).append("全部满分的评分表必须填写说明。")
        if low is not None and total < Decimal(str(low)):
            errors.setdefault("reason", []).append(f"总分低于{low}分的评分表必须填写说明。")
    if errors:
        raise ValidationError(errors)
    sheet.status = m.SheetStatus.SUBMITTED
    sheet.total = total
    sheet.submitted_at = timezone.now()
    sheet.save(update_fields=["status", "total", "submitted_at"])
    audit(
        actor=user,
        action="score_sheet.submit",
        obj=sheet,
        after={"total": str(total), "rubric": rubric.code},
        round_id=sheet.case.round_id,
    )
    return sheet


@transaction.atomic
def score_sheet_return(*, user, sheet: m.ScoreSheet, comment: str) -> m.ScoreSheet:
    """The group leader returns a submitted sheet; the expert continues on a copy (a new attempt)."""
    if not access.can_lead_group(user, sheet.case.group_id):
        raise PermissionDenied("只有组长或副组长可以退回评分表。")
    if sheet.status != m.SheetStatus.SUBMITTED:
        raise Conflict("只能退回已提交的评分表。")
    if not comment.strip():
        raise ValidationError({"comment": ["退回时必须填写意见。"]})
    sheet.status = m.SheetStatus.RETURNED
    sheet.return_comment = comment
    sheet.returned_by = user
    sheet.save(update_fields=["status", "return_comment", "returned_by"])
    copy = m.ScoreSheet.objects.create(
        case=sheet.case, expert=sheet.expert, attempt=sheet.attempt + 1, reason=sheet.reason
    )
    m.ItemScore.objects.bulk_create(
        m.ItemScore(sheet=copy, item_id=s.item_id, deduction=s.deduction, bonus=s.bonus, reason=s.reason)
        for s in sheet.item_scores.all()
    )
    audit(
        actor=user,
        action="score_sheet.return",
        obj=sheet,
        before={"total": str(sheet.total)},
        comment=comment,
        round_id=sheet.case.round_id,
    )
    return copy


def case_set_status(*, case: m.Case, status: str) -> None:
    case.status = status
    fields = ["status"]
    if status == m.CaseStatus.DONE:
        case.finished_at = timezone.now()
        fields.append("finished_at")
    case.save(update_fields=fields)


# --- round setup (office) ---------------------------------------------------------------------


def _require_office(user) -> None:
    if not access.is_office(user):
        raise PermissionDenied("只有考核办可以进行此操作。")


def _require_draft(round: m.Round) -> None:
    if round.status != m.RoundStatus.DRAFT:
        raise Conflict("考评已启动，分组与单位不能再修改。")


@transaction.atomic
def group_create(*, user, round: m.Round, number: int, name: str, phone: str = "",
                 members: list[dict], units: list[m.Unit]) -> m.Group:
    """Create a group with its people and units; each unit gets its case in the round."""
    _require_office(user)
    _require_draft(round)
    taken = m.Case.objects.filter(round=round, unit__in=units).select_related("unit", "group")
    errors = {"units": [f"{c.unit.name}已在{c.group.name}。" for c in taken]}
    pairs = [(member["user"].pk, member["role"]) for member in members]
    if len(set(pairs)) != len(pairs):
        errors["members"] = ["同一人员的同一角色重复。"]
    if m.Group.objects.filter(round=round, number=number).exists():
        errors["number"] = [f"第{number}组已存在。"]
    if any(errors.values()):
        raise ValidationError({k: v for k, v in errors.items() if v})
    group = m.Group.objects.create(round=round, number=number, name=name, phone=phone)
    m.GroupMember.objects.bulk_create(
        m.GroupMember(group=group, user=member["user"], role=member["role"]) for member in members
    )
    m.Case.objects.bulk_create(m.Case(round=round, unit=unit, group=group) for unit in units)
    audit(actor=user, action="group.create", obj=group, after={"units": [u.pk for u in units]}, round_id=round.pk)
    return group


def round_problems(dues: dict, config) -> dict[str, list[str]]:
    """What is wrong with a round's phase dues (each not before the previous phase's) and its
    configuration, as {field: [messages]}; for the services, and for the admin form's errors."""
    errors: dict[str, list[str]] = {}
    for a, b in zip(m.Round.DUE_FIELDS, m.Round.DUE_FIELDS[1:]):
        if dues.get(a) and dues.get(b) and dues[b] < dues[a]:
            errors[b] = [f"不能早于 {a}。"]
    found = round_config.problems(config)
    if found:
        errors["config"] = found
    return errors


def _check_round(round: m.Round) -> None:
    errors = round_problems({k: getattr(round, k) for k in m.Round.DUE_FIELDS}, round.config)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def round_create(*, user, **fields) -> m.Round:
    _require_office(user)
    round = m.Round(created_by=user, **fields)
    _check_round(round)
    round.save()
    audit(actor=user, action="round.create", obj=round, round_id=round.pk)
    return round


@transaction.atomic
def round_update(*, user, round: m.Round, **fields) -> m.Round:
    """Edit a round; changing a deadline after launch is audited with before/after."""
    _require_office(user)
    before = {k: getattr(round, k).isoformat() for k in m.Round.DUE_FIELDS if k in fields}
    if round.status != m.RoundStatus.DRAFT and set(fields) - set(m.Round.DUE_FIELDS):
        raise Conflict("考评已启动，只能调整期限。")
    for key, value in fields.items():
        setattr(round, key, value)
    _check_round(round)
    round.save()
    after = {k: getattr(round, k).isoformat() for k in before}
    audit(actor=user, action="round.update", obj=round, before=before, after=after, round_id=round.pk)
    return round


# --- attachments ------------------------------------------------------------------------------


@transaction.atomic
def attachment_create(*, user, case: m.Case, purpose: str, upload, item_codes=(), inspection_id=None) -> m.Attachment:
    """Store an uploaded file on a case. Evidence is the unit staff's (while preparing) and may
    attach to several rubric items (by code) at once; inspection and finding files are the group's,
    optionally of one of the case's inspection records."""
    if purpose == m.Attachment.Purpose.EVIDENCE:
        if not access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF):
            raise PermissionDenied("只有本单位填报员可以上传佐证材料。")
        if case.status != m.CaseStatus.PREPARE:
            raise Conflict("当前阶段不能上传佐证材料。")
    elif purpose in (m.Attachment.Purpose.INSPECTION, m.Attachment.Purpose.FINDING):
        _require_inspector(user, case)
    else:
        raise ValidationError({"purpose": ["未知的附件用途。"]})
    errors = {}
    extension = PurePath(upload.name).suffix.lower().lstrip(".")
    if extension not in settings.UPLOAD_ALLOWED_EXTENSIONS:
        errors["file"] = [f"不支持的文件类型 .{extension}（允许：{', '.join(settings.UPLOAD_ALLOWED_EXTENSIONS)}）。"]
    elif upload.size == 0:
        errors["file"] = ["文件为空。"]
    elif upload.size > settings.UPLOAD_MAX_BYTES:
        errors["file"] = [f"文件超过 {settings.UPLOAD_MAX_BYTES // (1024 * 1024)} MB 上限。"]
    items = list(case.round.rubric.items.filter(code__in=item_codes))
    unknown = set(item_codes) - {item.code for item in items}
    if unknown:
        errors["items"] = [f"未知的评分项：{', '.join(sorted(unknown))}"]
    inspection = case.inspections.filter(pk=inspection_id).first() if inspection_id else None
    if inspection_id and inspection is None:
        errors["inspection"] = ["检查记录不属于该单位。"]
    if errors:
        raise ValidationError(errors)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    attachment = m.Attachment.objects.create(
        case=case, purpose=purpose, inspection=inspection, file=upload, original_name=upload.name[:255],
        size=upload.size, sha256=digest.hexdigest(), uploaded_by=user,
    )
    attachment.items.set(items)
    audit(actor=user, action="attachment.create", obj=attachment,
          after={"name": attachment.original_name, "sha256": attachment.sha256}, round_id=case.round_id)
    return attachment


@transaction.atomic
def group_set_units(*, user, group: m.Group, units: list[m.Unit]) -> m.Group:
    """Set the units a group assesses in its (still draft) round; each unit keeps one case per round."""
    _require_office(user)
    _require_draft(group.round)
    taken = (m.Case.objects.filter(round=group.round, unit__in=units).exclude(group=group)
             .select_related("unit", "group"))
    errors = [f"{c.unit.name}已在{c.group.name}。" for c in taken]
    if errors:
        raise ValidationError({"units": errors})
    before = sorted(group.cases.values_list("unit_id", flat=True))
    group.cases.exclude(unit__in=units).delete()
    existing = set(group.cases.values_list("unit_id", flat=True))
    m.Case.objects.bulk_create(m.Case(round=group.round, unit=u, group=group) for u in units if u.pk not in existing)
    audit(actor=user, action="group.set_units", obj=group, before={"units": before},
          after={"units": sorted(u.pk for u in units)}, round_id=group.round_id)
    return group


def _require_open_for_decisions(round: m.Round) -> None:
    """Group decisions (panel override, grade proposal) stop once the results go to the leader."""
    if round.results_frozen_at or round.status not in (m.RoundStatus.RUNNING, m.RoundStatus.COMPILING):
        raise Conflict("结果已提交领导审定，不能再调整。")


@transaction.atomic
def case_set_panel_override(*, user, case: m.Case, panel, reason: str) -> m.Case:
    """The group leader replaces the aggregated panel score (or clears it with panel=None)."""
    if not access.can_lead_group(user, case.group_id):
        raise PermissionDenied("只有组长或副组长可以调整评审分数。")
    _require_open_for_decisions(case.round)
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
def case_propose_grade(*, user, case: m.Case, grade: str) -> m.Case:
    """The group leader proposes the case's grade. Where the round sets per-group quotas
    (config "group_quotas": {"优秀": "25"}), a proposal over the quota is refused at once."""
    if not access.can_lead_group(user, case.group_id):
        raise PermissionDenied("只有组长或副组长可以提出等次建议。")
    _require_open_for_decisions(case.round)
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


# --- units ------------------------------------------------------------------------------------


@transaction.atomic
def unit_create(*, user, **fields) -> m.Unit:
    _require_office(user)
    unit = m.Unit.objects.create(**fields)
    audit(actor=user, action="unit.create", obj=unit, after={"code": unit.code, "name": unit.name})
    return unit


@transaction.atomic
def unit_update(*, user, unit: m.Unit, **fields) -> m.Unit:
    _require_office(user)
    before = {k: str(getattr(unit, k)) for k in fields}
    for key, value in fields.items():
        setattr(unit, key, value)
    unit.save()
    audit(actor=user, action="unit.update", obj=unit, before=before, after={k: str(getattr(unit, k)) for k in fields})
    return unit
