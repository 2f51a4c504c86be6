"""Celery tasks of the workflow layer."""

from celery import shared_task


@shared_task(ignore_result=True)
def sweep_deadlines() -> dict:
    """Reminders, overdue notices and escalations that have come due (workflow.reminders.sweep)."""
    from workflow.reminders import sweep

    return sweep()
