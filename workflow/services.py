"""Everything that moves work: launching a round and acting on tasks.

What an action does at each step is the step's handler (`workflow.steps`); this module runs it.

Each task action takes the process lock (SELECT … FOR UPDATE NOWAIT, retried as viewflow's lock retries)
in the statement that reads the task (`_TaskLock`), checks who may act, runs the domain service, and
completes the task — all in one transaction. A domain error rolls everything back; losing a race gives `Conflict` (HTTP 409).
"""

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import SimpleNamespace
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.models import Process, Task
from viewflow.workflow.nodes.view import ViewActivation
from viewflow.workflow.signals import flow_started, task_finished, task_started
from viewflow.workflow.status import STATUS
from viewflow.workflow.token import Token

from cases import access
from cases import models as m
from cases.db import execute_prepared, model_from_row, select_columns
from cases.errors import Conflict
from cases.services import rounds as round_services
from workflow.deadlines import events
from workflow.deadlines.services import tasks_bulk_created
from workflow.flows import ROLE_OBJECT_KEY, CaseFlow, RoundFlow, SocialCaseFlow, evident_owner
from workflow.nodes import HumanStep
from workflow.steps import ActionData, step_of

# --- launching --------------------------------------------------------------------------------


@transaction.atomic
def round_launch(*, user: m.User, round_id: int) -> m.Round:
    """Start a drafted round: freeze its rubric, open one case process per unit and the round process."""
    if not access.is_office(user):  # before the lock: an outsider holds no round row
        raise PermissionDenied("只有考核办可以启动考评。")
    round = m.Round.objects.select_for_update().get(pk=round_id)
    round_services.round_start(user=user, round=round)
    RoundFlow.start.run(round=round)
    cases = list(round.cases.all())
    if round.kind == m.RoundKind.SOCIAL:
        # A social round's units deliver materials, not self-assessments (seed 004): their own flow, through
        # the engine (its first node is a split; the bulk path below knows CaseFlow's shape only).
        for case in cases:
            SocialCaseFlow.start.run(case=case)
    else:
        case_processes_start(cases)
    return round


def _bulk_start_supported() -> bool:
    """Whether `CaseFlow.start.run` writes nothing but the rows the bulk path writes: a StartHandle
    followed by a plain View (or `HumanStep`, which differs only in completing) with no onCreate hook, no
    other owner callable, no boundary event (an `.OnTimeout` deadline arms a timer task on creation), no
    task data/seed callables, and no receiver of the engine's signals for CaseFlow. An owner is supported
    when it is the flows' `evident_owner` (the role's sole holder), which the bulk path looks up in one
    query for every case. Anything else sends launch back to the engine."""
    start = CaseFlow.start
    first = start._next
    return (
        type(start) is flow.StartHandle
        and type(first) in (flow.View, HumanStep)  # created as viewflow's View creates its task
        and start._task_data is None
        and start._task_seed is None
        and first._on_create is None
        and first._owner in (None, evident_owner)
        and not first._boundary_events
        and not any(signal.has_listeners(CaseFlow) for signal in (task_started, task_finished, flow_started))
    )


def _evident_owners(node: flow.View, processes: list[Process]) -> dict[int, int]:
    """{process pk: user id} for the processes whose task of `node` has an evident owner
    (`flows.evident_owner`, in bulk: one query whatever the number of processes)."""
    if node._owner is not evident_owner:
        return {}
    permission = node._owner_permission
    key = ROLE_OBJECT_KEY.get(permission)
    holders = access.sole_holders(permission, [process.data[key] if key else None for process in processes])
    owners = {process.pk: holders.get(process.data[key] if key else None) for process in processes}
    return {pk: user_id for pk, user_id in owners.items() if user_id is not None}


