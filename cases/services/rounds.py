"""Rounds, their groups and the units they assess, as the office sets them up; and the round's own
state changes as its process moves (start, cases done, results submitted, approve or return, close).

The round flow (`workflow`) decides *when* a change happens and calls these; the rules of each
change (what it writes, who may make it, from which state) are here.
"""

from datetime import date, datetime
from typing import Any, NotRequired, TypedDict, Unpack

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cases import access, selectors
from cases import models as m
from cases.errors import Conflict
from cases.round_templates import RoundTemplate, rubric_file
from cases.rubrics.services import rubric_import
from cases.rubrics.text import load_rubric_yaml
from cases.scoring import results, round_config
from cases.services.audit import audit
from cases.services.common import parse_int, require_office

# --- units ------------------------------------------------------------------------------------


class UnitChanges(TypedDict, total=False):
    """The fields of a unit that `unit_update` changes; a field not given keeps its value."""

    code: str
    name: str
    short_name: str
    category: str
    parent: m.Unit | None
    sort_order: int
    active: bool


@transaction.atomic
def unit_create(
    *,
    user: m.User,
    code: str,
    name: str,
    category: str,
    short_name: str = "",
    parent: m.Unit | None = None,
    sort_order: int = 0,
    active: bool = True,
) -> m.Unit:
    """The office adds an assessed unit."""
    require_office(user)
    unit = m.Unit.objects.create(
        code=code, name=name, category=category, short_name=short_name, parent=parent, sort_order=sort_order,
        active=active,
    )
    audit(actor=user, action="unit.create", obj=unit, after={"code": unit.code, "name": unit.name})
    return unit


@transaction.atomic
def unit_update(*, user: m.User, unit: m.Unit, **changes: Unpack[UnitChanges]) -> m.Unit:
    """The office edits a unit; the changed fields are audited with before/after."""
    require_office(user)
    before = {k: str(getattr(unit, k)) for k in changes}
    for key, value in changes.items():
        setattr(unit, key, value)
    unit.save()
    audit(actor=user, action="unit.update", obj=unit, before=before, after={k: str(getattr(unit, k)) for k in changes})
    return unit


# --- rounds -----------------------------------------------------------------------------------


class RoundChanges(TypedDict, total=False):
    """The fields of a round that `round_update` changes; a field not given keeps its value. After
    launch only the phase dues may change."""

    title: str
    kind: str
    year: int
    rubric: m.Rubric
    previous_round: m.Round | None
    prepare_due: datetime
    inspect_due: datetime
    review_due: datetime
    approve_due: datetime
    report_due: datetime
    config: dict[str, Any]


class RoundOptions(TypedDict):
    """`round_create`'s optional fields: left out, the model's defaults apply."""

    previous_round: NotRequired[m.Round | None]
    config: NotRequired[dict[str, Any]]


def _check_round(round: m.Round) -> None:
    errors = selectors.round_problems({k: getattr(round, k) for k in m.Round.DUE_FIELDS}, round.config)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def round_create(
    *,
    user: m.User,
    title: str,
    kind: str,
    year: int,
    rubric: m.Rubric,
    prepare_due: datetime,
    inspect_due: datetime,
    review_due: datetime,
    approve_due: datetime,
    report_due: datetime,
    **options: Unpack[RoundOptions],
) -> m.Round:
    """The office drafts a round; its dues must follow the phases and its configuration be valid."""
    require_office(user)
    round = m.Round(
        created_by=user, title=title, kind=kind, year=year, rubric=rubric, prepare_due=prepare_due,
        inspect_due=inspect_due, review_due=review_due, approve_due=approve_due, report_due=report_due, **options,
    )
    _check_round(round)
    round.save()
    audit(actor=user, action="round.create", obj=round, round_id=round.pk)
    return round


def _template_rubric(template: RoundTemplate) -> m.Rubric:
    """The template's rubric: the latest version loaded, else its shipped file, loaded now."""
    rubric = m.Rubric.objects.filter(code=template.rubric).order_by("-version").first()
    if rubric is not None:
        return rubric
    path = rubric_file(template.rubric)
    if path is None:
        raise ValidationError({"template": [f"模板所用的评分细则“{template.rubric}”尚未导入。"]})
    return rubric_import(user=None, spec=load_rubric_yaml(path.read_text("utf-8")))


