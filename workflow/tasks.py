"""Celery tasks of the workflow layer."""

from celery import shared_task


@shared_task(ignore_result=True)
def fire_due_timers() -> None:
    """Fire viewflow's due timers (the engine has no scheduler of its own)."""
    from viewflow.workflow.timers import fire_due_timers as fire

    fire()


@shared_task(ignore_result=True)
def sweep_deadlines() -> dict:
    """Reminders, overdue notices and escalations that have come due (workflow.reminders.sweep)."""
    from workflow.reminders import sweep

    return sweep()
