"""Demo data: seed 000's four groups and units, seed 003's 五型机关 rubric, invented people.

Rounds: the half-year round (seed 000) with cases spread over every step, so that every role's
inbox has work, small finished rounds (one waiting for the leader's approval), and seed 004's social
evaluation (社会评价) of six invented 自治区直属机关 units with their materials at every step.
"""

import dataclasses
import math
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Unpack

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group as AuthGroup
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from cases import round_templates
from cases.evaluation import services as evaluation_services
from cases.rubrics.services import rubric_import
from cases.rubrics.text import load_rubric_yaml
from cases.services import rounds as round_services
from cases.social import services as sample_services
from cases.social.layouts import LAYOUTS
from cases.social.materials import services as material_services
from cases.social.selectors import required_kinds
from notifications.documents import services as documents
from notifications.documents.models import Document, DocumentKind, DocumentStatus, Issuer
from workflow import services
from workflow.deadlines import services as deadlines
from workflow.deadlines.rules import day_due
from workflow.flows import CaseFlow, RectificationFlow, RoundFlow, SocialCaseFlow
from workflow.models import TaskDeadline
from workflow.steps import ActionData

PASSWORD = "demo12345"
RUBRIC_FILE = Path(__file__).resolve().parent.parent / "cases" / "fixtures" / "rubrics" / "wuxing_2016.yaml"

# Seed 000, 附件2: the four groups and their units (categories assigned by us).
GROUPS = [
    ("第一组", "党委工作部门", [
        "省委办公厅", "省委宣传部", "省委统战部", "省委政法委", "省编办", "省委老干部局", "省委防范办",
        "省委财经办", "省密码管理局", "省文明办", "省委接待办", "省社会主义学院", "省直机关工委党校"]),
    ("第二组", "党委工作部门", [
        "省纪委监委机关", "省委组织部", "省委政研室（省改革办）", "省直机关工委", "省信访局", "省国家保密局",
        "省档案局", "省外宣办", "省台办", "省委党史研究室", "省委党校（省行政学院）", "省委保健办"]),
    ("第三组", "群团组织", [
        "省人大机关", "省检察院", "省总工会", "省妇联", "省科协", "省工商联", "省侨联", "省台联", "省贸促会",
        "省残联", "民革吉林省委机关", "民盟吉林省委机关", "民建吉林省委机关"]),
    ("第四组", "群团组织", [
        "省政协机关", "省法院", "团省委", "省社会科学院", "省作协", "省文联", "省法学会", "省红十字会",
        "民进吉林省委机关", "农工党吉林省委机关", "九三学社吉林省委机关", "台盟省委机关"]),
]
CATEGORY_OVERRIDES = {
    "省人大机关": "人大政协机关", "省政协机关": "人大政协机关", "省检察院": "法院检察院", "省法院": "法院检察院",
    "民革吉林省委机关": "民主党派机关", "民盟吉林省委机关": "民主党派机关", "民建吉林省委机关": "民主党派机关",
    "民进吉林省委机关": "民主党派机关", "农工党吉林省委机关": "民主党派机关", "九三学社吉林省委机关": "民主党派机关",
    "台盟省委机关": "民主党派机关",
}


def short_name(name: str) -> str:
    """The seed's own abbreviation: the seeds already name units the way they are abbreviated in
    official documents (省委办公厅, 省编办, 省直机关工委), so only a parenthesised second name goes
    (省委政研室（省改革办） → 省委政研室). Dropping "省" gave forms nobody uses (委办公厅, 直机关工委)."""
    return name.split("（", 1)[0]


# Invented people (names and numbers are fictitious).
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = ["建华", "晓明", "丽娟", "志强", "海燕", "文博", "春梅", "国庆", "新宇", "雪松", "秀英", "立军"]


def _person(username: str, n: int, password_hash: str, **extra) -> m.User:
    name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES) + n) % len(GIVEN)]
    user = m.User(
        username=username,
        display_name=name,
        email=f"{username}@demo.example.cn",
        office_phone=f"0431-8890{n % 10000:04d}",
        mobile=f"139{n:08d}"[:11],
        **extra,
    )
    user.password = password_hash
    return user


def _task(case: m.Case, step: str) -> Task:
    return Task.objects.get(
        process__artifact_object_id=case.pk,
        process__flow_class=CaseFlow,
        flow_task=getattr(CaseFlow, step),
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    )


