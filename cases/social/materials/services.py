"""The materials a unit of a social-evaluation round owes the office (seed 004; docs/social-round.md):
its sample lists reported complete, its questionnaire on its hot/difficult work (the office approves or
returns it), the situation table with its two reports, and its performance analysis (its head signs it
off). Keyword-only, atomic, audited; the workflow's steps call these and pass the task's due, and each
first delivery is recorded against it (`MaterialDelivery`).

Wrong people `PermissionDenied` (403), wrong states `Conflict` (409), bad input `ValidationError` (400,
every bad field named, nothing changed).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.services.audit import audit
from cases.services.common import require_office
from cases.social import selectors as sample_selectors

MIN_QUESTIONS = 5  # 问题不少于5个 (seed 004 四)
MAX_QUESTIONS = 50
MAX_QUESTION_CHARS = 500
MAX_TOPIC_CHARS = 200
ANALYSIS_LIMIT = 1400  # 总字数不超过1400字 (seed 004 三): characters, whitespace not counted
ANALYSIS_PARTS = ("completion", "innovation", "weaknesses")
REPORT_LIMIT = 20_000
SITUATION_FIELDS = {"liaison": 200, "liaison_phone": 64, "leaders": 2000,
                    "rectification_report": REPORT_LIMIT, "performance_report": REPORT_LIMIT}
PHONE = re.compile(r"^[0-9()（）\-—+ ]{7,30}$")
_SPACE = re.compile(r"\s+")


def analysis_chars(parts: dict[str, str]) -> int:
    """How many characters the analysis counts against its limit: every character but whitespace, as a
    word processor's 字数 counts Chinese text."""
    return sum(len(_SPACE.sub("", parts.get(name, "") or "")) for name in ANALYSIS_PARTS)


def _require_running_social(case: m.Case) -> None:
    if case.round.kind != m.RoundKind.SOCIAL:
        raise Conflict("只有社会评价轮次有此项材料。")
    if case.round.status != m.RoundStatus.RUNNING:
        raise Conflict("考评未在进行中，不能报送材料。")


def _require_drafter(user: m.User, case: m.Case) -> None:
    if not access.can_draft_social_material(user, case):
        raise PermissionDenied("只有本单位填报员可以填写本单位的材料。")


def _deliver(case: m.Case, material: str, due: dt.datetime | None) -> m.MaterialDelivery:
    """Record a delivery; the first one decides whether the material came late."""
    now = timezone.now()
    row, created = m.MaterialDelivery.objects.select_for_update().get_or_create(
        case=case, material=material,
        defaults={"round_id": case.round_id, "due": due, "first_delivered_at": now, "last_delivered_at": now,
                  "late": due is not None and now > due})
    if not created:
        row.last_delivered_at = now
        row.save(update_fields=["last_delivered_at"])
    return row