@transaction.atomic
def round_create_from_template(*, user: m.User, template: RoundTemplate, year: int, start: date,
                               title: str = "") -> m.Round:
    """The office drafts a round from a template (考评模板): its kind, rubric, phase dues counted from
    `start`, inspection methods, configuration and notice requirements; everything stays editable while the
    round is a draft."""
    require_office(user)
    dues = template.dues(start)
    return round_create(
        user=user, title=title.strip() or template.title.replace("{year}", str(year)), kind=template.kind,
        year=year, rubric=_template_rubric(template), config=template.round_config(),
        prepare_due=dues["prepare_due"], inspect_due=dues["inspect_due"], review_due=dues["review_due"],
        approve_due=dues["approve_due"], report_due=dues["report_due"],
    )


@transaction.atomic
def round_update(*, user: m.User, round: m.Round, **changes: Unpack[RoundChanges]) -> m.Round:
    """Edit a round; changing a deadline after launch is audited with before/after."""
    require_office(user)
    before = {k: getattr(round, k).isoformat() for k in m.Round.DUE_FIELDS if k in changes}
    if round.status != m.RoundStatus.DRAFT and set(changes) - set(m.Round.DUE_FIELDS):
        raise Conflict("考评已启动，只能调整期限。")
    for key, value in changes.items():
        setattr(round, key, value)
    _check_round(round)
    round.save()
    after = {k: getattr(round, k).isoformat() for k in before}
    audit(actor=user, action="round.update", obj=round, before=before, after=after, round_id=round.pk)
    return round


# --- groups -----------------------------------------------------------------------------------


class GroupMemberSpec(TypedDict):
    """One person's role in a new group."""

    user: m.User
    role: str


def _require_draft(round: m.Round) -> None:
    if round.status != m.RoundStatus.DRAFT:
        raise Conflict("考评已启动，分组与单位不能再修改。")


@transaction.atomic
def group_create(*, user: m.User, round: m.Round, number: int, name: str, phone: str = "",
                 members: list[GroupMemberSpec], units: list[m.Unit]) -> m.Group:
    """Create a group with its people and units; each unit gets its case in the round."""
    require_office(user)
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


class GroupChanges(TypedDict, total=False):
    """The fields of a group that `group_update` changes; a field not given keeps its value."""

    name: str
    phone: str


@transaction.atomic
def group_update(*, user: m.User, group: m.Group, members: list[GroupMemberSpec] | None = None,
                 **changes: Unpack[GroupChanges]) -> m.Group:
    """Rename a group, change its phone, or replace its people (with `members`), in its (still draft)
    round; audited with before/after."""
    require_office(user)
    _require_draft(group.round)
    before: dict[str, Any] = {k: getattr(group, k) for k in changes}
    after: dict[str, Any] = dict(changes)
    if members is not None:
        pairs = [(member["user"].pk, member["role"]) for member in members]
        if len(set(pairs)) != len(pairs):
            raise ValidationError({"members": ["同一人员的同一角色重复。"]})
        before["members"] = sorted(f"{uid}:{role}" for uid, role in group.members.values_list("user_id", "role"))
        after["members"] = sorted(f"{uid}:{role}" for uid, role in pairs)
        group.members.all().delete()
        m.GroupMember.objects.bulk_create(
            m.GroupMember(group=group, user=member["user"], role=member["role"]) for member in members
        )
    for key, value in changes.items():
        setattr(group, key, value)
    if changes:
        group.save(update_fields=list(changes))
    audit(actor=user, action="group.update", obj=group, before=before, after=after, round_id=group.round_id)
    return group


@transaction.atomic
def group_set_units(*, user: m.User, group: m.Group, units: list[m.Unit]) -> m.Group:
    """Set the units a group assesses in its (still draft) round; each unit keeps one case per round."""
    require_office(user)
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


# --- the round's state as its process moves -----------------------------------------------------
# running → compiling (last case done) → approving (results submitted) → reporting (approved) or
# back to compiling (returned) → closed (reported). The flow reaches each step only from the one
# before, so the state checks below guard direct calls, not the flow.


def _require_status(round: m.Round, status: str, message: str) -> None:
    if round.status != status:
        raise Conflict(message)


def _require_leader(user: m.User) -> None:
    if not access.is_leader(user):
        raise PermissionDenied("只有领导可以审定考评结果。")


def _set_status(round: m.Round, status: str) -> None:
    # save(update_fields=…): the Round post_save receiver (workflow deadlines) ignores a status change.
    round.status = status
    round.save(update_fields=["status"])


