"""Data the official documents take from the workflow: the reminder letter's overdue list.

`notifications` must not import `workflow`, so the workflow app registers this provider when it starts
(`WorkflowConfig.ready`); `notifications.documents.services.draft_create` calls it and stores what it
returns on the document (JSON), so an issued letter keeps the list it was drafted with.
"""

from datetime import datetime
from typing import Any

from django.utils import timezone

from cases import models as m
from workflow.deadlines.dashboard import OverdueRow, overdue_tasks
from workflow.models import TaskDeadline

# Past this many people who may act on an unclaimed task, the letter names the first ones and 等.
ASSIGNEES_SHOWN = 3


def _day(value: datetime) -> str:
    day = timezone.localdate(value)
    return f"{day.year}年{day.month}月{day.day}日"


def _assignee(row: OverdueRow) -> str:
    names = [str(p) for p in row.people]
    if len(names) > ASSIGNEES_SHOWN:
        return "、".join(names[:ASSIGNEES_SHOWN]) + "等"
    return "、".join(names)


def reminder_letter_data(round: m.Round, now: datetime | None = None) -> dict[str, Any]:
    """{"overdue": [{"unit", "unit_id", "step", "assignee", "due", "days"}, ...]}: the units' overdue
    steps in the official unit order (Unit.sort_order, code), longest overdue first within a unit.
    The round's own steps (the office's, with no unit) are not the units' to do and are left out."""
    rows = [r for r in overdue_tasks(round, now) if r.unit]
    unit_ids = dict(
        TaskDeadline.objects.filter(round=round, task_id__in=[r.task_id for r in rows])
        .values_list("task_id", "case__unit_id")
    )
    rows.sort(key=lambda r: (r.unit_order, -r.days, r.task_id))
    return {"overdue": [
        {"unit": r.unit, "unit_id": unit_ids.get(r.task_id), "step": r.title, "assignee": _assignee(r),
         "due": _day(r.due), "days": r.days}
        for r in rows
    ]}


def register() -> None:
    from notifications.documents.kinds import register_data_provider
    from notifications.documents.models import DocumentKind

    register_data_provider(DocumentKind.REMINDER_LETTER, reminder_letter_data)
