"""What the group records on a case during its inspection (inspection records, findings, their
files), the unit's evidence files, and the office's special bonuses."""

import datetime as dt
import hashlib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import PurePath
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.rectification import services as rectification
from cases.services.audit import audit
from cases.services.common import parse_points, require_office
from cases.uploads import content_problems, mebibytes


def _require_inspector(user: m.User, case: m.Case) -> None:
    if not access.can_record_inspection(user, case):
        raise PermissionDenied("只有本组组长或副组长可以记录检查情况。")
    if case.status in (m.CaseStatus.DRAFT, m.CaseStatus.DONE):
        raise Conflict("当前阶段不能记录检查情况。")


def _require_finding_recorder(user: m.User, case: m.Case) -> None:
    """Findings: the group during its inspection; the office (complaints 投诉查处 and public criticism
    通报批评 reach it at any time) until the round's results are approved."""
    if access.is_office(user):
        if case.status == m.CaseStatus.DRAFT or case.round.results_frozen_at:
            raise Conflict("当前阶段不能记录问题。")
        return
    _require_inspector(user, case)


@transaction.atomic
def inspection_record_create(
    *,
    user: m.User,
    case: m.Case,
    method: str,
    date: dt.date | str | None,
    place: str = "",
    participants: str = "",
    notes: str = "",
) -> m.InspectionRecord:
    """Record an inspection visit. `date` may be the text a form posted: the model's validation
    parses it, and rejects a missing one."""
    _require_inspector(user, case)
    record = m.InspectionRecord(case=case, created_by=user, method=method, place=place, participants=participants,
                                notes=notes)
    if date is not None:  # a missing date stays unset: full_clean names it with the field's own message
        record.date = date
    record.full_clean()
    record.save()
    audit(actor=user, action="inspection.create", obj=record, round_id=case.round_id)
    return record


@transaction.atomic
def finding_create(
    *,
    user: m.User,
    case: m.Case,
    source: str,
    description: str,
    item: m.RubricItem | None = None,
    severity: str = m.Severity.LOW,
    deduction_kind: str = "",
    deduction_amount: Decimal = m.ZERO,
    occurrences: int = 1,
    requires_rectification: bool = False,
    veto: bool = False,
    bars_commendation: bool = False,
) -> m.Finding:
    """Record a problem found on the case, optionally on one rubric item and with a deduction;
    `bars_commendation`: an illegal case (违法案件, seed 003) that removes the unit's eligibility for
    commendation this year without changing its score."""
    _require_finding_recorder(user, case)
    if item is not None and item.rubric_id != case.round.rubric_id:
        raise ValidationError({"item": ["评分项不属于本轮考评的细则。"]})
    finding = m.Finding(
        case=case, created_by=user, source=source, description=description, item=item, severity=severity,
        deduction_kind=deduction_kind, deduction_amount=deduction_amount, occurrences=occurrences,
        requires_rectification=requires_rectification, veto=veto, bars_commendation=bars_commendation,
    )
    finding.full_clean()
    finding.save()
    audit(
        actor=user,
        action="finding.create",
        obj=finding,
        after={"deduction_amount": str(finding.deduction_amount), "occurrences": finding.occurrences,
               "bars_commendation": finding.bars_commendation},
        round_id=case.round_id,
    )
    rectification.finding_recorded(finding)
    return finding


@transaction.atomic
def special_bonus_create(*, user: m.User, case: m.Case, level: str, title: str, amount: object) -> m.SpecialBonus:
    """The office grants a special bonus for an honour (seed 002: 国家级 3, 自治区/兵团级 2, 师级 1);
    the engine caps the unit's total at the rubric's special_bonus_cap."""
    require_office(user)
    if case.round.results_frozen_at:
        raise Conflict("结果已经领导审定，不能再加分。")
    bonus = m.SpecialBonus(case=case, level=level, title=title, amount=parse_points(amount, "amount"),
                           granted_by=user)
    bonus.full_clean()
    bonus.save()
    audit(actor=user, action="special_bonus.create", obj=bonus, after={"amount": str(bonus.amount), "level": level},
          comment=title, round_id=case.round_id)
    return bonus


# --- corrections: a wrong record or finding is fixed (or withdrawn) until the case is reviewed ---------


