"""Domain endpoints. Thin: every queryset is `restrict(user)`-ed, every write is one service call."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from cases import access, services
from cases import models as m
from cases.api import serializers as s


class OfficeWritesOnly(permissions.BasePermission):
    """Reads follow row-level access; creating and editing configuration is the office's."""

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or access.is_office(request.user)


class RestrictedViewSetMixin:
    """Every queryset starts from what the user may see."""

    model = None

    def get_queryset(self):
        return self.model.objects.restrict(self.request.user)


class UnitViewSet(RestrictedViewSetMixin, viewsets.ModelViewSet):
    model = m.Unit
    serializer_class = s.UnitSerializer
    permission_classes = [permissions.IsAuthenticated, OfficeWritesOnly]
    filterset_fields = ["category", "active"]
    http_method_names = ["get", "post", "patch", "head", "options"]


class RubricViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = m.Rubric
    serializer_class = s.RubricSerializer

    def get_queryset(self):
        return super().get_queryset().prefetch_related("sections__items")


class RoundViewSet(RestrictedViewSetMixin, viewsets.ModelViewSet):
    model = m.Round
    serializer_class = s.RoundSerializer
    permission_classes = [permissions.IsAuthenticated, OfficeWritesOnly]
    filterset_fields = ["year", "kind", "status"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = services.round_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.round_update(
            user=self.request.user, round=serializer.instance, **serializer.validated_data
        )


class GroupViewSet(RestrictedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    model = m.Group
    serializer_class = s.GroupSerializer
    permission_classes = [permissions.IsAuthenticated, OfficeWritesOnly]
    filterset_fields = ["round"]

    def get_queryset(self):
        return super().get_queryset().prefetch_related("members__user")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.group_create(user=self.request.user, **data)


class CaseViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = m.Case
    serializer_class = s.CaseSerializer
    filterset_fields = ["round", "group", "status", "unit"]

    def get_queryset(self):
        return super().get_queryset().select_related("unit", "group", "round")

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
        sub = services.submission_save(user=request.user, case=case, **writer.validated_data)
        return Response(s.SubmissionSerializer(sub).data)


class SubmissionViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Every attempt, returned ones included, with their comments."""

    model = m.Submission
    serializer_class = s.SubmissionSerializer
    filterset_fields = ["case", "status"]


class CaseChildCreateMixin:
    """Create a row on a case the user can see; the service decides whether they may write."""

    create_service = None

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        case = get_object_or_404(m.Case.objects.restrict(self.request.user), pk=data.pop("case").pk)
        serializer.instance = type(self).create_service(user=self.request.user, case=case, **data)


class InspectionRecordViewSet(RestrictedViewSetMixin, CaseChildCreateMixin, mixins.CreateModelMixin,
                              viewsets.ReadOnlyModelViewSet):
    model = m.InspectionRecord
    serializer_class = s.InspectionRecordSerializer
    filterset_fields = ["case", "method"]
    create_service = staticmethod(services.inspection_record_create)


class FindingViewSet(RestrictedViewSetMixin, CaseChildCreateMixin, mixins.CreateModelMixin,
                     viewsets.ReadOnlyModelViewSet):
    model = m.Finding
    serializer_class = s.FindingSerializer
    filterset_fields = ["case", "source", "requires_rectification"]
    create_service = staticmethod(services.finding_create)


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
        sheet = services.score_sheet_save(
            user=request.user, sheet=sheet, items=data["items"], reason=data.get("reason")
        )
        return Response(s.ScoreSheetSerializer(sheet).data)


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

    @extend_schema(request=s.AttachmentUploadSerializer, responses=s.AttachmentSerializer)
    def create(self, request):
        upload = s.AttachmentUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        case = get_object_or_404(m.Case.objects.restrict(request.user).select_related("round"), pk=data["case"])
        items = list(case.round.rubric.items.filter(code__in=data["items"]))
        unknown = set(data["items"]) - {item.code for item in items}
        if unknown:
            return Response({"detail": "输入有误。", "errors": {"items": [f"未知的评分项：{', '.join(sorted(unknown))}"]}},
                            status=status.HTTP_400_BAD_REQUEST)
        inspection = (get_object_or_404(case.inspections, pk=data["inspection"]) if data.get("inspection") else None)
        attachment = services.attachment_create(user=request.user, case=case, purpose=data["purpose"],
                                                upload=data["file"], items=items, inspection=inspection)
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        attachment = self.get_object()
        return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.original_name)
