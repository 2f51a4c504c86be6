"""The office's import page (`/imports/`): the template to download, the upload form (units and people,
and with a draft round its groups; a dry run only checks), every problem of a refused file by sheet, row
and column, and the result with the new accounts' one-time passwords, shown this once.

The same service as `POST /api/v1/imports/people/` and `/api/v1/rounds/{id}/groups/import/`. The office
check comes before the view touches the upload (Django's CSRF middleware has parsed the multipart body
by then, within `UPLOAD_MAX_BYTES`, as for every page form with a file).
"""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.imports import services
from cases.imports.sheets import MAX_DATA_ROWS
from cases.uploads import content_problems, extension, mebibytes


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Excel 文件（.xlsx）"))
    dry_run = forms.BooleanField(label=gettext_lazy("只检查，不导入"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if extension(upload.name) != "xlsx":
            raise forms.ValidationError(_("请上传 .xlsx 格式的 Excel 文件（可下载导入模板）。"))
        problems = content_problems(upload.name, upload)
        if problems:
            raise forms.ValidationError(problems)
        return upload


@never_cache
@login_required
def import_page(request):
    if not access.is_office(request.user):
        raise PermissionDenied(_("只有考核办可以导入单位、人员和考评组。"))
    round_id = request.GET.get("round", "")
    round = None
    if round_id.isdigit():
        round = get_object_or_404(access.visible(m.Round, request.user), pk=int(round_id))
    context = {"round_obj": round, "max_rows": MAX_DATA_ROWS, "problems": None, "result": None,
               "upload_limit": mebibytes(int(settings.UPLOAD_MAX_BYTES)),
               "draft_rounds": access.visible(m.Round, request.user).filter(status=m.RoundStatus.DRAFT)}
    form = ImportForm()
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                context["result"] = services.import_workbook(
                    user=request.user, fileobj=form.cleaned_data["file"], round=round,
                    dry_run=form.cleaned_data["dry_run"])
            except services.ImportRefused as exc:
                context["problems"] = exc.problems
            except ValidationError as exc:  # a round service refusing (another office user acted first)
                for messages in exc.message_dict.values() if hasattr(exc, "error_dict") else [exc.messages]:
                    for message in messages:
                        form.add_error(None, message)
            except Conflict as exc:
                form.add_error(None, str(exc))
    context["form"] = form
    return render(request, "ui/imports.html", context)
