"""Every human step of the two flows, declared once.

A `Step` says what users may do at a step (its actions), what doing it means (its handler, which
calls the domain services of `cases`), the phase whose due date its tasks get, and who is told when
one of its tasks is overdue (the escalation chain). Who does the step — its role — is the flow node's
own permission, declared in `workflow/flows.py` where the engine needs it; `Step.role` reads it there.

Everything that used to keep a table by step name reads `STEPS` instead: the task actions
(`workflow.services.task_act`), due dates (`workflow.deadlines`), escalation notices, the dashboard's
order of steps, the API's and the pages' action buttons.

A new human step: its node in `flows.py`, its handler and its `Step` below.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from django.core.exceptions import ValidationError
from viewflow.workflow.nodes.view import ViewActivation

from cases import models as m
from cases.evaluation import services as evaluation_services
from cases.rectification import services as rectification_services
from cases.scoring import results, round_config
from cases.services import decisions, submissions
from cases.services import rounds as round_services
from cases.services import sheets as sheet_services
from cases.services.audit import audit
from cases.social.materials import services as material_services
from notifications.documents import services as document_services
from workflow.deadlines.selectors import task_due
from workflow.flows import CaseFlow, RectificationFlow, RoundFlow, SocialCaseFlow
from workflow.models import Phase


class ActionData(TypedDict, total=False):
    """The payload of a task action: the API's `TaskActionSerializer`, the pages' forms."""

    comment: str
    report: str
    self_scores: dict[str, Any]
    statistics: dict[str, Any]
    items: list[dict[str, Any]]
    reason: str
    sheets: list[int]
    grade: str
    proposal: dict[str, Any]  # grade first (seed 000): an expert's proposed grade, rank and deduction
    group: int  # the leader's return to one group (seed 000)
    target: str  # a rectification's plan
    measures: list[dict[str, Any]]
    evidence_ids: list[int]  # a rectification's completion report (its text is `report`)
    topic: str  # a social round's questionnaire: its hot/difficult work and questions (seed 004)
    questions: list[str]
    situation: dict[str, Any]  # 附件8 and the two reports
    analysis: dict[str, Any]  # the performance analysis's three parts


# A step's handler: (user, the task's activation under its process lock, action, payload). It runs
# the domain services; `task_act` then completes the task. An exception rolls the action back.
Handler = Callable[[m.User, ViewActivation, str, ActionData], None]


@dataclass(frozen=True)
class Step:
    """One human step: its node in a flow and what the node itself does not say."""

    node: Any  # a viewflow node, e.g. CaseFlow.prepare (viewflow is untyped)
    actions: tuple[str, ...]
    handler: Handler
    phase: Phase
    escalation: tuple[str, ...]  # who is told when a task is overdue: level 1, then level 2
    # For a step whose due is not a round phase's (Phase.RECTIFY): (date field of the process's
    # rectification, days after it); see workflow.deadlines.rules.own_due.
    due_from: tuple[str, int] | None = None

    @property
    def name(self) -> str:
        return str(self.node.name)

    @property
    def role(self) -> str | None:
        """The role that claims the step's tasks (`unit_staff`, …), from the node's permission;
        None for a step assigned to one person (a score task goes to its expert)."""
        permission: str | None = self.node._owner_permission
        return permission.removeprefix("cases.") if permission else None


# --- the handlers -------------------------------------------------------------------------------


def _case(activation: ViewActivation) -> m.Case:
    return m.Case.objects.select_related("round", "unit", "group").get(pk=activation.process.data["case"])


def _round(activation: ViewActivation) -> m.Round:
    return m.Round.objects.select_for_update().get(pk=activation.process.data["round"])


def _set_process_flag(activation: ViewActivation, key: str, value: object) -> None:
    activation.process.data = {**activation.process.data, key: value}
    activation.process.save(update_fields=["data"])


def _comment(data: ActionData) -> str:
    comment = data.get("comment", "")
    if not isinstance(comment, str):
        raise ValidationError({"comment": ["必须是文本。"]})
    return comment


def _prepare(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    case = _case(activation)
    if "report" in data or "self_scores" in data or "statistics" in data:
        # What is not given stays as it is (None is "not given" to the service).
        submissions.submission_save(user=user, case=case, report=data.get("report"),
                                    self_scores=data.get("self_scores"), statistics=data.get("statistics"))
    # Late against the task's effective due: the office may have extended it.
    submissions.submission_submit(user=user, case=case, due=task_due(activation.task.pk))


def _sign_off(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    approve = action == "approve"
    submissions.submission_sign_off(user=user, case=_case(activation), approve=approve, comment=_comment(data))
    _set_process_flag(activation, "signed", approve)


def _inspect(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    case = _case(activation)
    decisions.case_set_status(user=user, case=case, status=m.CaseStatus.SCORE)
    audit(actor=user, action="case.inspected", obj=case, round_id=case.round_id)


def _score(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    # The expert's own sheet, with its case, round and rubric (the hot path: bench/complete_tasks.py).
    sheet, last = sheet_services.score_sheet_submit_own(
        user=user, case_id=activation.process.data["case"], items=data.get("items"), reason=data.get("reason"),
        proposal=data.get("proposal"))
    if last:  # no sheet of the case is still a draft: the review comes next
        decisions.case_set_status(user=user, case=sheet.case, status=m.CaseStatus.REVIEW)


def _review(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    case = _case(activation)
    grade_first = round_config.grade_first(case.round.config or {})
    if action == "approve":
        grade = data.get("grade")
        if grade_first:
            problems = decisions.grade_first_review_problems(case, grade)
            if problems:
                raise ValidationError(problems)
        elif grade:
            decisions.case_propose_grade(user=user, case=case, grade=grade)
        _set_process_flag(activation, "returned_experts", [])
        audit(actor=user, action="case.review_approved", obj=case, round_id=case.round_id)
        return
    sheet_ids = data.get("sheets")
    if grade_first and data.get("grade"):
        # The leader decides the grade from the panel's proposals; every expert then scores within its band.
        decisions.case_propose_grade(user=user, case=case, grade=data["grade"])
        if not sheet_ids:
            sheet_ids = list(case.score_sheets.filter(status=m.SheetStatus.SUBMITTED).values_list("pk", flat=True))
    if not isinstance(sheet_ids, list) or not sheet_ids:
        raise ValidationError({"sheets": ["请选择要退回的评分表。"]})
    sheets = list(case.score_sheets.filter(pk__in=sheet_ids, status=m.SheetStatus.SUBMITTED))
    if len(sheets) != len(set(sheet_ids)):
        raise ValidationError({"sheets": ["只能退回本单位已提交的评分表。"]})
    comment = _comment(data)
    for sheet in sheets:
        sheet_services.score_sheet_return(user=user, sheet=sheet, comment=comment)
    decisions.case_set_status(user=user, case=case, status=m.CaseStatus.SCORE)
    _set_process_flag(activation, "returned_experts", sorted(s.expert_id for s in sheets))


def _compile(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    round = _round(activation)
    if round.kind == m.RoundKind.SOCIAL:  # its results are the leader evaluation's component (seed 004)
        evaluation_services.compile_results(user=user, round=round)
    else:
        results.round_compute_results(user=user, round=round)
    round_services.round_results_submitted(user=user, round=round)


def _approve(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    round = _round(activation)
    approve = action == "approve"
    comment = _comment(data)
    if approve:
        round_services.round_approve(user=user, round=round, comment=comment)
        if round.kind != m.RoundKind.SOCIAL:  # a social round has no findings and no bands to rectify
            # The approved round's findings to rectify and its lowest-band units (workflow.signals opens a
            # process for each).
            rectification_services.rectifications_start(round=round)
    else:
        round = round_services.round_return(user=user, round=round, comment=comment, group=data.get("group"))
    # `group`: the group the results went back to (its recheck task's role object), else none.
    _set_process_flag(activation, "group", round.reopened_group_id)
    _set_process_flag(activation, "approved", approve)


def _group_recheck(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    round_services.round_group_rechecked(user=user, round=_round(activation))


def _report(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    round_services.round_close(user=user, round=_round(activation))


def _rectification(activation: ViewActivation) -> m.Rectification:
    return m.Rectification.objects.get(pk=activation.process.data["rectification"])


def _plan(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    rect = _rectification(activation)
    if "measures" in data or "target" in data:
        measures = data.get("measures")
        rectification_services.plan_save(user=user, rectification=rect, target=data.get("target", rect.target),
                                          measures=measures if measures is not None else [])
    rectification_services.plan_submit(user=user, rectification=rect)


def _plan_sign(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    approve = action == "approve"
    rectification_services.plan_sign(user=user, rectification=_rectification(activation), approve=approve,
                                      comment=_comment(data))
    _set_process_flag(activation, "signed", approve)


def _plan_review(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    approve = action == "approve"
    rectification_services.plan_review(user=user, rectification=_rectification(activation), approve=approve,
                                       comment=_comment(data))
    _set_process_flag(activation, "plan_accepted", approve)


def _carry_out(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    report = data.get("report", "")
    rectification_services.report_completion(user=user, rectification=_rectification(activation),
                                             text=report if isinstance(report, str) else "",
                                             evidence_ids=data.get("evidence_ids"))


def _verify(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    approve = action == "approve"
    rect = _rectification(activation)
    rectification_services.verify(user=user, rectification=rect, approve=approve, comment=_comment(data))
    if approve:  # closed (销号): its closure sheet is issued
        document_services.closure_sheet_issue(rectification=rect)
    _set_process_flag(activation, "verified", approve)


def _samples(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    material_services.samples_deliver(user=user, case=_case(activation), due=task_due(activation.task.pk))


def _questionnaire(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    case = _case(activation)
    if "topic" in data or "questions" in data:
        material_services.questionnaire_save(user=user, case=case, topic=data.get("topic"),
                                             questions=data.get("questions"))
    material_services.questionnaire_submit(user=user, case=case, due=task_due(activation.task.pk))


def _questionnaire_review(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    approve = action == "approve"
    material_services.questionnaire_review(user=user, case=_case(activation), approve=approve,
                                           comment=_comment(data))
    _set_process_flag(activation, "questionnaire_approved", approve)


def _situation(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    material_services.situation_submit(user=user, case=_case(activation), data=data.get("situation"),
                                       due=task_due(activation.task.pk))


def _analysis(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    case = _case(activation)
    if "analysis" in data:
        material_services.analysis_save(user=user, case=case, data=data["analysis"])
    material_services.analysis_submit(user=user, case=case, due=task_due(activation.task.pk))


def _analysis_sign(user: m.User, activation: ViewActivation, action: str, data: ActionData) -> None:
    approve = action == "approve"
    material_services.analysis_sign(user=user, case=_case(activation), approve=approve,
                                    comment=_comment(data))
    _set_process_flag(activation, "analysis_signed", approve)


# --- the declarations, in the order the work flows ----------------------------------------------

SUBMIT = ("submit",)
APPROVE_OR_RETURN = ("approve", "return")

_DECLARED = (
    Step(CaseFlow.prepare, SUBMIT, _prepare, Phase.PREPARE, escalation=("unit_head", "office")),
    Step(CaseFlow.sign_off, APPROVE_OR_RETURN, _sign_off, Phase.PREPARE, escalation=("office",)),
    Step(CaseFlow.inspect, SUBMIT, _inspect, Phase.INSPECT, escalation=("office",)),
    Step(CaseFlow.score, SUBMIT, _score, Phase.INSPECT, escalation=("group_lead", "office")),
    Step(CaseFlow.review, APPROVE_OR_RETURN, _review, Phase.REVIEW, escalation=("office",)),
    # A social round's unit (seed 004): lists and questionnaire by the prepare due (11月13日), the office's
    # review and the situation table by the inspect due (12月10日), the analysis by the review due (12月20日).
    Step(SocialCaseFlow.samples, SUBMIT, _samples, Phase.PREPARE, escalation=("unit_head", "office")),
    Step(SocialCaseFlow.questionnaire, SUBMIT, _questionnaire, Phase.PREPARE, escalation=("unit_head", "office")),
    Step(SocialCaseFlow.questionnaire_review, APPROVE_OR_RETURN, _questionnaire_review, Phase.INSPECT,
         escalation=("leader",)),
    Step(SocialCaseFlow.situation, SUBMIT, _situation, Phase.INSPECT, escalation=("unit_head", "office")),
    Step(SocialCaseFlow.analysis, SUBMIT, _analysis, Phase.REVIEW, escalation=("unit_head", "office")),
    Step(SocialCaseFlow.analysis_sign, APPROVE_OR_RETURN, _analysis_sign, Phase.REVIEW, escalation=("office",)),
    Step(RoundFlow.compile, SUBMIT, _compile, Phase.APPROVE, escalation=("leader",)),
    Step(RoundFlow.approve, APPROVE_OR_RETURN, _approve, Phase.APPROVE, escalation=("office",)),
    Step(RoundFlow.group_recheck, SUBMIT, _group_recheck, Phase.APPROVE, escalation=("office",)),
    Step(RoundFlow.report, SUBMIT, _report, Phase.REPORT, escalation=("leader",)),
    # A rectification: plan and signature by the plan's due, review five days later, the completion by
    # the rectification's due date, verification ten days after it.
    Step(RectificationFlow.plan, SUBMIT, _plan, Phase.RECTIFY, escalation=("unit_head", "office"),
         due_from=("plan_due", 0)),
    Step(RectificationFlow.plan_sign, APPROVE_OR_RETURN, _plan_sign, Phase.RECTIFY, escalation=("office",),
         due_from=("plan_due", 0)),
    Step(RectificationFlow.plan_review, APPROVE_OR_RETURN, _plan_review, Phase.RECTIFY, escalation=("office",),
         due_from=("plan_due", 5)),
    Step(RectificationFlow.carry_out, SUBMIT, _carry_out, Phase.RECTIFY, escalation=("unit_head", "office"),
         due_from=("due_date", 0)),
    Step(RectificationFlow.verify, APPROVE_OR_RETURN, _verify, Phase.RECTIFY, escalation=("office",),
         due_from=("due_date", 10)),
)

# By node (what a task's `flow_task` is), and by name for the callers that only have the name
# (a deadline schedule, the dashboard). Step names are unique across the flows.
STEPS: Mapping[Any, Step] = {step.node: step for step in _DECLARED}
_BY_NAME: Mapping[str, Step] = {step.name: step for step in _DECLARED}


def step_of(node: object) -> Step | None:
    """The step of a flow node (None for a node that is not a human step: start, split, end…)."""
    return STEPS.get(node)


def step_named(name: str) -> Step | None:
    return _BY_NAME.get(name)


def actions_of(node: object) -> tuple[str, ...]:
    """The actions a task of this node offers (none for a node that is not a human step)."""
    step = STEPS.get(node)
    return step.actions if step is not None else ()