def case_processes_start(cases: list[m.Case], *, engine: bool = False) -> None:
    """Open one CaseFlow process per case, exactly as `CaseFlow.start.run(case=case)` does.

    The engine costs ~6 ms and 9 statements per case (measured here), ~6 s for a round of 1,000
    units, so by default the rows are written in bulk — the processes (artifact and data set by the
    flow's own start function), their DONE start tasks, the first task (`prepare`) with its role
    permission and, when the role has one holder, its owner (then ASSIGNED, else NEW) — and the
    `previous` links, in six statements. They are field for field the engine's rows:
    tests/workflow/test_bulk_launch.py compares them and carries a bulk-started case through the
    whole flow. If you change CaseFlow's start or first step, that test tells you
    whether the bulk path still matches; `_bulk_start_supported` already falls back to the engine
    for the changes it cannot mirror. `engine=True` forces the engine (one case at a time).
    """
    if engine or not _bulk_start_supported():
        for case in cases:
            CaseFlow.start.run(case=case)
        return
    start = CaseFlow.start
    first = start._next
    start_func = this.resolve(CaseFlow.instance, start._func)
    token = Token("start")
    now = timezone.now()
    processes = []
    for case in cases:
        activation = SimpleNamespace(process=Process(flow_class=CaseFlow, created=now))
        start_func(activation, case=case)
        processes.append(activation.process)
    Process.objects.bulk_create(processes)
    start_tasks = Task.objects.bulk_create(
        Task(process=process, flow_task=start, flow_task_type=start.task_type, status=STATUS.DONE,
             created=now, started=now, finished=now, token=token, data={})
        for process in processes
    )
    first_tasks = []
    owners = _evident_owners(first, processes)
    for process in processes:
        task = Task(process=process, flow_task=first, flow_task_type=first.task_type, status=STATUS.NEW,
                    created=now, token=token, data={})
        activation = SimpleNamespace(process=process, task=task)
        permission = first.calc_owner_permission(activation)
        if permission:
            task.owner_permission = permission
            task.owner_permission_obj = first.calc_owner_permission_obj(activation)
        owner_id = owners.get(process.pk)
        if owner_id is not None:
            # What `ViewActivation.create` does with the owner `evident_owner` gives it.
            task.owner_id = owner_id
            task.status = STATUS.ASSIGNED
        first_tasks.append(task)
    Task.objects.bulk_create(first_tasks)
    Previous = Task.previous.through
    Previous.objects.bulk_create(
        Previous(from_task_id=task.pk, to_task_id=prev.pk) for task, prev in zip(first_tasks, start_tasks)
    )
    # bulk_create sends no post_save: the due rows the engine path writes in its receiver.
    tasks_bulk_created(first_tasks)


# --- task actions -----------------------------------------------------------------------------


def _eligible(user: m.User, task: Task) -> bool:
    """Whether the user holds the role the (claimable) task asks for. Asked of `cases.access`
    directly, not through `user.has_perm`: Django grants a superuser every permission, and
    separation of duties holds for superusers too."""
    return bool(task.owner_permission) and access.has_role_permission(
        user, task.owner_permission, obj=task.owner_permission_obj)


def can_act(user: m.User, task: Task) -> bool:
    """Whether the user may act on the open task now: its owner, or one of its role's members while
    nobody has claimed it. (Seeing a task — office, leader, auditor — is not acting on it.)"""
    return task.status in (STATUS.NEW, STATUS.ASSIGNED) and _refusal(user, task) is None


def _refusal(user: m.User, task: Task) -> Exception | None:
    """Why `user` may not take up the task now (None: they may — its owner, or of its role while open)."""
    if task.status == STATUS.ASSIGNED and task.owner_id == user.pk:
        return None
    if task.status == STATUS.NEW:
        return None if _eligible(user, task) else PermissionDenied("您无权办理此任务。")
    if task.status == STATUS.ASSIGNED:
        return Conflict("该任务已由他人认领办理。") if _eligible(user, task) else PermissionDenied("该任务不是您的任务。")
    return Conflict("该任务已经办理完毕。")


def require_may_act(*, user: m.User, task_id: int) -> None:
    """Raise what an action on the task would answer `user` if they may not act on it. For callers
    that must refuse a stranger before judging the request's body (no lock: nothing is changed)."""
    refusal = _refusal(user, Task.objects.get(pk=task_id))
    if refusal is not None:
        raise refusal


def _take(activation: ViewActivation, user: m.User) -> None:
    """Make `user` the owner of the task, claiming it if it is still open to their role."""
    task = activation.task
    refusal = _refusal(user, task)
    if refusal is not None:
        raise refusal
    if task.status == STATUS.NEW:
        activation.assign(user)
        task.assigned = timezone.now()
        task.save(update_fields=["assigned"])


def draft_claim(*, user: m.User, case_id: int, node: Any) -> None:
    """Saving a draft is taking up the work: the case's open task of `node` becomes the saver's —
    claimed if it waits in their role's queue; refused if a colleague holds it (Conflict, 409) or it
    is not theirs to claim (PermissionDenied). Runs in the caller's transaction, so a refused claim
    saves nothing. (A case with no open task of `node` is the caller's to refuse.)"""
    found = (Task.objects.filter(process__artifact_content_type=ContentType.objects.get_for_model(m.Case),
                                 process__artifact_object_id=case_id, flow_task=node,
                                 status__in=(STATUS.NEW, STATUS.ASSIGNED))
             .values_list("pk", "owner_id").first())
    if found is None or found[1] == user.pk:
        return
    task_claim(user=user, task_id=found[0])


