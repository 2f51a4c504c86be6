"""The two processes of a round, on viewflow 2.4 (open-source edition).

CaseFlow runs once per unit and round; RoundFlow runs once per round and waits for its cases.
Nodes only move work: the business rules live in `cases` (services, and `cases.access` for who
may do what, such as which experts score a case), called from here and from the steps' handlers
(`workflow.steps`, which declares what each human step offers and does).
A process points at its domain object through `artifact`, and keeps the ids that task permissions
need in `process.data` so that creating a task costs no extra query.

Task permissions are role names answered by `cases.access.RolePermissionBackend`:
`cases.unit_staff` / `cases.unit_head` on a Unit, `cases.group_lead` on a Group, `cases.office`,
`cases.leader`. Score tasks are assigned to their expert directly; a role task whose role only one
person holds (a unit's one staff member, a group's one leader, the one leader) is assigned to that
person when it is created (`evident_owner`), the others wait in the role's queue.
"""

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from cases import access
from cases import models as m
from cases.services import decisions
from cases.services import rounds as round_services
from cases.services import sheets as sheet_services
from workflow.nodes import DynamicSplit, HumanStep, ReadOnceJoin
from workflow.views import task_redirect_view


def _unit(process):
    return m.Unit(pk=process.data["unit"])


def _group(process):
    return m.Group(pk=process.data["group"])


def _case_process(activation, case):
    """A case's process (CaseFlow, SocialCaseFlow): its artifact and the ids its task permissions need."""
    activation.process.artifact = case
    activation.process.data = {"case": case.pk, "unit": case.unit_id, "group": case.group_id, "round": case.round_id}
    return activation.process


# The permission objects' pks as `access.sole_holders` takes them, by role (the org roles have none).
ROLE_OBJECT_KEY = {"cases.unit_staff": "unit", "cases.unit_head": "unit", "cases.group_lead": "group",
                   "cases.rectification_reviewer": "group"}


def evident_owner(activation):
    """The one person who holds the task's role, if only one does (`access.sole_holder`): the task is
    assigned to them on creation rather than queued for a claim nobody else could make. None leaves
    it claimable. workflow.services' bulk launch recognises this function and does the same in bulk."""
    permission = activation.flow_task._owner_permission
    key = ROLE_OBJECT_KEY.get(permission)
    user_id = access.sole_holder(permission, activation.process.data[key] if key else None)
    return m.User(pk=user_id) if user_id is not None else None


class CaseFlow(flow.Flow):
    """One unit's way through a round: prepare → sign-off → inspect → scoring → review."""

    process_title = _("单位考评")
    process_description = _("被考评单位的准备、审定、检查、评分与评审")
    lock_impl = lock.select_for_update_lock

    start = flow.StartHandle(this.start_case).Next(this.prepare)

    prepare = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("准备自评材料"))
        .Permission("cases.unit_staff", obj=_unit)
        .Assign(evident_owner)
        .Next(this.sign_off)
    )
    sign_off = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("单位负责人审定"))
        .Permission("cases.unit_head", obj=_unit)
        .Assign(evident_owner)
        .Next(this.check_signed)
    )
    check_signed = (
        flow.If(lambda act: act.process.data.get("signed"))
        .Annotation(title=_("是否通过审定"))
        .Then(this.inspect)
        .Else(this.prepare)
    )
    inspect = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("检查与问题记录"))
        .Permission("cases.group_lead", obj=_group)
        .Assign(evident_owner)
        .Next(this.scoring)
    )
    scoring = (
        DynamicSplit()
        .Annotation(title=_("分派专家评分"))
        .Next(this.score, data_source=this.experts_to_score)
    )
    score = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("专家评分"))
        .Assign(lambda act: m.User(pk=act.task.data["expert"]))
        .onCreate(this.open_score_sheet)
        .Next(this.scoring_done)
    )
    # viewflow's join, with fewer reads (workflow/nodes.py); stored tasks name the node, not its class.
    scoring_done = ReadOnceJoin().Annotation(title=_("评分完成")).Next(this.review)
    review = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("组长评审"))
        .Permission("cases.group_lead", obj=_group)
        .Assign(evident_owner)
        .Next(this.check_review)
    )
    check_review = (
        flow.If(lambda act: not act.process.data.get("returned_experts"))
        .Annotation(title=_("是否退回评分"))
        .Then(this.finish)
        .Else(this.scoring)
    )
    finish = flow.Function(this.finish_case).Annotation(title=_("完成")).Next(this.end)
    end = flow.End()

    def start_case(self, activation, case: m.Case):
        return _case_process(activation, case)

    def experts_to_score(self, activation):
        """First pass: every expert of the group except those of the unit itself (recusal);
        after a review that returned sheets: only those experts."""
        returned = activation.process.data.get("returned_experts")
        if returned:
            return [{"expert": pk} for pk in returned]
        data = activation.process.data
        experts = access.scoring_experts(data["group"], data["unit"]).order_by("user_id").values_list("user_id", flat=True)
        return [{"expert": pk} for pk in experts]

    def open_score_sheet(self, activation):
        data = activation.process.data
        case = m.Case(pk=data["case"], unit_id=data["unit"], group_id=data["group"], round_id=data["round"])
        sheet_services.score_sheet_open(case=case, expert=m.User(pk=activation.task.data["expert"]))

    def finish_case(self, activation):
        case_finished(case_id=activation.process.data["case"])

    def has_view_permission(self, user, obj=None):
        return user.is_authenticated

    def has_manage_permission(self, user, obj=None):
        return user.is_authenticated and access.is_office(user)


