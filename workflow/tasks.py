"""Celery tasks of the workflow layer."""

from celery import shared_task

from workflow.deadlines.reminders import sweep


@shared_task(ignore_result=True)
def sweep_deadlines() -> dict:
    """Reminders, overdue notices and escalations that have come due (workflow.deadlines.reminders.sweep)."""
    return sweep()
