"""Separation of duties: for every human step of every flow, only its role acts.

The steps come from `workflow.steps.STEPS`, so a new step is covered as soon as it is declared: the
test then fails until `RIGHTFUL` (who does it, written out by hand from the process description in
the README, never read from the code under test) and `build_world` (how to reach it) know it.

Every other person around the task — the organisation-wide roles, the case's unit's people, its
group's people, an outsider and a superuser — tries to claim it and to perform each of its actions,
through the API and through the task page, and must get 403 or 404 with nothing changed. The group
leader's deputy holds the same role as the leader, who was given the task (the group's one leader):
the deputy gets 409 until the leader gives it back. The rightful person acts (the positive control).
"""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from cases.social import selectors as sample_selectors
from cases.social import services as sample_services
from tests.cases.test_sample_frames import person, xlsx
from tests.conftest import module_world
from tests.factories import act, advance_case, make_round, make_user
from tests.rectification_helpers import advance_rectification, approved_round, attachment, rect_task
from workflow import services
from workflow.flows import CaseFlow, RectificationFlow, RoundFlow, SocialCaseFlow
from workflow.steps import STEPS

API = "/api/v1"

# Who does each step (README, "The process"). A step missing here fails the test: say who does it.
RIGHTFUL = {
    "prepare": "staff",
    "sign_off": "head",
    "inspect": "group_leader",
    "score": "expert",
    "review": "group_leader",
    "compile": "office",
    "approve": "leader",
    "report": "office",
    "group_recheck": "group_leader",  # the leader returned the results to one group (seed 000)
    # A rectification (整改): the unit drafts and its head signs; the group's leads or the office review.
    "plan": "staff",
    "plan_sign": "head",
    "plan_review": "group_leader",
    "carry_out": "staff",
    "verify": "group_leader",
    # A social round's unit (seed 004): its staff deliver the materials, the office reviews the
    # questionnaire, the unit's head signs the performance analysis off.
    "samples": "staff",
    "questionnaire": "staff",
    "questionnaire_review": "office",
    "situation": "staff",
    "analysis": "staff",
    "analysis_sign": "head",
}
# Steps whose role more than one kind of person holds: these others are rightful too (not refused).
ALSO_RIGHTFUL = {"plan_review": {"deputy", "office"}, "verify": {"deputy", "office"}}
# Steps whose role is not the rightful person's usual one, and whose task waits in the queue.
STEP_ROLE = {"plan_review": "rectification_reviewer", "verify": "rectification_reviewer"}
# Each step's role as declared on its flow node (None: assigned to one expert).
ROLE = {"staff": "unit_staff", "head": "unit_head", "group_leader": "group_lead", "expert": None,
        "office": "office", "leader": "leader"}
# Holders of the same role as the one the task was given to: they are refused with 409, not 403.
SAME_ROLE = {"group_leader": {"deputy"}}
ACTORS = ["office", "leader", "auditor", "staff", "head", "group_leader", "deputy", "expert", "other_expert",
          "liaison", "outsider", "superuser"]
# A valid payload for each action the rightful person performs (the positive control).
POSITIVE = {
    "prepare": ("submit", {"report": "自评报告"}),
    "sign_off": ("approve", {}),
    "inspect": ("submit", {}),
    "score": ("submit", {"items": [{"item": "S1.1", "deduction": "1", "reason": "资料不全"}]}),
    "review": ("approve", {}),
    "compile": ("submit", {}),
    "approve": ("approve", {}),
    "report": ("submit", {}),
    "group_recheck": ("submit", {}),
    "plan": ("submit", {"target": "目标", "measures": [
        {"text": "措施", "responsible": "张三", "due_date": (date.today() + timedelta(days=2)).isoformat()}]}),
    "plan_sign": ("approve", {}),
    "plan_review": ("approve", {}),
    "carry_out": ("submit", {"report": "完成"}),  # with the place's evidence (Place.payload)
    "verify": ("approve", {}),
    "samples": ("submit", {}),  # the place's unit has uploaded its two lists
    "questionnaire": ("submit", {"topic": "热点工作", "questions": [f"问题{n}" for n in range(1, 6)]}),
    "questionnaire_review": ("approve", {}),
    "situation": ("submit", {"situation": {
        "liaison": "韦明（办公室主任）", "liaison_phone": "0771-2800001", "leaders": "覃华（党组书记）",
        "rectification_report": "已整改。", "performance_report": "工作情况。"}}),
    "analysis": ("submit", {"analysis": {"completion": "完成。", "innovation": "亮点。", "weaknesses": "不足。"}}),
    "analysis_sign": ("approve", {}),
}
BY_NAME = {step.name: step for step in STEPS.values()}
STEP_NAMES = list(BY_NAME)
# Everyone but the step's rightful person (a step unknown to RIGHTFUL: everyone, and the test above fails).
OTHERS = [(step, actor) for step in STEP_NAMES for actor in ACTORS
          if actor != RIGHTFUL.get(step) and actor not in ALSO_RIGHTFUL.get(step, ())]


