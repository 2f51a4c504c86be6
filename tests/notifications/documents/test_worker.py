"""Documents rendered by real Celery workers: a private redis-server as the broker and `celery -A config
worker --pool=prefork --concurrency=1 --max-tasks-per-child=2` subprocesses on the test database.

- A round's feedback letters in one bulk action, with two worker processes sharing the batch and
  numbered notices issued beside it; `batch_progress` is polled until done; the pool children are
  recycled on the way.
- The sweep: a document whose kick was lost with the broker down is sent again by `sweep_documents`,
  and not sent twice while its task is still waiting in the queue.
"""

import hashlib
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from cases import models as m
from cases.scoring import results
from config.celery import app
from harness.processes import RedisServer, RssSampler, SmtpSink, Worker, broker, wait_until, worker_env
from notifications import tasks
from notifications.documents import services
from notifications.documents.models import Document, DocumentKind, DocumentStatus, RenderStatus
from tests.factories import make_round

pytestmark = [
    pytest.mark.django_db(transaction=True),
]
needs_redis = pytest.mark.skipif(not RedisServer.available(), reason="needs the redis-server binary")

MAX_TASKS_PER_CHILD = 2


def database_url() -> str:
    """The test database pytest-django created, for the worker subprocesses."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def renderer(redis: RedisServer, sink: SmtpSink, name: str) -> Worker:
    env = worker_env(database_url=database_url(), broker_url=redis.url, smtp_port=sink.port, LOG_LEVEL="INFO")
    return Worker(env, name, pool="prefork", concurrency=1, max_tasks_per_child=MAX_TASKS_PER_CHILD,
                  prefetch_multiplier=1)


def with_results(setup) -> None:
    """Stored results for every case, as the compile step would leave them."""
    for i, case in enumerate(setup.round.cases.select_related("unit").order_by("unit__code")):
        m.Result.objects.create(case=case, round=setup.round, panel=96 - i, deductions=1, bonus=0, total=95 - i,
                                rank=i + 1, grade="优秀" if i < 2 else "良好")
    results.round_freeze_results(round=setup.round)  # approved: letters may be issued
    setup.round.refresh_from_db()


def progress_until_done(batch, timeout: float, workers) -> list[dict]:
    seen: list[dict] = []

    def done():
        p = services.batch_progress(batch)
        if not seen or p != seen[-1]:
            seen.append(p)
        return p["pending"] == 0

    try:
        wait_until(done, timeout, interval=0.2, what="the batch to finish")
    except TimeoutError as exc:
        logs = "\n".join(w.log()[-3000:] for w in workers)
        raise AssertionError(f"{exc}: {seen[-1]}\n{logs}") from None
    return seen


@needs_redis
@pytest.mark.integration
def test_a_rounds_feedback_letters_in_one_action_on_two_recycled_workers(kicks):
    setup = make_round(units=5, experts=1)
    with_results(setup)
    notices = [services.draft_create(user=setup.office, round=setup.round, kind=DocumentKind.LAUNCH_NOTICE)
               for _ in range(2)]
    redis = RedisServer()
    workers: list[Worker] = []
    with SmtpSink() as sink:
        try:
            redis.start()
            workers = [renderer(redis, sink, f"render{i}").start() for i in range(2)]
            for w in workers:  # WeasyPrint (and so Pango) loaded once, in the main process before it forked
                assert "libpango" in Path(f"/proc/{w.proc.pid}/maps").read_text(), w.log()[-2000:]
                assert "Could not preload" not in w.log()
            with broker(app, redis.url), RssSampler(lambda: [p for w in workers for p in w.children()]) as rss:
                started = time.monotonic()
                batch = services.batch_feedback_letters(user=setup.office, round=setup.round)
                for notice in notices:
                    services.issue_request(user=setup.office, document=notice)
                first = services.batch_progress(batch)
                seen = progress_until_done(batch, 120, workers)
                elapsed = time.monotonic() - started
                for notice in notices:
                    wait_until(lambda n=notice: Document.objects.get(pk=n.pk).status == DocumentStatus.ISSUED, 60,
                               what="the notices issued")
        finally:
            for w in workers:
                w.close()
            redis.close()

    assert first["total"] == 5 and first["done"] + first["pending"] == 5
    final = seen[-1]
    assert final == {"total": 5, "done": 5, "failed": [], "pending": 0}, (final, elapsed)
    letters = list(batch.documents.select_related("unit"))
    assert sorted(d.unit_id for d in letters) == sorted(u.pk for u in setup.units)
    for letter in letters:
        assert (letter.status, letter.render_status, letter.number) == (DocumentStatus.ISSUED, RenderStatus.DONE, None)
        with letter.pdf.open("rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == letter.sha256
    numbers = sorted(Document.objects.filter(pk__in=[n.pk for n in notices]).values_list("number", flat=True))
    assert numbers == [1, 2]
    # 7 documents (and the outbox tasks their notices kick) on 2 workers of one child each, recycled
    # after 2 tasks: the pools made several children; each stayed well under the memory target.
    assert len(rss.peaks) >= 4, rss.peaks
    assert rss.peak_mb() < 500, rss.peaks


@needs_redis
@pytest.mark.integration
def test_the_sweep_resends_a_document_whose_kick_was_lost(kicks, caplog):
    setup = make_round(units=2, experts=1)
    (notice,) = [services.draft_create(user=setup.office, round=setup.round, kind=DocumentKind.LAUNCH_NOTICE)]
    redis = RedisServer()
    worker = None
    with SmtpSink() as sink:
        try:
            redis.start()
            with broker(app, redis.url):
                redis.stop()  # the broker is down when the office presses "issue"
                services.issue_request(user=setup.office, document=notice)
                assert "the sweep will" in caplog.text  # logged, never raised
                notice.refresh_from_db()
                assert (notice.status, notice.render_status) == (DocumentStatus.ISSUING, RenderStatus.QUEUED)
                redis.start()

                tasks.sweep_documents()  # within two minutes: not yet taken for lost
                assert tasks._broker_backlog() == 0
                # Two minutes later (the document's row is made to look it): sent again, once.
                Document.objects.filter(pk=notice.pk).update(updated=timezone.now() - timezone.timedelta(minutes=3))
                assert services.pending() == {"issue": [notice.pk], "preview": []}
                tasks.sweep_documents()
                assert tasks._broker_backlog() == 1
                tasks.sweep_documents()  # its task still waits in the queue: not sent a second time
                assert tasks._broker_backlog() == 1

                worker = renderer(redis, sink, "sweep").start()
                wait_until(lambda: Document.objects.get(pk=notice.pk).status == DocumentStatus.ISSUED, 60,
                           what="the notice issued")
        finally:
            if worker:
                worker.close()
            redis.close()
    notice.refresh_from_db()
    assert (notice.number, notice.render_status) == (1, RenderStatus.DONE)
    assert services.pending() == {"issue": [], "preview": []}


def test_the_sweep_sends_nothing_while_the_queue_is_busy(monkeypatch, kicks):
    setup = make_round(units=1, experts=1)
    notice = services.draft_create(user=setup.office, round=setup.round, kind=DocumentKind.LAUNCH_NOTICE)
    sent: list[tuple[list[int], str]] = []
    monkeypatch.setattr(tasks, "render_documents_kick", lambda ids, mode: sent.append((list(ids), mode)))
    services.issue_request(user=setup.office, document=notice)
    sent.clear()
    Document.objects.filter(pk=notice.pk).update(updated=timezone.now() - timezone.timedelta(minutes=3))
    monkeypatch.setattr(tasks, "_broker_backlog", lambda: 40)
    tasks.sweep_documents()
    assert sent == []
    monkeypatch.setattr(tasks, "_broker_backlog", lambda: None)  # the broker cannot say: send
    tasks.sweep_documents()
    assert sent == [([notice.pk], "issue")]