def _text(value: object, field: str, limit: int, errors: dict[str, list[str]], *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = ["必须是文本。"]
        return ""
    value = value.strip()
    if required and not value:
        errors[field] = ["必须填写。"]
    elif len(value) > limit:
        errors[field] = [f"不能超过 {limit} 个字符。"]
    return value


# --- sample lists ---------------------------------------------------------------------------------


@transaction.atomic
def samples_deliver(*, user: m.User, case: m.Case, due: dt.datetime | None) -> m.MaterialDelivery:
    """The unit reports its lists delivered: both lists its family owes uploaded and at their minimums."""
    _require_drafter(user, case)
    _require_running_social(case)
    problems = sample_selectors.delivery_problems(case.round, case.unit)
    if problems:
        raise ValidationError({"samples": problems})
    row = _deliver(case, m.Material.SAMPLES, due)
    audit(actor=user, action="social.samples_delivered", obj=case, round_id=case.round_id,
          after={"late": row.late})
    return row


# --- the questionnaire ----------------------------------------------------------------------------


def _questions(value: object, errors: dict[str, list[str]]) -> list[str]:
    if not isinstance(value, list):
        errors["questions"] = ["必须是问题的列表。"]
        return []
    if len(value) > MAX_QUESTIONS:
        errors["questions"] = [f"最多 {MAX_QUESTIONS} 个问题。"]
        return []
    out = []
    for i, q in enumerate(value):
        if not isinstance(q, str) or not q.strip():
            errors[f"questions[{i}]"] = ["问题不能为空。"]
        elif len(q.strip()) > MAX_QUESTION_CHARS:
            errors[f"questions[{i}]"] = [f"不能超过 {MAX_QUESTION_CHARS} 个字符。"]
        else:
            out.append(q.strip())
    return out


def _open_questionnaire(case: m.Case) -> m.Questionnaire:
    questionnaire, _ = m.Questionnaire.objects.select_for_update().get_or_create(case=case)
    return questionnaire


@transaction.atomic
def questionnaire_save(*, user: m.User, case: m.Case, topic: object = None,
                       questions: object = None) -> m.Questionnaire:
    """The unit's staff write (or rewrite, after a return) the questionnaire's draft; what is not given
    (None) stays as drafted."""
    _require_drafter(user, case)
    _require_running_social(case)
    questionnaire = _open_questionnaire(case)
    errors: dict[str, list[str]] = {}
    clean_topic = questionnaire.topic if topic is None else _text(topic, "topic", MAX_TOPIC_CHARS, errors,
                                                                  required=False)
    clean_questions = questionnaire.questions if questions is None else _questions(questions, errors)
    if errors:
        raise ValidationError(errors)
    if questionnaire.status in (m.DraftStatus.SUBMITTED, m.DraftStatus.APPROVED):
        raise Conflict("问卷已报送，不能再修改。")
    before = {"topic": questionnaire.topic, "questions": questionnaire.questions}
    questionnaire.topic, questionnaire.questions = clean_topic, clean_questions
    questionnaire.updated = timezone.now()
    questionnaire.save(update_fields=["topic", "questions", "updated"])
    audit(actor=user, action="social.questionnaire_saved", obj=questionnaire, round_id=case.round_id,
          before=before, after={"topic": clean_topic, "questions": clean_questions})
    return questionnaire


@transaction.atomic
def questionnaire_submit(*, user: m.User, case: m.Case, due: dt.datetime | None) -> m.Questionnaire:
    """The draft goes to the office for review: a topic and at least five questions."""
    _require_drafter(user, case)
    _require_running_social(case)
    questionnaire = _open_questionnaire(case)
    if questionnaire.status in (m.DraftStatus.SUBMITTED, m.DraftStatus.APPROVED):
        raise Conflict("问卷已报送。")
    errors: dict[str, list[str]] = {}
    if not questionnaire.topic:
        errors["topic"] = ["请填写评议的热点、难点工作。"]
    if len(questionnaire.questions) < MIN_QUESTIONS:
        errors["questions"] = [f"问题不少于 {MIN_QUESTIONS} 个（现有 {len(questionnaire.questions)} 个）。"]
    if errors:
        raise ValidationError(errors)
    questionnaire.status = m.DraftStatus.SUBMITTED
    questionnaire.save(update_fields=["status"])
    row = _deliver(case, m.Material.QUESTIONNAIRE, due)
    audit(actor=user, action="social.questionnaire_submitted", obj=questionnaire, round_id=case.round_id,
          after={"questions": len(questionnaire.questions), "late": row.late})
    return questionnaire


@transaction.atomic
def questionnaire_review(*, user: m.User, case: m.Case, approve: bool, comment: str) -> m.Questionnaire:
    """The office approves the questionnaire, or returns it with its comments for the unit to rework."""
    require_office(user)
    questionnaire = _open_questionnaire(case)
    if questionnaire.status != m.DraftStatus.SUBMITTED:
        raise Conflict("问卷不在待审核状态。")
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationError({"comment": ["退回时必须填写审核意见。"]})
    questionnaire.status = m.DraftStatus.APPROVED if approve else m.DraftStatus.RETURNED
    questionnaire.review_comment = comment
    questionnaire.reviewed_by, questionnaire.reviewed_at = user, timezone.now()
    questionnaire.save(update_fields=["status", "review_comment", "reviewed_by", "reviewed_at"])
    audit(actor=user, action="social.questionnaire_reviewed", obj=questionnaire, round_id=case.round_id,
          after={"approved": approve}, comment=comment)
    return questionnaire


# --- the situation table and its reports -----------------------------------------------------------


@transaction.atomic
def situation_submit(*, user: m.User, case: m.Case, data: object, due: dt.datetime | None) -> m.SituationReport:
    """附件8 and the rectification and performance reports, in one delivery (a later one replaces them)."""
    _require_drafter(user, case)
    _require_running_social(case)
    if not isinstance(data, dict):
        raise ValidationError({"situation": ["必须是对象。"]})
    errors: dict[str, list[str]] = {f"situation.{key}": ["未知字段。"] for key in data if key not in SITUATION_FIELDS}
    clean: dict[str, Any] = {}
    for field, limit in SITUATION_FIELDS.items():
        field_errors: dict[str, list[str]] = {}
        clean[field] = _text(data.get(field), field, limit, field_errors, required=True)
        errors.update({f"situation.{k}": v for k, v in field_errors.items()})
    if clean["liaison_phone"] and "situation.liaison_phone" not in errors and not PHONE.match(clean["liaison_phone"]):
        errors["situation.liaison_phone"] = ["电话号码格式不正确（数字，可带区号和“-”）。"]
    if errors:
        raise ValidationError(errors)
    before = m.SituationReport.objects.filter(case=case).values(*SITUATION_FIELDS).first()
    report, _ = m.SituationReport.objects.update_or_create(
        case=case, defaults={**clean, "submitted_by": user, "submitted_at": timezone.now()})
    row = _deliver(case, m.Material.SITUATION, due)
    audit(actor=user, action="social.situation_submitted", obj=report, round_id=case.round_id,
          before=before, after={**clean, "late": row.late})
    return report


# --- the performance analysis ----------------------------------------------------------------------


def _open_analysis(case: m.Case) -> m.PerformanceAnalysis:
    analysis, _ = m.PerformanceAnalysis.objects.select_for_update().get_or_create(case=case)
    return analysis


def _analysis_parts(data: object, errors: dict[str, list[str]], *, required: bool) -> dict[str, str]:
    if not isinstance(data, dict):
        errors["analysis"] = ["必须是对象（completion / innovation / weaknesses）。"]
        return {}
    errors.update({f"analysis.{key}": ["未知字段。"] for key in data if key not in ANALYSIS_PARTS})
    parts: dict[str, str] = {}
    for name in ANALYSIS_PARTS:
        part_errors: dict[str, list[str]] = {}
        parts[name] = _text(data.get(name), name, ANALYSIS_LIMIT * 2, part_errors, required=required)
        errors.update({f"analysis.{k}": v for k, v in part_errors.items()})
    used = analysis_chars(parts)
    if used > ANALYSIS_LIMIT:
        errors["analysis"] = [f"三部分合计不超过 {ANALYSIS_LIMIT} 字（现有 {used} 字，不计空白）。"]
    return parts


@transaction.atomic
def analysis_save(*, user: m.User, case: m.Case, data: object) -> m.PerformanceAnalysis:
    """The unit's staff write (or rewrite, after its head returned it) the analysis's draft."""
    _require_drafter(user, case)
    _require_running_social(case)
    errors: dict[str, list[str]] = {}
    parts = _analysis_parts(data, errors, required=False)
    if errors:
        raise ValidationError(errors)
    analysis = _open_analysis(case)
    if analysis.status in (m.DraftStatus.SUBMITTED, m.DraftStatus.APPROVED):
        raise Conflict("绩效分析已送审定，不能再修改。")
    before = {name: getattr(analysis, name) for name in ANALYSIS_PARTS}
    for name, value in parts.items():
        setattr(analysis, name, value)
    analysis.updated = timezone.now()
    analysis.save(update_fields=[*ANALYSIS_PARTS, "updated"])
    audit(actor=user, action="social.analysis_saved", obj=analysis, round_id=case.round_id, before=before,
          after=parts)
    return analysis


@transaction.atomic
def analysis_submit(*, user: m.User, case: m.Case, due: dt.datetime | None) -> m.PerformanceAnalysis:
    """The draft goes to the unit's head: every part written, together within the limit."""
    _require_drafter(user, case)
    _require_running_social(case)
    analysis = _open_analysis(case)
    if analysis.status in (m.DraftStatus.SUBMITTED, m.DraftStatus.APPROVED):
        raise Conflict("绩效分析已送审定。")
    errors: dict[str, list[str]] = {}
    _analysis_parts({name: getattr(analysis, name) for name in ANALYSIS_PARTS}, errors, required=True)
    if errors:
        raise ValidationError(errors)
    analysis.status = m.DraftStatus.SUBMITTED
    analysis.save(update_fields=["status"])
    row = _deliver(case, m.Material.ANALYSIS, due)
    audit(actor=user, action="social.analysis_submitted", obj=analysis, round_id=case.round_id,
          after={"chars": analysis_chars({n: getattr(analysis, n) for n in ANALYSIS_PARTS}), "late": row.late})
    return analysis


@transaction.atomic
def analysis_sign(*, user: m.User, case: m.Case, approve: bool, comment: str) -> m.PerformanceAnalysis:
    """The unit's head signs the analysis off for its party group (审定), or returns it with a comment."""
    if not access.can_sign_performance_analysis(user, case):
        raise PermissionDenied("只有本单位负责人可以审定本单位的绩效分析。")
    analysis = _open_analysis(case)
    if analysis.status != m.DraftStatus.SUBMITTED:
        raise Conflict("绩效分析不在待审定状态。")
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationError({"comment": ["退回时必须填写意见。"]})
    analysis.status = m.DraftStatus.APPROVED if approve else m.DraftStatus.RETURNED
    analysis.sign_comment = comment
    analysis.signed_by, analysis.signed_at = (user, timezone.now()) if approve else (None, None)
    analysis.save(update_fields=["status", "sign_comment", "signed_by", "signed_at"])
    audit(actor=user, action="social.analysis_signed", obj=analysis, round_id=case.round_id,
          after={"approved": approve}, comment=comment)
    return analysis
