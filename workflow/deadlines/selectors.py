"""Reads of tasks' due dates, by primary key from `TaskDeadline` (the effective due: extensions included)."""

from collections.abc import Iterable
from datetime import datetime

from workflow.models import TaskDeadline


def dues_of(task_ids: Iterable[int | None]) -> dict[int, datetime]:
    """The effective due of each task that has one, in one query by primary key."""
    ids = [pk for pk in task_ids if pk is not None]
    if not ids:
        return {}
    return dict(TaskDeadline.objects.filter(task_id__in=ids).values_list("task_id", "due"))


def task_due(task_id: int) -> datetime | None:
    """The effective due of one task (None for a task without one)."""
    return TaskDeadline.objects.filter(task_id=task_id).values_list("due", flat=True).first()
