"""Document numbers (发文字号): allocated per issuer per year by the worker's `issue_render`, gap-free and
unique under concurrent issue, and a failed render consumes none.

Real PostgreSQL transactions (`transaction=True`) and real threads, each with its own connection, so
that the counter row's lock is what keeps the numbers apart; real WeasyPrint renders, read back with
`pdftotext`. The broker kicks are recorded, not sent: the tests run the worker's function themselves.
"""

import shutil
import subprocess
import threading
import time
from collections import Counter

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cases import models as m
from cases.errors import Conflict
from cases.scoring import results as scoring_results
from notifications import tasks
from notifications.documents import render, services
from notifications.documents.models import (
    Document,
    DocumentCounter,
    DocumentKind,
    DocumentStatus,
    RenderStatus,
)
from tests.factories import make_round

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils' pdftotext"),
]

EMOJI = "\U0001F600"  # in no configured font: its render must fail


@pytest.fixture
def document_kicks(monkeypatch, kicks):
    """Record the render kicks (document ids, mode) instead of publishing them; the outbox kick too."""
    calls: list[tuple[list[int], str]] = []
    monkeypatch.setattr(tasks, "render_documents_kick", lambda ids, mode: calls.append((list(ids), mode)))
    return calls


@pytest.fixture
def setup(db):
    return make_round(units=3, experts=1)


def notices(setup, n: int) -> list[Document]:
    return [services.draft_create(user=setup.office, round=setup.round, kind=DocumentKind.LAUNCH_NOTICE)
            for _ in range(n)]


def pdf_text(document: Document) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", document.pdf.path, "-"], capture_output=True, check=True)
    return out.stdout.decode()


def in_threads(function, ids: list[int]) -> dict[int, object]:
    """`function(pk)` for every id at once, one thread (and database connection) each."""
    start = threading.Barrier(len(ids))
    results: dict[int, object] = {}

    def run(pk: int) -> None:
        try:
            start.wait()
            results[pk] = function(pk)
        except BaseException as exc:  # reported by the test, not lost in the thread
            results[pk] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(pk,)) for pk in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def counter_last(document: Document) -> int:
    return DocumentCounter.objects.get(issuer=document.issuer, year=timezone.localdate().year).last


def test_twenty_concurrent_issues_take_twenty_consecutive_numbers_and_failures_take_none(setup, document_kicks):
    drafts = notices(setup, 22)
    bad = {drafts[5].pk, drafts[16].pk}
    Document.objects.filter(pk__in=bad).update(body=["含有字体中没有的字符" + EMOJI])  # as if edited outside the checks
    for draft in drafts:
        services.issue_request(user=setup.office, document=draft)
    assert sorted(pk for ids, mode in document_kicks for pk in ids if mode == "issue") == sorted(d.pk for d in drafts)

    started = time.monotonic()
    results = in_threads(services.issue_render, [d.pk for d in drafts])
    elapsed = time.monotonic() - started

    assert {pk: r for pk, r in results.items() if not isinstance(r, bool)} == {}
    assert {pk for pk, ok in results.items() if not ok} == bad
    year = timezone.localdate().year
    issued = list(Document.objects.filter(status=DocumentStatus.ISSUED).order_by("number"))
    assert [d.number for d in issued] == list(range(1, 21)), f"numbers after {elapsed:.1f} s"
    assert counter_last(drafts[0]) == 20
    for document in issued:
        assert document.year == year and document.render_status == RenderStatus.DONE
        assert document.doc_number == f"考评办〔{year}〕{document.number}号"
        text = pdf_text(document)
        assert document.doc_number in text, text[:300]
        assert [n for d in issued if (n := d.doc_number) in text] == [document.doc_number]  # only its own
    for document in Document.objects.filter(pk__in=bad):
        assert (document.status, document.render_status, document.number, document.doc_number) == (
            DocumentStatus.DRAFT, RenderStatus.FAILED, None, "")
        assert EMOJI in document.render_error and not document.pdf