def _sheet_items(case: m.Case, seed: int) -> list[dict]:
    items = list(case.round.rubric.items.order_by("pk"))
    chosen = items[seed % len(items)]
    return [{"item": chosen.code, "deduction": "1", "reason": "资料不全"}]


# What the office configures in the admin (README: units, people's memberships, rubrics, rounds,
# groups, working-day overrides, the outbox): app label → model → the permissions it gets. Users are
# managed without `change_user`: the admin's user form carries the superuser flag and permissions.
OFFICE_ADMIN: dict[str, dict[str, tuple[str, ...]]] = {
    "cases": {
        "unit": ("view", "add", "change"), "unitmembership": ("view", "add", "change", "delete"),
        "rubric": ("view",), "rubricitem": ("view",), "round": ("view", "add", "change"),
        "group": ("view", "add", "change"), "groupmember": ("view", "add", "change", "delete"),
        "case": ("view",), "auditentry": ("view",), "user": ("view", "add", "change"),
    },
    "workflow": {"workdayoverride": ("view", "add", "change", "delete"), "calendaryear": ("view", "add", "change")},
    "notifications": {"notification": ("view",), "delivery": ("view",), "digest": ("view",),
                      "notificationpreference": ("view",), "issuer": ("view", "add", "change"),
                      "document": ("view",)},
}


def office_admin_group() -> AuthGroup:
    """The auth group "考核办" with the admin permissions of `OFFICE_ADMIN` (made once)."""
    group, _ = AuthGroup.objects.get_or_create(name="考核办")
    wanted = Q(pk__in=[])
    for app, models in OFFICE_ADMIN.items():
        for model, actions in models.items():
            wanted |= Q(content_type__app_label=app, codename__in=[f"{a}_{model}" for a in actions])
    group.permissions.set(Permission.objects.filter(wanted))
    return group