class RoundFlow(flow.Flow):
    """The office's round: wait for every case → compile → leader approval → report; a return goes to the
    office, or to one group's leaders to recheck first."""

    process_title = _("考评轮次")
    process_description = _("考评轮次的汇总、审定与通报")
    lock_impl = lock.select_for_update_lock

    start = flow.StartHandle(this.start_round).Next(this.wait_cases)
    wait_cases = flow.Handle().Annotation(title=_("等待各单位完成")).Next(this.compile)
    compile = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("汇总结果"))
        .Permission("cases.office")
        .Assign(evident_owner)
        .Next(this.approve)
    )
    approve = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("领导审定"))
        .Permission("cases.leader")
        .Assign(evident_owner)
        .Next(this.check_approved)
    )
    check_approved = (
        flow.If(lambda act: act.process.data.get("approved"))
        .Annotation(title=_("是否审定通过"))
        .Then(this.report)
        .Else(this.check_returned_to_group)
    )
    check_returned_to_group = (
        flow.If(lambda act: act.process.data.get("group"))
        .Annotation(title=_("是否退回考评组"))
        .Then(this.group_recheck)
        .Else(this.compile)
    )
    # The leader returned the results to one group (seed 000): its leaders recheck, then the office compiles.
    group_recheck = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("考评组复核"))
        .Permission("cases.group_lead", obj=_group)
        .Assign(evident_owner)
        .Next(this.compile)
    )
    report = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("通报结果"))
        .Permission("cases.office")
        .Assign(evident_owner)
        .Next(this.end)
    )
    end = flow.End()

    def start_round(self, activation, round: m.Round):
        activation.process.artifact = round
        activation.process.data = {"round": round.pk}
        return activation.process

    def has_view_permission(self, user, obj=None):
        return user.is_authenticated

    def has_manage_permission(self, user, obj=None):
        return user.is_authenticated and access.is_office(user)


class RectificationFlow(flow.Flow):
    """One rectification (整改) from its plan to its verified closure (销号): the unit drafts the plan,
    its head signs it, the group leader or the office accepts it; the unit carries it out (progress
    reports go through the rectification's own endpoint, not the task) and reports completion; the
    group leader or the office verifies. Returns go back to the plan, or to carrying out."""

    process_title = _("整改")
    process_description = _("问题整改：方案、审签、审核、落实、验收销号")
    lock_impl = lock.select_for_update_lock

    start = flow.StartHandle(this.start_rectification).Next(this.plan)
    plan = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("制定整改方案"))
        .Permission("cases.unit_staff", obj=_unit)
        .Assign(evident_owner)
        .Next(this.plan_sign)
    )
    plan_sign = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("单位负责人审签整改方案"))
        .Permission("cases.unit_head", obj=_unit)
        .Assign(evident_owner)
        .Next(this.check_plan_signed)
    )
    check_plan_signed = (
        flow.If(lambda act: act.process.data.get("signed"))
        .Annotation(title=_("是否审签通过"))
        .Then(this.plan_review)
        .Else(this.plan)
    )
    plan_review = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("审核整改方案"))
        .Permission("cases.rectification_reviewer", obj=_group)
        .Next(this.check_plan_accepted)
    )
    check_plan_accepted = (
        flow.If(lambda act: act.process.data.get("plan_accepted"))
        .Annotation(title=_("方案是否通过"))
        .Then(this.carry_out)
        .Else(this.plan)
    )
    carry_out = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("落实整改"))
        .Permission("cases.unit_staff", obj=_unit)
        .Assign(evident_owner)
        .Next(this.verify)
    )
    verify = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("整改验收"))
        .Permission("cases.rectification_reviewer", obj=_group)
        .Next(this.check_verified)
    )
    check_verified = (
        flow.If(lambda act: act.process.data.get("verified"))
        .Annotation(title=_("是否验收通过"))
        .Then(this.end)
        .Else(this.carry_out)
    )
    end = flow.End()

    def start_rectification(self, activation, rectification: m.Rectification):
        activation.process.artifact = rectification
        activation.process.data = {
            "rectification": rectification.pk,
            "case": rectification.case_id,
            "unit": rectification.unit_id,
            "group": rectification.group_id,
            "round": rectification.round_id,
        }
        return activation.process

    def has_view_permission(self, user, obj=None):
        return user.is_authenticated

    def has_manage_permission(self, user, obj=None):
        return user.is_authenticated and access.is_office(user)