@dataclass
class Place:
    """An open task of a step, and the people around it by role."""

    task_id: int
    people: dict
    payload: dict | None = None  # the positive control's payload, where it needs the place's rows


@dataclass
class World:
    places: dict  # step name -> Place


def _people(r, unit_index: int) -> dict:
    group = r.group_of(unit_index)
    return {
        "office": r.office, "leader": r.leader, "auditor": r.auditor,
        "staff": r.staff[unit_index], "head": r.heads[unit_index],
        "group_leader": group.leader, "deputy": group.deputy, "liaison": group.liaison,
        "expert": group.experts[0], "other_expert": group.experts[1],
    }


def build_world() -> World:
    """One round with a case waiting at each case step, and three one-unit rounds waiting at
    compile, approve and report. One office and one leader: their tasks go to them."""
    everyone = {"outsider": make_user("sod-outsider"),
                "superuser": make_user("sod-root", is_superuser=True, is_staff=True)}
    r = make_round(units=5, experts=2, launch=True, title="分工")
    org = {"office": r.office, "leader": r.leader, "auditor": r.auditor}
    places = {}
    for index, step in enumerate(["prepare", "sign_off", "inspect", "score", "review"]):
        case = advance_case(r, index, upto=step)
        people = {**_people(r, index), **everyone}
        expert = people["expert"] if step == "score" else None
        places[step] = Place(r.task(step, case, expert=expert).pk, people)
    for upto in ("compile", "approve", "report"):
        rr = make_round(units=1, experts=2, launch=True, title=f"分工-{upto}", **org)
        advance_case(rr, 0)
        for step in ("compile", "approve", "report"):
            if step == upto:
                break
            act(rr, rr.office if step == "compile" else rr.leader, step, None, "submit" if step == "compile" else "approve")
        places[upto] = Place(rr.task(upto).pk, {**_people(rr, 0), **everyone})
    # Results returned by the leader to the one group of a one-unit round.
    rr = make_round(units=1, experts=2, launch=True, title="分工-复核", **org)
    advance_case(rr, 0)
    act(rr, rr.office, "compile", None, "submit")
    act(rr, rr.leader, "approve", None, "return", comment="请本组复核", group=rr.groups[0].group.pk)
    places["group_recheck"] = Place(rr.task("group_recheck").pk, {**_people(rr, 0), **everyone})
    # A social round (seed 004): one unit at each of its SocialCaseFlow's steps (before the approved round
    # below brings a second office: the office's review goes to the one office).
    places.update(_social_places(org, everyone))
    # A rectification at each of its steps (five findings of one unit of an approved round).
    rr = approved_round(units=1, findings=5, experts=2, title="分工-整改")
    rects = list(m.Rectification.objects.filter(round=rr.round).order_by("pk"))
    for rect, step in zip(rects, ["plan", "plan_sign", "plan_review", "carry_out", "verify"]):
        rect = advance_rectification(rr, rect, step)
        people = {**_people(rr, 0), **everyone}
        payload = None
        if step == "carry_out":
            evidence = attachment(rect.case, rr.staff[0])
            payload = {**POSITIVE[step][1], "evidence_ids": [evidence.pk]}
        places[step] = Place(rect_task(rect, step).pk, people, payload)
    return World(places)


SOCIAL_STEPS = ["samples", "questionnaire", "questionnaire_review", "situation", "analysis", "analysis_sign"]


def _social_task(case: m.Case, step: str) -> Task:
    return Task.objects.get(process__flow_class=SocialCaseFlow, process__data__case=case.pk,
                            flow_task=getattr(SocialCaseFlow, step), status__in=[STATUS.NEW, STATUS.ASSIGNED])


def _social_places(org: dict, everyone: dict) -> dict:
    rr = make_round(units=len(SOCIAL_STEPS), experts=2, title="分工-社会评价",
                    config={"sample_minimums": {"economic": 1, "party_mass": 1, "institution": 1}}, **org)
    m.Round.objects.filter(pk=rr.round.pk).update(kind=m.RoundKind.SOCIAL)
    rr.launch()
    places = {}
    for index, step in enumerate(SOCIAL_STEPS):
        case, staff = rr.case(index), rr.staff[index]
        if step == "samples":  # its lists uploaded, so that the rightful person's delivery goes through
            for k, kind in enumerate(sample_selectors.required_kinds(rr.round, case.unit)):
                sample_services.upload_frame(user=staff, round=rr.round, unit=case.unit, kind=kind,
                                             fileobj=xlsx(kind, [person(1, kind, mobile=f"0139{k}0000001")]))
        if step == "questionnaire_review":
            services.task_act(user=staff, task_id=_social_task(case, "questionnaire").pk, action="submit",
                              data=POSITIVE["questionnaire"][1])
        if step == "analysis_sign":
            services.task_act(user=staff, task_id=_social_task(case, "analysis").pk, action="submit",
                              data=POSITIVE["analysis"][1])
        places[step] = Place(_social_task(case, step).pk, {**_people(rr, index), **everyone})
    return places


