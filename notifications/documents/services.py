"""Official documents: draft, edit, preview, issue, correct, and a round's letters in bulk.

The requests (`*_request`, `draft_*`, `batch_*`) run in the web process and only change rows; the PDFs
are made by the worker (`preview_render`, `issue_render`, run by `notifications.tasks.render_document`).
Issuing holds the issuer's number counter locked while it renders, so numbers are consecutive and
unique; the counter moves only when the PDF is stored, in the same transaction, so a failed render
consumes no number.
"""

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import models as m
from cases.errors import Conflict
from cases.services.audit import audit
from cases.services.common import require_office
from notifications.documents import kinds as k
from notifications.documents import layout, render
from notifications.documents.models import (
    Document,
    DocumentBatch,
    DocumentCounter,
    DocumentKind,
    DocumentStatus,
    Issuer,
    RenderStatus,
)

logger = logging.getLogger(__name__)

# A 通报 of results and the letters to units state results: issued only once the leader has approved
# them (drafts and 样稿 may be prepared before, for the approval meeting).
AFTER_APPROVAL = {DocumentKind.RESULTS_NOTICE, DocumentKind.FEEDBACK_LETTER}

MAX_PARAGRAPHS = 200
MAX_PARAGRAPH_CHARS = 3000

# Heading levels of GB/T 9704 (一、 （一） 1. （1）) told apart by their numbering.
_LEVELS = (
    ("h1", re.compile(r"^[一二三四五六七八九十]+、")),
    ("h2", re.compile(r"^（[一二三四五六七八九十]+）")),
    ("h3", re.compile(r"^\d+[.．]")),
    ("h4", re.compile(r"^（\d+）")),
)


def paragraph_level(text: str) -> str:
    for level, pattern in _LEVELS:
        if pattern.match(text):
            return level
    return "body"


def kind_of(document: Document) -> k.Kind:
    return k.KINDS[document.kind]


def issuer_default() -> Issuer:
    """The default issuing organ; made from settings.DOCUMENT_ISSUER on a fresh installation."""
    issuer = Issuer.objects.filter(is_default=True).first() or Issuer.objects.order_by("pk").first()
    if issuer is None:
        issuer, _ = Issuer.objects.get_or_create(code=settings.DOCUMENT_ISSUER["code"], defaults={
            "name": settings.DOCUMENT_ISSUER["name"], "mark": settings.DOCUMENT_ISSUER["mark"], "is_default": True,
        })
    return issuer


def mark_size(mark: str) -> str:
    """The 发文机关标志's size in pt: as large as fits the type area's width on one line, at most 48 pt."""
    return f"{min(48.0, 156 / 25.4 * 72 * 0.96 / max(len(mark), 1)):.1f}"