def require_corrector(user: m.User, case: m.Case) -> None:
    """Corrections are the group leader's and deputies' while the case is open; once its review is
    done the record is part of the result (409). The office records complaints but does not edit the
    group's records."""
    if not access.can_record_inspection(user, case):
        raise PermissionDenied("只有本组组长或副组长可以修改检查记录和问题。")
    if case.status in (m.CaseStatus.DRAFT, m.CaseStatus.DONE) or case.round.results_frozen_at:
        raise Conflict("评审已完成，不能再修改。")


Corrected = TypeVar("Corrected", m.InspectionRecord, m.Finding)


def _locked(model: type[Corrected], pk: int) -> Corrected:
    """The row, locked for the rest of the transaction (a concurrent edit or delete waits; one that
    finds it gone gets a 409)."""
    row = model.objects.select_for_update(of=("self",)).filter(pk=pk).order_by().first()
    if row is None:
        raise Conflict("该记录已被删除。")
    return row


def _snapshot(row: m.InspectionRecord | m.Finding, fields: tuple[str, ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in fields:
        value = getattr(row, name)
        out[name] = value.pk if isinstance(value, m.RubricItem) else (
            value if isinstance(value, (bool, int, type(None))) else str(value))
    return out


RECORD_FIELDS = ("method", "date", "place", "participants", "notes")
FINDING_FIELDS = ("source", "description", "item", "severity", "deduction_kind", "deduction_amount", "occurrences",
                  "requires_rectification", "veto", "bars_commendation")


def _refuse_unknown(changes: dict[str, object], fields: tuple[str, ...]) -> None:
    unknown = set(changes) - set(fields)
    if unknown:
        raise ValidationError({name: ["未知字段。"] for name in sorted(unknown)})


def _correct(*, user: m.User, row: Corrected, fields: tuple[str, ...], changes: dict[str, object],
             action: str) -> Corrected:
    """Lock the row, apply `changes`, validate, save, and audit the values before and after."""
    locked = _locked(type(row), row.pk)
    before = _snapshot(locked, fields)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save(update_fields=list(changes) or None)
    audit(actor=user, action=action, obj=locked, before=before, after=_snapshot(locked, fields),
          round_id=row.case.round_id)
    return locked


def _withdraw(*, user: m.User, row: Corrected, fields: tuple[str, ...], action: str) -> None:
    """Delete the row under its lock; the audit entry keeps what it said."""
    locked = _locked(type(row), row.pk)
    audit(actor=user, action=action, obj=locked, before=_snapshot(locked, fields), round_id=row.case.round_id)
    locked.delete()


@transaction.atomic
def inspection_record_update(*, user: m.User, record: m.InspectionRecord, **changes: object) -> m.InspectionRecord:
    """Correct an inspection record (only the fields given); audited with the values before and after."""
    _refuse_unknown(changes, RECORD_FIELDS)
    require_corrector(user, record.case)
    return _correct(user=user, row=record, fields=RECORD_FIELDS, changes=changes, action="inspection.update")


@transaction.atomic
def inspection_record_delete(*, user: m.User, record: m.InspectionRecord) -> None:
    """Withdraw a wrong inspection record; the audit entry keeps what it said."""
    require_corrector(user, record.case)
    _withdraw(user=user, row=record, fields=RECORD_FIELDS, action="inspection.delete")


@transaction.atomic
def finding_update(*, user: m.User, finding: m.Finding, **changes: object) -> m.Finding:
    """Correct a finding (only the fields given; an amount by the one parser); audited with the
    values before and after."""
    _refuse_unknown(changes, FINDING_FIELDS)
    case = finding.case
    require_corrector(user, case)
    item = changes.get("item")
    if isinstance(item, m.RubricItem) and item.rubric_id != case.round.rubric_id:
        raise ValidationError({"item": ["评分项不属于本轮考评的细则。"]})
    if "deduction_amount" in changes:
        changes["deduction_amount"] = parse_points(changes["deduction_amount"], "deduction_amount")
    if changes.get("requires_rectification") is False:
        _require_no_rectification(finding)
    corrected = _correct(user=user, row=finding, fields=FINDING_FIELDS, changes=changes, action="finding.update")
    rectification.finding_recorded(corrected)
    return corrected


def _require_no_rectification(finding: m.Finding) -> None:
    """A finding whose rectification has started is the rectification's subject: it stays as it is."""
    if m.Rectification.objects.filter(finding=finding).exists():
        raise Conflict("该问题已启动整改，不能撤回或取消整改要求。")


@transaction.atomic
def finding_delete(*, user: m.User, finding: m.Finding) -> None:
    """Withdraw a wrong finding; the audit entry keeps what it said."""
    require_corrector(user, finding.case)
    _require_no_rectification(finding)
    _withdraw(user=user, row=finding, fields=FINDING_FIELDS, action="finding.delete")


# --- attachments ------------------------------------------------------------------------------


def _require_uploader(user: m.User, case: m.Case, purpose: str) -> None:
    """Evidence is the unit staff's (while preparing); inspection and finding files are the group's."""
    if purpose == m.Attachment.Purpose.EVIDENCE:
        if not access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF):
            raise PermissionDenied("只有本单位填报员可以上传佐证材料。")
        if case.status != m.CaseStatus.PREPARE:
            raise Conflict("当前阶段不能上传佐证材料。")
    elif purpose in (m.Attachment.Purpose.INSPECTION, m.Attachment.Purpose.FINDING):
        _require_inspector(user, case)
    elif purpose == m.Attachment.Purpose.RECTIFICATION:
        # Rectification evidence: the unit's staff, while one of the case's rectifications is open.
        if not access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF):
            raise PermissionDenied("只有本单位填报员可以上传整改佐证材料。")
        if not case.rectifications.exclude(status=m.RectificationStatus.CLOSED).exists():
            raise Conflict("该单位没有正在进行的整改，不能上传整改佐证材料。")
    elif purpose == m.Attachment.Purpose.OBJECTION:
        # Evidence for an objection (异议): the unit's staff, while the round's results are published.
        from cases.objections.services import publication_is_open  # the objections build on this module's area

        if not access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF):
            raise PermissionDenied("只有本单位填报员可以上传异议佐证材料。")
        if not publication_is_open(case.round):
            raise Conflict("不在公示期内，不能上传异议佐证材料。")
    else:
        raise ValidationError({"purpose": ["未知的附件用途。"]})