class Demo:
    """Builds the demo. Every step goes through the same services the API uses."""

    def __init__(self):
        self.n = 0
        # One hash for everyone: hashing ~130 demo passwords one by one takes half a minute.
        self.password_hash = make_password(PASSWORD)

    def person(self, username, **extra):
        self.n += 1
        return _person(username, self.n, self.password_hash, **extra)

    @transaction.atomic
    def build(self) -> dict:
        # Separation of duties: the office is no superuser (a superuser could pass any check that asks
        # `has_perm`); it reaches the admin as staff with the model permissions of `OFFICE_ADMIN`.
        self.office = self.person("office", org_role=m.OrgRole.OFFICE, is_staff=True, title="考核办主任")
        self.leader = self.person("leader", org_role=m.OrgRole.LEADER, title="工委书记")
        self.auditor = self.person("auditor", org_role=m.OrgRole.AUDITOR, title="纪检组长")
        m.User.objects.bulk_create([self.office, self.leader, self.auditor])
        self.office, self.leader, self.auditor = (
            m.User.objects.get(username=u) for u in ("office", "leader", "auditor")
        )
        self.office.groups.add(office_admin_group())
        rubric = rubric_import(user=None, spec=load_rubric_yaml(RUBRIC_FILE.read_text(encoding="utf-8")))
        units = self._units()
        now = timezone.now()
        half_year = round_services.round_create(
            user=self.office,
            title=f"{now.year}年度省党群机关党建工作综合调研暨半年绩效考评",
            kind=m.RoundKind.HALF_YEAR,
            year=now.year,
            rubric=rubric,
            # The preparation phase ended yesterday: units that have not submitted are overdue (red on the
            # dashboard); groups 3 and 4 got an extension (yellow), see `_spread`.
            prepare_due=now - timedelta(days=1),
            inspect_due=now + timedelta(days=12),
            review_due=now + timedelta(days=20),
            approve_due=now + timedelta(days=25),
            report_due=now + timedelta(days=30),
            config={"report_char_limit": 2000, "aggregation": "mean", "trim_min_sheets": 5},
        )
        people = self._groups(half_year, units)
        services.round_launch(user=self.office, round_id=half_year.pk)
        self._spread(half_year, people)
        # The issuing organ with its seal, before any document (a closed rectification issues its closure sheet).
        issuer = Issuer.objects.create(name="省直机关工委", mark="省直机关工委文件", code="省直工发", is_default=True)
        issuer.seal.save("demo-seal.png", ContentFile(_seal_png()), save=True)
        # Two pilot rounds of 五型机关: the first approved (its results reported in documents of every
        # kind), the second compiled and waiting for the leader's 审定.
        finished = self._finished_round(rubric, units[0][:3], people, now, approve=True,
                                        title=f"{now.year - 1}年度“五型机关”创建工作调研考核（试点）")
        self._finished_round(rubric, units[0][3:5], people, now, approve=False,
                             title=f"{now.year - 1}年度“五型机关”创建工作调研考核（第二批试点）")
        self._documents(half_year, finished)
        social = SocialDemo(self).build()
        return {"round": half_year, "finished_round": finished, "social_round": social}

    def _units(self) -> list[list[m.Unit]]:
        groups, n = [], 0
        for _, category, names in GROUPS:
            units = []
            for name in names:
                n += 1
                units.append(m.Unit(code=f"U{n:02d}", name=name, short_name=short_name(name),
                                    category=CATEGORY_OVERRIDES.get(name, category), sort_order=n))
            groups.append(m.Unit.objects.bulk_create(units))
        users, memberships = [], []
        for unit in (u for g in groups for u in g):
            for role in (m.UnitRole.STAFF, m.UnitRole.HEAD):
                users.append(self.person(f"{unit.code.lower()}_{role}", title="填报员" if role == "staff" else "机关党委书记"))
        m.User.objects.bulk_create(users)
        by_name = {u.username: u for u in m.User.objects.filter(username__in=[u.username for u in users])}
        for unit in (u for g in groups for u in g):
            for role in (m.UnitRole.STAFF, m.UnitRole.HEAD):
                memberships.append(m.UnitMembership(user=by_name[f"{unit.code.lower()}_{role}"], unit=unit, role=role))
        m.UnitMembership.objects.bulk_create(memberships)
        return groups

    def _groups(self, round: m.Round, units: list[list[m.Unit]]) -> list[dict]:
        people = []
        for number, ((name, _, _), group_units) in enumerate(zip(GROUPS, units), start=1):
            g = f"g{number}"
            staff = {
                "leader": self.person(f"{g}_leader", title="工委副书记"),
                "deputy": self.person(f"{g}_deputy", title="处长"),
                "liaison": self.person(f"{g}_liaison", title="联络员"),
                "experts": [self.person(f"{g}_expert{i}", title="考评专家") for i in range(1, 4)],
            }
            m.User.objects.bulk_create([staff["leader"], staff["deputy"], staff["liaison"], *staff["experts"]])
            staff = {k: (m.User.objects.get(username=v.username) if not isinstance(v, list)
                         else [m.User.objects.get(username=e.username) for e in v]) for k, v in staff.items()}
            members: list[round_services.GroupMemberSpec] = [
                {"user": staff["leader"], "role": m.GroupRole.LEADER},
                {"user": staff["deputy"], "role": m.GroupRole.DEPUTY},
                {"user": staff["liaison"], "role": m.GroupRole.LIAISON},
                *(round_services.GroupMemberSpec(user=e, role=m.GroupRole.EXPERT) for e in staff["experts"]),
            ]
            round_services.group_create(user=self.office, round=round, number=number, name=name,
                                        phone=f"8890{2150 + number}", members=members, units=group_units)
            people.append(staff)
        return people

    def _advance(self, case: m.Case, people: dict, upto: str) -> None:
        """Carry one case through its steps up to (not including) `upto`."""
        steps = ["sign_off", "inspect", "score", "review", "done"]
        staff = m.User.objects.get(username=f"{case.unit.code.lower()}_staff")
        head = m.User.objects.get(username=f"{case.unit.code.lower()}_head")
        services.task_act(user=staff, task_id=_task(case, "prepare").pk, action="submit", data={
            "report": f"{case.unit.name}上半年党建工作自评报告：落实“五个提升”，完成各项重点任务。"})
        if steps.index(upto) <= 0:
            return
        services.task_act(user=head, task_id=_task(case, "sign_off").pk, action="approve", data={})
        if steps.index(upto) <= 1:
            return
        m.InspectionRecord.objects.create(case=case, method=m.InspectionMethod.REPORT, date=timezone.localdate(),
                                          place=case.unit.name, participants="考评组全体成员", notes="听取半年工作汇报。",
                                          created_by=people["leader"])
        services.task_act(user=people["leader"], task_id=_task(case, "inspect").pk, action="submit", data={})
        if steps.index(upto) <= 2:
            # Leave the first expert's sheet open: the demo's expert login (g1_expert1) has it to score.
            for n, expert in enumerate(people["experts"]):
                if n:
                    self._score(case, expert, n)
            return
        for n, expert in enumerate(people["experts"]):
            self._score(case, expert, n)
        if steps.index(upto) <= 3:
            return
        services.task_act(user=people["leader"], task_id=_task(case, "review").pk, action="approve", data={})

    def _score(self, case, expert, n):
        task = Task.objects.get(process__artifact_object_id=case.pk, process__flow_class=CaseFlow,
                                flow_task=CaseFlow.score, owner=expert, status=STATUS.ASSIGNED)
        services.task_act(user=expert, task_id=task.pk, action="submit",
                          data={"items": _sheet_items(case, case.pk + n)})

    def _spread(self, round: m.Round, people: list[dict]) -> None:
        cases = list(round.cases.select_related("unit", "group").order_by("group__number", "unit__sort_order"))
        by_group = [[c for c in cases if c.group.number == n] for n in range(1, 5)]
        # Group 1 shows one case at each step; group 2 has a report returned by its unit head.
        for case, upto in zip(by_group[0], ["sign_off", "inspect", "score", "review", "done"]):
            self._advance(case, people[0], upto)
        returned = by_group[1][0]
        self._advance(returned, people[1], "sign_off")
        head = m.User.objects.get(username=f"{returned.unit.code.lower()}_head")
        services.task_act(user=head, task_id=_task(returned, "sign_off").pk, action="return",
                          data={"comment": "请补充上半年业务指标推进的具体数据。"})
        for case in by_group[2][:2] + by_group[3][:2]:
            self._advance(case, people[2 if case in by_group[2] else 3], "inspect")
        # Groups 3 and 4 visit their units later: their units get until the day after tomorrow.
        for case in by_group[2][2:] + by_group[3][2:]:
            deadlines.case_extend(user=self.office, case_id=case.pk, due=timezone.now() + timedelta(days=2),
                                  reason="第三、四组考评时间安排较晚，准备阶段相应顺延。")

    def _finished_round(self, rubric, units, people, now, *, title, approve) -> m.Round:
        """A small round scored and compiled; approved by the leader when `approve` (its results can be
        reported), else waiting for the leader's 审定."""
        round = round_services.round_create(
            user=self.office, title=title, kind=m.RoundKind.CREATION,
            year=now.year - 1, rubric=rubric, prepare_due=now - timedelta(days=40), inspect_due=now - timedelta(days=30),
            review_due=now - timedelta(days=20), approve_due=now + timedelta(days=3), report_due=now + timedelta(days=10),
        )
        staff = people[0]
        members: list[round_services.GroupMemberSpec] = [
            {"user": staff["leader"], "role": m.GroupRole.LEADER},
            *(round_services.GroupMemberSpec(user=e, role=m.GroupRole.EXPERT) for e in staff["experts"])]
        round_services.group_create(user=self.office, round=round, number=1, name="第一考核调研组", phone="3568226",
                                    members=members, units=units)
        services.round_launch(user=self.office, round_id=round.pk)
        for case in round.cases.select_related("unit"):
            self._advance(case, staff, "done")
        services.task_act(user=self.office, task_id=self._round_task(round, RoundFlow.compile).pk, action="submit", data={})
        if approve:
            self._findings(round, staff["leader"])
            services.task_act(user=self.leader, task_id=self._round_task(round, RoundFlow.approve).pk, action="approve",
                              data={"comment": "同意。"})
            self._rectifications(round, staff["leader"])
        round.refresh_from_db()
        return round

    PROBLEMS = ("“三会一课”记录不完整，部分支部组织生活会会前谈心谈话未留痕。",
                "党员发展程序存在薄弱环节，个别发展对象培养考察材料缺失。")

    def _findings(self, round: m.Round, leader: m.User) -> None:
        """Two problems per unit that require rectification, recorded at the inspection."""
        items = list(round.rubric.items.order_by("section__position", "position")[:2])
        for case in round.cases.order_by("unit__sort_order"):
            for item, problem in zip(items, self.PROBLEMS):
                m.Finding.objects.create(case=case, source=m.FindingSource.INSPECTION, description=problem, item=item,
                                         severity=m.Severity.MEDIUM, requires_rectification=True, created_by=leader)

    def _rectifications(self, round: m.Round, leader: m.User) -> None:
        """The approval opened one rectification per finding: one waits at each step, one is closed, and
        the first plan is overdue (its plan was due three days ago)."""
        rects = list(m.Rectification.objects.filter(round=round).select_related("case", "unit").order_by("pk"))
        steps = ["plan", "plan_sign", "plan_review", "carry_out", "verify", "closed"]
        for rect, upto in zip(rects, steps):
            staff = m.User.objects.get(username=f"{rect.unit.code.lower()}_staff")
            head = m.User.objects.get(username=f"{rect.unit.code.lower()}_head")
            evidence = m.Attachment.objects.create(
                case=rect.case, purpose=m.Attachment.Purpose.RECTIFICATION, original_name="整改佐证材料.pdf",
                file=ContentFile(b"%PDF-1.4 demo", name="rectification.pdf"), size=13, sha256="0" * 64,
                uploaded_by=staff)
            due = min(timezone.localdate() + timedelta(days=20), rect.due_date).isoformat()
            moves: list[tuple[str, m.User, str, ActionData]] = [
                ("plan", staff, "submit", {"target": "建立台账、逐项整改，确保按期销号。", "measures": [
                    {"text": "补齐支部组织生活记录，建立会前谈心谈话台账。", "responsible": "支部书记", "due_date": due},
                    {"text": "开展一次专项自查并形成报告。", "responsible": "机关党委专职副书记", "due_date": due}]}),
                ("plan_sign", head, "approve", {"comment": "同意。"}),
                ("plan_review", leader, "approve", {"comment": "方案可行。"}),
                ("carry_out", staff, "submit", {"report": "各项措施已落实完毕，附佐证材料。", "evidence_ids": [evidence.pk]}),
                ("verify", self.office, "approve", {"comment": "验收合格，予以销号。"}),
            ]
            for step, user, action, data in moves[:steps.index(upto)]:
                task = Task.objects.get(process__data__rectification=rect.pk, flow_task=getattr(RectificationFlow, step),
                                        status__in=[STATUS.NEW, STATUS.ASSIGNED])
                services.task_act(user=user, task_id=task.pk, action=action, data=data)
        late = rects[0]
        plan_due = timezone.localdate() - timedelta(days=3)
        m.Rectification.objects.filter(pk=late.pk).update(plan_due=plan_due)
        TaskDeadline.objects.filter(task__process__data__rectification=late.pk, task__status__in=[STATUS.NEW, STATUS.ASSIGNED]
                                    ).update(due=day_due(plan_due), next_check_at=timezone.now())

    @staticmethod
    def _round_task(round: m.Round, node) -> Task:
        return Task.objects.get(process__flow_class=RoundFlow, process__artifact_object_id=round.pk, flow_task=node,
                                status__in=[STATUS.NEW, STATUS.ASSIGNED])

    def _documents(self, running: m.Round, finished: m.Round) -> None:
        """Issued documents of every kind (rendered here, as the worker would) and one draft."""
        rectified = finished.rectifications.select_related("unit").first()
        issued = [
            documents.draft_create(user=self.office, round=running, kind=DocumentKind.LAUNCH_NOTICE),
            documents.draft_create(user=self.office, round=running, kind=DocumentKind.REMINDER_LETTER),
            documents.draft_create(user=self.office, round=finished, kind=DocumentKind.RESULTS_NOTICE),
            documents.draft_create(user=self.office, round=finished, kind=DocumentKind.COMMITTEE_VERSION),
            *(documents.draft_create(user=self.office, round=finished, kind=DocumentKind.FEEDBACK_LETTER, unit=case.unit)
              for case in finished.cases.select_related("unit")),
            documents.draft_create(user=self.office, round=finished, kind=DocumentKind.RECTIFICATION_LEDGER),
            *([documents.draft_create(user=self.office, round=finished, kind=DocumentKind.RECTIFICATION_NOTICE,
                                      unit=rectified.unit)] if rectified else []),
        ]
        for document in issued:
            documents.issue_request(user=self.office, document=document)
        # What the worker would do: the documents above and the closed rectification's closure sheet.
        for pk in Document.objects.filter(status=DocumentStatus.ISSUING).values_list("pk", flat=True):
            documents.issue_render(pk)
        draft = documents.draft_create(user=self.office, round=running, kind=DocumentKind.REMINDER_LETTER)
        documents.draft_update(user=self.office, document=draft, changes={
            "body": [*draft.body, "请各考评组联络员逐一电话提醒，确保按时完成。"]})


