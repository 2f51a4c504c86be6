"""Celery tasks of the notifications layer. Thin: the logic is in `notifications.outbox`."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def deliver_outbox() -> None:
    """Send the due outbox rows (kicked after each event's commit; beat's sweep every minute)."""
    from notifications import outbox

    # A full batch means a backlog: ask for one helper task, which idle workers pick up (and which
    # asks for the next helper if the backlog is still there when it starts).
    stats, more = outbox.deliver_due(on_backlog=outbox.kick)
    if stats:
        logger.info("Outbox: %s", dict(stats))
    if more:  # a long backlog: carry on in a fresh task rather than wait for the next sweep
        outbox.kick()


@shared_task(ignore_result=True)
def send_daily_digests() -> None:
    """Each digest reader's one email of the day (beat, 08:00 Asia/Shanghai); safe to run again."""
    from notifications import outbox, services

    services.digests_gather()
    outbox.deliver_due()
