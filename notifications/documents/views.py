"""The documents pages: the office drafts, edits, previews, issues and corrects documents and issues a
round's feedback letters in bulk (with a progress page); everyone else sees the issued documents they
may read (a unit its own letters and the round's notices). Same services and access rule as the API."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases import access
from cases import models as m
from cases.errors import Conflict
from notifications.documents import services
from notifications.documents.api import pdf_response
from notifications.documents.models import Document, DocumentBatch, DocumentKind, DocumentStatus


class DraftForm(forms.Form):
    round = forms.ModelChoiceField(queryset=m.Round.objects.all(), label=_("考评轮次"))
    kind = forms.ChoiceField(choices=DocumentKind.choices, label=_("类型"))
    unit = forms.ModelChoiceField(queryset=m.Unit.objects.all(), required=False, label=_("单位（反馈意见）"))


class TextForm(forms.Form):
    """The text parts of a draft; the body is one paragraph per line."""

    title = forms.CharField(max_length=255, strip=False, label=_("标题"))
    addressees = forms.CharField(max_length=500, required=False, strip=False, label=_("主送机关"))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 18}), required=False, label=_("正文（每段一行）"))
    cc = forms.CharField(max_length=500, required=False, strip=False, label=_("抄送"))

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        data["body"] = [line.strip() for line in data["body"].splitlines() if line.strip()]
        return data


class BatchForm(forms.Form):
    round = forms.ModelChoiceField(queryset=m.Round.objects.all(), label=_("考评轮次"))


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{field}: {msg}" for field, msgs in exc.message_dict.items() for msg in msgs]
    return exc.messages


def _visible(user):
    return access.visible(Document, user).select_related("round", "unit")


@login_required
def document_list(request):
    office = access.is_office(request.user)
    errors: list[str] = []
    draft_form, batch_form = DraftForm(prefix="draft"), BatchForm(prefix="batch")
    if request.method == "POST":
        if not office:
            raise PermissionDenied
        try:
            if "draft-kind" in request.POST:
                draft_form = DraftForm(request.POST, prefix="draft")
                if not draft_form.is_valid():
                    raise ValidationError(draft_form.errors.as_data())
                document = services.draft_create(user=request.user, **draft_form.cleaned_data)
                messages.success(request, _("已起草，请修改文字后生成样稿并印发。"))
                return redirect("documents:detail", pk=document.pk)
            batch_form = BatchForm(request.POST, prefix="batch")
            if not batch_form.is_valid():
                raise ValidationError(batch_form.errors.as_data())
            batch = services.batch_feedback_letters(user=request.user, round=batch_form.cleaned_data["round"])
            return redirect("documents:batch", pk=batch.pk)
        except ValidationError as exc:
            errors = _messages(exc)
        except (PermissionDenied, Conflict) as exc:
            errors = [str(exc)]
    documents = _visible(request.user)
    filters = {key: request.GET.get(key, "") for key in ("round", "kind", "status")}
    if filters["round"].isdigit():
        documents = documents.filter(round_id=int(filters["round"]))
    if filters["kind"] in DocumentKind.values:
        documents = documents.filter(kind=filters["kind"])
    if filters["status"] in DocumentStatus.values:
        documents = documents.filter(status=filters["status"])
    return render(request, "documents/list.html", {
        "page": Paginator(documents, 50).get_page(request.GET.get("page")), "office": office, "filters": filters,
        "rounds": access.visible(m.Round, request.user), "kinds": DocumentKind.choices,
        "statuses": DocumentStatus.choices, "draft_form": draft_form, "batch_form": batch_form, "errors": errors,
        "batches": DocumentBatch.objects.select_related("round")[:5] if office else [],
    })


_ACTIONS = {"preview": services.preview_request, "issue": services.issue_request}
_DONE = {"preview": _("已提交生成样稿，稍后刷新查看。"), "issue": _("已提交印发，编号和正式文件生成后即可下载。")}


@login_required
def document_detail(request, pk):
    document = get_object_or_404(_visible(request.user), pk=pk)
    office = access.is_office(request.user)
    errors: list[str] = []
    text_form = TextForm(initial={
        "title": document.title, "addressees": document.addressees, "body": "\n".join(document.body), "cc": document.cc,
    })
    if request.method == "POST":
        if not office:
            raise PermissionDenied
        action = request.POST.get("action", "")
        try:
            if action == "save":
                text_form = TextForm(request.POST)
                if not text_form.is_valid():
                    raise ValidationError(text_form.errors.as_data())
                services.draft_update(user=request.user, document=document, changes=text_form.changes())
                messages.success(request, _("已保存。"))
            elif action in _ACTIONS:
                _ACTIONS[action](user=request.user, document=document)
                messages.success(request, _DONE[action])
            elif action == "correct":
                correction = services.correction_create(user=request.user, document=document)
                messages.success(request, _("已起草更正版本。"))
                return redirect("documents:detail", pk=correction.pk)
            else:
                raise ValidationError(_("未知的操作。"))
            return redirect("documents:detail", pk=document.pk)
        except ValidationError as exc:
            errors = _messages(exc)
        except (PermissionDenied, Conflict) as exc:
            errors = [str(exc)]
    versions = []
    earlier = document.replaces
    while earlier is not None:
        versions.append(earlier)
        earlier = earlier.replaces
    return render(request, "documents/detail.html", {
        "document": document, "office": office, "text_form": text_form, "errors": errors,
        "editable": office and document.status == DocumentStatus.DRAFT, "versions": versions,
        "replaced_by": Document.objects.filter(replaces=document).first(),
        "waiting": document.render_status == "queued",
    })


@login_required
def document_download(request, pk):
    found = services.download_of(get_object_or_404(_visible(request.user), pk=pk))
    if found is None:
        raise Http404
    return pdf_response(*found)


@login_required
def batch_detail(request, pk):
    if not access.is_office(request.user):
        raise PermissionDenied
    batch = get_object_or_404(DocumentBatch.objects.select_related("round"), pk=pk)
    progress = services.batch_progress(batch)
    return render(request, "documents/batch.html", {
        "batch": batch, "progress": progress,
        "percent": round(100 * progress["done"] / progress["total"]) if progress["total"] else 100,
    })


@login_required
@require_POST
def batch_retry(request, pk):
    if not access.is_office(request.user):
        raise PermissionDenied
    batch = get_object_or_404(DocumentBatch, pk=pk)
    retried = services.batch_retry(user=request.user, batch=batch)
    messages.success(request, _("已重新提交 %(n)d 份。") % {"n": retried})
    return redirect("documents:batch", pk=batch.pk)
