"""Domain endpoints. Thin: every queryset starts from `access.visible(Model, user)`, every write is one service call."""

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db.models import Model, Prefetch
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.api import serializers as s
from cases.api.fields import refuse_body
from cases.api.uploads import UPLOAD_AUTHENTICATION, upload_data
from cases.rubrics.document import RubricError, rubric_from_dict
from cases.rubrics.excel import rubric_to_xlsx
from cases.rubrics.services import rubric_import
from cases.rubrics.text import dump_rubric_json, dump_rubric_yaml
from cases.rubrics.upload import load_upload
from cases.scoring import exchange, exports, results
from cases.services import decisions, inspections, rounds, sheets, submissions
from cases.services.common import require_office
from cases.uploads import CONTENT_TYPES, content_type

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_FORMATS = ["yaml", "json", "xlsx"]


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    # Django's header builder quotes and encodes the name (a rubric code is the user's text).
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    return _download(content, XLSX, filename)


class OfficeWritesOnly(permissions.BasePermission):
    """Reads follow row-level access; creating and editing configuration is the office's."""

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or access.is_office(request.user)


class OfficeOnly(permissions.BasePermission):
    """The office's alone, reads included (checked before an upload's body is read)."""

    message = "只有考核办可以执行此操作。"

    def has_permission(self, request, view):
        return access.is_office(request.user)


class RestrictedViewSetMixin:
    """Every queryset starts from what the user may see."""

    model: type[Model] | None = None

    def get_queryset(self):
        return access.visible(self.model, self.request.user)


class UnitViewSet(RestrictedViewSetMixin, viewsets.ModelViewSet):
    model = m.Unit
    serializer_class = s.UnitSerializer
    permission_classes = [permissions.IsAuthenticated, OfficeWritesOnly]
    filterset_fields = ["category", "active"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = rounds.unit_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = rounds.unit_update(
            user=self.request.user, unit=serializer.instance, **serializer.validated_data
        )


class RubricViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = m.Rubric
    serializer_class = s.RubricSerializer

    def get_queryset(self):
        return super().get_queryset().prefetch_related("sections__items")

    @extend_schema(request={"multipart/form-data": s.RubricImportSerializer}, responses={201: s.RubricSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser],
            permission_classes=[permissions.IsAuthenticated, OfficeOnly], authentication_classes=UPLOAD_AUTHENTICATION)
    def import_file(self, request):
        """Import a rubric file (.yaml / .json / .xlsx) as a new version (office); all or nothing, every
        problem named by its path or sheet/row/column. The body is read only after the permission check,
        and a workbook only within the import bounds (cases/workbooks.py)."""
        body = s.RubricImportSerializer(data=upload_data(request))
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        try:
            spec = load_upload(upload.name, upload.read())
        except RubricError as exc:
            raise ValidationError({"file": exc.messages}) from None
        rubric = rubric_import(user=request.user, spec=spec)
        return Response(s.RubricSerializer(rubric).data, status=status.HTTP_201_CREATED)

    # The media type the file is sent as, per format (not octet-stream: clients pick a parser by it); YAML and
    # JSON are the rubric document.
    @extend_schema(parameters=[OpenApiParameter("as", str, enum=EXPORT_FORMATS)],
                   responses={(200, "application/yaml"): OpenApiTypes.OBJECT,
                              (200, "application/json"): OpenApiTypes.OBJECT,
                              (200, XLSX): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        """The rubric as a file to edit and re-import (lossless)."""
        rubric = self.get_object()
        fmt = request.query_params.get("as", "yaml")
        if fmt not in EXPORT_FORMATS:  # it names the file: anything else once reached a header and crashed
            raise ValidationError({"as": [f"必须是 {' / '.join(EXPORT_FORMATS)} 之一。"]})
        spec = rubric_from_dict(rubric.spec)
        name = f"{rubric.code}-v{rubric.version}.{fmt}"
        if fmt == "xlsx":
            return _download(rubric_to_xlsx(spec), XLSX, name)
        if fmt == "json":
            return _download(dump_rubric_json(spec).encode(), "application/json", name)
        return _download(dump_rubric_yaml(spec).encode(), "application/yaml", name)


class RoundViewSet(RestrictedViewSetMixin, viewsets.ModelViewSet):
    model = m.Round
    serializer_class = s.RoundSerializer
    permission_classes = [permissions.IsAuthenticated, OfficeWritesOnly]
    filterset_fields = ["year", "kind", "status"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = rounds.round_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = rounds.round_update(
            user=self.request.user, round=serializer.instance, **serializer.validated_data
        )

    @extend_schema(request=None, responses=s.ResultSerializer(many=True))
    @action(detail=True, methods=["post"], url_path="compute-results")
    def compute_results(self, request, pk=None):
        """Recompute and store the results from the raw inputs (office; until the leader approves)."""
        round = self.get_object()
        require_office(request.user)  # before the body: others get 403
        refuse_body(request.data)
        stored = results.round_compute_results(user=request.user, round=round)
        return Response(s.ResultSerializer(stored, many=True).data)

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="results-export")
    def results_xlsx(self, request, pk=None):
        round = self.get_object()
        rows = access.visible(m.Result, request.user).filter(round=round).select_related("case__unit", "case__group")
        return _xlsx(exports.results_xlsx(rows, round=round), f"results-{round.pk}.xlsx")

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="score-sheets-export")
    def score_sheets_xlsx(self, request, pk=None):
        round = self.get_object()
        rows = (access.visible(m.ScoreSheet, request.user).filter(case__round=round)
                .select_related("case__unit", "case__group", "expert").prefetch_related("item_scores__item"))
        return _xlsx(exports.score_sheets_xlsx(rows), f"score-sheets-{round.pk}.xlsx")

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], url_path="results-summary")
    def results_summary(self, request, pk=None):
        """Grade distribution and per-group means of the results the user may see."""
        round = self.get_object()
        stored = list(access.visible(m.Result, request.user).filter(round=round).select_related("case"))
        data = results.summary(round, stored)
        return Response({
            "grade_distribution": [{"grade": g, "count": n} for g, n in data["grade_distribution"].items()],
            "group_means": [{"group": g, "mean": str(v)} for g, v in data["group_means"].items()],
            "overall_mean": str(data["overall_mean"]) if data["overall_mean"] is not None else None,
            "frozen": data["frozen"],
            "final": round.results_final_at is not None,
        })