# --- seed 004: a social evaluation round (社会评价) -------------------------------------------------

# Invented 自治区直属机关 units of the notice's three families (政府工作部门; 党委工作部门 and 群团组织;
# 参照公务员法管理的事业单位): code, name, short name, category.
SOCIAL_UNITS = [
    ("S01", "自治区商务厅", "商务厅", m.UnitCategory.GOVERNMENT),
    ("S02", "自治区人力资源和社会保障厅", "人社厅", m.UnitCategory.GOVERNMENT),
    ("S03", "自治区党委宣传部", "党委宣传部", m.UnitCategory.PARTY),
    ("S04", "自治区妇女联合会", "妇联", m.UnitCategory.MASS),
    ("S05", "自治区地方志编纂委员会办公室", "地方志办", m.UnitCategory.INSTITUTION),
    ("S06", "自治区供销合作联社", "供销社", m.UnitCategory.INSTITUTION),
]
SOCIAL_GROUPS = [("政府工作部门", ["S01", "S02"]), ("党委工作部门、群团组织", ["S03", "S04"]),
                 ("参公事业单位", ["S05", "S06"])]
# The demo's lists are a few people each: the round's minimums (500/300 in the notice) made to fit.
SOCIAL_MINIMUMS = {"economic": 5, "party_mass": 4, "institution": 4}
CITIES = [("南宁市", "民族大道", "0771", "530000"), ("柳州市", "城中路", "0772", "545000"),
          ("桂林市", "中山路", "0773", "541000"), ("梧州市", "新兴路", "0774", "543000"),
          ("北海市", "北部湾路", "0779", "536000"), ("玉林市", "人民路", "0775", "537000")]
