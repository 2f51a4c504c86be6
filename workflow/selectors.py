"""Task reads: inbox (assigned to me), queue (claimable by my roles), archive (done by me), all
(mine and my roles' tasks, whoever holds them).

viewflow's own `inbox()`/`queue()` have no LIMIT and resolve permissions per row; these build one
indexed query from the user's memberships instead (see the indexes in workflow's migrations).
"""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Q, QuerySet
from viewflow.workflow import chart
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from cases import access
from cases import models as m
from cases.db import execute_prepared
from workflow.flows import CaseFlow, RectificationFlow, SocialCaseFlow
from workflow.models import TaskDeadline

HUMAN = "HUMAN"
# A task someone still has to act on (STARTED only exists inside the transaction that completes it).
OPEN = (STATUS.NEW, STATUS.ASSIGNED)


def _ids(qs: Iterable[int]) -> list[str]:
    # owner_permission_obj_pk is a text column in viewflow's schema.
    return [str(pk) for pk in qs]


def roles_q(user: m.User) -> Q:
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
        q |= Q(owner_permission__in=["cases.group_lead", "cases.rectification_reviewer"],
               owner_permission_obj_pk__in=leads)
    if access.is_office(user):
        q |= Q(owner_permission__in=["cases.office", "cases.rectification_reviewer"])
    if access.is_leader(user):
        q |= Q(owner_permission="cases.leader")
    return q


def queue_q(user: m.User) -> Q:
    """Tasks that wait for someone of the user's roles to claim them."""
    return Q(owner__isnull=True, status=STATUS.NEW) & roles_q(user)


def human_tasks() -> QuerySet[Task]:
    tasks: QuerySet[Task] = Task.objects.filter(flow_task_type=HUMAN)
    return tasks


# The scopes that are one person's own tasks in one state.
OWN_SCOPES = {"inbox": STATUS.ASSIGNED, "archive": STATUS.DONE}


def tasks_for(user: m.User, scope: str = "inbox") -> QuerySet[Task]:
    """The user's tasks in one scope: inbox, queue, archive, or all that the user may see."""
    qs = human_tasks()
    if scope in OWN_SCOPES:
        return qs.filter(owner=user, status=OWN_SCOPES[scope])
    if scope == "queue":
        return qs.filter(queue_q(user))
    if access.sees_everything(user):
        return qs
    # Not just the claimable ones: a task of one's role that a colleague has claimed or done stays
    # visible, so acting on it second gets a clear 409 rather than a 404.
    return qs.filter(Q(owner=user) | roles_q(user))


def case_process(case_id: int) -> Process | None:
    """The case's process, CaseFlow or a social round's SocialCaseFlow (None before launch)."""
    return Process.objects.filter(
        flow_class__in=[CaseFlow, SocialCaseFlow], artifact_content_type=ContentType.objects.get_for_model(m.Case),
        artifact_object_id=case_id,
    ).first()


def flow_svg(flow_class: type, process_pk: int | None = None) -> str:
    """The flow's diagram as SVG, with a process's current position when given."""
    grid = chart.calc_layout_data(flow_class)
    if process_pk:
        # A step with an open task is drawn open (a step reopened by a return, or one expert's sheet of
        # several still out); otherwise as its latest task stands. viewflow's calc_cell_status keeps an
        # earlier DONE over a later NEW task, so both cases were drawn as finished.
        tasks = Task.objects.filter(process_id=process_pk).order_by("created", "pk").values_list("flow_task", "status")
        shown: dict[Any, str] = {}
        for node, status in tasks:
            if shown.get(node) not in OPEN:
                shown[node] = status
        for node in grid.nodes:
            if node in shown:
                grid[node].status = shown[node]
    return str(chart.grid_to_svg(grid))


# A task list row: the task, its due row (which carries its case and round), the case's unit, group
# and status, the round's title. Tasks created before due rows existed have NULLs after `process_id`.
ROW_FIELDS = (
    "pk", "flow_task", "status", "created", "finished", "owner_id", "data", "process_id",
    "deadline__due", "deadline__round_id", "deadline__round__title",
    "deadline__case_id", "deadline__case__unit__name", "deadline__case__group__name", "deadline__case__status",
)


def task_rows(user: m.User, scope: str, flow_tasks: list[Any] | None = None) -> "OwnTaskRows | QuerySet[Task, tuple[Any, ...]]":
    """`ROW_FIELDS` rows of the user's tasks in a scope, newest first, optionally of some nodes only;
    something a paginator can slice and count."""
    if scope in OWN_SCOPES and connection.vendor == "postgresql":
        return OwnTaskRows(user.pk, OWN_SCOPES[scope], flow_tasks)
    qs = tasks_for(user, scope)
    if flow_tasks is not None:
        qs = qs.filter(flow_task__in=flow_tasks)
    return qs.order_by("-created", "-pk").values_list(*ROW_FIELDS)


