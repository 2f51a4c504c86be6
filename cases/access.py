"""Row-level access: the one place that decides which rows a user may see.

Every list, detail, export and task query starts from `visible(Model, user)` (or narrows a
queryset with `restrict(qs, user)`). Write permissions (who may *change* a row) are separate predicates below, used by
the services; they build on the same membership facts.

Roles (SPEC section 2): office, leader and auditor are organisation-wide; unit staff/head are
memberships of a unit; group leader, deputy, expert and liaison are memberships of one group of
one round. An expert never sees a case of a unit they belong to (recusal).
"""

from collections.abc import Iterable
from functools import cache
from typing import TypeVar

from django.db import connection
from django.db.models import Count, Exists, Min, Model, OuterRef, Q, QuerySet

from cases import models as m
from cases.db import execute_prepared

SEE_ALL_ROLES = {m.OrgRole.OFFICE, m.OrgRole.LEADER, m.OrgRole.AUDITOR}
GROUP_LEAD_ROLES = [m.GroupRole.LEADER, m.GroupRole.DEPUTY]

M = TypeVar("M", bound=Model)


# Separation of duties: a role is what the person *is* (`org_role`, a membership), never the
# superuser flag. A superuser (an emergency account, `manage.py createsuperuser`) may read
# everything and configure through the admin, but acts on no step and writes nothing as the office
# or the leader unless it also holds that role.


def sees_everything(user) -> bool:
    return user.is_superuser or user.org_role in SEE_ALL_ROLES


def scope_key(user) -> str:
    """Names what `user` sees, for caching reads that depend only on it: one key for every organisation-wide
    role (they all see everything), one per person below them."""
    return "all" if sees_everything(user) else f"user:{user.pk}"


def is_office(user) -> bool:
    return user.org_role == m.OrgRole.OFFICE


def is_leader(user) -> bool:
    return user.org_role == m.OrgRole.LEADER


def is_auditor(user) -> bool:
    return user.org_role == m.OrgRole.AUDITOR


def can_read_audit(user) -> bool:
    return user.is_superuser or is_office(user) or is_auditor(user)


def unit_ids(user, role: str | None = None) -> QuerySet:
    qs = m.UnitMembership.objects.filter(user=user)
    if role:
        qs = qs.filter(role=role)
    return qs.values("unit_id")


def group_ids(user, roles=None) -> QuerySet:
    qs = m.GroupMember.objects.filter(user=user)
    if roles:
        qs = qs.filter(role__in=roles)
    return qs.values("group_id")


def scoring_experts(group_id, unit_id) -> QuerySet:
    """The group members who score a unit's case: the group's experts, less the unit's own people
    (recusal). The ids may be `OuterRef`s of a query over cases."""
    unit = OuterRef(unit_id) if isinstance(unit_id, OuterRef) else unit_id  # one query further in
    own_unit = m.UnitMembership.objects.filter(user_id=OuterRef("user_id"), unit_id=unit)
    return m.GroupMember.objects.filter(group_id=group_id, role=m.GroupRole.EXPERT).filter(~Exists(own_unit))


def _case_q(user, prefix: str = "") -> Q:
    """Cases the user may see: their own unit's, or their groups' (minus their own unit for experts)."""
    p = prefix
    own_unit = Q(**{f"{p}unit_id__in": unit_ids(user)})
    group_lead_or_liaison = Q(
        **{f"{p}group_id__in": group_ids(user, GROUP_LEAD_ROLES + [m.GroupRole.LIAISON])}
    )
    expert = Q(**{f"{p}group_id__in": group_ids(user, [m.GroupRole.EXPERT])}) & ~own_unit
    return own_unit | group_lead_or_liaison | expert


def _rectification_q(user, prefix: str = "") -> Q:
    """Rectifications below the organisation-wide roles: a unit's own (staff and head), and those of the
    groups a person leads, deputises or liaises for. Experts see none (they score, they do not follow up)."""
    # The person's few units and groups are read first (two small queries), so that PostgreSQL can OR two
    # index scans; with the subqueries inline it scans the whole table (a ledger of 20,000 rows: ~20 ms).
    p = prefix
    units = [row["unit_id"] for row in unit_ids(user)]
    groups = [row["group_id"] for row in group_ids(user, GROUP_LEAD_ROLES + [m.GroupRole.LIAISON])]
    return Q(**{f"{p}unit_id__in": units}) | Q(**{f"{p}group_id__in": groups})


def _visible_case_ids(user) -> QuerySet:
    return m.Case.objects.filter(_case_q(user)).values("pk")


def visible(model: type[M], user) -> QuerySet[M]:
    """The rows of `model` that `user` may see: where every read of the domain starts."""
    return restrict(model._default_manager.all(), user)


