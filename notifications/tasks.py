"""Celery tasks of the notifications layer. Thin: the logic is in `notifications.outbox` and
`notifications.documents.services`."""

import ctypes
import gc
import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_init
from django.conf import settings

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
    """Render one document: its 样稿 (`preview`) or its issued PDF (`issue`).

    A full garbage collection follows every document: WeasyPrint's font objects sit in reference
    cycles that hold each font file mapped (and a copy of it) until the collector runs; left to the
    collector's own schedule a worker rendering letters grew to ≈ 550 MB of RSS, collected after each
    document it stays near 200 MB. After `gc.freeze()` at start-up (below) the collection only walks
    what the task made: about 6 ms."""
    from notifications.documents import services

    try:
        if mode == "issue":
            services.issue_render(document_id)
        else:
            services.preview_render(document_id)
    finally:
        gc.collect()


def render_documents_kick(document_ids: list[int], mode: str) -> None:
    """One task per document (two workers share a bulk batch). Never raises: with the broker down the
    documents wait for the sweep below."""
    try:
        with render_document.app.connection_for_write() as conn:
            for document_id in document_ids:
                render_document.apply_async((document_id, mode), connection=conn, retry=False)  # type: ignore[call-arg]
    except Exception:
        logger.warning("Could not reach the broker to render documents now; the sweep will.", exc_info=True)


def _broker_backlog() -> int | None:
    """Messages waiting in the documents queue (None if the broker cannot say)."""
    app = render_document.app
    try:
        with app.connection_for_write() as conn:
            channel: Any = conn.default_channel  # a kombu virtual channel (Redis, filesystem)
            return channel.queue_declare(queue=settings.DOCUMENTS_QUEUE, durable=True, auto_delete=False).message_count
    except Exception:
        logger.warning("Could not read the broker's queue length", exc_info=True)
        return None


@shared_task(ignore_result=True)
def sweep_documents() -> None:
    """Documents waiting longer than two minutes (a kick lost with the broker down, a worker killed).

    While the queue still holds messages, a document queued long ago may simply be waiting its turn
    behind a large batch: the sweep then leaves it alone rather than queue a second task for every
    letter still waiting (it runs again in two minutes). An empty queue means every document still
    marked queued has lost its task (or is being rendered now, which `issue_render` skips)."""
    from notifications.documents import services

    waiting = {mode: ids for mode, ids in services.pending().items() if ids}
    if not waiting:
        return
    backlog = _broker_backlog()
    if backlog:
        logger.info("Documents sweep: %s messages still queued; not re-sending %s", backlog,
                    {mode: len(ids) for mode, ids in waiting.items()})
        return
    for mode, ids in waiting.items():
        logger.info("Documents sweep: re-sending %s %s task(s)", len(ids), mode)
        render_documents_kick(ids, mode)


@worker_init.connect
def _preload_renderer(**kwargs: Any) -> None:
    """Import WeasyPrint and read the configured fonts' coverage once, in the worker's main process
    before it forks its pool: every pool child (recycled after `--max-tasks-per-child` tasks)
    starts with both in memory instead of paying about a second for them on its first document."""
    from notifications.documents import render

    try:
        render._weasyprint()
        render.configured_coverage()
    except Exception:  # a machine without the libraries still runs the other tasks
        logger.warning("Could not preload the document renderer", exc_info=True)
    gc.collect()  # the font tables parsed for the coverage are garbage now
    try:  # and give their memory back to the system before the pool forks (glibc only)
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    # What is loaded now lives as long as the process: out of the collector's sight, so that the
    # collection after each document is quick and the pool children's pages stay shared.
    gc.freeze()
