"""Task reads: inbox (assigned to me), queue (claimable by my roles), archive (done by me), all
(mine and my roles' tasks, whoever holds them).

viewflow's own `inbox()`/`queue()` have no LIMIT and resolve permissions per row; these build one
indexed query from the user's memberships instead (see the indexes in workflow's migrations).
"""

from django.db.models import Q, QuerySet
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import access
from cases import models as m

HUMAN = "HUMAN"
# A task someone still has to act on (STARTED only exists inside the transaction that completes it).
OPEN = (STATUS.NEW, STATUS.ASSIGNED)


def _ids(qs) -> list[str]:
    # owner_permission_obj_pk is a text column in viewflow's schema.
    return [str(pk) for pk in qs]


def roles_q(user) -> Q:
    """Tasks that the user's roles are asked to do, whatever their state and whoever took them."""
    memberships = list(m.UnitMembership.objects.filter(user=user).values_list("role", "unit_id"))
    staff = _ids(unit for role, unit in memberships if role == m.UnitRole.STAFF)
    heads = _ids(unit for role, unit in memberships if role == m.UnitRole.HEAD)
    leads = _ids(access.group_ids(user, access.GROUP_LEAD_ROLES).values_list("group_id", flat=True))
    q = Q(pk__in=[])
    if staff:
        q |= Q(owner_permission="cases.unit_staff", owner_permission_obj_pk__in=staff)
    if heads:
        q |= Q(owner_permission="cases.unit_head", owner_permission_obj_pk__in=heads)
    if leads:
        q |= Q(owner_permission="cases.group_lead", owner_permission_obj_pk__in=leads)
    if access.is_office(user):
        q |= Q(owner_permission="cases.office")
    if access.is_leader(user):
        q |= Q(owner_permission="cases.leader")
    return q


def queue_q(user) -> Q:
    """Tasks that wait for someone of the user's roles to claim them."""
    return Q(owner__isnull=True, status=STATUS.NEW) & roles_q(user)


def human_tasks() -> QuerySet:
    return Task.objects.filter(flow_task_type=HUMAN)


def tasks_for(user, scope: str = "inbox") -> QuerySet:
    """The user's tasks in one scope: inbox, queue, archive, or all that the user may see."""
    qs = human_tasks()
    if scope == "inbox":
        return qs.filter(owner=user, status=STATUS.ASSIGNED)
    if scope == "queue":
        return qs.filter(queue_q(user))
    if scope == "archive":
        return qs.filter(owner=user, status=STATUS.DONE)
    if access.sees_everything(user):
        return qs
    # Not just the claimable ones: a task of one's role that a colleague has claimed or done stays
    # visible, so acting on it second gets a clear 409 rather than a 404.
    return qs.filter(Q(owner=user) | roles_q(user))


def case_process(case_id: int):
    """The CaseFlow process of a case (None before launch)."""
    from django.contrib.contenttypes.models import ContentType
    from viewflow.workflow.models import Process

    from workflow.flows import CaseFlow

    return Process.objects.filter(
        flow_class=CaseFlow, artifact_content_type=ContentType.objects.get_for_model(m.Case), artifact_object_id=case_id
    ).first()


def flow_svg(flow_class, process_pk: int | None = None) -> str:
    """The flow's diagram as SVG, with a process's current position when given."""
    from viewflow.workflow import chart

    grid = chart.calc_layout_data(flow_class)
    if process_pk:
        chart.calc_cell_status(flow_class, grid, process_pk)
    return chart.grid_to_svg(grid)
