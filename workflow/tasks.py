"""Celery tasks of the workflow layer."""

from celery import shared_task

from cases.objections.services import finalise_due
from workflow.deadlines.reminders import sweep


@shared_task(ignore_result=True)
def sweep_deadlines() -> dict:
    """Reminders, overdue notices and escalations that have come due (workflow.deadlines.reminders.sweep)."""
    return sweep()


@shared_task(ignore_result=True)
def finalise_publications() -> int:
    """Results whose publication (公示) has ended with no objection open become final (cases.objections)."""
    return finalise_due()
