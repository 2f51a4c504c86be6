"""Test data builders, reusable by unit, API, UI (e2e) tests and benchmarks.

Everything is created through the domain services (`cases.services`, `workflow.services`), so a
built round is in exactly the state a real office would leave it in.

    from tests.factories import make_round
    r = make_round(units=3, experts=2, launch=True)
    r.office, r.leader, r.auditor            # organisation-wide roles
    r.units[0], r.staff[0], r.heads[0]       # a unit, its 填报员 and its 单位负责人 (same index)
    r.cases[0]                               # the case of r.units[0]
    g = r.groups[0]                          # GroupPeople: group, leader, deputy, liaison, experts, units
    r.task("prepare", r.cases[0])            # the open task of a step (None if there is none)
    advance_case(r, 0, upto="review")        # drive case 0 through the services up to its review


Every user has the password `PASSWORD`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from cases.rubrics.services import rubric_create
from cases.services import rounds as round_services

PASSWORD = "test-pass-2026"

_seq = itertools.count(1)
_password_hash: dict[str, str] = {}


def _next() -> int:
    return next(_seq)


def password_hash() -> str:
    """One hash for all test users: hashing costs ~0.3 s per call with the production hasher."""
    if PASSWORD not in _password_hash:
        _password_hash[PASSWORD] = make_password(PASSWORD)
    return _password_hash[PASSWORD]


# --- factory_boy factories ---------------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda o: o.username)
    org_role = ""
    password = factory.LazyFunction(password_hash)


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Unit

    code = factory.Sequence(lambda n: f"U{n:04d}")
    name = factory.Sequence(lambda n: f"测试单位{n:04d}")
    short_name = factory.LazyAttribute(lambda o: o.name[-4:])
    category = m.UnitCategory.GOVERNMENT
    sort_order = factory.Sequence(lambda n: n)


def make_user(username: str | None = None, *, org_role: str = "", **extra) -> m.User:
    return UserFactory(username=username or f"user{_next()}", org_role=org_role, **extra)


# --- rubric ------------------------------------------------------------------------------------


def rubric_spec(code: str | None = None) -> dict:
    """A tiny rubric: two sections (10 + 5 = 15 points), four items, S1.2 with a bonus cap of 2,
    S2.1 a veto item."""
    return {
        "code": code or f"test-rubric-{_next()}",
        "version": 1,
        "title": "测试细则",
        "sections": [
            {
                "code": "S1",
                "title": "组织建设",
                "max": "10",
                "items": [
                    {"code": "S1.1", "content": "制度健全", "max": "6"},
                    {"code": "S1.2", "content": "创新举措", "max": "4", "bonus_cap": "2"},
                ],
            },
            {
                "code": "S2",
                "title": "作风建设",
                "max": "5",
                "items": [
                    {"code": "S2.1", "content": "无违纪", "max": "3", "veto": True},
                    {"code": "S2.2", "content": "按时报送", "max": "2", "evidence_required": True},
                ],
            },
        ],
    }


RUBRIC_TOTAL = Decimal("15.00")
ITEM_MAX = {"S1.1": Decimal("6"), "S1.2": Decimal("4"), "S2.1": Decimal("3"), "S2.2": Decimal("2")}
BONUS_CAP = {"S1.2": Decimal("2")}


def make_rubric(code: str | None = None) -> m.Rubric:
    return rubric_create(spec=rubric_spec(code))


# --- rounds ------------------------------------------------------------------------------------


def round_dates(days: int = 10) -> dict:
    """Phase dues `days` apart, starting `days` from now (so nothing is late)."""
    now = timezone.now()
    names = ["prepare_due", "inspect_due", "review_due", "approve_due", "report_due"]
    return {name: now + timedelta(days=days * (n + 1)) for n, name in enumerate(names)}


@dataclass
class GroupPeople:
    group: m.Group
    leader: m.User
    deputy: m.User
    liaison: m.User
    experts: list[m.User]
    units: list[m.Unit]

    @property
    def leads(self) -> list[m.User]:
        return [self.leader, self.deputy]


@dataclass
class RoundSetup:
    round: m.Round
    rubric: m.Rubric
    office: m.User
    leader: m.User
    auditor: m.User
    units: list[m.Unit]
    staff: list[m.User]
    heads: list[m.User]
    groups: list[GroupPeople]
    extra: dict = field(default_factory=dict)

    @property
    def cases(self) -> list[m.Case]:
        by_unit = {c.unit_id: c for c in self.round.cases.all()}
        return [by_unit[u.pk] for u in self.units]

    def case(self, unit_index: int) -> m.Case:
        return m.Case.objects.get(round=self.round, unit=self.units[unit_index])

    def group_of(self, unit_index: int) -> GroupPeople:
        unit = self.units[unit_index]
        return next(g for g in self.groups if unit in g.units)

    def refresh(self) -> RoundSetup:
        self.round.refresh_from_db()
        return self

    def launch(self) -> RoundSetup:
        from workflow import services

        services.round_launch(user=self.office, round_id=self.round.pk)
        return self.refresh()

    def task(self, step: str, case: m.Case | None = None, *, expert: m.User | None = None) -> Task | None:
        """The open (NEW or ASSIGNED) task of `step` for a case, or for the round if `case` is None."""
        from workflow.flows import CaseFlow, RoundFlow, SocialCaseFlow

        if case is None:
            flow_task = getattr(RoundFlow, step)
            qs = Task.objects.filter(process__flow_class=RoundFlow, process__data__round=self.round.pk)
        else:
            flow = SocialCaseFlow if self.round.kind == m.RoundKind.SOCIAL else CaseFlow
            flow_task = getattr(flow, step)
            qs = Task.objects.filter(process__flow_class=flow, process__data__case=case.pk)
        qs = qs.filter(flow_task=flow_task, status__in=[STATUS.NEW, STATUS.ASSIGNED])
        if expert is not None:
            qs = qs.filter(owner=expert)
        return qs.order_by("pk").first()


CASE_STEPS = ["prepare", "sign_off", "inspect", "score", "review", "done"]


def act(setup: RoundSetup, user, step: str, case: m.Case | None = None, action: str = "submit", **data) -> Task:
    """Act on the open task of `step` (of `case`, or of the round) as `user`, through the service."""
    from workflow import services

    task = setup.task(step, case, expert=user if step == "score" else None)
    assert task is not None, f"no open {step} task for {case or setup.round}"
    return services.task_act(user=user, task_id=task.pk, action=action, data=data)


def advance_case(setup: RoundSetup, unit_index: int, upto: str = "done") -> m.Case:
    """Carry case `unit_index` of a launched round through its steps, stopping *at* step `upto`
    (its task is open): prepare → sign_off → inspect → score (every eligible expert) → review → done."""
    stop = CASE_STEPS.index(upto)
    case = setup.case(unit_index)
    group = setup.group_of(unit_index)
    current = CASE_STEPS.index(case.status) if case.status in CASE_STEPS else 0
    for step in CASE_STEPS[current:stop]:
        if step == "prepare":
            act(setup, setup.staff[unit_index], "prepare", case, report=f"{case.unit.name}自评报告。")
        elif step == "sign_off":
            act(setup, setup.heads[unit_index], "sign_off", case, "approve")
        elif step == "inspect":
            act(setup, group.leader, "inspect", case)
        elif step == "score":
            from workflow.flows import CaseFlow

            experts = Task.objects.filter(
                process__data__case=case.pk, flow_task=CaseFlow.score, status=STATUS.ASSIGNED
            ).values_list("owner", flat=True)
            for expert in m.User.objects.filter(pk__in=list(experts)).order_by("pk"):
                act(setup, expert, "score", case, items=[{"item": "S1.1", "deduction": "1", "reason": "资料不全"}])
        elif step == "review":
            act(setup, group.leader, "review", case, "approve")
    case.refresh_from_db()
    return case


def make_round(
    units: int = 3,
    experts: int = 2,
    *,
    groups: int = 1,
    launch: bool = False,
    office: m.User | None = None,
    leader: m.User | None = None,
    auditor: m.User | None = None,
    unit_objs: list[m.Unit] | None = None,
    unit_people: tuple[list[m.User], list[m.User]] | None = None,
    recused_expert: bool | int = False,
    config: dict | None = None,
    days: int = 10,
    title: str | None = None,
) -> RoundSetup:
    """A small round, drafted (default) or launched.

    - `units` units (or the given `unit_objs`), each with one staff and one head user (or the
      given `unit_people` = (staff list, head list), e.g. to reuse the units of another round);
    - `groups` groups, each with a leader, a deputy, a liaison and `experts` experts; units are
      dealt to the groups in turn (unit i is in group i % groups);
    - `recused_expert`: also make the head of unit 0 (or of unit `recused_expert` if an int) an
      expert of that unit's group, so that the recusal rule has someone to apply to
      (`setup.extra["recused_expert"]`);
    - office, leader and auditor users are created unless given.
    """
    n = _next()
    office = office or make_user(f"office{n}", org_role=m.OrgRole.OFFICE, display_name=f"考核办{n}")
    leader = leader or make_user(f"leader{n}", org_role=m.OrgRole.LEADER, display_name=f"领导{n}")
    auditor = auditor or make_user(f"auditor{n}", org_role=m.OrgRole.AUDITOR, display_name=f"纪检{n}")
    if unit_objs is None:
        unit_objs = [UnitFactory(name=f"单位{n}-{i + 1}", code=f"R{n}U{i + 1}") for i in range(units)]
    if unit_people is None:
        staff, heads = [], []
        for i, unit in enumerate(unit_objs):
            s = make_user(f"r{n}u{i + 1}staff", display_name=f"填报员{n}-{i + 1}")
            h = make_user(f"r{n}u{i + 1}head", display_name=f"负责人{n}-{i + 1}")
            m.UnitMembership.objects.create(user=s, unit=unit, role=m.UnitRole.STAFF)
            m.UnitMembership.objects.create(user=h, unit=unit, role=m.UnitRole.HEAD)
            staff.append(s)
            heads.append(h)
    else:
        staff, heads = unit_people
    recused = None if recused_expert is False else (0 if recused_expert is True else int(recused_expert))
    rubric = make_rubric()
    round_config = m.default_round_config()
    round_config.update(config or {})
    rnd = round_services.round_create(
        user=office,
        title=title or f"测试考评{n}",
        kind=m.RoundKind.HALF_YEAR,
        year=2026,
        rubric=rubric,
        config=round_config,
        **round_dates(days),
    )
    people = []
    for g in range(groups):
        prefix = f"r{n}g{g + 1}"
        leader_u = make_user(f"{prefix}leader", display_name=f"组长{n}-{g + 1}")
        deputy_u = make_user(f"{prefix}deputy", display_name=f"副组长{n}-{g + 1}")
        liaison_u = make_user(f"{prefix}liaison", display_name=f"联络员{n}-{g + 1}", office_phone="0431-88900000")
        expert_us = [
            make_user(f"{prefix}expert{e + 1}", display_name=f"专家{n}-{g + 1}-{e + 1}") for e in range(experts)
        ]
        group_units = [u for i, u in enumerate(unit_objs) if i % groups == g]
        members = [
            {"user": leader_u, "role": m.GroupRole.LEADER},
            {"user": deputy_u, "role": m.GroupRole.DEPUTY},
            {"user": liaison_u, "role": m.GroupRole.LIAISON},
        ] + [{"user": e, "role": m.GroupRole.EXPERT} for e in expert_us]
        if recused is not None and recused % groups == g:
            members.append({"user": heads[recused], "role": m.GroupRole.EXPERT})
        group = round_services.group_create(
            user=office,
            round=rnd,
            number=g + 1,
            name=f"第{g + 1}组",
            phone="0431-8890000",
            members=members,
            units=group_units,
        )
        people.append(GroupPeople(group, leader_u, deputy_u, liaison_u, expert_us, group_units))
    setup = RoundSetup(rnd, rubric, office, leader, auditor, list(unit_objs), staff, heads, people)
    if recused is not None:
        setup.extra["recused_expert"] = heads[recused]
    if launch:
        setup.launch()
    return setup