def day_text(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def doc_number_text(issuer: Issuer, year: int, number: int | None) -> str:
    """机关代字〔YYYY〕N号: Arabic numerals, 六角括号, no leading zeros; a blank number on a 样稿."""
    shown = str(number) if number is not None else "\u3000"
    return f"{issuer.code}〔{year}〕{shown}号"


def _content(document: Document) -> k.Content:
    return kind_of(document).build(document.round, document.unit, document.data)


def _draft_text(document: Document) -> k.Content:
    """The kind's content for rendering; a letter made by a bulk issue gets its default text here, in the
    worker (it was created without it)."""
    content = _content(document)
    if not document.title:
        document.title, document.addressees = content.title, content.addressees
        document.body, document.cc = content.body, content.cc
    return content


# Roles of the heading levels' own words (GB/T 9704: 一、黑体, （一）楷体, 1. and （1） the body's 仿宋).
_HEADING_ROLES = {"h1": "heading", "h2": "kai"}


def paragraph_runs(text: str, level: str) -> list[layout.Run]:
    """A paragraph as font runs: a 一、 or （一） heading's words in its font up to its first 。 (a heading
    followed by text in one paragraph), the rest in the body font."""
    role = _HEADING_ROLES.get(level)
    if role is None:
        return [layout.Run(text, "body")]
    cut = text.find("。") + 1
    if 0 < cut < len(text):
        return [layout.Run(text[:cut], role), layout.Run(text[cut:], "body")]
    return [layout.Run(text, role)]


def _lines(runs: list[layout.Run], indent_cells: float) -> list[dict[str, Any]]:
    return [{"runs": line.runs, "spacing": f"{line.spacing:.4f}", "indent": f"{line.indent:.3f}", "last": line.last}
            for line in layout.break_lines(runs, indent_cells=indent_cells)]


def cover_lines(title: str) -> list[str]:
    """A title as a booklet's cover sets it: a closing parenthetical (（供领导评价参考）) on a line of its own."""
    main, bracket, rest = title.partition("（")
    if main and bracket and title.endswith("）"):
        return layout.title_lines(main) + layout.title_lines(bracket + rest)
    return layout.title_lines(title)


def context_of(document: Document, *, preview: bool, number: int | None = None, on: date | None = None,
               content: k.Content | None = None) -> dict[str, Any]:
    """The template context of a document (html_of's): text parts, the round's tables, the layout.
    Body paragraphs and the addressees come already broken into lines justified to the grid (layout.py)."""
    on = on or timezone.localdate()
    kind = kind_of(document)
    content = content or _content(document)
    seal = document.issuer.seal
    seal_url = f"file://{seal.path}" if seal and not preview else ""
    size = mark_size(document.issuer.mark)
    paragraphs = []
    for text in document.body:
        level = paragraph_level(text)
        paragraphs.append({"text": text, "level": level, "lines": _lines(paragraph_runs(text, level), 2)})
    return {
        "title": document.title,
        "title_lines": layout.title_lines(document.title),
        "cover_lines": cover_lines(document.title) if kind.code == DocumentKind.ANALYSIS_BOOKLET else [],
        "addressees": document.addressees,
        "addressee_lines": _lines([layout.Run(document.addressees, "body")], 0) if document.addressees else [],
        "paragraphs": paragraphs,
        "attachments": content.attachments,
        "tables": content.tables,
        "cc": document.cc,
        "issuer": document.issuer,
        "doc_number": doc_number_text(document.issuer, on.year, number) if kind.numbered else "",
        "show_mark": kind.audience != "internal",
        "mark_size": size,
        "issue_date": day_text(on),
        "print_date": day_text(on),
        "seal": seal_url,
        "signature": {name: f"{value:.3f}" for name, value in layout.signature(
            document.issuer.name, day_text(on), sealed=bool(seal_url)).items()},
        "preview": preview,
        "fonts": render.css_font_families(),
        "grid": {name: f"{value:.3f}" for name, value in layout.geometry(float(size)).items()},
    }


def html_of(document: Document, *, preview: bool, number: int | None = None, on: date | None = None,
            content: k.Content | None = None) -> str:
    """The document's HTML: its stored text parts, the round's tables as they are now, the layout."""
    context = context_of(document, preview=preview, number=number, on=on, content=content)
    return render_to_string(kind_of(document).template, context)


# --- drafts ---------------------------------------------------------------------------------------


def _wrong_round_kind(round: m.Round, kind: k.Kind) -> str:
    """Why a kind made for one kind of round (the analysis booklet: social rounds) cannot be drafted or issued
    for this round; empty when it can."""
    if not kind.round_kind or round.kind == kind.round_kind:
        return ""
    return _("%(kind)s只适用于%(round_kind)s轮次，本轮次为%(this)s。") % {
        "kind": DocumentKind(kind.code).label, "round_kind": m.RoundKind(kind.round_kind).label,
        "this": round.get_kind_display()}


def _check_target(round: m.Round, kind: k.Kind, unit: m.Unit | None, data: Mapping[str, Any] | None = None) -> None:
    wrong = _wrong_round_kind(round, kind)
    if wrong:
        raise ValidationError({"round": [wrong]})
    if kind.target:
        _check_row(round, kind.target, unit, data or {})
    if kind.per_unit:
        if unit is None:
            raise ValidationError({"unit": ["此类公文须指定单位。"]})
        if not m.Case.objects.filter(round=round, unit=unit).exists():
            raise ValidationError({"unit": ["该单位不在本轮次的考评对象中。"]})
    elif unit is not None:
        raise ValidationError({"unit": ["此类公文面向整个轮次，不能指定单位。"]})
    if kind.code in (DocumentKind.RESULTS_NOTICE, DocumentKind.COMMITTEE_VERSION) and not round.results.exists():
        raise ValidationError({"round": ["本轮次尚未汇总结果。"]})


def _check_row(round: m.Round, target: str, unit: m.Unit | None, data: Mapping[str, Any]) -> None:
    """The row a per-row kind is about (`data[target]`, the closure sheet's rectification): of the round and
    of the document's unit."""
    value = data.get(target)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({target: ["此类公文须指定整改事项。"]})
    row = m.Rectification.objects.filter(round=round, pk=value).values("unit_id").first()
    if row is None:
        raise ValidationError({target: ["该整改事项不属于本轮次。"]})
    if unit is not None and row["unit_id"] != unit.pk:
        raise ValidationError({target: ["该整改事项不属于所选单位。"]})


def draft_create(*, user: m.User, round: m.Round, kind: str, unit: m.Unit | None = None,
                 data: Mapping[str, Any] | None = None) -> Document:
    """A new draft with the kind's default text, ready to edit and preview. `data` names the row a per-row
    kind is about (the closure sheet: {"rectification": id}); it is kept with the document."""
    require_office(user)
    if kind not in k.KINDS:
        raise ValidationError({"kind": [f"未知的公文类型：{kind}。"]})
    spec = k.KINDS[kind]
    _check_target(round, spec, unit, data)
    provider = k.DATA_PROVIDERS.get(kind)
    data = {**(provider(round) if provider else {}), **({spec.target: data[spec.target]} if spec.target and data else {})}
    content = spec.build(round, unit, data)
    with transaction.atomic():
        document = Document.objects.create(
            round=round, unit=unit, kind=kind, issuer=issuer_default(), audience=spec.audience, title=content.title,
            addressees=content.addressees, body=content.body, cc=content.cc, data=data, created_by=user,
        )
        audit(actor=user, action="document.draft", obj=document, round_id=round.pk,
              after={"kind": kind, "unit": unit.pk if unit else None, "title": document.title})
    return document


def closure_sheet_issue(*, rectification: m.Rectification) -> Document:
    """The 整改销号单 of a rectification just closed, sent to be issued by the system: the verifier's
    acceptance is the decision, so nobody has to draft it. (Audited with no actor: the system's.)"""
    spec = k.KINDS[DocumentKind.CLOSURE_SHEET]
    data = {spec.target: rectification.pk}
    content = spec.build(rectification.round, rectification.unit, data)
    document = Document.objects.create(
        round=rectification.round, unit=rectification.unit, kind=spec.code, issuer=issuer_default(),
        audience=spec.audience, title=content.title, addressees=content.addressees, body=content.body, cc=content.cc,
        data=data, status=DocumentStatus.ISSUING, render_status=RenderStatus.QUEUED,
    )
    audit(actor=None, action="document.issue_request", obj=document, round_id=rectification.round_id,
          comment="整改销号")
    _enqueue([document.pk], "issue")
    return document


def _text_errors(value: str, limit: int) -> list[str]:
    errors = []
    if len(value) > limit:
        errors.append(f"不能超过 {limit} 个字符。")
    missing = render.missing_characters(value)
    if missing:
        errors.append("含有字体中不存在的字符：" + "".join(missing[:20]))
    return errors


def draft_update(*, user: m.User, document: Document, changes: dict[str, Any]) -> Document:
    """Edit the text parts of a draft (title, addressees, body paragraphs, cc); every bad field is named."""
    require_office(user)
    errors: dict[str, list[str]] = {}
    for field, limit in (("title", 255), ("addressees", 500), ("cc", 500)):
        if field in changes:
            found = _text_errors(changes[field], limit)
            if field == "title" and not changes[field].strip():
                found.insert(0, "不能为空。")
            if found:
                errors[field] = found
    if "body" in changes:
        body = changes["body"]
        if len(body) > MAX_PARAGRAPHS:
            errors["body"] = [f"段落不能超过 {MAX_PARAGRAPHS} 个。"]
        for i, paragraph in enumerate(body):
            found = _text_errors(paragraph, MAX_PARAGRAPH_CHARS)
            if found:
                errors[f"body.{i}"] = found
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.status != DocumentStatus.DRAFT:
            raise Conflict("只有草稿可以修改；已印发的公文请起草更正版本。")
        before = {f: getattr(locked, f) for f in changes}
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.updated = timezone.now()
        locked.render_status = RenderStatus.NONE  # the preview no longer shows the text
        locked.save()
        audit(actor=user, action="document.edit", obj=locked, round_id=locked.round_id, before=before, after=changes)
    return locked


def correction_create(*, user: m.User, document: Document) -> Document:
    """A new draft version replacing an issued document; the issued one stays as it is until the
    correction is issued (then it is marked superseded)."""
    require_office(user)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.status != DocumentStatus.ISSUED:
            raise Conflict("只有已印发的公文可以更正。")
        if Document.objects.filter(replaces=locked).exists():
            raise Conflict("这份公文已有更正版本。")
        correction = Document.objects.create(
            round=locked.round, unit=locked.unit, kind=locked.kind, issuer=locked.issuer, audience=locked.audience,
            version=locked.version + 1,
            replaces=locked, title=locked.title, addressees=locked.addressees, body=locked.body, cc=locked.cc,
            data=locked.data, created_by=user,
        )
        audit(actor=user, action="document.correct", obj=correction, round_id=locked.round_id,
              after={"replaces": locked.pk, "version": correction.version})
    return correction


# --- requests to the worker -------------------------------------------------------------------------


def _enqueue(document_ids: Sequence[int], mode: str) -> None:
    from notifications import tasks  # the worker's task module imports this one: call time, on purpose

    transaction.on_commit(lambda: tasks.render_documents_kick(list(document_ids), mode), robust=True)


def preview_request(*, user: m.User, document: Document) -> Document:
    require_office(user)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.status != DocumentStatus.DRAFT:
            raise Conflict("只有草稿可以生成样稿。")
        locked.render_status = RenderStatus.QUEUED
        locked.render_error = ""
        locked.save(update_fields=["render_status", "render_error"])
        _enqueue([locked.pk], "preview")
    return locked


def issue_request(*, user: m.User, document: Document) -> Document:
    """Draft → issuing; the worker numbers, renders and stores it. Issuing twice is a conflict."""
    require_office(user)
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.status != DocumentStatus.DRAFT:
            raise Conflict("这份公文已印发或正在印发。")
        _require_approved(locked.round, locked.kind)
        wrong = _wrong_round_kind(locked.round, kind_of(locked))  # the round's kind changed since the draft
        if wrong:
            raise Conflict(wrong)
        locked.status = DocumentStatus.ISSUING
        locked.issued_by = user
        locked.render_status = RenderStatus.QUEUED
        locked.render_error = ""
        locked.save(update_fields=["status", "issued_by", "render_status", "render_error"])
        audit(actor=user, action="document.issue_request", obj=locked, round_id=locked.round_id)
        _enqueue([locked.pk], "issue")
    return locked


def download_of(document: Document) -> tuple[Any, str] | None:
    """The file to hand out and its name: the issued PDF, or a draft's latest 样稿; None while there is none."""
    if document.pdf:
        return document.pdf, f"{document.doc_number or document.title}.pdf"
    if document.preview and document.status == DocumentStatus.DRAFT:
        return document.preview, f"{document.title}（样稿）.pdf"
    return None


def _require_approved(round: m.Round, kind: str) -> None:
    if kind in AFTER_APPROVAL and round.results_frozen_at is None:
        raise Conflict("本轮次结果尚未经领导审定，不能印发。")


def batch_feedback_letters(*, user: m.User, round: m.Round) -> DocumentBatch:
    """Every unit's feedback letter of the round, drafted and sent to be issued in one action. Units
    that have an issued or issuing letter already are left out; their open drafts are taken along."""
    require_office(user)
    _require_approved(round, DocumentKind.FEEDBACK_LETTER)
    with transaction.atomic():
        batch = DocumentBatch.objects.create(round=round, kind=DocumentKind.FEEDBACK_LETTER, created_by=user)
        letters = Document.objects.filter(round=round, kind=DocumentKind.FEEDBACK_LETTER)
        done = set(letters.exclude(status=DocumentStatus.DRAFT).values_list("unit_id", flat=True))
        drafts = {d.unit_id: d for d in letters.filter(status=DocumentStatus.DRAFT, replaces__isnull=True)}
        units = round.cases.order_by("group__number", "unit__sort_order", "unit__code").values_list("unit_id", flat=True)
        # New letters start without their text: the worker writes the kind's default text when it renders
        # them (`_draft_text`), so that a round of 1,000 units is one quick request, not 1,000 drafts.
        new = Document.objects.bulk_create(
            Document(round=round, unit_id=unit_id, kind=DocumentKind.FEEDBACK_LETTER, issuer=issuer_default(),
                     audience=k.KINDS[DocumentKind.FEEDBACK_LETTER].audience, title="", created_by=user)
            for unit_id in units if unit_id not in done and unit_id not in drafts
        )
        ids = [d.pk for d in drafts.values() if d.unit_id not in done] + [d.pk for d in new]
        Document.objects.filter(pk__in=ids).update(
            batch=batch, status=DocumentStatus.ISSUING, issued_by=user, render_status=RenderStatus.QUEUED,
            render_error="",
        )
        audit(actor=user, action="document.batch", obj=batch, round_id=round.pk, after={"documents": len(ids)})
        _enqueue(ids, "issue")
    return batch


def batch_retry(*, user: m.User, batch: DocumentBatch) -> int:
    """Send the batch's failed letters to be issued again; returns how many."""
    require_office(user)
    with transaction.atomic():
        failed = list(batch.documents.select_for_update().filter(
            status=DocumentStatus.DRAFT, render_status=RenderStatus.FAILED
        ).values_list("pk", flat=True))
        Document.objects.filter(pk__in=failed).update(
            status=DocumentStatus.ISSUING, issued_by=user, render_status=RenderStatus.QUEUED, render_error=""
        )
        audit(actor=user, action="document.batch_retry", obj=batch, round_id=batch.round_id, after={"documents": len(failed)})
        _enqueue(failed, "issue")
    return len(failed)


def batch_progress(batch: DocumentBatch) -> dict[str, Any]:
    rows = list(batch.documents.values("pk", "status", "render_status", "render_error", "unit__name"))
    issued = sum(1 for r in rows if r["status"] == DocumentStatus.ISSUED)
    failed = [
        {"document": r["pk"], "unit": r["unit__name"], "error": r["render_error"]}
        for r in rows if r["status"] == DocumentStatus.DRAFT and r["render_status"] == RenderStatus.FAILED
    ]
    return {"total": len(rows), "done": issued, "failed": failed, "pending": len(rows) - issued - len(failed)}


# --- the worker -------------------------------------------------------------------------------------


def preview_render(document_id: int) -> None:
    """Render a draft's watermarked 样稿 (no number, no seal)."""
    document = Document.objects.select_related("round", "unit", "issuer").get(pk=document_id)
    if document.status != DocumentStatus.DRAFT:
        return
    stamp = document.updated
    try:
        rendered = render.render_pdf(html_of(document, preview=True, content=_draft_text(document)))
    except Exception as exc:  # any failure is the draft's render status, never a task stuck "queued"
        if isinstance(exc, render.RenderError):
            error = str(exc)
        else:
            logger.exception("Preview of document %s failed", document_id)
            error = f"生成时出现内部错误（{type(exc).__name__}），请稍后重试或联系管理员。"
        Document.objects.filter(pk=document_id, updated=stamp).update(render_status=RenderStatus.FAILED,
                                                                       render_error=error)
        return
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document_id)
        if locked.updated != stamp or locked.status != DocumentStatus.DRAFT:
            return  # edited or issued meanwhile: this preview shows old text
        locked.preview.save(f"preview-{locked.pk}.pdf", ContentFile(rendered.pdf), save=False)
        locked.pages = rendered.pages
        locked.render_status = RenderStatus.DONE
        locked.save(update_fields=["preview", "pages", "render_status"])


