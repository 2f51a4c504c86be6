"""The sample-frame page of a social-evaluation round (`/rounds/{id}/sample-frames/`, seed 004 抽样框):

- a unit's staff upload each of its lists (附件2–7) and see every problem of a refused file by row and
  column, and their own lists' counts, versions and minimums (never the people);
- the office sees every unit's counts against the minimums, with links to the audited export of each list.

The same services as `POST /api/v1/rounds/{id}/units/{unit}/sample-frames/{kind}/`; permission and round
state are checked before the upload is read by the service.
"""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.social import selectors, services
from cases.social.layouts import ATTACHMENT, MAX_DATA_ROWS
from cases.social.models import SampleListKind
from cases.uploads import content_problems, extension, mebibytes


class FrameForm(forms.Form):
    unit = forms.TypedChoiceField(label=gettext_lazy("单位"), coerce=int)
    kind = forms.ChoiceField(label=gettext_lazy("抽样框"), choices=SampleListKind.choices)
    file = forms.FileField(label=gettext_lazy("Excel 文件（.xlsx）"))

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [(u.pk, u.name) for u in units]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if extension(upload.name) != "xlsx":
            raise forms.ValidationError(_("请上传 .xlsx 格式的 Excel 文件（附件2–7的格式）。"))
        problems = content_problems(upload.name, upload)
        if problems:
            raise forms.ValidationError(problems)
        return upload


@never_cache
@login_required
def sample_frames_page(request, pk):
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    office = access.can_read_sample_rows(request.user)
    units = [u for u in access.sample_frame_units(request.user, round)
             if access.can_upload_sample_frame(request.user, round, u)]
    if not access.sample_frame_units(request.user, round).exists():
        raise PermissionDenied(_("只有考核办和本轮次的单位可以查看抽样框。"))
    context = {"round_obj": round, "office": office, "problems": None, "uploaded": None,
               "max_rows": MAX_DATA_ROWS, "upload_limit": mebibytes(int(settings.UPLOAD_MAX_BYTES)),
               "templates": [(kind, label, ATTACHMENT[kind]) for kind, label in SampleListKind.choices]}
    form = FrameForm(units=units) if units else None
    if request.method == "POST":
        if not units:
            raise PermissionDenied(_("只有本单位填报员可以上传本单位的抽样框。"))
        form = FrameForm(request.POST, request.FILES, units=units)
        if form.is_valid():
            unit = next(u for u in units if u.pk == form.cleaned_data["unit"])
            upload = form.cleaned_data["file"]
            try:
                context["uploaded"] = services.upload_frame(
                    user=request.user, round=round, unit=unit, kind=form.cleaned_data["kind"], fileobj=upload,
                    filename=upload.name)
            except services.FrameRefused as exc:
                context["problems"] = exc.problems
            except (Conflict, PermissionDenied) as exc:
                form.add_error(None, str(exc))
    context["form"] = form
    context["summary"] = selectors.summary(request.user, round)
    return render(request, "ui/sample_frames.html", context)