def attachment_require_uploader(*, user: m.User, case: m.Case) -> None:
    """Whether the user may upload to the case at all (its unit's staff, or its group during the
    inspection): checked before the upload's body is read, so nobody else gets to send one. The
    purpose-specific check follows in attachment_create."""
    if not (access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF) or access.can_record_inspection(user, case)):
        raise PermissionDenied("无权向该单位上传附件。")


def _file_problems(upload: "UploadedFile[bytes]", name: str, size: int) -> list[str]:
    extension = PurePath(name).suffix.lower().lstrip(".")
    if extension not in settings.UPLOAD_ALLOWED_EXTENSIONS:
        return [f"不支持的文件类型 .{extension}（允许：{', '.join(settings.UPLOAD_ALLOWED_EXTENSIONS)}）。"]
    if size == 0:
        return ["文件为空。"]
    if size > settings.UPLOAD_MAX_BYTES:
        return [f"文件超过 {mebibytes(settings.UPLOAD_MAX_BYTES)} 上限。"]
    # An HTML page named report.pdf must not be stored (and later served) as a PDF.
    return content_problems(name, upload)


@transaction.atomic
def attachment_create(*, user: m.User, case: m.Case, purpose: str, upload: "UploadedFile[bytes]",
                      item_codes: Sequence[str] = (), inspection_id: int | None = None) -> m.Attachment:
    """Store an uploaded file on a case. Evidence may attach to several rubric items (by code) at
    once; inspection and finding files optionally to one of the case's inspection records."""
    _require_uploader(user, case, purpose)
    # An upload always has a name and a size; the stubs allow None for files in general.
    name, size = upload.name or "", upload.size or 0
    errors = {}
    file_problems = _file_problems(upload, name, size)
    if file_problems:
        errors["file"] = file_problems
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
        case=case, purpose=purpose, inspection=inspection, file=upload, original_name=name[:255],
        size=size, sha256=digest.hexdigest(), uploaded_by=user,
    )
    attachment.items.set(items)
    audit(actor=user, action="attachment.create", obj=attachment,
          after={"name": attachment.original_name, "sha256": attachment.sha256}, round_id=case.round_id)
    return attachment
