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


@shared_task(ignore_result=True)
def render_document(document_id: int, mode: str) -> None:
    """Render one document: its 样稿 (`preview`) or its issued PDF (`issue`)."""
    from notifications.documents import services

    if mode == "issue":
        services.issue_render(document_id)
    else:
        services.preview_render(document_id)


def render_documents_kick(document_ids: list[int], mode: str) -> None:
    """One task per document (two workers share a bulk batch). Never raises: with the broker down the
    documents wait for the sweep below."""
    try:
        with render_document.app.connection_for_write() as conn:
            for document_id in document_ids:
                render_document.apply_async((document_id, mode), connection=conn, retry=False)  # type: ignore[call-arg]
    except Exception:
        logger.warning("Could not reach the broker to render documents now; the sweep will.", exc_info=True)


@shared_task(ignore_result=True)
def sweep_documents() -> None:
    """Documents waiting longer than two minutes (a kick lost with the broker down, a worker killed)."""
    from notifications.documents import services

    for mode, ids in services.pending().items():
        render_documents_kick(ids, mode)
