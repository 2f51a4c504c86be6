"""Receivers that keep due dates in step with what happens elsewhere (connected in apps.ready).

- a human task created by the engine gets its due date and its people are told;
- a launched round whose phase dates or configuration are edited moves its open tasks' dues, and a
  rectification whose dates the office moves, its open step's;
- an edit of the working-day calendar makes every open schedule be worked out again;
- a self-assessment draft being saved claims the unit's prepare task for the saver;
- rectifications just started (at the round's approval, or as their findings are recorded) get one
  process each.
"""

from django.db.models.signals import post_delete, post_save
from viewflow.workflow.models import Task

from cases import models as m
from cases.rectification.services import rectifications_created
from cases.services.submissions import draft_saving as draft_saving_signal
from workflow import services
from workflow.deadlines import services as deadlines
from workflow.flows import CaseFlow, rectification_processes_start
from workflow.models import CalendarYear, WorkdayOverride
from workflow.selectors import HUMAN


def task_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw and instance.flow_task_type == HUMAN:
        deadlines.task_created(instance)


def round_saved(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if not created and not raw:
        deadlines.round_saved(instance, update_fields)


def rectification_saved(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if not created and not raw:
        deadlines.rectification_saved(instance, update_fields)


def calendar_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        deadlines.calendar_changed()


def draft_saving(sender, user, case, **kwargs):
    # A self-assessment draft saved through the API or the pages claims the unit's prepare task.
    services.draft_claim(user=user, case_id=case.pk, node=CaseFlow.prepare)


def rectifications_started(sender, rectifications, **kwargs):
    rectification_processes_start(rectifications)


def connect() -> None:
    rectifications_created.connect(rectifications_started, sender=m.Rectification,
                                   dispatch_uid="workflow.rectification_processes")
    draft_saving_signal.connect(draft_saving, sender=m.Case, dispatch_uid="workflow.draft_claim")
    post_save.connect(task_saved, sender=Task, dispatch_uid="workflow.task_deadline")
    post_save.connect(round_saved, sender=m.Round, dispatch_uid="workflow.round_dues")
    post_save.connect(rectification_saved, sender=m.Rectification, dispatch_uid="workflow.rectification_dues")
    for model in (WorkdayOverride, CalendarYear):
        post_save.connect(calendar_saved, sender=model, dispatch_uid=f"workflow.calendar.save.{model.__name__}")
        post_delete.connect(calendar_saved, sender=model, dispatch_uid=f"workflow.calendar.delete.{model.__name__}")