def restrict(qs: QuerySet, user) -> QuerySet:
    """Narrow `qs` to the rows `user` may see."""
    if user is None or not user.is_authenticated:
        return qs.none()
    model = qs.model
    if model is m.AuditEntry:
        return qs if can_read_audit(user) else qs.none()
    # Sample frames (抽样框, personal data): the rows are the office's alone; a list's counts are the
    # office's and its own unit's (staff and head). Leaders and auditors see neither.
    if model is m.SampleRow:
        return qs if can_read_sample_rows(user) else qs.none()
    if model is m.SampleFrame:
        return qs if can_read_sample_rows(user) else qs.filter(unit_id__in=unit_ids(user))
    if sees_everything(user):
        return qs
    if model is m.Case:
        return qs.filter(_case_q(user))
    if model._meta.label == "notifications.Document":  # a layer above: known by name, not imported
        return qs.filter(document_q(user))
    if model._meta.label == "notifications.DocumentBatch":  # the office's bulk actions
        return qs.none()
    if model in (m.Submission, m.InspectionRecord, m.Finding, m.Attachment, m.SpecialBonus, m.BonusDeclaration):
        return qs.filter(case__in=_visible_case_ids(user))
    if model is m.Rectification:
        return qs.filter(_rectification_q(user))
    if model in (m.DutyPublication, m.MaterialDelivery, m.Questionnaire, m.PerformanceAnalysis, m.SituationReport):
        # A social round's records and materials (seed 004): the unit's own; the office sees all (above).
        return qs.filter(case__in=_visible_case_ids(user))
    if model is m.RecommendationBallot:
        # A unit's ballot (民主推荐) is its own; the group's leaders and liaison see their group's.
        return qs.filter(Q(unit_id__in=unit_ids(user))
                         | Q(group_id__in=group_ids(user, GROUP_LEAD_ROLES + [m.GroupRole.LIAISON])))
    if model in (m.RectificationMeasure, m.RectificationReport, m.RectificationReview):
        return qs.filter(rectification__in=m.Rectification.objects.filter(_rectification_q(user)).values("pk"))
    if model is m.Objection:
        # A unit's own objections (staff and head); the leaders, deputies and liaisons of the case's
        # group. Experts see none.
        return qs.filter(_rectification_q(user, "case__"))
    if model is m.Result:
        # Units see their own result once the round's results are approved; group leads see
        # their group's while compiling; experts see none (they score, the office compiles).
        return qs.filter(
            Q(case__group_id__in=group_ids(user, GROUP_LEAD_ROLES))
            | Q(case__unit_id__in=unit_ids(user), round__results_frozen_at__isnull=False)
        )
    if model is m.ScoreSheet:
        # Sheets are the group's internal work: an expert sees their own, group leaders see all
        # of their group; units see results, never individual sheets.
        return qs.filter(
            Q(expert=user) | Q(case__group_id__in=group_ids(user, GROUP_LEAD_ROLES))
        )
    # Subqueries, not joins: a join plus distinct() would multiply rows for any later annotate().
    if model is m.Round:
        return qs.filter(
            Q(pk__in=m.GroupMember.objects.filter(user=user).values("group__round_id"))
            | Q(pk__in=m.Case.objects.filter(unit_id__in=unit_ids(user)).values("round_id"))
            | Q(pk__in=m.LeaderEvaluator.objects.filter(user=user).values("round_id"))  # seed 004's evaluators
        )
    if model is m.Group:
        # Group members see the groups of their rounds (whom to coordinate with); a unit sees only the
        # group that assesses it. What of the members each sees: `full_contact_groups`.
        return qs.filter(
            Q(round_id__in=m.GroupMember.objects.filter(user=user).values("group__round_id"))
            | Q(pk__in=m.Case.objects.filter(unit_id__in=unit_ids(user)).values("group_id"))
        )
    if model is m.Unit:
        return qs.filter(Q(pk__in=unit_ids(user)) | Q(pk__in=m.Case.objects.filter(_case_q(user)).values("unit_id")))
    if model is m.Rubric:
        return qs.filter(pk__in=restrict(m.Round.objects.all(), user).values("rubric_id"))
    return qs.none()


# The members whose contacts a group publishes to the units it assesses (附件2 of the seed's notice:
# the leader and the liaison, so that units can reach the group); the others are listed by name and role.
PUBLIC_CONTACT_ROLES = {m.GroupRole.LEADER, m.GroupRole.LIAISON}


def full_contact_groups(user) -> set[int] | None:
    """The groups whose every member's contacts (mobile, office phone) `user` sees: all (None) for
    the organisation-wide roles, otherwise the groups the user belongs to. Elsewhere only the
    `PUBLIC_CONTACT_ROLES` members' contacts."""
    if sees_everything(user):
        return None
    return set(m.GroupMember.objects.filter(user=user).values_list("group_id", flat=True))


