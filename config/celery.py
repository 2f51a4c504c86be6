"""The Celery app. Workers: `celery -A config worker`; the scheduler: `celery -A config beat`."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("assessment")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Deadline reminders, overdue notices and escalations (idempotent; cheap when nothing is due).
    "workflow-deadline-sweep": {"task": "workflow.tasks.sweep_deadlines", "schedule": 300.0},
    # Published results whose period has ended with no objection open become final (cases.objections).
    "workflow-publication-finality": {"task": "workflow.tasks.finalise_publications", "schedule": 300.0},
    # The outbox sweep: sends what no kick announced (broker down at commit time, a worker lost mid-send).
    "notifications-outbox": {"task": "notifications.tasks.deliver_outbox", "schedule": 60.0},
    # Documents whose render request was lost (broker down at commit, worker killed mid-render).
    "notifications-documents": {"task": "notifications.tasks.sweep_documents", "schedule": 120.0},
    # Daily digest emails, 08:00 in CELERY_TIMEZONE (Asia/Shanghai).
    "notifications-digest": {"task": "notifications.tasks.send_daily_digests", "schedule": crontab(hour=8, minute=0)},
}
