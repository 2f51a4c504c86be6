"""Notices about tasks: new task (assigned / claimable / returned), reminder, overdue, escalation,
deadline changed. Written through the outbox (`notifications.services.notifications_create_many`)
inside the transaction of the event that causes them, each with a dedupe key so that running the same
code twice — a sweep run twice, two sweeps at once — notifies nobody twice.

Everything here works on batches (`TaskInfo` lists) with a fixed number of queries per batch:
who holds a role is looked up once per kind of role, the users once, and the notices of a batch are
collected and written by one call of the batch API.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import access
from cases import models as m
from notifications.models import Channel
from notifications.services import notifications_create_each, notifications_create_many
from workflow.steps import step_of

ASSIGNED = "task.assigned"
CLAIMABLE = "task.claimable"
RETURNED = "task.returned"
REMINDER = "task.reminder"
OVERDUE = "task.overdue"
ESCALATED = "task.escalated"
EXTENDED = "task.extended"
DUE_CHANGED = "task.due_changed"
PROGRESS_DUE = "rectification.progress_due"

ROLE_LABELS = {
    "unit_staff": "填报员",
    "unit_head": "单位负责人",
    "group_lead": "考评组组长",
    "rectification_reviewer": "考评组组长或考核办",
    "office": "考核办",
    "leader": "领导",
}

URGENT = (Channel.EMAIL, Channel.SMS)


@dataclass
class TaskInfo:
    """What a notice needs to know of a task (read in bulk by the callers)."""

    task_id: int
    process_id: int
    flow_task: Any  # the task's flow node (viewflow is untyped)
    status: str
    owner_id: int | None
    owner_permission: str | None
    owner_permission_obj_pk: str | None
    due: datetime
    round_title: str
    unit_name: str | None = None
    unit_id: int | None = None
    group_id: int | None = None

    @property
    def step(self) -> str:
        return self.flow_task.name

    @property
    def title(self) -> str:
        return str(self.flow_task.task_title)

    @property
    def what(self) -> str:
        """“准备自评材料”（2026年上半年考评·某某局）"""
        where = f"{self.round_title}·{self.unit_name}" if self.unit_name else self.round_title
        return f"“{self.title}”（{where}）"

    @property
    def short(self) -> str:
        return f"{self.title}（{self.unit_name}）" if self.unit_name else f"{self.title}（{self.round_title}）"

    def role(self) -> tuple[str, int | None] | None:
        """The role (and its unit / group) that may claim the task."""
        if not self.owner_permission:
            return None
        role = self.owner_permission.removeprefix("cases.")
        obj = int(self.owner_permission_obj_pk) if self.owner_permission_obj_pk else None
        return role, obj

    def escalation_target(self, level: int) -> tuple[str, int | None] | None:
        step = step_of(self.flow_task)
        chain = step.escalation if step is not None else ("office",)
        if level > len(chain):
            return None
        role = chain[level - 1]
        obj = {"unit_head": self.unit_id, "unit_staff": self.unit_id, "group_lead": self.group_id,
               "rectification_reviewer": self.group_id}.get(role)
        return role, obj


def info_from(task, deadline, round, case=None) -> TaskInfo:
    return TaskInfo(
        task_id=task.pk,
        process_id=task.process_id,
        flow_task=task.flow_task,
        status=task.status,
        owner_id=task.owner_id,
        owner_permission=task.owner_permission,
        owner_permission_obj_pk=task.owner_permission_obj_pk,
        due=deadline.due,
        round_title=round.title,
        unit_name=case.unit.name if case is not None else None,
        unit_id=case.unit_id if case is not None else None,
        group_id=case.group_id if case is not None else None,
    )


def fmt(when: datetime) -> str:
    local = when.astimezone(ZoneInfo(settings.TIME_ZONE))
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _link(task_id: int) -> str:
    return reverse("ui:task", args=[task_id])


GROUP_ROLES = ("group_lead", "rectification_reviewer")


class People:
    """Who holds a role, for a batch: one query per kind of role asked for, one for the users."""

    def __init__(self, wanted):
        wanted = {w for w in wanted if w is not None}
        self._members: dict[tuple[str, int | None], list[int]] = {w: [] for w in wanted}
        units = {obj for role, obj in wanted if role in ("unit_staff", "unit_head") and obj is not None}
        groups = {obj for role, obj in wanted if role in GROUP_ROLES and obj is not None}
        if units:
            rows = (m.UnitMembership.objects.filter(unit_id__in=units, user__is_active=True)
                    .order_by("user_id").values_list("unit_id", "role", "user_id"))
            for unit_id, role, user_id in rows:
                key = ("unit_staff" if role == m.UnitRole.STAFF else "unit_head", unit_id)
                if key in self._members:
                    self._members[key].append(user_id)
        if groups:
            rows = (m.GroupMember.objects.filter(group_id__in=groups, role__in=access.GROUP_LEAD_ROLES,
                                                 user__is_active=True)
                    .order_by("user_id").values_list("group_id", "user_id"))
            for group_id, user_id in rows:
                for key in ((role, group_id) for role in GROUP_ROLES):
                    if key in self._members and user_id not in self._members[key]:
                        self._members[key].append(user_id)
        org = {role for role, _ in wanted if role in ("office", "leader")}
        reviewers = [key for key in self._members if key[0] == "rectification_reviewer"]
        if reviewers:  # a rectification's reviewer is the group's leads or the office
            office = list(m.User.objects.filter(org_role=m.OrgRole.OFFICE, is_active=True)
                          .order_by("pk").values_list("pk", flat=True))
            for key in reviewers:
                self._members[key].extend(pk for pk in office if pk not in self._members[key])
        if org:
            rows = (m.User.objects.filter(org_role__in=org, is_active=True)
                    .order_by("pk").values_list("org_role", "pk"))
            for role, user_id in rows:
                for key in self._members:
                    if key[0] == role:
                        self._members[key].append(user_id)

    def of(self, wanted) -> list[int]:
        return list(self._members.get(wanted, ())) if wanted else []


def _users(ids) -> dict[int, m.User]:
    ids = {i for i in ids if i is not None}
    return m.User.objects.in_bulk(ids) if ids else {}


class Notices:
    """The notices of a batch, collected with `add` and written by one call of the batch API."""

    def __init__(self, users: dict):
        self.users = users
        self.specs: list[dict] = []
        self.kinds: list[str | None] = []

    def add(self, user_id, *, event, subject, body, link, key, channels=(Channel.EMAIL,), kind=None) -> None:
        """One notice to `user_id` (nobody, if the user is unknown), deduplicated by `key` and the user."""
        user = self.users.get(user_id)
        if user is None:
            return
        self.specs.append({"recipient": user, "event": event, "subject": subject, "body": body, "link": link,
                           "dedupe_key": f"{key}:{user_id}", "channels": channels})
        self.kinds.append(kind)

    def send(self) -> int:
        """Write them; returns the number created (the others existed already)."""
        return notifications_create_many(self.specs) if self.specs else 0

    def send_counted(self) -> Counter:
        """Write them; returns the number created by `kind`."""
        created = notifications_create_each(self.specs) if self.specs else []
        return Counter(kind for kind, n in zip(self.kinds, created, strict=True) if n is not None)


# --- a new task ---------------------------------------------------------------------------------


# Set by `workflow.services.task_act` while a "return" action runs: (process id, comment). Tasks the
# engine creates in that process meanwhile are work handed back, not new work.
returning: ContextVar[tuple[int, str] | None] = ContextVar("returning", default=None)


def announce(infos: list[TaskInfo]) -> int:
    """Tell the people of newly created tasks: the owner (assigned), the role's members
    (claimable), or — when the task exists because work was returned — the person who gets it
    back, with the comment. Returns the number of notices written."""
    if not infos:
        return 0
    back = returning.get()
    plans = []
    for info in infos:
        returned = back is not None and back[0] == info.process_id
        recipients = [info.owner_id] if info.owner_id else None
        if returned and recipients is None:
            # Back to whoever did this step last (e.g. the staff member who submitted).
            last = (Task.objects.filter(process_id=info.process_id, flow_task=info.flow_task, status=STATUS.DONE)
                    .order_by("-finished", "-pk").values_list("owner_id", flat=True).first())
            recipients = [last] if last else None
        plans.append((info, returned, recipients))
    people = People(info.role() for info, _, recipients in plans if recipients is None)
    resolved = [(info, returned, recipients if recipients is not None else people.of(info.role()))
                for info, returned, recipients in plans]
    notices = Notices(_users(uid for _, _, ids in resolved for uid in ids))
    now = timezone.now()
    for info, returned, recipients in resolved:
        due = fmt(info.due) + ("（已超过截止时间，请尽快办理）" if info.due <= now else "")
        if returned:
            event, subject = RETURNED, f"任务退回：{info.short}"
            comment = back[1] if back is not None else ""
            body = f"{info.what}已退回给您，请修改后重新办理。" + (f"意见：{comment}。" if comment else "") + f"截止时间：{due}。"
        elif info.owner_id:
            event, subject = ASSIGNED, f"新任务：{info.short}"
            body = f"您有一项新任务{info.what}，截止时间：{due}。"
        else:
            event, subject = CLAIMABLE, f"待认领任务：{info.short}"
            body = f"{info.what}等待认领办理，截止时间：{due}。认领后请按期完成。"
        link = _link(info.task_id)
        for user_id in recipients:
            notices.add(user_id, event=event, subject=subject, body=body, link=link, key=f"task:{info.task_id}:new")
    return notices.send()


# --- the deadline schedule ----------------------------------------------------------------------


def _owner_text(info: TaskInfo, users) -> str:
    if info.owner_id and info.owner_id in users:
        return str(users[info.owner_id])
    role = info.role()
    label = ROLE_LABELS.get(role[0], "") if role else ""
    return f"{info.unit_name}{label}" if info.unit_name and role and role[0].startswith("unit_") else (label or "办理人")


def deadline_notices(plan) -> dict[str, int]:
    """Send the notices of (TaskInfo, Moment) pairs whose time has come; returns counts by kind."""
    wanted = set()
    for info, moment in plan:
        if moment.kind == "escalate":
            wanted.add(info.escalation_target(moment.n))
        elif not info.owner_id:
            wanted.add(info.role())
    people = People(wanted)
    targets = []
    for info, moment in plan:
        if moment.kind == "escalate":
            ids = people.of(info.escalation_target(moment.n))
        else:
            ids = [info.owner_id] if info.owner_id else people.of(info.role())
        targets.append((info, moment, ids))
    users = _users([uid for _, _, ids in targets for uid in ids] + [i.owner_id for i, _ in plan])
    notices = Notices(users)
    channels: tuple[Channel, ...]
    for info, moment, ids in targets:
        due, iso = fmt(info.due), _iso(info.due)
        if moment.kind == "reminder":
            event, channels = REMINDER, (Channel.EMAIL,)
            subject = f"催办提醒：{info.short}将于{due}到期"
            body = f"您的待办任务{info.what}将于{due}到期（还有{moment.n}个工作日），请及时办理。"
            key = f"reminder:{info.task_id}:{moment.n}:{iso}"
        elif moment.kind == "overdue":
            event, channels = OVERDUE, URGENT
            subject = f"逾期提醒：{info.short}已超过截止时间"
            body = f"您的待办任务{info.what}已于{due}到期，请尽快办理。"
            key = f"overdue:{info.task_id}:{iso}"
        else:
            event, channels = ESCALATED, URGENT
            subject = f"逾期督办：{info.short}已逾期"
            body = (f"{_owner_text(info, users)}的任务{info.what}已于{due}到期，至今未办理，"
                    f"请督促尽快办理。")
            key = f"escalate:{info.task_id}:{moment.n}:{iso}"
        link = _link(info.task_id)
        for user_id in ids:
            notices.add(user_id, event=event, subject=subject, body=body, link=link, key=key, channels=channels,
                        kind=moment.kind)
    created = notices.send_counted()
    return {kind: created[kind] for kind in ("reminder", "overdue", "escalate")}


def progress_notices(measures: Sequence[Mapping[str, Any]]) -> int:
    """A measure of a rectification's plan has come to its due date: the unit's staff are asked for a
    progress report. `measures` are values of RectificationMeasure (pk, text, responsible, due_date,
    rectification_id, rectification__unit_id, rectification__unit__name). Once per measure, due date and
    person; returns the number sent."""
    staff: dict[int, list[int]] = {}
    for unit_id, user_id in m.UnitMembership.objects.filter(
            unit_id__in={x["rectification__unit_id"] for x in measures}, role=m.UnitRole.STAFF
    ).values_list("unit_id", "user_id"):
        staff.setdefault(unit_id, []).append(user_id)
    notices = Notices(_users([uid for ids in staff.values() for uid in ids]))
    for x in measures:
        day = x["due_date"]
        for user_id in staff.get(x["rectification__unit_id"], []):
            notices.add(
                user_id, event=PROGRESS_DUE, subject=f"整改进展报送提醒：{x['rectification__unit__name']}",
                body=(f"整改措施“{x['text']}”（责任人：{x['responsible']}）的完成时限为{day.year}年{day.month}月"
                      f"{day.day}日，请报送整改进展（可附佐证材料）。"),
                link=reverse("ui:rectification", args=[x["rectification_id"]]),
                key=f"progress:{x['pk']}:{day.isoformat()}")
    return notices.send()


# --- deadline changes ---------------------------------------------------------------------------


def due_changed(changes, reason: str = "") -> int:
    """Tell the people of tasks whose due moved: [(TaskInfo, old due)]."""
    people = People(info.role() for info, _ in changes if not info.owner_id)
    targets = [(info, old, [info.owner_id] if info.owner_id else people.of(info.role())) for info, old in changes]
    notices = Notices(_users(uid for _, _, ids in targets for uid in ids))
    for info, old, ids in targets:
        later = info.due > old
        event = EXTENDED if later else DUE_CHANGED
        verb = "延长至" if later else "调整为"
        subject = f"{'期限延长' if later else '期限调整'}：{info.short}"
        body = f"{info.what}的截止时间由{fmt(old)}{verb}{fmt(info.due)}。" + (f"理由：{reason}" if reason else "")
        link, key = _link(info.task_id), f"due:{info.task_id}:{_iso(old)}>{_iso(info.due)}"
        for user_id in ids:
            notices.add(user_id, event=event, subject=subject, body=body, link=link, key=key)
    return notices.send()