class GroupViewSet(RestrictedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    model = m.Group
    serializer_class = s.GroupSerializer
    permission_classes = [permissions.IsAuthenticated, OfficeWritesOnly]
    filterset_fields = ["round"]

    def get_queryset(self):
        cases = m.Case.objects.select_related("unit").order_by("unit__sort_order", "unit__code")
        return super().get_queryset().prefetch_related("members__user", Prefetch("cases", queryset=cases))

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = rounds.group_create(user=self.request.user, **data)


class CaseViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = m.Case
    serializer_class = s.CaseSerializer
    filterset_fields = ["round", "group", "status", "unit"]

    def get_queryset(self):
        return super().get_queryset().select_related("unit", "group", "round")

    @extend_schema(request=s.PanelOverrideSerializer, responses=s.CaseSerializer)
    @action(detail=True, methods=["post"], url_path="panel-override")
    def panel_override(self, request, pk=None):
        """The group leader sets (or clears, with an empty panel) the case's panel score, with a reason."""
        body = s.PanelOverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = decisions.case_set_panel_override(user=request.user, case=self.get_object(), **body.validated_data)
        return Response(s.CaseSerializer(case, context={"request": request}).data)

    @extend_schema(request=s.SubmissionWriteSerializer, responses=s.SubmissionSerializer)
    @action(detail=True, methods=["get", "put"])
    def submission(self, request, pk=None):
        """The unit's current self-assessment (GET), or save the draft (PUT)."""
        case = self.get_object()
        if request.method == "GET":
            sub = case.submissions.order_by("-attempt").first()
            if sub is None:
                return Response({"detail": "尚未填写。"}, status=status.HTTP_404_NOT_FOUND)
            return Response(s.SubmissionSerializer(sub).data)
        writer = s.SubmissionWriteSerializer(data=request.data)
        writer.is_valid(raise_exception=True)
        sub = submissions.submission_save(user=request.user, case=case, **writer.validated_data)
        return Response(s.SubmissionSerializer(sub).data)


class ResultViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Computed results: by category, then rank."""

    model = m.Result
    serializer_class = s.ResultSerializer
    filterset_fields = ["round", "category", "grade", "veto"]

    def get_queryset(self):
        return super().get_queryset().select_related("case__unit", "case__group", "round")


class SubmissionViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Every attempt, returned ones included, with their comments."""

    model = m.Submission
    serializer_class = s.SubmissionSerializer
    filterset_fields = ["case", "status"]


class CaseChildCreateMixin:
    """Create a row on a case the user can see; the service decides whether they may write."""

    create_service: Callable[..., Model] | None = None

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        case = get_object_or_404(access.visible(m.Case, self.request.user), pk=data.pop("case").pk)
        serializer.instance = type(self).create_service(user=self.request.user, case=case, **data)


class CaseChildCorrectMixin(mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    """PATCH and DELETE of a row the group recorded on a case: one service call each, which decides
    who may (leader, deputies) and until when (409 once the case is reviewed). The row stays on its case."""

    update_service: Callable[..., Model] | None = None
    delete_service: Callable[..., None] | None = None
    row_argument = ""

    def get_object(self):
        """The row; to correct it, once the caller may: permission (403) and the case's state (409)
        before the body is read."""
        row = super().get_object()
        if self.request.method in ("PATCH", "DELETE"):
            inspections.require_corrector(self.request.user, row.case)
        return row

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        case = data.pop("case", None)
        if case is not None and case.pk != serializer.instance.case_id:
            raise ValidationError({"case": ["不能移到另一个单位。"]})
        serializer.instance = type(self).update_service(
            user=self.request.user, **{self.row_argument: serializer.instance}, **data)

    def perform_destroy(self, instance):
        refuse_body(self.request.data)
        type(self).delete_service(user=self.request.user, **{self.row_argument: instance})


class InspectionRecordViewSet(RestrictedViewSetMixin, CaseChildCreateMixin, CaseChildCorrectMixin,
                              mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    model = m.InspectionRecord
    serializer_class = s.InspectionRecordSerializer
    filterset_fields = ["case", "method"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    create_service = staticmethod(inspections.inspection_record_create)
    update_service = staticmethod(inspections.inspection_record_update)
    delete_service = staticmethod(inspections.inspection_record_delete)
    row_argument = "record"


class FindingViewSet(RestrictedViewSetMixin, CaseChildCreateMixin, CaseChildCorrectMixin,
                     mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    model = m.Finding
    serializer_class = s.FindingSerializer
    filterset_fields = ["case", "source", "requires_rectification"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    create_service = staticmethod(inspections.finding_create)
    update_service = staticmethod(inspections.finding_update)
    delete_service = staticmethod(inspections.finding_delete)
    row_argument = "finding"


class SpecialBonusViewSet(RestrictedViewSetMixin, CaseChildCreateMixin, mixins.CreateModelMixin,
                          viewsets.ReadOnlyModelViewSet):
    """Special bonuses (特别加分) the office grants for honours; capped in total by the rubric."""

    model = m.SpecialBonus
    serializer_class = s.SpecialBonusSerializer
    filterset_fields = ["case", "level"]
    create_service = staticmethod(inspections.special_bonus_create)


class ScoreSheetViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = m.ScoreSheet
    serializer_class = s.ScoreSheetSerializer
    filterset_fields = ["case", "expert", "status"]

    def get_queryset(self):
        return super().get_queryset().select_related("expert").prefetch_related("item_scores__item")

    @extend_schema(request=s.ScoreSheetWriteSerializer, responses=s.ScoreSheetSerializer)
    @action(detail=True, methods=["put"])
    def items(self, request, pk=None):
        """Save item scores on the expert's draft sheet (submit through the score task)."""
        sheet = self.get_object()
        writer = s.ScoreSheetWriteSerializer(data=request.data)
        writer.is_valid(raise_exception=True)
        data = writer.validated_data
        sheets.score_sheet_save(user=request.user, sheet=sheet, items=data["items"], reason=data.get("reason"))
        # Read again: the sheet from get_object() carries the item scores prefetched before the write.
        return Response(s.ScoreSheetSerializer(self.get_queryset().get(pk=sheet.pk)).data)


class AuditEntryViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = m.AuditEntry
    serializer_class = s.AuditEntrySerializer
    filterset_fields = ["round", "object_type", "object_id", "action"]


class AttachmentViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Uploads (multipart) and permission-checked downloads; files never sit under a web root."""

    model = m.Attachment
    serializer_class = s.AttachmentSerializer
    filterset_fields = ["case", "purpose"]
    parser_classes = [MultiPartParser, FormParser]
    authentication_classes = UPLOAD_AUTHENTICATION

    def get_queryset(self):
        return super().get_queryset().prefetch_related("items")

    def _upload_case(self, request) -> m.Case:
        """The case an upload goes to, from the query string: visibility and the uploader's role are
        checked before a byte of the body is read."""
        raw = request.query_params.get("case", "")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise ValidationError({"case": ["请在地址中给出要上传到的单位考评：?case=编号。"]})
        case = get_object_or_404(access.visible(m.Case, request.user).select_related("round"), pk=int(raw))
        inspections.attachment_require_uploader(user=request.user, case=case)
        return case

    @extend_schema(
        parameters=[OpenApiParameter("case", int, required=True, description="the case the file belongs to")],
        request=s.AttachmentUploadSerializer, responses={201: s.AttachmentSerializer},
    )
    def create(self, request):
        case = self._upload_case(request)
        upload = s.AttachmentUploadSerializer(data=upload_data(request))
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        if data.get("case") not in (None, case.pk):
            raise ValidationError({"case": ["与地址中的 ?case= 不一致。"]})
        attachment = inspections.attachment_create(user=request.user, case=case, purpose=data["purpose"],
                                                upload=data["file"], item_codes=data["items"],
                                                inspection_id=data.get("inspection"))
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    # The checked type of the file's extension; octet-stream for an extension the table does not know.
    @extend_schema(responses={(200, ct): OpenApiTypes.BINARY
                              for ct in sorted({*CONTENT_TYPES.values(), "application/octet-stream"})})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The file, always as a download with the type its content was checked against at upload,
        so that no browser renders or sniffs it as something else."""
        attachment = self.get_object()
        response = FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.original_name,
                                content_type=content_type(attachment.original_name))
        response["X-Content-Type-Options"] = "nosniff"
        return response


@extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def scoring_compute(request):
    """Recompute results from raw inputs in exchange format v1 (see docs/scoring.md): anyone signed in
    can verify the arithmetic; errors name the path of each offending field."""
    try:
        return Response(exchange.compute_exchange(request.data))
    except exchange.ScoringInputError as exc:
        raise ValidationError({"input": list(exc.messages)}) from None
