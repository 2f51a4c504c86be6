"""The experts' score sheets: opened for each expert who scores a case, saved while a draft,
submitted (locked, with its total by the engine), returned by the group leader to be redone on a copy."""

import json
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from typing import TypedDict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from cases import access
from cases import models as m
from cases.db import execute_prepared, model_from_row, select_columns, update_row
from cases.errors import Conflict
from cases.scoring import round_config
from cases.scoring.adapter import rubric_items, sheet_total
from cases.services.audit import audit
from cases.services.common import parse_int, parse_points


class _CleanScore(TypedDict):
    item: m.RubricItem
    deduction: Decimal
    bonus: Decimal
    reason: str


@transaction.atomic
def score_sheet_open(*, case: m.Case, expert: m.User) -> m.ScoreSheet:
    """The expert's open sheet for the case, creating the first attempt if there is none. Only an
    expert of the case's group who is not from the unit itself (recusal) has one. Opening is the
    flow's step when it hands out the score tasks, so the audit entry has no actor."""
    sheet = case.score_sheets.filter(expert=expert).exclude(status=m.SheetStatus.RETURNED).order_by("-attempt").first()
    if sheet is None:
        if not access.scoring_experts(case.group_id, case.unit_id).filter(user=expert).exists():
            raise PermissionDenied("只有本组评分专家（本单位人员回避）可以评分。")
        sheet = m.ScoreSheet.objects.create(case=case, expert=expert)
        audit(actor=None, action="score_sheet.open", obj=sheet, after={"expert": expert.pk}, round_id=case.round_id)
    return sheet


ROW_FIELDS = {"item", "deduction", "bonus", "reason"}


def _amount(row: dict[str, object], name: str, where: str, errors: list[str]) -> Decimal | None:
    try:
        return parse_points(row.get(name, "0"), name)
    except ValidationError as exc:
        errors.extend(f"{where}.{name}: {msg}" for msgs in exc.message_dict.values() for msg in msgs)
        return None


def _clean_row(n: int, row: object, rubric_items: dict[str, m.RubricItem], seen: set[str],
               errors: list[str]) -> _CleanScore | None:
    """One posted row (`items[n]`) checked; every problem of it is added to `errors` (and then the
    row is None): a sheet with several problems is answered with all of them at once."""
    where = f"items[{n}]"
    if not isinstance(row, dict):
        errors.append(f"{where}: 必须是对象。")
        return None
    before = len(errors)
    errors.extend(f"{where}.{key}: 未知字段。" for key in sorted(map(str, row)) if key not in ROW_FIELDS)
    code = row.get("item")
    item = None
    if code is None:
        errors.append(f"{where}.item: 必须填写。")
    elif not isinstance(code, str) or code not in rubric_items:
        errors.append(f"{where}.item: 未知的评分项 {code}。")
    elif code in seen:
        errors.append(f"{where}.item: 评分项 {code} 重复。")
    else:
        seen.add(code)
        item = rubric_items[code]
    deduction = _amount(row, "deduction", where, errors)
    bonus = _amount(row, "bonus", where, errors)
    if item is not None and deduction is not None and deduction > item.max_points:
        errors.append(f"{where}.deduction: 扣分不能超过该项分值 {item.max_points}。")
    if item is not None and bonus is not None and bonus > item.bonus_cap:
        errors.append(f"{where}.bonus: 加分不能超过该项加分上限 {item.bonus_cap}。")
    reason = row.get("reason")
    if reason is not None and not isinstance(reason, str):
        errors.append(f"{where}.reason: 必须是文本。")
    if len(errors) > before or item is None or deduction is None or bonus is None:
        return None
    reason = (reason or "").strip()
    return {"item": item, "deduction": deduction, "bonus": bonus, "reason": reason}


def _clean_item_scores(sheet: m.ScoreSheet, items: object) -> tuple[list[_CleanScore], list[str]]:
    """The posted rows cleaned, and every problem of them (by `items[n].field`)."""
    if not isinstance(items, list):
        return [], ["必须是列表。"]
    items_by_code = {i.code: i for i in rubric_items(sheet.case.round.rubric)}
    errors: list[str] = []
    seen: set[str] = set()
    cleaned = []
    for n, posted in enumerate(items):
        row = _clean_row(n, posted, items_by_code, seen, errors)
        if row is not None:
            cleaned.append(row)
    return cleaned, errors


