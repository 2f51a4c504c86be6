"""`celery -A harness.fastbeat beat`: the product's app and beat scheduler (config/celery.py,
config/beat.py) with every interval entry every `FAST_BEAT_SECONDS` (default 2) instead of 1–5
minutes, so that the multi-node test sees several sweeps within seconds. Only the schedule's periods
differ; tasks, lock and settings are the product's."""

import os

from config.celery import app

_every = float(os.environ.get("FAST_BEAT_SECONDS", "2"))
app.conf.beat_schedule = {
    name: {**entry, "schedule": _every} if isinstance(entry["schedule"], float | int) else entry  # not the crontab
    for name, entry in app.conf.beat_schedule.items()
}

__all__ = ["app"]