@transaction.atomic
def round_start(*, user: m.User, round: m.Round) -> m.Round:
    """Launch a drafted round: freeze its rubric (a round scores on a rubric that no longer
    changes), set it running and its cases to prepare, once it can run (`selectors.round_launch_problems`).
    The caller opens the processes."""
    require_office(user)
    _require_status(round, m.RoundStatus.DRAFT, "该轮考评已经启动。")
    problems = selectors.round_launch_problems(round)
    if problems:
        raise ValidationError(problems)
    m.Rubric.objects.filter(pk=round.rubric_id).update(frozen=True)
    round.status = m.RoundStatus.RUNNING
    round.launched_at = timezone.now()
    round.save(update_fields=["status", "launched_at"])
    cases = round.cases.update(status=m.CaseStatus.PREPARE)
    audit(actor=user, action="round.launch", obj=round, after={"cases": cases}, round_id=round.pk)
    return round


@transaction.atomic
def round_cases_done(*, round: m.Round) -> m.Round:
    """Every case of the round is done: its results are compiled next. The system's step (no actor)."""
    _require_status(round, m.RoundStatus.RUNNING, "该轮考评不在进行中。")
    _set_status(round, m.RoundStatus.COMPILING)
    audit(actor=None, action="round.cases_done", obj=round, round_id=round.pk)
    return round


@transaction.atomic
def round_results_submitted(*, user: m.User, round: m.Round) -> m.Round:
    """The office hands the compiled results to the leader for approval; they can no longer be
    recomputed until the leader returns them."""
    require_office(user)
    _require_status(round, m.RoundStatus.COMPILING, "只有在汇总阶段可以提交结果。")
    _set_status(round, m.RoundStatus.APPROVING)
    audit(actor=user, action="round.compiled", obj=round, round_id=round.pk)
    return round


@transaction.atomic
def round_approve(*, user: m.User, round: m.Round, comment: str = "") -> m.Round:
    """The leader approves the results: they become final, and the office reports them next."""
    _require_leader(user)
    _require_status(round, m.RoundStatus.APPROVING, "结果不在待审定状态。")
    _set_status(round, m.RoundStatus.REPORTING)
    results.round_freeze_results(round=round)
    audit(actor=user, action="round.approve", obj=round, comment=comment, round_id=round.pk)
    return round


@transaction.atomic
def round_return(*, user: m.User, round: m.Round, comment: str, group: object = None) -> m.Round:
    """The leader returns the results, with a comment, to the office to compile again — or to one group
    (`group`: its id), whose leaders recheck its cases' decisions (panel, grade) before the office compiles;
    the other groups' stay as they are meanwhile."""
    _require_leader(user)
    _require_status(round, m.RoundStatus.APPROVING, "结果不在待审定状态。")
    errors: dict[str, list[str]] = {}
    if not comment.strip():
        errors["comment"] = ["退回时必须填写意见。"]
    reopened = None
    if group not in (None, ""):
        reopened = m.Group.objects.filter(round=round, pk=parse_int(group, "group", min_value=1)).first()
        if reopened is None:
            errors["group"] = ["考评组不属于本轮次。"]
    if errors:
        raise ValidationError(errors)
    round.reopened_group = reopened
    round.save(update_fields=["reopened_group"])
    _set_status(round, m.RoundStatus.COMPILING)
    audit(actor=user, action="round.return", obj=round, comment=comment, round_id=round.pk,
          after={"group": reopened.name} if reopened else None)
    return round


@transaction.atomic
def round_group_rechecked(*, user: m.User, round: m.Round) -> m.Round:
    """The returned group's leaders have rechecked its cases: the office compiles again."""
    group = round.reopened_group
    if group is None:
        raise Conflict("本轮结果没有退回考评组复核。")
    if not access.can_lead_group(user, group.pk):
        raise PermissionDenied("只有被退回考评组的组长或副组长可以提交复核。")
    round.reopened_group = None
    round.save(update_fields=["reopened_group"])
    audit(actor=user, action="round.group_rechecked", obj=round, round_id=round.pk, after={"group": group.name})
    return round


@transaction.atomic
def round_close(*, user: m.User, round: m.Round) -> m.Round:
    """The office has reported the approved results: the round is over. A round with a publication
    period (`publication_days`, or one the office opened anyway) waits until its results are final
    (cases.objections)."""
    require_office(user)
    _require_status(round, m.RoundStatus.REPORTING, "结果尚未审定，不能通报。")
    published = round_config.publication_days(round.config or {}) or round.publication_starts_at is not None
    if published and round.results_final_at is None:
        raise Conflict("本轮考评设有公示期：公示期结束且异议全部处理、结果最终确定后才能结束通报。")
    _set_status(round, m.RoundStatus.CLOSED)
    audit(actor=user, action="round.reported", obj=round, round_id=round.pk)
    return round