# --- write predicates (used by services; they raise PermissionDenied on False) ---------------


def is_unit_member(user, unit_id: int, role: str) -> bool:
    return m.UnitMembership.objects.filter(user=user, unit_id=unit_id, role=role).exists()


def group_role(user, group_id: int) -> set[str]:
    return set(
        m.GroupMember.objects.filter(user=user, group_id=group_id).values_list("role", flat=True)
    )


def can_record_inspection(user, case: m.Case) -> bool:
    """Inspection records and findings are the group leader's and deputies' (SPEC: the inspect step
    is theirs); experts score and liaisons coordinate, neither records."""
    return can_lead_group(user, case.group_id)


def can_lead_group(user, group_id: int) -> bool:
    return bool(group_role(user, group_id) & {m.GroupRole.LEADER, m.GroupRole.DEPUTY})


# --- the role permissions that workflow tasks require -------------------------------------------

ROLE_PERMISSIONS = {"cases.unit_staff", "cases.unit_head", "cases.group_lead", "cases.office", "cases.leader",
                    "cases.rectification_reviewer"}


def has_role_permission(user, perm: str, obj=None) -> bool:
    """Whether `user` holds role `perm` (on `obj`, a Unit or Group, where the role is scoped)."""
    if not user.is_active:
        return False
    if perm == "cases.office":
        return is_office(user)
    if perm == "cases.leader":
        return is_leader(user)
    if obj is None:
        return False
    if perm == "cases.unit_staff":
        return is_unit_member(user, obj.pk, m.UnitRole.STAFF)
    if perm == "cases.unit_head":
        return is_unit_member(user, obj.pk, m.UnitRole.HEAD)
    if perm == "cases.group_lead":
        return can_lead_group(user, obj.pk)
    if perm == "cases.rectification_reviewer":  # a rectification's plan review and verification
        return is_office(user) or can_lead_group(user, obj.pk)
    return False


def sole_holders(perm: str, obj_pks: Iterable[int | None]) -> dict[int | None, int]:
    """Who alone holds role `perm` on each object (a Unit's pk for the unit roles, a Group's for
    `group_lead`, None for the organisation-wide roles): {object pk: user id}, only for the objects
    where exactly one active person holds it. One query for any number of objects.

    A task of such a role has an evident owner and is assigned to them when it is created instead of
    waiting in the queue. For a group that is its one leader (GroupRole.LEADER): deputies stand in
    when the leader gives the task back (unclaims it)."""
    pks = {pk for pk in obj_pks if pk is not None}
    if perm in ("cases.office", "cases.leader"):
        org_role = m.OrgRole.OFFICE if perm == "cases.office" else m.OrgRole.LEADER
        ids = list(m.User.objects.filter(org_role=org_role, is_active=True).order_by("pk")
                   .values_list("pk", flat=True)[:2])
        return {None: ids[0]} if len(ids) == 1 else {}
    membership: type[m.UnitMembership | m.GroupMember]
    role: str
    if perm in ("cases.unit_staff", "cases.unit_head"):
        membership, on = m.UnitMembership, "unit_id"
        role = m.UnitRole.STAFF if perm == "cases.unit_staff" else m.UnitRole.HEAD
    elif perm == "cases.group_lead":
        membership, on, role = m.GroupMember, "group_id", m.GroupRole.LEADER
    else:
        return {}
    if not pks:
        return {}
    # Prepared on PostgreSQL: every task the engine creates for such a role asks.
    if connection.vendor != "postgresql":  # the demo's SQLite: the ORM
        rows = (membership.objects.filter(**{f"{on}__in": pks}, role=role, user__is_active=True)
                .values(on).annotate(n=Count("user_id", distinct=True), user=Min("user_id")).filter(n=1)
                .order_by().values_list(on, "user"))
        return dict(rows)
    return dict(execute_prepared(f"sole_holders_{membership._meta.db_table}", _sole_holders_sql(membership, on),
                                 [list(pks), role]))


@cache
def _sole_holders_sql(membership: type[Model], on: str) -> str:
    return f"""
        SELECT h."{on}", MIN(h.user_id) FROM {membership._meta.db_table} h
          JOIN {m.User._meta.db_table} u ON u.id = h.user_id
         WHERE h."{on}" = ANY($1) AND h.role = $2 AND u.is_active
         GROUP BY 1 HAVING COUNT(DISTINCT h.user_id) = 1"""


def sole_holder(perm: str, obj_pk: int | None = None) -> int | None:
    """The one person who holds role `perm` (on the object), or None when nobody or several do."""
    return sole_holders(perm, [obj_pk]).get(obj_pk)


