"""The office dashboard of a round (红黄绿灯): progress per step, what is overdue by unit, group and
person, what falls due in the next days, and completion over time.

One pass over the round's task deadlines (a few thousand rows for a large round) in three queries.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.status import STATUS

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.services.audit import audit
from notifications.services import notifications_create_many
from workflow.deadlines import calendar, events
from workflow.deadlines.events import People, info_from
from workflow.deadlines.rules import traffic_light
from workflow.models import TaskDeadline
from workflow.selectors import OPEN
from workflow.steps import STEPS

STEP_ORDER = [step.name for step in STEPS.values()]
LIGHT_RANK = {"green": 0, "yellow": 1, "red": 2}
UPCOMING_DAYS = 7


@dataclass
class OverdueRow:
    task_id: int
    title: str
    unit: str | None
    group: str | None
    due: datetime
    days: int
    workdays: int
    people: list[m.User] = field(default_factory=list)
    claimed: bool = False
    # Official order: the unit's sort_order and code, the group's number (None: a round-level task).
    unit_order: tuple = ()
    group_number: int | None = None


@dataclass
class StepProgress:
    step: str
    title: str
    done: int = 0
    open: int = 0
    overdue: int = 0


def _rows(round: m.Round):
    return list(
        TaskDeadline.objects.filter(round=round)
        .select_related("task", "case__unit", "case__group")
        .only("due", "case", "task__status", "task__finished", "task__owner_id", "task__owner_permission",
              "task__owner_permission_obj_pk", "task__flow_task", "task__process_id", "task__created",
              "case__unit__name", "case__unit__id", "case__unit__sort_order", "case__unit__code",
              "case__group__name", "case__group__id", "case__group__number", "round_id")
    )


def overdue_tasks(round: m.Round, now: datetime | None = None, rows=None) -> list[OverdueRow]:
    """Open tasks past their due, longest overdue first, with who must act (owner, or the role's members).
    `rows`: the round's deadline rows, if the caller has read them already."""
    now = now or timezone.now()
    late = [r for r in (_rows(round) if rows is None else rows) if r.task.status in OPEN and r.due < now]
    infos = [info_from(r.task, r, round, r.case) for r in late]
    people = People({info.role() for info in infos if info.owner_id is None})
    user_ids = {i.owner_id for i in infos if i.owner_id} | {u for i in infos if not i.owner_id for u in people.of(i.role())}
    users = m.User.objects.in_bulk(user_ids)
    today = timezone.localdate(now)
    rows = []
    for row, info in zip(late, infos):
        ids = [info.owner_id] if info.owner_id else people.of(info.role())
        due_day = timezone.localdate(row.due)
        rows.append(OverdueRow(
            task_id=row.task_id, title=info.title, unit=info.unit_name,
            group=row.case.group.name if row.case else None, due=row.due,
            days=(today - due_day).days, workdays=calendar.workdays_between(due_day, today),
            people=[users[i] for i in ids if i in users], claimed=info.owner_id is not None,
            unit_order=(row.case.unit.sort_order, row.case.unit.code) if row.case else (),
            group_number=row.case.group.number if row.case else None,
        ))
    rows.sort(key=lambda r: (r.due, r.task_id))
    return rows


def case_overdue_days(round: m.Round, now: datetime | None = None) -> dict[int, int]:
    """Cases with open work past its due now, and by how many days the longest is overdue: the round
    page's 逾期 column, the same rows the dashboard counts (not `Case.late`, a late submission)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    days: dict[int, int] = {}
    rows = TaskDeadline.objects.filter(round=round, case__isnull=False, task__status__in=OPEN, due__lt=now)
    for case_id, due in rows.values_list("case_id", "due"):
        days[case_id] = max(days.get(case_id, 0), (today - timezone.localdate(due)).days)
    return days


def round_dashboard(round: m.Round, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    rows = _rows(round)
    steps: dict[str, StepProgress] = {}
    case_light: dict[int, str] = {}
    finished_days: Counter = Counter()
    upcoming = []
    for row in rows:
        task = row.task
        name = task.flow_task.name
        progress = steps.setdefault(name, StepProgress(step=name, title=str(task.flow_task.task_title)))
        is_open = task.status in OPEN
        if is_open:
            progress.open += 1
            if row.due < now:
                progress.overdue += 1
            elif row.due < now + timedelta(days=UPCOMING_DAYS):
                upcoming.append(row)
        elif task.status == STATUS.DONE:
            progress.done += 1
            if task.finished:
                finished_days[timezone.localdate(task.finished)] += 1
        # A case's light is how its open work stands now: a step finished late yesterday does not keep
        # a case that is on time today yellow (in the demo, where preparation ended yesterday, no case
        # was ever green). A case with nothing open is green.
        if row.case_id and is_open:
            light = traffic_light(row.due, None, now)
            current = case_light.get(row.case_id)
            if current is None or LIGHT_RANK[light] > LIGHT_RANK[current]:
                case_light[row.case_id] = light

    overdue = overdue_tasks(round, now, rows)
    by_unit, by_group, by_person = defaultdict(list), defaultdict(list), defaultdict(list)
    unit_order: dict[str, tuple] = {}
    group_order: dict[str, tuple] = {}
    for row in overdue:
        by_unit[row.unit or "—"].append(row)
        unit_order[row.unit or "—"] = (not row.unit_order, row.unit_order)
        by_group[row.group or "—"].append(row)
        group_order[row.group or "—"] = (row.group_number is None, row.group_number or 0)
        for person in row.people if row.claimed else ():
            by_person[person].append(row)

    def summary(groups, order=None):
        """(key, tasks, longest overdue) rows: units and groups in the official order (Unit.sort_order,
        the group's number), people most overdue first."""
        rows = [(key, len(v), max(r.days for r in v)) for key, v in groups.items()]
        if order is not None:
            return sorted(rows, key=lambda item: order[item[0]])
        return sorted(rows, key=lambda item: (-item[1], -item[2], str(item[0])))

    cases = sorted(round.cases.select_related("unit", "group"), key=lambda c: (c.unit.sort_order, c.unit.code))
    lights = Counter(case_light.get(c.pk, "green") for c in cases)
    return {
        "now": now,
        "steps": sorted(steps.values(), key=lambda s: STEP_ORDER.index(s.step) if s.step in STEP_ORDER else 99),
        "overdue": overdue,
        "overdue_by_unit": summary(by_unit, unit_order),
        "overdue_by_group": summary(by_group, group_order),
        "overdue_by_person": summary(by_person),
        "upcoming": sorted(upcoming, key=lambda r: r.due),
        "cases": [(c, case_light.get(c.pk, "green")) for c in cases],
        "lights": {name: lights.get(name, 0) for name in ("green", "yellow", "red")},
        "completion": completion_series(round, finished_days, now),
        "finished_total": sum(finished_days.values()),
        "tasks_total": len(rows),
        "calendar_warnings": calendar.schedule_warnings(
            range(timezone.localdate(now).year, timezone.localdate(round.report_due).year + 1)),
    }


def completion_series(round: m.Round, finished_days: Counter, now: datetime) -> list[tuple]:
    """Cumulative finished tasks per day from launch to today (or the report due, if earlier)."""
    start = timezone.localdate(round.launched_at or round.created)
    end = min(timezone.localdate(now), timezone.localdate(round.report_due))
    if end < start:
        return []
    series, total, day = [], 0, start
    while day <= end:
        total += finished_days.get(day, 0)
        series.append((day, total))
        day += timedelta(days=1)
    return series


def completion_svg(series: list[tuple], width: int = 720, height: int = 160) -> str:
    """A small line chart (inline SVG, no JavaScript) of cumulative completions. A round launched
    today has one day: drawn from nothing before launch to that day's total, not left blank."""
    if not series:
        return ""
    if len(series) == 1:
        series = [(series[0][0] - timedelta(days=1), 0), *series]
    top = max(total for _, total in series) or 1
    pad = 24
    step = (width - 2 * pad) / (len(series) - 1)
    points = " ".join(
        f"{pad + i * step:.1f},{height - pad - (total / top) * (height - 2 * pad):.1f}" for i, (_, total) in enumerate(series)
    )
    first, last = series[0][0], series[-1][0]
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="completion" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
        f'<polyline fill="none" stroke="#c8161d" stroke-width="2" points="{points}"/>'
        f'<text x="{pad}" y="{height - 6}" font-size="11">{first:%m-%d}</text>'
        f'<text x="{width - pad}" y="{height - 6}" font-size="11" text-anchor="end">{last:%m-%d}</text>'
        f'<text x="{pad}" y="14" font-size="11">{top}</text></svg>'
    )


URGE_INTERVAL = timedelta(hours=1)


@transaction.atomic
def round_urge_overdue(*, user, round_id: int, now: datetime | None = None) -> int:
    """一键催办: notify the owner (or, for an unclaimed task, the role's members) of every overdue task
    of the round, by SMS and email. Recorded in the audit log, at most once an hour per round."""
    if not access.is_office(user):
        raise PermissionDenied("只有考核办可以催办。")
    now = now or timezone.now()
    round = m.Round.objects.select_for_update().get(pk=round_id)
    last = m.AuditEntry.objects.filter(round=round, action="round.urge").order_by("-at").first()
    if last is not None and now - last.at < URGE_INTERVAL:
        again = timezone.localtime(last.at + URGE_INTERVAL)
        raise Conflict(f"一小时内已催办过，请于{again:%H:%M}后再试。")
    rows = overdue_tasks(round, now)
    stamp = now.isoformat()
    specs, people = [], set()
    for row in rows:
        for person in row.people:
            specs.append({
                "recipient": person, "event": "task.urged",
                "subject": f"催办：“{row.title}”{'（' + row.unit + '）' if row.unit else ''}已逾期{row.days}天",
                "body": f"{round.title}：“{row.title}”应于{events.fmt(row.due)}前完成，已逾期{row.days}天，请尽快办理。",
                "link": reverse("ui:task", args=[row.task_id]),
                "dedupe_key": f"urge:{round.pk}:{stamp}:{row.task_id}:{person.pk}", "channels": events.URGENT,
            })
            people.add(person.pk)
    sent = notifications_create_many(specs)
    audit(actor=user, action="round.urge", obj=round, after={"tasks": len(rows), "people": len(people),
                                                             "notifications": sent}, round_id=round.pk)
    return sent