HOT_TOPICS = {
    "S01": "优化口岸营商环境工作", "S02": "城乡居民基本养老保险经办服务", "S03": "基层宣传文化阵地建设",
    "S04": "妇女儿童权益维护工作", "S05": "地方志资源开发利用", "S06": "农村电子商务服务体系建设",
}
QUESTION_TEMPLATES = ["您是否了解本单位开展的{topic}？", "您对{topic}的总体成效是否满意？",
                      "您认为{topic}中办事流程是否便捷？", "您认为{topic}中工作人员服务态度如何？",
                      "您对进一步做好{topic}有何意见和建议？", "您认为{topic}的信息公开是否及时？"]
# The unit's counterpart in the cities (its system's 市、县两级: 附件2/4/6 list their cadres).
CITY_COUNTERPARTS = {"S01": "商务局", "S02": "人力资源和社会保障局", "S03": "委宣传部", "S04": "妇女联合会",
                     "S05": "地方志编纂委员会办公室", "S06": "供销合作社"}
LEADER_TITLES = {"S01": "厅长", "S02": "厅长", "S05": "主任"}
SOCIAL_ANALYSIS = {
    "completion": "围绕年度重点工作任务，制定任务分解表，按月调度、按季通报，截至11月30日各项目标任务均按进度推进，"
                  "主要指标完成情况好于上年同期。",
    "innovation": "推行“一窗受理、集成服务”，办事材料精简三成；建立基层联系点制度，问题收集、交办、反馈形成闭环。",
    "weaknesses": "部分市县工作力量不足，基层调研的深度和频次还不够；信息化建设与业务需求仍有差距，需加快推进。",
}


