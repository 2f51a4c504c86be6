"""The writes of seed 001's features: a unit's self-check counts, a unit's democratic recommendation
in its group, and the bonus items a unit declares and the office decides. Keyword-only, typed,
atomic, audited; permission before anything else, then the state (409), then the input (400, every
bad field named)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.party_building import selectors, selfcheck
from cases.services import submissions
from cases.services.audit import audit
from cases.services.common import parse_int, parse_points

VOTING_CASE_STATUSES = (m.CaseStatus.INSPECT, m.CaseStatus.SCORE, m.CaseStatus.REVIEW, m.CaseStatus.DONE)
DECLARED_LEVEL = "单位申报"
MAX_NOMINEES = 200  # a list longer than this is refused before it is looked at


# --- self-check statistics table ----------------------------------------------------------------


@transaction.atomic
def self_check_save(*, user: m.User, case: m.Case, counts: object) -> m.Submission:
    """Save the unit's completed counts on its self-assessment draft (unit staff, while preparing).
    The whole table is replaced; rows left out are not entered yet (every row is needed to submit)."""
    if not access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF):
        raise PermissionDenied("只有本单位填报员可以填写自查统计表。")
    rows = selectors.table(case.round)
    if rows is None:
        raise Conflict("本轮次未设自查统计表。")
    cleaned = selfcheck.clean_counts(rows, counts)
    before = selectors.current_counts(case)
    sub = submissions.submission_save(user=user, case=case, statistics=cleaned)
    audit(actor=user, action="self_check.save", obj=sub, before=dict(before), after=dict(cleaned),
          round_id=case.round_id)
    return sub


# --- democratic recommendation (民主推荐) ---------------------------------------------------------


def _voter_case(user: m.User, group: m.Group, unit_id: int | None) -> m.Case:
    cases = [c for c in group.cases.select_related("unit") if access.can_vote_for_unit(user, c.unit_id)]
    if not cases:
        raise PermissionDenied("只有本组被考评单位的负责人可以代表单位进行民主推荐。")
    if unit_id is not None:
        chosen = [c for c in cases if c.unit_id == unit_id]
        if not chosen:
            raise ValidationError({"unit": ["您不是该单位的负责人，或该单位不在本组。"]})
        return chosen[0]
    if len(cases) > 1:
        raise ValidationError({"unit": ["您负责本组多个单位，请指明代表哪个单位推荐。"]})
    return cases[0]


def _unit_id(value: object, field: str, errors: dict[str, list[str]]) -> int | None:
    try:
        return parse_int(value, field, min_value=1)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        return None


def _check_nominee(uid: int | None, key: str, members: set[int], voter: int, allow_self: bool,
                   errors: dict[str, list[str]]) -> bool:
    if uid is None:
        return False
    if uid not in members:
        errors[key] = ["只能推荐本组的单位。"]
        return False
    if uid == voter and not allow_self:
        errors[key] = ["不能推荐本单位。"]
        return False
    return True


def _clean_organisations(raw: object, members: set[int], voter: int, allow_self: bool, places: int,
                         errors: dict[str, list[str]]) -> list[int]:
    if not isinstance(raw, list) or len(raw) > MAX_NOMINEES:
        errors["organisations"] = ["必须是单位编号的列表。"]
        return []
    if len(raw) > places:
        errors["organisations"] = [f"最多推荐{places}个先进基层党组织。"]
    out: list[int] = []
    for i, value in enumerate(raw):
        key = f"organisations[{i}]"
        uid = _unit_id(value, key, errors)
        if not _check_nominee(uid, key, members, voter, allow_self, errors) or uid is None:
            continue
        if uid in out:
            errors[key] = ["重复推荐。"]
            continue
        out.append(uid)
    return out


def _clean_worker(i: int, value: object, errors: dict[str, list[str]]) -> tuple[object, str, str] | None:
    key = f"workers[{i}]"
    if not isinstance(value, dict):
        errors[key] = ["必须是对象（unit、name、post）。"]
        return None
    for extra in value.keys() - {"unit", "name", "post"}:
        errors[f"{key}.{extra}"] = ["未知字段。"]
    name, post = value.get("name"), value.get("post", "")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64:
        errors[f"{key}.name"] = ["请填写姓名（不超过64字）。"]
    if not isinstance(post, str) or len(post) > 128:
        errors[f"{key}.post"] = ["职务必须是不超过128字的文本。"]
    if "unit" not in value:
        errors[f"{key}.unit"] = ["请填写所在单位。"]
    if not isinstance(name, str) or not isinstance(post, str) or "unit" not in value:
        return None
    return value.get("unit"), name.strip(), post.strip()


def _clean_workers(raw: object, members: set[int], voter: int, allow_self: bool, places: int,
                   errors: dict[str, list[str]]) -> list[tuple[int, str, str]]:
    if not isinstance(raw, list) or len(raw) > MAX_NOMINEES:
        errors["workers"] = ["必须是推荐人选的列表。"]
        return []
    if len(raw) > places:
        errors["workers"] = [f"最多推荐{places}名优秀党务工作者。"]
    out: list[tuple[int, str, str]] = []
    for i, value in enumerate(raw):
        cleaned = _clean_worker(i, value, errors)
        if cleaned is None:
            continue
        raw_unit, name, post = cleaned
        key = f"workers[{i}].unit"
        uid = _unit_id(raw_unit, key, errors)
        if not _check_nominee(uid, key, members, voter, allow_self, errors) or uid is None or not name:
            continue
        if any(u == uid and n == name for u, n, _ in out):
            errors[f"workers[{i}]"] = ["重复推荐。"]
            continue
        out.append((uid, name, post))
    return out


@transaction.atomic
def ballot_save(*, user: m.User, group: m.Group, organisations: object, workers: object,
                unit_id: int | None = None) -> m.RecommendationBallot:
    """A unit's recommendation in its group (its head; while the group step runs): the advanced party
    organisations and outstanding party workers it nominates, from the units of the group. Replaces
    the unit's earlier ballot."""
    voter = _voter_case(user, group, unit_id)
    rules = selectors.recommendation_rules(group.round)
    if rules is None:
        raise Conflict("本轮次不开展民主推荐。")
    # One ballot per unit: lock the voter's case so that two saves of the same unit queue up.
    status = m.Case.objects.select_for_update().filter(pk=voter.pk).values_list("status", flat=True).get()
    if group.round.status != m.RoundStatus.RUNNING or status not in VOTING_CASE_STATUSES:
        raise Conflict("民主推荐在分组考核阶段进行（本单位自评经审定后、本轮汇总前）。")
    members = set(group.cases.values_list("unit_id", flat=True))
    errors: dict[str, list[str]] = {}
    orgs = _clean_organisations(organisations, members, voter.unit_id, rules.allow_self, rules.organisations, errors)
    people = _clean_workers(workers, members, voter.unit_id, rules.allow_self, rules.workers, errors)
    if errors:
        raise ValidationError(errors)
    ballot = selectors.ballot_of(group, voter.unit_id)
    before = selectors.ballot_dict(ballot)
    if ballot is None:
        ballot = m.RecommendationBallot.objects.create(group=group, unit_id=voter.unit_id, case=voter,
                                                       submitted_by=user)
    else:
        ballot.nominations.all().delete()
        ballot.submitted_by = user
        ballot.submitted_at = timezone.now()
        ballot.save(update_fields=["submitted_by", "submitted_at"])
    m.Nomination.objects.bulk_create(
        [m.Nomination(ballot=ballot, kind=m.NominationKind.ORGANISATION, unit_id=uid, position=i)
         for i, uid in enumerate(orgs)]
        + [m.Nomination(ballot=ballot, kind=m.NominationKind.WORKER, unit_id=uid, name=name, post=post, position=i)
           for i, (uid, name, post) in enumerate(people)])
    audit(actor=user, action="recommendation.save", obj=ballot, before=before,
          after=selectors.ballot_dict(ballot), round_id=group.round_id)
    return ballot