class RolePermissionBackend:
    """Django auth backend answering `user.has_perm()` for the role permissions above, so that
    viewflow's own task checks and ours agree. (Who may view and manage processes is the flows'
    `has_view_permission` / `has_manage_permission`.)

    Django's `has_perm` answers True for an active superuser without asking any backend: whoever
    decides who acts on a task calls `has_role_permission` itself (workflow.services does)."""

    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm, obj=None):
        if perm in ROLE_PERMISSIONS:
            return has_role_permission(user_obj, perm, obj)
        return False


def document_q(user) -> Q:
    """Issued official documents (`notifications.Document`) a unit-side or group-side person may read:
    round-wide ones (notices, 通报) of rounds their unit or group takes part in; a letter to one unit
    by that unit and by the leaders and liaisons of its group; internal working papers and drafts by
    nobody below the office, leaders and auditors (who see everything)."""
    my_units = unit_ids(user)
    in_round = Q(round_id__in=m.Case.objects.filter(unit_id__in=my_units).values("round_id")) | Q(
        round_id__in=m.Group.objects.filter(pk__in=group_ids(user)).values("round_id")
    )
    led_cases = m.Case.objects.filter(group_id__in=group_ids(user, GROUP_LEAD_ROLES + [m.GroupRole.LIAISON]))
    own_letter = Q(unit_id__in=my_units) | Q(
        unit_id__in=led_cases.filter(round_id=OuterRef("round_id")).values("unit_id")
    )
    return Q(status__in=["issued", "superseded"]) & ((Q(audience="round") & in_round) | (Q(audience="unit") & own_letter))


# --- rectification (整改): who acts at each step ------------------------------------------------


def can_draft_rectification(user, rect) -> bool:
    """The plan, progress and completion reports are the unit's staff's."""
    return user.is_active and is_unit_member(user, rect.unit_id, m.UnitRole.STAFF)


def can_sign_rectification(user, rect) -> bool:
    """The plan is signed by the unit's head."""
    return user.is_active and is_unit_member(user, rect.unit_id, m.UnitRole.HEAD)


def can_review_rectification(user, rect) -> bool:
    """The plan is accepted and the completion verified by the leader or a deputy of the case's group,
    or by the office."""
    return user.is_active and (is_office(user) or can_lead_group(user, rect.group_id))


# --- seed 001: self-check table, democratic recommendation, declared bonus items -----------------


def is_group_member(user, group_id: int) -> bool:
    return m.GroupMember.objects.filter(user=user, group_id=group_id).exists()


def can_read_group_work(user, group: m.Group) -> bool:
    """A group's self-check shortfalls and its recommendation tally: the group's people (any role)
    and the organisation-wide roles. Units see their own case and their own ballot only."""
    return sees_everything(user) or is_group_member(user, group.pk)


def can_vote_for_unit(user, unit_id: int) -> bool:
    """A unit's recommendation is the unit's own act: its head casts it (seed 001: 各单位…民主推荐)."""
    return user.is_active and is_unit_member(user, unit_id, m.UnitRole.HEAD)


def can_declare_bonus(user, case: m.Case) -> bool:
    """A unit's staff declare its bonus items (单位自行申报), as they write its self-assessment."""
    return user.is_active and is_unit_member(user, case.unit_id, m.UnitRole.STAFF)


def can_read_sample_rows(user) -> bool:
    """The people of a sample frame (names, phones) are read and exported by the office only (seed 004:
    对参评人员的个人信息…严格保密)."""
    return user.is_authenticated and user.is_active and is_office(user)


def can_upload_sample_frame(user, round: m.Round, unit: m.Unit) -> bool:
    """A unit's lists are uploaded by its staff (填报员), for a round the unit is assessed in."""
    return (user.is_authenticated and user.is_active and is_unit_member(user, unit.pk, m.UnitRole.STAFF)
            and m.Case.objects.filter(round=round, unit=unit).exists())


def sample_frame_units(user, round: m.Round) -> QuerySet:
    """The units of `round` whose sample-frame counts `user` sees: every unit for the office, a unit's own
    for its staff and head, none for anyone else."""
    units = m.Unit.objects.filter(pk__in=m.Case.objects.filter(round=round).values("unit_id"))
    if can_read_sample_rows(user):
        return units
    return units.filter(pk__in=unit_ids(user))


def can_draft_social_material(user, case: m.Case) -> bool:
    """A social round's questionnaire, situation table and performance analysis are drafted by the unit's
    staff (填报员), as its self-assessment is."""
    return user.is_authenticated and user.is_active and is_unit_member(user, case.unit_id, m.UnitRole.STAFF)


def can_sign_performance_analysis(user, case: m.Case) -> bool:
    """The performance analysis is discussed and approved by the unit's party group (党委（党组）讨论审定):
    its head signs it off."""
    return user.is_authenticated and user.is_active and is_unit_member(user, case.unit_id, m.UnitRole.HEAD)