def _require_sheet_owner(user: m.User, sheet: m.ScoreSheet) -> None:
    """The expert's own draft sheet, locked for the rest of the transaction: a save racing a submit
    of the same sheet must not rewrite its items after its total and audit entry are written. Only
    the sheet's row: its default ordering would join (and lock) the case, round, group and unit."""
    if sheet.expert_id != user.pk:
        raise PermissionDenied("只能填写本人的评分表。")
    status = (m.ScoreSheet.objects.select_for_update(of=("self",)).filter(pk=sheet.pk).order_by()
              .values_list("status", flat=True).first())
    if status != m.SheetStatus.DRAFT:
        raise Conflict("评分表已提交，不能修改。")


def _merged_scores(sheet: m.ScoreSheet, cleaned: list[_CleanScore],
                   saved: Iterable[m.ItemScore] | None = None) -> list[m.ItemScore]:
    """The sheet's item scores with the cleaned rows applied (in memory). `saved`: the sheet's stored
    item scores if the caller has read them already."""
    existing = {s.item_id: s for s in (sheet.item_scores.order_by() if saved is None else saved)}
    created = []
    for row in cleaned:
        score = existing.get(row["item"].pk)
        if score is None:
            created.append(m.ItemScore(sheet=sheet, **row))
        else:
            score.deduction, score.bonus, score.reason = row["deduction"], row["bonus"], row["reason"]
    return [*existing.values(), *created]


@cache
def _store_scores_sql() -> str:
    return (f"INSERT INTO {m.ItemScore._meta.db_table} (sheet_id, item_id, deduction, bonus, reason) "
            "SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::numeric[], $4::numeric[], $5::text[]) "
            "ON CONFLICT (sheet_id, item_id) DO UPDATE "
            "SET deduction = EXCLUDED.deduction, bonus = EXCLUDED.bonus, reason = EXCLUDED.reason")


def _store_scores(sheet: m.ScoreSheet, cleaned: list[_CleanScore]) -> None:
    """The posted rows in one statement: new items inserted, the others updated in place (ON CONFLICT on
    `uniq_item_score`). The sheet's items not posted are left as they are. (`cleaned` names each item
    once, as one statement's upsert needs.) Prepared on PostgreSQL: the ORM's `bulk_create` of the same
    statement cost ~8 % of a submission's CPU."""
    if not cleaned:
        return
    if connection.vendor != "postgresql":  # the demo's SQLite
        m.ItemScore.objects.bulk_create(
            [m.ItemScore(sheet=sheet, **row) for row in cleaned],
            update_conflicts=True, unique_fields=["sheet", "item"], update_fields=["deduction", "bonus", "reason"])
        return
    execute_prepared("store_item_scores", _store_scores_sql(), [
        [sheet.pk] * len(cleaned), [row["item"].pk for row in cleaned], [row["deduction"] for row in cleaned],
        [row["bonus"] for row in cleaned], [row["reason"] for row in cleaned]])


def _write_item_scores(sheet: m.ScoreSheet, items: object, reason: str | None) -> None:
    """Replace the given item scores (items not given keep their values)."""
    cleaned, errors = _clean_item_scores(sheet, items)
    if errors:
        raise ValidationError({"items": errors})
    _store_scores(sheet, cleaned)
    if reason is not None:
        sheet.reason = reason
        sheet.save(update_fields=["reason"])


@transaction.atomic
def score_sheet_save(*, user: m.User, sheet: m.ScoreSheet, items: object, reason: str | None = None) -> m.ScoreSheet:
    """Replace the given item scores on a draft sheet (items not given keep their values)."""
    _require_sheet_owner(user, sheet)
    _write_item_scores(sheet, items, reason)
    return sheet


def _submit_problems(sheet: m.ScoreSheet, scores: list[m.ItemScore], total: Decimal) -> dict[str, list[str]]:
    """A deduction or bonus needs a reason; full marks on every item, or a total below the round's
    threshold, needs a written reason for the whole sheet."""
    errors: dict[str, list[str]] = {}
    items_by_pk = {item.pk: item for item in rubric_items(sheet.case.round.rubric)}  # in the rubric's order
    order = {pk: n for n, pk in enumerate(items_by_pk)}
    for score in sorted(scores, key=lambda score: order.get(score.item_id, len(order))):
        if (score.deduction > 0 or score.bonus > 0) and not score.reason:
            code = (items_by_pk.get(score.item_id) or score.item).code
            errors.setdefault("items", []).append(f"{code}: 扣分或加分必须说明理由。")
    low = sheet.case.round.config.get("low_total_threshold")
    if not sheet.reason.strip():
        if all(s.deduction == 0 for s in scores):
            errors.setdefault("reason", []).append("全部满分的评分表必须填写说明。")
        if low is not None and total < Decimal(str(low)):
            errors.setdefault("reason", []).append(f"总分低于{low}分的评分表必须填写说明。")
    return errors