class SocialDemo:
    """The social round: units at each of the SocialCaseFlow's steps, through the same services and
    task actions as the API (seed 004; the dues a week to five weeks from now)."""

    def __init__(self, demo: Demo):
        self.demo = demo
        self.office = demo.office

    def build(self) -> m.Round:
        template = round_templates.ready_template("social_evaluation")
        assert template is not None
        template = dataclasses.replace(template, config={**template.config, "sample_minimums": SOCIAL_MINIMUMS})
        # Started ten days ago: lists and questionnaires are due tomorrow, the situation tables in four
        # weeks, the analyses in five.
        start = timezone.localdate() - timedelta(days=10)
        round = round_services.round_create_from_template(user=self.office, template=template, year=start.year,
                                                          start=start)
        self.units = self._units()
        liaison = self.demo.person("gx_liaison", title="考评办二处联络员")
        liaison.office_phone = "0771-2855114"
        liaison.save()
        for number, (name, codes) in enumerate(SOCIAL_GROUPS, start=1):
            round_services.group_create(user=self.office, round=round, number=number, name=name, phone="2855114",
                                        members=[{"user": liaison, "role": m.GroupRole.LIAISON}],
                                        units=[self.units[c] for c in codes])
        services.round_launch(user=self.office, round_id=round.pk)
        round.refresh_from_db()
        self.round = round
        self._materials()
        self._leader_evaluation()
        return round

    def _units(self) -> dict[str, m.Unit]:
        units = {}
        for n, (code, name, short, category) in enumerate(SOCIAL_UNITS, start=1):
            units[code] = m.Unit.objects.create(code=code, name=name, short_name=short, category=category,
                                                sort_order=100 + n)
            for role, title in ((m.UnitRole.STAFF, "办公室科员（联络员）"), (m.UnitRole.HEAD, "党组书记")):
                user = self.demo.person(f"{code.lower()}_{role}", title=title)
                user.office_phone = f"0771-28{n}{len(role):04d}"
                user.save()
                m.UnitMembership.objects.create(user=user, unit=units[code], role=role)
        return units

    def _user(self, code: str, role: str) -> m.User:
        return m.User.objects.get(username=f"{code.lower()}_{role}")

    def _case(self, code: str) -> m.Case:
        return self.round.cases.select_related("round", "unit").get(unit__code=code)

    def _act(self, code: str, step: str, user: m.User, action: str = "submit", **data: Unpack[ActionData]) -> None:
        task = Task.objects.get(process__flow_class=SocialCaseFlow, process__artifact_object_id=self._case(code).pk,
                                flow_task=getattr(SocialCaseFlow, step), status__in=[STATUS.NEW, STATUS.ASSIGNED])
        services.task_act(user=user, task_id=task.pk, action=action, data=data)

    def _upload(self, code: str, kind: str, people: int) -> None:
        """One of the unit's lists in its attachment's layout: invented people, numbers and addresses."""
        from openpyxl import Workbook

        unit_index = int(code[1:])
        layout = LAYOUTS[kind]
        system = "system" in kind
        wb = Workbook()
        sheet = wb.active
        sheet.append([f"{self.round.year}年度{self.units[code].name}社会评价抽样框"])
        sheet.append(["报送单位：", self.units[code].name])
        sheet.append(list(layout))
        for i in range(1, people + 1):
            city, road, area, postcode = CITIES[(i + unit_index) % len(CITIES)]
            name = SURNAMES[(i * 7 + unit_index) % len(SURNAMES)] + GIVEN[(i + unit_index * 3) % len(GIVEN)]
            where = (f"{city}{road}{10 + i}号 {city}{CITY_COUNTERPARTS[code]}" if system
                     else f"{city}{road}社区居民委员会")
            mobile = f"139{unit_index}{1 if system else 2}{i:06d}"
            sheet.append([i, name, "男" if i % 2 else "女", where, "副局长" if system else "工作人员", area,
                          f"28{unit_index}{i:04d}", mobile, postcode if "邮政编码" in layout else ""])
        out = BytesIO()
        wb.save(out)
        out.seek(0)
        sample_services.upload_frame(user=self._user(code, "staff"), round=self.round, unit=self.units[code],
                                     kind=kind, fileobj=out, filename=f"{self.units[code].short_name}抽样框.xlsx")

    def _questions(self, code: str, n: int = 5) -> list[str]:
        return [q.format(topic=HOT_TOPICS[code]) for q in QUESTION_TEMPLATES[:n]]

    def _materials(self) -> None:
        # The lists: S01–S05 upload both and report them delivered (S05 after its due: late, red on the
        # office's overview); S06 has only its hot/difficult-work list so far (its task names the other).
        for code in ("S01", "S02", "S03", "S04", "S05"):
            system, hot = required_kinds(self.round, self.units[code])
            self._upload(code, system, 6)
            self._upload(code, hot, 5)
            if code == "S05":  # as if it came three days late
                task = Task.objects.get(process__flow_class=SocialCaseFlow, flow_task=SocialCaseFlow.samples,
                                        process__artifact_object_id=self._case(code).pk, status__in=[STATUS.NEW, STATUS.ASSIGNED])
                TaskDeadline.objects.filter(task=task).update(due=timezone.now() - timedelta(days=3))
            self._act(code, "samples", self._user(code, "staff"))
        self._upload("S06", required_kinds(self.round, self.units["S06"])[1], 5)

        # The questionnaires: approved (S01, S05), awaiting the office's review (S02), returned (S03), a
        # draft of three questions (S04); S06 has not started.
        for code in ("S01", "S02", "S03", "S05"):
            self._act(code, "questionnaire", self._user(code, "staff"), topic=HOT_TOPICS[code],
                      questions=self._questions(code, 6 if code == "S05" else 5))
        for code in ("S01", "S05"):
            self._act(code, "questionnaire_review", self.office, "approve", comment="")
        self._act("S03", "questionnaire_review", self.office, "return",
                  comment="第3、4题与本部门热点工作关联不够紧密，请结合基层宣传文化阵地建设的具体举措修改。")
        material_services.questionnaire_save(user=self._user("S04", "staff"), case=self._case("S04"),
                                             topic=HOT_TOPICS["S04"], questions=self._questions("S04", 3))

        # 附件8 and the two reports: S01, S02, S05 delivered.
        for n, code in enumerate(("S01", "S02", "S05"), start=1):
            self._act(code, "situation", self._user(code, "staff"), situation={
                "liaison": f"{self._user(code, 'staff').display_name}（办公室科员）",
                "liaison_phone": f"0771-28{n}1005",
                "leaders": f"{self._user(code, 'head').display_name}（党组书记）；{SURNAMES[n + 10]}建国（{LEADER_TITLES[code]}）",
                "rectification_report": "上一年度社会评价中公众反映的办事效率、信息公开等问题已逐项整改，整改情况已在门户网站公布。",
                "performance_report": "1月1日至11月30日，本单位主要工作目标任务完成情况、工作措施、工作亮点和预期成效见附件。",
            })

        # The analyses: signed (S01, S05), awaiting the head (S02), a draft (S03), returned by the head (S04).
        for code in ("S01", "S02", "S04", "S05"):
            self._act(code, "analysis", self._user(code, "staff"), analysis=SOCIAL_ANALYSIS)
        for code in ("S01", "S05"):
            self._act(code, "analysis_sign", self._user(code, "head"), "approve", comment="经党组会议审定。")
        self._act("S04", "analysis_sign", self._user("S04", "head"), "return",
                  comment="请补充妇女儿童权益维护工作的具体数据。")
        material_services.analysis_save(user=self._user("S03", "staff"), case=self._case("S03"),
                                        data={**SOCIAL_ANALYSIS, "weaknesses": ""})

    def _leader_evaluation(self) -> None:
        """The office names three leaders to evaluate; two forms are in (the leader has all six to fill)."""
        evaluators = [self.demo.leader]
        for n, title in ((1, "柳州市委副书记"), (2, "桂林市人民政府副市长")):
            user = self.demo.person(f"gx_eval{n}", title=title)
            user.office_phone = f"077{n + 1}-2800{n:03d}"
            user.save()
            evaluators.append(user)
        evaluation_services.evaluators_set(user=self.office, round=self.round, user_ids=[u.pk for u in evaluators])
        for code, score in (("S01", 5), ("S05", 4)):
            evaluation_services.form_submit(user=evaluators[1], case=self._case(code), score=score)


