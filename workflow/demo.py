"""Demo data: seed 000's four groups and units, seed 003's 五型机关 rubric, invented people.

Two rounds: the half-year round (seed 000) with cases spread over every step, so that every role's
inbox has work, and a small finished round waiting for the leader's approval.
"""

import math
from datetime import timedelta
from io import BytesIO
from pathlib import Path

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
from cases.rubrics.services import rubric_import
from cases.rubrics.text import load_rubric_yaml
from cases.services import rounds as round_services
from notifications.documents import services as documents
from notifications.documents.models import Document, DocumentKind, DocumentStatus, Issuer
from workflow import services
from workflow.deadlines import services as deadlines
from workflow.deadlines.rules import day_due
from workflow.flows import CaseFlow, RectificationFlow, RoundFlow
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
        return {"round": half_year, "finished_round": finished}

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
    ("leader", "领导：审定结果"),
    ("auditor", "纪检监督：只读与审计日志"),
    ("g1_leader", "第一组组长：检查、评审"),
    ("g1_expert1", "第一组专家：评分"),
    ("g1_liaison", "第一组联络员：只读"),
    ("u06_staff", "省委老干部局填报员：自评（已逾期，待提交）"),
    ("u01_head", "省委办公厅负责人：审定"),
    ("u14_head", "省纪委监委机关负责人"),
    ("u14_staff", "省纪委监委机关填报员：被退回的自评"),
]