class SocialCaseFlow(flow.Flow):
    """One unit's materials in a social-evaluation round (社会评价, seed 004), four branches at once, each by
    its date: the sample lists (by the prepare due, 11月13日), the questionnaire on its hot/difficult work with
    the office's review (drafted by the same date, reviewed by the inspect due), the situation table with its
    two reports (the inspect due, 12月10日), and the performance analysis signed off by the unit's head (the
    review due, 12月20日). When all four are done the unit's case is done; the round process (RoundFlow) then
    compiles the leader evaluation as the round's results."""

    process_title = _("社会评价材料")
    process_description = _("被评价单位的抽样框、评议问卷、情况表与报告、年度绩效分析")
    lock_impl = lock.select_for_update_lock

    start = flow.StartHandle(this.start_case).Next(this.branches)
    branches = (
        flow.Split()
        .Annotation(title=_("分项报送"))
        .Always(this.samples)
        .Always(this.questionnaire)
        .Always(this.situation)
        .Always(this.analysis)
    )
    samples = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("报送抽样框"))
        .Permission("cases.unit_staff", obj=_unit)
        .Assign(evident_owner)
        .Next(this.delivered)
    )
    questionnaire = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("制定评议问卷"))
        .Permission("cases.unit_staff", obj=_unit)
        .Assign(evident_owner)
        .Next(this.questionnaire_review)
    )
    questionnaire_review = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("审核评议问卷"))
        .Permission("cases.office")
        .Assign(evident_owner)
        .Next(this.check_questionnaire)
    )
    check_questionnaire = (
        flow.If(lambda act: act.process.data.get("questionnaire_approved"))
        .Annotation(title=_("问卷是否通过"))
        .Then(this.delivered)
        .Else(this.questionnaire)
    )
    situation = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("报送情况表及报告"))
        .Permission("cases.unit_staff", obj=_unit)
        .Assign(evident_owner)
        .Next(this.delivered)
    )
    analysis = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("填写年度绩效分析"))
        .Permission("cases.unit_staff", obj=_unit)
        .Assign(evident_owner)
        .Next(this.analysis_sign)
    )
    analysis_sign = (
        HumanStep(task_redirect_view)
        .Annotation(title=_("单位党委（党组）审定绩效分析"))
        .Permission("cases.unit_head", obj=_unit)
        .Assign(evident_owner)
        .Next(this.check_analysis)
    )
    check_analysis = (
        flow.If(lambda act: act.process.data.get("analysis_signed"))
        .Annotation(title=_("是否审定通过"))
        .Then(this.delivered)
        .Else(this.analysis)
    )
    delivered = flow.Join().Annotation(title=_("材料报送完成")).Next(this.finish)
    finish = flow.Function(this.finish_case).Annotation(title=_("完成")).Next(this.end)
    end = flow.End()

    def start_case(self, activation, case: m.Case):
        return _case_process(activation, case)

    def finish_case(self, activation):
        case_finished(case_id=activation.process.data["case"])

    def has_view_permission(self, user, obj=None):
        return user.is_authenticated

    def has_manage_permission(self, user, obj=None):
        return user.is_authenticated and access.is_office(user)


def rectification_processes_start(rectifications) -> None:
    """One RectificationFlow process per rectification (through the engine: a round has tens of them)."""
    for rectification in rectifications:
        RectificationFlow.start.run(rectification=rectification)


# --- where the case flow meets the round flow ----------------------------------------------------
# Here, beside both flows, so that the case flow's last node can wake the round process without an
# import running back up from the flows to the services.


def case_finished(*, case_id: int) -> None:
    """Mark the case done and, if it was the round's last open case, wake the round process.

    The round row is locked before counting so that two cases finishing at the same moment
    cannot both see the other as still open."""
    case = m.Case.objects.get(pk=case_id)
    decisions.case_set_status(user=None, case=case, status=m.CaseStatus.DONE)
    round = m.Round.objects.select_for_update().get(pk=case.round_id)
    if m.Case.objects.filter(round_id=case.round_id).exclude(status=m.CaseStatus.DONE).exists():
        return
    round_services.round_cases_done(round=round)
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