def _counter(issuer: Issuer, year: int) -> DocumentCounter:
    """The issuer's counter for the year, locked until the transaction ends (created on first use;
    ON CONFLICT DO NOTHING lets two first issues of a year meet on one row: the second waits for the
    first's insert to commit, then locks the committed row and reads its `last`)."""
    DocumentCounter.objects.bulk_create([DocumentCounter(issuer=issuer, year=year)], ignore_conflicts=True)
    return DocumentCounter.objects.select_for_update(of=("self",)).get(issuer=issuer, year=year)


def issue_render(document_id: int) -> bool:
    """Number, render and store an issuing document (idempotent: anything else is left alone).
    Returns whether it was issued. A failed render puts it back to draft with the error.

    Only the document's own row is locked (`of=("self",)`: `FOR UPDATE` without `OF` would also lock
    the joined round, unit and issuer rows and make every render of a round wait for the one before);
    a document another worker is rendering right now (a task sent twice by the sweep) is skipped, not
    waited for. Numbered kinds then hold the issuer's counter row until commit, so their renders queue
    one after the other; unnumbered letters render in parallel."""
    try:
        with transaction.atomic():
            document = (
                Document.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("round", "unit", "issuer").filter(pk=document_id).first()
            )
            if document is None or document.status != DocumentStatus.ISSUING:
                return False
            today = timezone.localdate()
            counter = _counter(document.issuer, today.year) if kind_of(document).numbered else None
            number = counter.last + 1 if counter else None
            content = _draft_text(document)
            rendered = render.render_pdf(html_of(document, preview=False, number=number, on=today, content=content))
            if counter:
                assert number is not None
                counter.last = number
                counter.save(update_fields=["last"])
                document.number, document.doc_number = number, doc_number_text(document.issuer, today.year, number)
            document.year = today.year
            document.issue_date = today
            document.issued_at = timezone.now()
            document.sha256 = hashlib.sha256(rendered.pdf).hexdigest()
            document.pages = rendered.pages
            document.status = DocumentStatus.ISSUED
            document.render_status = RenderStatus.DONE
            document.render_error = ""
            document.pdf.save(f"{document.kind}-{document.pk}-{document.sha256[:12]}.pdf", ContentFile(rendered.pdf),
                              save=False)
            document.save()
            if document.replaces_id:
                Document.objects.filter(pk=document.replaces_id).update(status=DocumentStatus.SUPERSEDED)
            audit(actor=document.issued_by, action="document.issue", obj=document, round_id=document.round_id,
                  after={"doc_number": document.doc_number, "sha256": document.sha256, "pages": document.pages,
                         "replaces": document.replaces_id})
            _notify_issued(document)
        return True
    except Exception as exc:  # the transaction is rolled back: no number consumed, no file recorded
        if isinstance(exc, render.RenderError):
            logger.warning("Document %s not issued: %s", document_id, exc)
            error = str(exc)
        else:
            logger.exception("Document %s not issued", document_id)
            error = f"生成时出现内部错误（{type(exc).__name__}），请稍后重试或联系管理员。"
        Document.objects.filter(pk=document_id, status=DocumentStatus.ISSUING).update(
            status=DocumentStatus.DRAFT, render_status=RenderStatus.FAILED, render_error=error
        )
        _keep_default_text(document_id)
        return False