def _rows_sql(tasks_sql: str) -> str:
    """`ROW_FIELDS` (and a total) of the tasks `tasks_sql` selects, newest first. Only those tasks go
    through the joins."""
    return f"""
        WITH page AS ({tasks_sql})
        SELECT page.id, page.flow_task, page.status, page.created, page.finished, page.owner_id, page.data,
               page.process_id, d.due, d.round_id, r.title, d.case_id, u.name, g.name, c.status, page.total
        FROM page
        LEFT JOIN workflow_taskdeadline d ON d.task_id = page.id
        LEFT JOIN cases_round r ON r.id = d.round_id
        LEFT JOIN cases_case c ON c.id = d.case_id
        LEFT JOIN cases_unit u ON u.id = c.unit_id
        LEFT JOIN cases_group g ON g.id = c.group_id
        ORDER BY page.created DESC, page.id DESC
    """


_TASK_COLUMNS = "t.id, t.flow_task, t.status, t.created, t.finished, t.owner_id, t.data, t.process_id"


def _as_row_fields(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Raw rows of `_rows_sql` as the ORM gives `ROW_FIELDS`: the node, not its reference; the data
    decoded (Django reads jsonb as text); no total."""
    field = Task._meta.get_field("flow_task")
    return [(r[0], field.from_db_value(r[1], None, connection), *r[2:6], json.loads(r[6]), *r[7:-1]) for r in rows]


class OwnTaskRows:
    """One person's inbox or archive (`tasks_for`'s OWN_SCOPES) as `ROW_FIELDS` rows.

    This is the hot path: every expert's and unit's landing page. The ORM query costs ~1.5 ms of
    Python to build and compile, and PostgreSQL ~1 ms to plan its five joins, to execute in 0.1 ms;
    the separate count query as much again. Here a page and the total come from one prepared
    statement (cases.db). tests/workflow/test_task_list.py checks that it gives what `tasks_for`
    gives, page by page.
    """

    # $1 owner, $2 status, $3 flow_task refs or NULL for all, $4 limit, $5 offset. The window counts
    # the person's tasks in the index scan, before the joins.
    SQL = _rows_sql(f"""
        SELECT {_TASK_COLUMNS}, count(*) OVER () AS total
        FROM viewflow_task t
        WHERE t.flow_task_type = 'HUMAN' AND t.owner_id = $1 AND t.status = $2
          AND ($3::varchar[] IS NULL OR t.flow_task = ANY ($3))
        ORDER BY t.created DESC, t.id DESC
        LIMIT $4 OFFSET $5
    """)

    def __init__(self, owner_id: int, status: str, flow_tasks: list[Any] | None = None) -> None:
        field = Task._meta.get_field("flow_task")
        self.params = [owner_id, str(status), None if flow_tasks is None else [field.get_prep_value(n) for n in flow_tasks]]

    def page(self, offset: int, limit: int) -> tuple[list[tuple[Any, ...]], int]:
        """The rows from `offset` on, at most `limit`, and the total (0 when the page is empty)."""
        rows = execute_prepared("own_task_rows", self.SQL, [*self.params, limit, offset])
        return _as_row_fields(rows), rows[0][-1] if rows else 0

    def count(self) -> int:
        return self.page(0, 1)[1]


_ROWS_BY_ID_SQL = _rows_sql(f"SELECT {_TASK_COLUMNS}, 0 AS total FROM viewflow_task t WHERE t.id = ANY ($1::bigint[])")


def task_rows_by_id(task_ids: list[int]) -> list[tuple[Any, ...]]:
    """`ROW_FIELDS` rows of these tasks, newest first (the answer to every task action)."""
    if connection.vendor != "postgresql":
        return list(Task.objects.filter(pk__in=task_ids).order_by("-created", "-pk").values_list(*ROW_FIELDS))
    return _as_row_fields(execute_prepared("task_rows_by_id", _ROWS_BY_ID_SQL, [list(task_ids)]))


def rectification_step_dues(rectification_ids: Iterable[int]) -> dict[int, datetime]:
    """{rectification: the due of its process's open step} (a closed one has none), in one query."""
    return dict(TaskDeadline.objects.filter(
        task__process__flow_class=RectificationFlow, task__status__in=OPEN,
        task__process__data__rectification__in=list(rectification_ids),
    ).values_list("task__process__data__rectification", "due"))