def test_a_failed_render_leaves_no_gap_and_can_be_issued_again(setup, document_kicks):
    first, failing, third = notices(setup, 3)
    Document.objects.filter(pk=failing.pk).update(body=["本段含有" + EMOJI])
    for draft in (first, failing, third):
        services.issue_request(user=setup.office, document=draft)

    assert services.issue_render(first.pk) is True
    assert services.issue_render(failing.pk) is False
    failing.refresh_from_db()
    assert (failing.status, failing.render_status, failing.number) == (DocumentStatus.DRAFT, RenderStatus.FAILED, None)
    assert "以下字符在配置的字体中不存在" in failing.render_error and EMOJI in failing.render_error
    assert counter_last(first) == 1  # rolled back with the render
    assert services.issue_render(third.pk) is True
    third.refresh_from_db()
    assert third.number == 2  # the number the failed one would have had

    # Fixed and issued again (a draft again, so the office may retry): the next number, PDF and all.
    Document.objects.filter(pk=failing.pk).update(body=["本段已改正。"])
    services.issue_request(user=setup.office, document=failing)
    assert services.issue_render(failing.pk) is True
    failing.refresh_from_db()
    assert (failing.status, failing.number, failing.render_error) == (DocumentStatus.ISSUED, 3, "")
    assert failing.doc_number in pdf_text(failing)
    assert counter_last(first) == 3


def test_an_unexpected_error_in_the_render_fails_the_document_not_the_counter(setup, document_kicks, monkeypatch):
    first, second = notices(setup, 2)
    services.issue_request(user=setup.office, document=first)
    services.issue_request(user=setup.office, document=second)
    assert services.issue_render(first.pk) is True

    def broken(html):
        raise MemoryError("out of memory in layout")

    monkeypatch.setattr(render, "render_pdf", broken)
    assert services.issue_render(second.pk) is False
    second.refresh_from_db()
    assert (second.status, second.render_status) == (DocumentStatus.DRAFT, RenderStatus.FAILED)
    assert "MemoryError" in second.render_error  # not left "issuing" and "queued" for the sweep forever
    assert counter_last(first) == 1
    monkeypatch.undo()
    services.issue_request(user=setup.office, document=second)
    assert services.issue_render(second.pk) is True
    second.refresh_from_db()
    assert second.number == 2


def test_issue_twice_is_a_conflict_and_issue_render_is_idempotent(setup, document_kicks):
    (notice,) = notices(setup, 1)
    services.issue_request(user=setup.office, document=notice)
    with pytest.raises(Conflict):
        services.issue_request(user=setup.office, document=notice)
    assert services.issue_render(notice.pk) is True
    notice.refresh_from_db()
    before = (notice.number, notice.sha256, notice.pdf.name, notice.issued_at)
    assert services.issue_render(notice.pk) is False  # a second task for the same document
    notice.refresh_from_db()
    assert (notice.number, notice.sha256, notice.pdf.name, notice.issued_at) == before
    assert counter_last(notice) == 1
    with pytest.raises(Conflict):
        services.issue_request(user=setup.office, document=notice)


def test_a_correction_supersedes_the_issued_document_with_its_own_number(setup, document_kicks):
    (notice,) = notices(setup, 1)
    services.issue_request(user=setup.office, document=notice)
    assert services.issue_render(notice.pk) is True
    correction = services.correction_create(user=setup.office, document=notice)
    with pytest.raises(Conflict):
        services.correction_create(user=setup.office, document=notice)
    services.issue_request(user=setup.office, document=correction)
    notice.refresh_from_db()
    assert notice.status == DocumentStatus.ISSUED  # until the correction is issued
    assert services.issue_render(correction.pk) is True
    notice.refresh_from_db()
    correction.refresh_from_db()
    assert notice.status == DocumentStatus.SUPERSEDED
    assert (correction.status, correction.version, correction.replaces_id) == (DocumentStatus.ISSUED, 2, notice.pk)
    assert (notice.number, correction.number) == (1, 2)
    assert correction.doc_number in pdf_text(correction)