def _seal_png() -> bytes:
    """A plain red ring with a star: the demo's seal image (an office uploads its own in the admin)."""
    from PIL import Image, ImageDraw

    size = 400
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, size - 10, size - 10), outline=(230, 0, 18, 255), width=14)
    points = [(size / 2 + r * math.sin(math.pi * k / 5), size / 2 - r * math.cos(math.pi * k / 5))
              for k, r in zip(range(10), [80, 32] * 5, strict=True)]
    draw.polygon(points, fill=(230, 0, 18, 255))
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


LOGINS = [
    ("office", "考核办（可进入管理后台）"),
    ("leader", "领导：审定结果；社会评价的领导评价表"),
    ("auditor", "纪检监督：只读与审计日志"),
    ("g1_leader", "第一组组长：检查、评审"),
    ("g1_expert1", "第一组专家：评分"),
    ("g1_liaison", "第一组联络员：只读"),
    ("u06_staff", "省委老干部局填报员：自评（已逾期，待提交）"),
    ("u01_head", "省委办公厅负责人：审定"),
    ("u14_head", "省纪委监委机关负责人"),
    ("u14_staff", "省纪委监委机关填报员：被退回的自评"),
    ("s02_head", "自治区人社厅负责人（社会评价）：审定年度绩效分析"),
    ("s03_staff", "自治区党委宣传部填报员（社会评价）：被退回的问卷、绩效分析草稿"),
    ("s04_staff", "自治区妇联填报员（社会评价）：问卷草稿、被退回的绩效分析"),
    ("s06_staff", "自治区供销合作联社填报员（社会评价）：抽样框未报齐"),
    ("gx_eval1", "领导评价人（社会评价）：已填两份领导评价表"),
]
