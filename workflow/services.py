"""Everything that moves work: launching a round and acting on tasks.

Each task action takes the process lock (SELECT … FOR UPDATE NOWAIT, retried by viewflow), re-reads
the task, checks who may act, runs the domain service, and completes the task — all in one
transaction. A domain error rolls everything back; losing a race gives `Conflict` (HTTP 409).
"""

from contextlib import contextmanager
from types import SimpleNamespace

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.models import Process, Task
from viewflow.workflow.signals import flow_started, task_finished, task_started
from viewflow.workflow.status import STATUS
from viewflow.workflow.token import Token

from cases import access
from cases import models as m
from cases import services as case_services
from cases.errors import Conflict
from cases.scoring import results
from workflow import deadlines, events
from workflow.flows import CaseFlow, RoundFlow

# Which actions each human step offers.
STEP_ACTIONS = {
    "prepare": ("submit",),
    "sign_off": ("approve", "return"),
    "inspect": ("submit",),
    "score": ("submit",),
    "review": ("approve", "return"),
    "compile": ("submit",),
    "approve": ("approve", "return"),
    "report": ("submit",),
}


# --- launching --------------------------------------------------------------------------------


def _launch_problems(round: m.Round) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if not round.cases.exists():
        problems.setdefault("cases", []).append("本轮没有被考评单位。")
    if not round.rubric.items.exists():
        problems.setdefault("rubric", []).append("考评细则没有评分项。")
    for group in round.groups.prefetch_related("members"):
        roles = [member.role for member in group.members.all()]
        if m.GroupRole.LEADER not in roles:
            problems.setdefault("groups", []).append(f"{group.name}没有组长。")
        if m.GroupRole.EXPERT not in roles:
            problems.setdefault("groups", []).append(f"{group.name}没有评分专家。")
    # Every case needs at least one expert who is not from the unit itself (one query for all cases).
    eligible = access.scoring_experts(OuterRef("group_id"), OuterRef("unit_id"))
    for case in round.cases.filter(~Exists(eligible)).select_related("unit"):
        problems.setdefault("cases", []).append(f"{case.unit.name}没有可回避后评分的专家。")
    return problems


@transaction.atomic
def round_launch(*, user, round_id: int) -> m.Round:
    """Start a drafted round: freeze its rubric, open one case process per unit and the round process."""
    if not access.is_office(user):
        raise PermissionDenied("只有考核办可以启动考评。")
    round = m.Round.objects.select_for_update().get(pk=round_id)
    if round.status != m.RoundStatus.DRAFT:
        raise Conflict("该轮考评已经启动。")
    problems = _launch_problems(round)
    if problems:
        raise ValidationError(problems)
    m.Rubric.objects.filter(pk=round.rubric_id).update(frozen=True)
    round.status = m.RoundStatus.RUNNING
    round.launched_at = timezone.now()
    round.save(update_fields=["status", "launched_at"])
    RoundFlow.start.run(round=round)
    cases = list(round.cases.all())
    round.cases.update(status=m.CaseStatus.PREPARE)
    case_processes_start(cases)
    case_services.audit(
        actor=user, action="round.launch", obj=round, after={"cases": len(cases)}, round_id=round.pk
    )
    return round


def _bulk_start_supported() -> bool:
    """Whether `CaseFlow.start.run` writes nothing but the rows the bulk path writes: a StartHandle
    followed by a plain View with no onCreate hook, no auto-assigned owner, no boundary event (an
    `.OnTimeout` deadline arms a timer task on creation), no task data/seed callables, and no
    receiver of the engine's signals for CaseFlow. Anything else sends launch back to the engine."""
    start = CaseFlow.start
    first = start._next
    return (
        type(start) is flow.StartHandle
        and type(first) is flow.View
        and start._task_data is None
        and start._task_seed is None
        and first._on_create is None
        and first._owner is None
        and not first._boundary_events
        and not any(signal.has_listeners(CaseFlow) for signal in (task_started, task_finished, flow_started))
    )