def _keep_default_text(document_id: int) -> None:
    """A bulk letter that failed is a draft again: with the kind's text, so that the office can edit it."""
    document = Document.objects.select_related("round", "unit", "issuer").get(pk=document_id)
    if document.title:
        return
    try:
        content = _content(document)
    except Exception:  # the round's data cannot be read either: the error is recorded already
        logger.exception("Default text of document %s", document_id)
        return
    Document.objects.filter(pk=document_id, title="").update(
        title=content.title, addressees=content.addressees, body=content.body, cc=content.cc)


def pending(older_than_seconds: int = 120, limit: int = 1000) -> dict[str, list[int]]:
    """Documents a lost kick left waiting (broker down at commit, worker killed): for the sweep.

    A document counts as waiting when it has been queued for longer than `older_than_seconds` as far
    as the rows tell: its text last changed, or its batch was made, before then. (There is no
    "queued at" column: a draft edited long ago and issued a moment ago is listed at once; its
    second task is harmless, since `issue_render` is idempotent and skips a document being rendered.)
    Oldest first, at most `limit` per mode."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    waiting = (
        Document.objects.filter(render_status=RenderStatus.QUEUED)
        .filter(Q(updated__lt=cutoff) | Q(batch__created__lt=cutoff))
        .order_by("pk")
    )
    return {
        "issue": list(waiting.filter(status=DocumentStatus.ISSUING).values_list("pk", flat=True)[:limit]),
        "preview": list(waiting.filter(status=DocumentStatus.DRAFT).values_list("pk", flat=True)[:limit]),
    }


# --- who is told -------------------------------------------------------------------------------------


def _recipient_ids(document: Document) -> Iterable[int]:
    audience = kind_of(document).audience
    if audience == "internal":
        return m.User.objects.filter(org_role=m.OrgRole.LEADER, is_active=True).values_list("pk", flat=True)
    if audience == "unit":
        units: Any = [document.unit_id]
    elif document.kind == DocumentKind.REMINDER_LETTER:
        units = {row["unit_id"] for row in document.data.get("overdue", [])}
    else:
        units = m.Case.objects.filter(round=document.round_id).values("unit_id")
    return set(m.UnitMembership.objects.filter(unit_id__in=units, user__is_active=True).values_list("user_id", flat=True))


def _notify_issued(document: Document) -> None:
    from notifications.services import notifications_create_many

    label = document.doc_number or document.get_kind_display()
    notifications_create_many(
        {"recipient_id": pk, "event": "document_issued", "subject": f"公文印发：{document.title}",
         "body": f"{label}《{document.title}》已印发，请登录系统查阅下载。", "link": f"/documents/{document.pk}/",
         "dedupe_key": f"document:{document.pk}:{pk}"}
        for pk in _recipient_ids(document)
    )