_PROPOSAL_KEYS = ("grade", "rank", "deduction")


def _proposal_problems(sheet: m.ScoreSheet, proposal: object) -> dict[str, list[str]]:
    """Grade first, before the group leader decides: the expert's proposed grade, rank in the group and
    ordinary-assessment deduction, set on `sheet` in memory; every bad part named (`proposal.rank`)."""
    if not isinstance(proposal, dict):
        return {"proposal": ["请提出档次、排名和扣分建议。"]}
    errors: dict[str, list[str]] = {f"proposal.{k}": ["未知字段。"] for k in proposal if k not in _PROPOSAL_KEYS}
    grades = round_config.grade_names(sheet.case.round.config or {})
    if proposal.get("grade") not in grades:
        errors["proposal.grade"] = [f"档次必须是：{'、'.join(grades)}。"]
    else:
        sheet.proposed_grade = proposal["grade"]
    size = m.Case.objects.filter(group_id=sheet.case.group_id).count()
    for key, parse in (("rank", lambda v: parse_int(v, "proposal.rank", min_value=1, max_value=size)),
                       ("deduction", lambda v: parse_points(v, "proposal.deduction"))):
        try:
            setattr(sheet, f"proposed_{key}", parse(proposal.get(key)))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    return errors


def _band_problems(sheet: m.ScoreSheet, total: Decimal) -> dict[str, list[str]]:
    """Grade first, once the group leader has decided the grade: the total lies within its band."""
    case = sheet.case
    band = round_config.grade_band(case.round.config or {}, case.proposed_grade, case.round.rubric.total_max)
    if band is None:
        return {}
    low, high, high_included = band
    if low <= total and (total < high or (high_included and total == high)):
        return {}
    upper = f"不高于{high}分" if high_included else f"低于{high}分"
    return {"total": [f"本单位档次已定为“{case.proposed_grade}”，评分须不低于{low}分且{upper}（本表总分{total}分）。"]}


@transaction.atomic
def score_sheet_submit(*, user: m.User, sheet: m.ScoreSheet, items: object = None,
                       reason: str | None = None, proposal: object = None) -> m.ScoreSheet:
    """Save the given item scores and reason as `score_sheet_save` does, if any, and lock the sheet.
    Checks at entry: a deduction needs a reason; full marks on every item or a total below the
    round's threshold needs a written reason for the whole sheet. In a grade-first round (seed 000) the
    first sheet is the expert's proposal (grade, rank, deduction; item scores optional) and, once the
    group leader has decided the grade, the total must lie within the grade's band."""
    _require_sheet_owner(user, sheet)
    _submit(user, sheet, None, items, reason, proposal)
    return sheet


@cache
def _own_open_sheet_sql() -> str:
    """`_own_open_sheet`'s statement (built once: the models' columns are known after start-up)."""
    sheets, items = m.ScoreSheet._meta.db_table, m.ItemScore._meta.db_table
    return f"""
        SELECT {select_columns(m.ScoreSheet, "s")}, {select_columns(m.Case, "c")},
               {select_columns(m.Round, "r")}, {select_columns(m.Rubric, "b")},
               (SELECT json_agg(json_build_array(i.id, i.item_id, i.deduction::text, i.bonus::text, i.reason))::text
                  FROM {items} i WHERE i.sheet_id = s.id),
               EXISTS (SELECT 1 FROM {sheets} o WHERE o.case_id = s.case_id AND o.status = $3 AND o.id <> s.id)
          FROM {sheets} s
          JOIN {m.Case._meta.db_table} c ON c.id = s.case_id
          JOIN {m.Round._meta.db_table} r ON r.id = c.round_id
          JOIN {m.Rubric._meta.db_table} b ON b.id = r.rubric_id
         WHERE s.case_id = $1 AND s.expert_id = $2 AND s.status <> $4
         ORDER BY s.attempt DESC
         LIMIT 1
           FOR UPDATE OF s"""