def case_processes_start(cases: list[m.Case], *, engine: bool = False) -> None:
    """Open one CaseFlow process per case, exactly as `CaseFlow.start.run(case=case)` does.

    The engine costs ~6 ms and 9 statements per case (measured here), ~6 s for a round of 1,000
    units, so by default the rows are written in bulk — the processes (artifact and data set by the
    flow's own start function), their DONE start tasks, the NEW first task (`prepare`) with its
    role permission, and the `previous` links — in five statements. They are field for field the
    engine's rows: tests/workflow/test_bulk_launch.py compares them and carries a bulk-started case
    through the whole flow. If you change CaseFlow's start or first step, that test tells you
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
    for process in processes:
        task = Task(process=process, flow_task=first, flow_task_type=first.task_type, status=STATUS.NEW,
                    created=now, token=token, data={})
        activation = SimpleNamespace(process=process, task=task)
        permission = first.calc_owner_permission(activation)
        if permission:
            task.owner_permission = permission
            task.owner_permission_obj = first.calc_owner_permission_obj(activation)
        first_tasks.append(task)
    Task.objects.bulk_create(first_tasks)
    Previous = Task.previous.through
    Previous.objects.bulk_create(
        Previous(from_task_id=task.pk, to_task_id=prev.pk) for task, prev in zip(first_tasks, start_tasks)
    )
    # bulk_create sends no post_save: the due rows the engine path writes in its receiver.
    deadlines.tasks_bulk_created(first_tasks)


def case_finished(*, case_id: int) -> None:
    """Mark the case done and, if it was the round's last open case, wake the round process.

    The round row is locked before counting so that two cases finishing at the same moment
    cannot both see the other as still open."""
    case = m.Case.objects.get(pk=case_id)
    case_services.case_set_status(case=case, status=m.CaseStatus.DONE)
    m.Round.objects.select_for_update().filter(pk=case.round_id).exists()
    if m.Case.objects.filter(round_id=case.round_id).exclude(status=m.CaseStatus.DONE).exists():
        return
    m.Round.objects.filter(pk=case.round_id).update(status=m.RoundStatus.COMPILING)
    waiting = Task.objects.get(
        process=round_process(case.round_id), flow_task=RoundFlow.wait_cases, status=STATUS.NEW
    )
    RoundFlow.wait_cases.run(waiting)


def round_process(round_id: int) -> Process:
    return Process.objects.get(
        flow_class=RoundFlow,
        artifact_content_type=ContentType.objects.get_for_model(m.Round),
        artifact_object_id=round_id,
    )


# --- task actions -----------------------------------------------------------------------------


def _eligible(user, task: Task) -> bool:
    """Whether the user holds the role the (claimable) task asks for."""
    return bool(task.owner_permission) and user.has_perm(task.owner_permission, obj=task.owner_permission_obj)


def can_act(user, task: Task) -> bool:
    """Whether the user may act on the open task now: its owner, or one of its role's members while
    nobody has claimed it. (Seeing a task — office, leader, auditor — is not acting on it.)"""
    if task.status == STATUS.ASSIGNED:
        return task.owner_id == user.pk
    return task.status == STATUS.NEW and _eligible(user, task)


def _take(activation, user) -> None:
    """Make `user` the owner of the task, claiming it if it is still open to their role."""
    task = activation.task
    if task.status == STATUS.ASSIGNED and task.owner_id == user.pk:
        return
    if task.status == STATUS.NEW:
        if not _eligible(user, task):
            raise PermissionDenied("您无权办理此任务。")
        activation.assign(user)
        task.assigned = timezone.now()
        task.save(update_fields=["assigned"])
        return
    if task.status == STATUS.ASSIGNED:
        if _eligible(user, task):
            raise Conflict("该任务已由他人认领办理。")
        raise PermissionDenied("该任务不是您的任务。")
    raise Conflict("该任务已经办理完毕。")


@contextmanager
def _locked(task_id: int):
    """The task's activation under its process lock — what `Task.activation()` gives, one query
    cheaper: viewflow re-reads the task under the lock and then loads its process separately;
    this reads both at once (after finding which process to lock)."""
    process_id, flow_task = Task.objects.values_list("process_id", "flow_task").get(pk=task_id)
    with flow_task.flow_class.lock(process_id):
        task = Task.objects.select_related("process").get(pk=task_id)
        yield task.flow_task.activation_class(task)


def task_claim(*, user, task_id: int) -> Task:
    try:
        with _locked(task_id) as activation:
            _take(activation, user)
            return activation.task
    except FlowLockFailed:
        raise Conflict("该任务正在被他人办理，请稍后刷新。") from None


def task_unclaim(*, user, task_id: int) -> Task:
    try:
        with _locked(task_id) as activation:
            task = activation.task
            if task.status == STATUS.ASSIGNED and task.owner_id != user.pk:
                raise PermissionDenied("该任务不是您的任务。")
            if task.status != STATUS.ASSIGNED:
                raise Conflict("只能退回本人已认领、未办理的任务。")
            if activation.flow_task.name == "score":
                raise Conflict("专家评分任务不能放弃。")
            activation.unassign()
            return task
    except FlowLockFailed:
        raise Conflict("该任务正在被他人办理，请稍后刷新。") from None


def task_act(*, user, task_id: int, action: str, data: dict) -> Task:
    """Perform `action` (submit / approve / return) on a task, completing it."""
    try:
        with _locked(task_id) as activation:
            step = activation.flow_task.name
            if action not in STEP_ACTIONS.get(step, ()):
                raise ValidationError({"action": [f"步骤“{step}”不支持操作“{action}”。"]})
            _take(activation, user)
            _HANDLERS[step](user, activation, action, data)
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


def _case(activation, *related: str) -> m.Case:
    return m.Case.objects.select_related("round", "unit", "group", *related).get(pk=activation.process.data["case"])


def _round(activation) -> m.Round:
    return m.Round.objects.select_for_update().get(pk=activation.process.data["round"])


def _set_process_flag(activation, key: str, value) -> None:
    activation.process.data = {**activation.process.data, key: value}
    activation.process.save(update_fields=["data"])


def _comment(data) -> str:
    comment = data.get("comment", "")
    if not isinstance(comment, str):
        raise ValidationError({"comment": ["必须是文本。"]})
    return comment


def _prepare(user, activation, action, data):
    case = _case(activation)
    fields = {k: data[k] for k in ("report", "self_scores", "statistics") if k in data}
    if fields:
        case_services.submission_save(user=user, case=case, **fields)
    # Late against the task's effective due: the office may have extended it.
    case_services.submission_submit(user=user, case=case, due=deadlines.task_due(activation.task.pk))


def _sign_off(user, activation, action, data):
    approve = action == "approve"
    case_services.submission_sign_off(user=user, case=_case(activation), approve=approve, comment=_comment(data))
    _set_process_flag(activation, "signed", approve)


def _inspect(user, activation, action, data):
    case = _case(activation)
    case_services.case_set_status(case=case, status=m.CaseStatus.SCORE)
    case_services.audit(actor=user, action="case.inspected", obj=case, round_id=case.round_id)


def _score(user, activation, action, data):
    case = _case(activation, "round__rubric")  # the sheet services read the rubric through the case
    sheet = case_services.score_sheet_open(case=case, expert=user)
    case_services.score_sheet_submit(user=user, sheet=sheet, items=data.get("items"), reason=data.get("reason"))
    if not m.ScoreSheet.objects.filter(case=case, status=m.SheetStatus.DRAFT).exists():
        case_services.case_set_status(case=case, status=m.CaseStatus.REVIEW)


def _review(user, activation, action, data):
    case = _case(activation)
    if action == "approve":
        if data.get("grade"):
            case_services.case_propose_grade(user=user, case=case, grade=data["grade"])
        _set_process_flag(activation, "returned_experts", [])
        case_services.audit(actor=user, action="case.review_approved", obj=case, round_id=case.round_id)
        return
    sheet_ids = data.get("sheets")
    if not isinstance(sheet_ids, list) or not sheet_ids:
        raise ValidationError({"sheets": ["请选择要退回的评分表。"]})
    sheets = list(case.score_sheets.filter(pk__in=sheet_ids, status=m.SheetStatus.SUBMITTED))
    if len(sheets) != len(set(sheet_ids)):
        raise ValidationError({"sheets": ["只能退回本单位已提交的评分表。"]})
    comment = _comment(data)
    for sheet in sheets:
        case_services.score_sheet_return(user=user, sheet=sheet, comment=comment)
    case_services.case_set_status(case=case, status=m.CaseStatus.SCORE)
    _set_process_flag(activation, "returned_experts", sorted(s.expert_id for s in sheets))


def _compile(user, activation, action, data):
    round = _round(activation)
    results.round_compute_results(user=user, round=round)
    round.status = m.RoundStatus.APPROVING
    round.save(update_fields=["status"])
    case_services.audit(actor=user, action="round.compiled", obj=round, round_id=round.pk)


def _approve(user, activation, action, data):
    round = _round(activation)
    approve = action == "approve"
    comment = _comment(data)
    if not approve and not comment.strip():
        raise ValidationError({"comment": ["退回时必须填写意见。"]})
    round.status = m.RoundStatus.REPORTING if approve else m.RoundStatus.COMPILING
    round.save(update_fields=["status"])
    if approve:
        results.round_freeze_results(round=round)
    _set_process_flag(activation, "approved", approve)
    case_services.audit(
        actor=user,
        action="round.approve" if approve else "round.return",
        obj=round,
        comment=comment,
        round_id=round.pk,
    )


def _report(user, activation, action, data):
    round = _round(activation)
    round.status = m.RoundStatus.CLOSED
    round.save(update_fields=["status"])
    case_services.audit(actor=user, action="round.reported", obj=round, round_id=round.pk)


_HANDLERS = {
    "prepare": _prepare,
    "sign_off": _sign_off,
    "inspect": _inspect,
    "score": _score,
    "review": _review,
    "compile": _compile,
    "approve": _approve,
    "report": _report,
}