world = module_world(build_world)


def _state(task_id: int) -> tuple:
    """What an action would change: the task, the process's other tasks, the case's and round's state."""
    task = Task.objects.select_related("process").get(pk=task_id)
    data = task.process.data
    case = m.Case.objects.filter(pk=data.get("case")).values_list("status", flat=True).first()
    round = m.Round.objects.filter(pk=data.get("round")).values_list("status", flat=True).first()
    rect = m.Rectification.objects.filter(pk=data.get("rectification")).values_list("status", flat=True).first()
    tasks = list(Task.objects.filter(process_id=task.process_id).order_by("pk").values_list("pk", "status", "owner_id"))
    return task.status, task.owner_id, case, round, rect, tasks


def _place(world, step: str) -> Place:
    place = world.places.get(step)
    assert place is not None, f"build_world does not reach step {step!r}: add it"
    return place


def test_every_declared_step_is_known_with_its_role():
    assert set(STEP_NAMES) == set(RIGHTFUL), "a step was added or removed: say in RIGHTFUL who does it"
    for step in STEPS.values():
        assert step.role == STEP_ROLE.get(step.name, ROLE[RIGHTFUL[step.name]]), step.name
    assert {step.node.flow_class for step in STEPS.values()} == {CaseFlow, RoundFlow, RectificationFlow,
                                                                 SocialCaseFlow}


@pytest.mark.parametrize(("step", "actor"), OTHERS)
def test_only_the_steps_role_acts_through_the_api(world, api, step, actor):
    rightful = RIGHTFUL[step]
    place = _place(world, step)
    user = place.people[actor]
    before = _state(place.task_id)
    expected = {409} if actor in SAME_ROLE.get(rightful, ()) else {403, 404}
    assert not services.can_act(user, Task.objects.get(pk=place.task_id))
    for action in ("claim", *BY_NAME[step].actions):
        response = api(user).post(f"{API}/tasks/{place.task_id}/{action}/", {"comment": "越权"}, format="json")
        assert response.status_code in expected, (actor, step, action, response.status_code, response.content[:300])
        assert response["Content-Type"].startswith("application/json")
        assert _state(place.task_id) == before, (actor, step, action)


@pytest.mark.parametrize(("step", "actor"), OTHERS)
def test_only_the_steps_role_acts_through_the_pages(world, client, step, actor):
    rightful = RIGHTFUL[step]
    place = _place(world, step)
    before = _state(place.task_id)
    expected = {409} if actor in SAME_ROLE.get(rightful, ()) else {403, 404}
    client.force_login(place.people[actor])
    for action in ("claim", *BY_NAME[step].actions):
        response = client.post(f"/tasks/{place.task_id}/", {"action": action, "comment": "越权"})
        assert response.status_code in expected, (actor, step, action, response.status_code)
        assert _state(place.task_id) == before, (actor, step, action)


@pytest.mark.parametrize("step", STEP_NAMES)
def test_the_rightful_person_acts(world, api, step):
    """The positive control: the person of the step's role has the task (assigned to them on
    creation, the role's one holder) and completes it."""
    place = _place(world, step)
    user = place.people[RIGHTFUL[step]]
    task = Task.objects.get(pk=place.task_id)
    if step in STEP_ROLE:  # no one holder: it waits in the queue of its several kinds of people
        assert (task.status, task.owner_id) == (STATUS.NEW, None)
    else:
        assert (task.status, task.owner_id) == (STATUS.ASSIGNED, user.pk)
    assert services.can_act(user, task)
    assert api(user).post(f"{API}/tasks/{place.task_id}/claim/", {}, format="json").status_code == 200
    action, payload = POSITIVE[step]
    payload = place.payload or payload
    response = api(user).post(f"{API}/tasks/{place.task_id}/{action}/", payload, format="json")
    assert response.status_code == 200, response.content[:500]
    assert Task.objects.get(pk=place.task_id).status == STATUS.DONE


@pytest.mark.parametrize("step", ["compile", "approve", "report"])
def test_a_superuser_with_no_role_cannot_take_even_a_queued_round_task(world, api, step):
    """With the task back in the queue (its holder gave it back), the superuser still may not claim it:
    Django's `has_perm` says yes to a superuser; the task's role does not."""
    place = _place(world, step)
    holder = place.people[RIGHTFUL[step]]
    assert api(holder).post(f"{API}/tasks/{place.task_id}/unclaim/", {}, format="json").status_code == 200
    assert Task.objects.get(pk=place.task_id).status == STATUS.NEW
    root = place.people["superuser"]
    assert api(root).post(f"{API}/tasks/{place.task_id}/claim/", {}, format="json").status_code == 403
    assert Task.objects.get(pk=place.task_id).owner_id is None
    assert api(holder).post(f"{API}/tasks/{place.task_id}/claim/", {}, format="json").status_code == 200