def test_a_document_being_rendered_elsewhere_is_skipped_not_waited_for(setup, document_kicks):
    """A second task for the same document (the sweep's) returns at once while the first holds it."""
    (notice,) = notices(setup, 1)
    services.issue_request(user=setup.office, document=notice)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Document.objects.select_for_update().get(pk=notice.pk)
                held.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        assert services.issue_render(notice.pk) is False
        assert time.monotonic() - started < 2
    finally:
        release.set()
        holder.join()
    notice.refresh_from_db()
    assert (notice.status, notice.render_status) == (DocumentStatus.ISSUING, RenderStatus.QUEUED)
    assert services.issue_render(notice.pk) is True


def test_letters_of_one_round_render_side_by_side(setup, document_kicks, monkeypatch):
    """`issue_render` locks the document's own row only (`FOR UPDATE` without `OF` would lock the joined
    round, unit and issuer rows too): while one letter of the round is still rendering, another is
    issued."""
    for i, case in enumerate(setup.round.cases.order_by("pk")):
        m.Result.objects.create(case=case, round=setup.round, panel=95 - i, deductions=0, bonus=0, total=95 - i,
                                rank=i + 1, grade="优秀")
    scoring_results.round_freeze_results(round=setup.round)
    slow, quick = (services.draft_create(user=setup.office, round=setup.round, kind=DocumentKind.FEEDBACK_LETTER,
                                         unit=unit) for unit in setup.units[:2])
    for letter in (slow, quick):
        services.issue_request(user=setup.office, document=letter)
    rendering, release = threading.Event(), threading.Event()
    real_render = render.render_pdf

    def render_pdf(html):
        if setup.units[0].name + "：" in html:  # the slow letter's addressee line
            rendering.set()
            release.wait(30)
        return real_render(html)

    monkeypatch.setattr(render, "render_pdf", render_pdf)
    results: dict[int, object] = {}
    holder = threading.Thread(target=lambda: results.update(in_threads(services.issue_render, [slow.pk])))
    holder.start()
    try:
        assert rendering.wait(30)
        started = time.monotonic()
        assert services.issue_render(quick.pk) is True
        assert time.monotonic() - started < 10
        slow.refresh_from_db()
        assert slow.status == DocumentStatus.ISSUING  # still rendering
    finally:
        release.set()
        holder.join()
    assert results == {slow.pk: True}
    for letter in (slow, quick):
        letter.refresh_from_db()
        assert (letter.status, letter.number, letter.doc_number) == (DocumentStatus.ISSUED, None, "")  # no number
    assert setup.units[0].name in pdf_text(slow) and setup.units[1].name in pdf_text(quick)


def test_the_first_issues_of_a_year_meet_on_one_counter_row(setup, document_kicks):
    """No counter row yet: concurrent first issues create one row between them (ON CONFLICT DO NOTHING)."""
    drafts = notices(setup, 4)
    for draft in drafts:
        services.issue_request(user=setup.office, document=draft)
    assert not DocumentCounter.objects.exists()
    results = in_threads(services.issue_render, [d.pk for d in drafts])
    assert Counter(results.values()) == {True: 4}
    assert sorted(Document.objects.values_list("number", flat=True)) == [1, 2, 3, 4]
    assert DocumentCounter.objects.count() == 1


def test_a_preview_that_fails_says_why_and_takes_no_number(setup, document_kicks, monkeypatch):
    (notice,) = notices(setup, 1)
    services.preview_request(user=setup.office, document=notice)
    services.preview_render(notice.pk)
    notice.refresh_from_db()
    assert (notice.render_status, notice.render_error, notice.number) == (RenderStatus.DONE, "", None)
    assert notice.preview and notice.pages

    def broken(html):
        raise OSError("disk full")

    monkeypatch.setattr(render, "render_pdf", broken)
    services.preview_request(user=setup.office, document=notice)
    services.preview_render(notice.pk)
    notice.refresh_from_db()
    assert notice.render_status == RenderStatus.FAILED and "OSError" in notice.render_error
    assert notice.status == DocumentStatus.DRAFT and not DocumentCounter.objects.exists()