def _own_open_sheet(user: m.User, case_id: int) -> tuple[m.ScoreSheet, list[m.ItemScore], bool] | None:
    """The expert's open sheet of the case (as `score_sheet_open` finds it), locked (its row only, as
    `_require_sheet_owner` locks it), with its case, round and rubric; its stored item scores; and
    whether another sheet of the case is still a draft. One prepared statement for what the general
    path reads in five queries — and the ORM's building of this one cost ~5 ms of Python per
    submission (amounts come as text: exact decimals)."""
    if connection.vendor != "postgresql":  # the demo's SQLite: the general path's reads
        sheet = (m.ScoreSheet.objects.filter(case_id=case_id, expert=user).exclude(status=m.SheetStatus.RETURNED)
                 .select_related("case__round__rubric").select_for_update(of=("self",)).order_by("-attempt").first())
        if sheet is None:
            return None
        others = m.ScoreSheet.objects.filter(case_id=case_id, status=m.SheetStatus.DRAFT).exclude(pk=sheet.pk)
        return sheet, list(sheet.item_scores.order_by()), others.exists()
    rows = execute_prepared("own_open_sheet", _own_open_sheet_sql(),
                            [case_id, user.pk, m.SheetStatus.DRAFT, m.SheetStatus.RETURNED])
    if not rows:
        return None
    row = rows[0]
    sheet, at = model_from_row(m.ScoreSheet, row)
    case, at = model_from_row(m.Case, row, at)
    round, at = model_from_row(m.Round, row, at)
    rubric, at = model_from_row(m.Rubric, row, at)
    round.rubric, case.round, sheet.case = rubric, round, case
    saved, others_open = row[at:]
    scores = [m.ItemScore(id=pk, sheet=sheet, item_id=item_id, deduction=Decimal(deduction), bonus=Decimal(bonus),
                          reason=reason) for pk, item_id, deduction, bonus, reason in json.loads(saved or "[]")]
    return sheet, scores, bool(others_open)


# No savepoint of its own: its one caller (the score task's action) runs inside the task's transaction,
# which any error here rolls back whole; called alone it is its own transaction.
@transaction.atomic(savepoint=False)
def score_sheet_submit_own(*, user: m.User, case_id: int, items: object = None, reason: str | None = None,
                           proposal: object = None) -> tuple[m.ScoreSheet, bool]:
    """`score_sheet_open` and then `score_sheet_submit` for `user`'s own sheet of a case — the same
    checks, rows and audit entries — in fewer statements (the score task's submission, the hot path).
    Returns the submitted sheet (with its case, round and rubric) and whether it was the case's last
    draft."""
    found = _own_open_sheet(user, case_id)
    if found is None:  # opened when the score task was created; opened here if that was undone since
        score_sheet_open(case=m.Case.objects.get(pk=case_id), expert=user)
        found = _own_open_sheet(user, case_id)
        assert found is not None
    sheet, saved, others_open = found
    if sheet.status != m.SheetStatus.DRAFT:
        raise Conflict("评分表已提交，不能修改。")
    _submit(user, sheet, saved, items, reason, proposal)
    return sheet, not others_open


def _submit(user: m.User, sheet: m.ScoreSheet, saved: list[m.ItemScore] | None, items: object,
            reason: str | None, proposal: object) -> None:
    """Submit the owner's locked draft (`score_sheet_submit`'s checks and writes). `saved`: its stored
    item scores, if read already."""
    cleaned, row_errors = _clean_item_scores(sheet, [] if items is None else items)
    scores = _merged_scores(sheet, cleaned, saved)
    if reason is not None:
        sheet.reason = reason  # in memory until every check has passed
    total = sheet_total(sheet, scores)
    # Every problem at once: the rows' own and those of the sheet they would make.
    proposing = round_config.grade_first(sheet.case.round.config or {}) and not sheet.case.proposed_grade
    if proposing:
        errors = _proposal_problems(sheet, proposal)
    else:
        errors = {**_submit_problems(sheet, scores, total), **_band_problems(sheet, total)}
    if row_errors:
        errors["items"] = [*row_errors, *errors.get("items", [])]
    if errors:
        raise ValidationError(errors)
    _store_scores(sheet, cleaned)
    sheet.status = m.SheetStatus.SUBMITTED
    sheet.total = total
    sheet.submitted_at = timezone.now()
    fields = ["status", "total", "submitted_at", "proposed_grade", "proposed_rank", "proposed_deduction"]
    update_row(sheet, [*fields, "reason"] if reason is not None else fields)  # prepared: the hot path
    after = {"total": str(total), "rubric": sheet.case.round.rubric.code}
    if proposing:
        after |= {"proposed_grade": sheet.proposed_grade, "proposed_rank": str(sheet.proposed_rank),
                  "proposed_deduction": str(sheet.proposed_deduction)}
    audit(actor=user, action="score_sheet.submit", obj=sheet, after=after, round_id=sheet.case.round_id)


@transaction.atomic
def score_sheet_return(*, user: m.User, sheet: m.ScoreSheet, comment: str) -> m.ScoreSheet:
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