# --- bonus items a unit declares (单位自行申报的加分项目) ---------------------------------------------


def _open_for_bonus(round: m.Round) -> None:
    if round.results_frozen_at is not None or round.status not in (m.RoundStatus.RUNNING, m.RoundStatus.COMPILING):
        raise Conflict("只有在本轮进行中和汇总阶段（领导审定前）可以申报或审核加分项目。")


def _declaration_fields(case: m.Case, title: object, reason: object, points: object,
                        evidence_ids: object) -> tuple[str, str, Decimal, list[m.Attachment]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 255:
        errors["title"] = ["请填写加分事项（不超过255字）。"]
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = ["请填写申报理由。"]
    amount = Decimal("0")
    try:
        amount = parse_points(points, "points_requested", max_value=Decimal("9999.99"))
        if amount <= 0:
            errors["points_requested"] = ["申请分值必须大于0。"]
    except ValidationError as exc:
        errors.update(exc.message_dict)
    files: list[m.Attachment] = []
    if not isinstance(evidence_ids, list) or len(evidence_ids) > 100:
        errors["evidence_ids"] = ["必须是附件编号的列表（至多100个）。"]
    else:
        own = {a.pk: a for a in case.attachments.filter(purpose=m.Attachment.Purpose.EVIDENCE)}
        for i, value in enumerate(evidence_ids):
            key = f"evidence_ids[{i}]"
            pk = _unit_id(value, key, errors)
            if pk is None:
                continue
            if pk not in own:
                errors[key] = ["不是本单位本轮上传的佐证材料。"]
            elif own[pk] not in files:
                files.append(own[pk])
    if errors:
        raise ValidationError(errors)
    assert isinstance(title, str) and isinstance(reason, str)
    return title.strip(), reason.strip(), amount, files


@transaction.atomic
def declaration_create(*, user: m.User, case: m.Case, title: object, reason: object, points_requested: object,
                       evidence_ids: object = ()) -> m.BonusDeclaration:
    """A unit declares a bonus item with its reason and evidence (files uploaded to its case)."""
    if not access.can_declare_bonus(user, case):
        raise PermissionDenied("只有本单位填报员可以申报加分项目。")
    _open_for_bonus(case.round)
    if evidence_ids == ():
        evidence_ids = []
    title_s, reason_s, amount, files = _declaration_fields(case, title, reason, points_requested, evidence_ids)
    declaration = m.BonusDeclaration.objects.create(round_id=case.round_id, case=case, title=title_s, reason=reason_s,
                                                    points_requested=amount, declared_by=user)
    declaration.evidence.set(files)
    audit(actor=user, action="bonus_declaration.create", obj=declaration,
          after={"title": title_s, "points_requested": str(amount), "evidence": [f.pk for f in files]},
          round_id=case.round_id)
    return declaration


@transaction.atomic
def declaration_decide(*, user: m.User, declaration: m.BonusDeclaration, approve: bool,
                       points_granted: object = None, reason: object = "") -> m.BonusDeclaration:
    """The office approves a declared bonus item with the points it grants (at most those requested),
    which become a special bonus of the case (the engine caps the unit's special bonus), or refuses it
    with a reason."""
    if not access.is_office(user):
        raise PermissionDenied("只有考核办可以审核加分项目。")
    declaration = m.BonusDeclaration.objects.select_for_update().select_related("round", "case").get(pk=declaration.pk)
    _open_for_bonus(declaration.round)
    if declaration.status != m.DeclarationStatus.DECLARED:
        raise Conflict("该加分项目已审核。")
    errors: dict[str, list[str]] = {}
    text = reason.strip() if isinstance(reason, str) else None
    if text is None:
        errors["reason"] = ["必须是文本。"]
    elif not approve and not text:
        errors["reason"] = ["不予批准时必须填写理由。"]
    granted = Decimal("0")
    if approve:
        try:
            granted = parse_points(points_granted, "points_granted", max_value=Decimal("9999.99"))
            if granted <= 0 or granted > declaration.points_requested:
                errors["points_granted"] = [f"核定分值必须大于0且不超过申请分值 {declaration.points_requested}。"]
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    declaration.status = m.DeclarationStatus.APPROVED if approve else m.DeclarationStatus.REFUSED
    declaration.decision_reason = text or ""
    declaration.decided_by = user
    declaration.decided_at = timezone.now()
    if approve:
        declaration.points_granted = granted
        bonus = m.SpecialBonus.objects.create(case=declaration.case, level=DECLARED_LEVEL, title=declaration.title,
                                              amount=granted, granted_by=user)
        declaration.special_bonus = bonus
        audit(actor=user, action="special_bonus.create", obj=bonus,
              after={"amount": str(granted), "level": DECLARED_LEVEL, "declaration": declaration.pk},
              round_id=declaration.round_id)
    declaration.save()
    after: dict[str, Any] = {"status": declaration.status, "points_granted": str(granted) if approve else None}
    audit(actor=user, action="bonus_declaration.approve" if approve else "bonus_declaration.refuse", obj=declaration,
          before={"status": m.DeclarationStatus.DECLARED}, after=after, comment=declaration.decision_reason,
          round_id=declaration.round_id)
    return declaration
