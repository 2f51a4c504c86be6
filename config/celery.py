"""The Celery app. Workers: `celery -A config worker`; the scheduler: `celery -A config beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("assessment")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # viewflow timers (.OnTimeout, flow.Timer) only fire when something calls fire_due_timers().
    "workflow-timers": {"task": "workflow.tasks.fire_due_timers", "schedule": 60.0},
}