@cache
def _task_lock_sql(nowait: bool) -> str:
    task, process = Task._meta.db_table, Process._meta.db_table
    return (f"SELECT {select_columns(Task, 't')}, {select_columns(Process, 'p')} "
            f"FROM {task} t JOIN {process} p ON p.id = t.process_id WHERE t.id = $1 "
            f"FOR UPDATE OF t, p{' NOWAIT' if nowait else ''}")


class _TaskLock:
    """The flows' lock (`lock.select_for_update_lock`: the process row `SELECT … FOR UPDATE NOWAIT`,
    its attempts and back-off, then `FlowLockFailed`), taken by the one statement that reads the task
    and its process (prepared: the ORM's building of it cost more than running it). viewflow's
    `Task.activation()` takes four: find the process, lock it, re-read the task, load the process.
    The task's row is locked too: a statement reads rows as they were when it started, and an action
    on the task committed between then and the lock would go unseen — for a row it locks, PostgreSQL
    reads the latest version instead. (Nothing else locks task rows: this adds no waits.)"""

    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        self.task: Task | None = None

    @contextmanager
    def __call__(self, flow_class: Any, process_pk: Any) -> Iterator[None]:
        impl = lock.select_for_update_lock
        name, sql = f"task_lock{'_nowait' if impl.nowait else ''}", _task_lock_sql(impl.nowait)
        for attempt in range(impl.attempts):  # as SelectForUpdateLock.__call__
            with transaction.atomic():
                try:
                    self.task = self._read(name, sql, impl.nowait)
                except DatabaseError:
                    if attempt == impl.attempts - 1:
                        raise FlowLockFailed(f"Lock failed for task {self.task_id}") from None
                    time.sleep(((attempt + 1) * random.random() + 2**attempt) / 2.5)
                else:
                    yield
                    break

    def _read(self, name: str, sql: str, nowait: bool) -> Task:
        if connection.vendor != "postgresql":  # the demo's SQLite: the ORM (which locks nothing there)
            task: Task = (Task.objects.select_related("process")
                          .select_for_update(nowait=nowait, of=("self", "process")).get(pk=self.task_id))
            return task
        rows = execute_prepared(name, sql, [self.task_id])
        if not rows:
            raise Task.DoesNotExist(f"Task {self.task_id} does not exist.")
        task, at = model_from_row(Task, rows[0])
        task.process, _ = model_from_row(Process, rows[0], at)
        return task


@contextmanager
def _locked(task_id: int) -> Iterator[ViewActivation]:
    """The task's activation under its process lock: what `Task.activation()` gives, in one statement
    (`_TaskLock`), within viewflow's lock scope."""
    task_lock = _TaskLock(task_id)
    with lock.lock_scope(task_lock, None, None):
        task = task_lock.task
        assert task is not None
        yield task.flow_task.activation_class(task)


def task_claim(*, user: m.User, task_id: int) -> Task:
    try:
        with _locked(task_id) as activation:
            _take(activation, user)
            return activation.task
    except FlowLockFailed:
        raise Conflict("该任务正在被他人办理，请稍后刷新。") from None


def task_unclaim(*, user: m.User, task_id: int) -> Task:
    try:
        with _locked(task_id) as activation:
            task = activation.task
            if task.status == STATUS.ASSIGNED and task.owner_id != user.pk:
                raise PermissionDenied("该任务不是您的任务。")
            if task.status != STATUS.ASSIGNED:
                raise Conflict("只能退回本人已认领、未办理的任务。")
            step = step_of(activation.flow_task)
            if step is not None and step.role is None:
                # Assigned to one person (an expert's score task): there is no role to give it back to.
                raise Conflict("专家评分任务不能放弃。")
            activation.unassign()
            return task
    except FlowLockFailed:
        raise Conflict("该任务正在被他人办理，请稍后刷新。") from None


def task_act(*, user: m.User, task_id: int, action: str, data: ActionData) -> Task:
    """Perform `action` (submit / approve / return) on a task, completing it."""
    try:
        with _locked(task_id) as activation:
            step = step_of(activation.flow_task)
            if step is None or action not in step.actions:
                name = activation.flow_task.name
                raise ValidationError({"action": [f"步骤“{name}”不支持操作“{action}”。"]})
            _take(activation, user)
            step.handler(user, activation, action, data)
            activation.task.data = {**activation.task.data, "action": action, "comment": data.get("comment", "")}
            activation.start(None)
            # Tasks created by a "return" are work handed back: their notice says so (workflow.events).
            back = events.returning.set((activation.process.pk, data.get("comment", ""))) if action == "return" else None
            try:
                activation.execute()
            finally:
                if back is not None:
                    events.returning.reset(back)
            return activation.task
    except FlowLockFailed:
        raise Conflict("该任务正在被他人办理，请稍后重试。") from None
