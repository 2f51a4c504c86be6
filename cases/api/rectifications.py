"""`/api/v1/rectifications/`: the rectifications a user may see (row-level access in `cases.access`),
each with its measures, reports and reviews; saving a plan draft and reporting progress, which edit
domain rows without moving work. The steps that move work (submit the plan, sign, review, complete,
verify) are task actions: `/api/v1/tasks/{id}/submit|approve|return/`."""

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.api.fields import BoundedIntegerField, StrictSerializer
from cases.rectification import selectors, services


class MeasureSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.RectificationMeasure
        fields = ["id", "position", "text", "responsible", "due_date"]


class ReportSerializer(serializers.ModelSerializer):
    evidence: "serializers.PrimaryKeyRelatedField[m.Attachment]" = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True)

    class Meta:
        model = m.RectificationReport
        fields = ["id", "kind", "text", "evidence", "reported_by", "reported_at"]


class ReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.RectificationReview
        fields = ["id", "stage", "decision", "comment", "reviewer", "at"]


LIST_FIELDS = [
    "id", "round", "case", "unit", "unit_name", "group", "source", "finding", "status", "problem", "target",
    "plan_due", "due_date", "recurring_of", "consecutive_lowest", "verified_by", "closed_at", "published_from", "published_until",
    "published_where", "created", "updated",
]


class RectificationSerializer(serializers.ModelSerializer):
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    # In the lowest band in this round and the previous one of the same kind (组织处理建议).
    consecutive_lowest = serializers.SerializerMethodField()

    def get_consecutive_lowest(self, rect) -> bool:
        return selectors.is_consecutive_lowest(rect)

    class Meta:
        model = m.Rectification
        fields = LIST_FIELDS
        read_only_fields = LIST_FIELDS


class RectificationDetailSerializer(RectificationSerializer):
    measures = MeasureSerializer(many=True, read_only=True)
    reports = ReportSerializer(many=True, read_only=True)
    reviews = ReviewSerializer(many=True, read_only=True)

    class Meta(RectificationSerializer.Meta):
        fields = [*LIST_FIELDS, "measures", "reports", "reviews"]
        read_only_fields = fields


class PlanMeasureSerializer(StrictSerializer):
    """One measure as written; what is missing or out of range the service names ("measures[1].due_date")."""

    text = serializers.CharField(required=False, allow_blank=True)
    responsible = serializers.CharField(required=False, allow_blank=True, max_length=64)
    due_date = serializers.DateField(required=False, allow_null=True)


class PlanSerializer(StrictSerializer):
    target = serializers.CharField(required=False, allow_blank=True, default="")
    measures = PlanMeasureSerializer(many=True, required=False, default=list)


class ProgressSerializer(StrictSerializer):
    text = serializers.CharField(required=False, allow_blank=True, default="")
    evidence_ids = serializers.ListField(child=BoundedIntegerField(min_value=1), required=False, default=list,
                                         max_length=100)


class PublicationSerializer(StrictSerializer):
    published_from = serializers.DateField()
    published_until = serializers.DateField()
    where = serializers.CharField(max_length=255, allow_blank=True)


class DuesSerializer(StrictSerializer):
    plan_due = serializers.DateField()
    due_date = serializers.DateField()
    reason = serializers.CharField(max_length=500, allow_blank=True)


class RectificationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RectificationSerializer
    filterset_fields = ["round", "unit", "group", "status", "source"]

    def get_queryset(self):
        qs = access.visible(m.Rectification, self.request.user).select_related("unit")
        if self.action != "list":
            qs = qs.prefetch_related(
                "measures", "reviews",
                Prefetch("reports", queryset=m.RectificationReport.objects.prefetch_related("evidence")),
            )
        return qs

    def get_serializer_class(self):
        return RectificationSerializer if self.action == "list" else RectificationDetailSerializer

    def _detail(self, pk: int) -> Response:
        return Response(RectificationDetailSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=PlanSerializer, responses=RectificationDetailSerializer)
    @action(detail=True, methods=["put"])
    def plan(self, request, pk=None):
        """Save the plan's draft (unit staff, while planning); submit it through the `plan` task."""
        rect = self.get_object()
        body = PlanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.plan_save(user=request.user, rectification=rect, target=body.validated_data["target"],
                           measures=[dict(row) for row in body.validated_data["measures"]])
        return self._detail(rect.pk)

    @extend_schema(request=PublicationSerializer, responses=RectificationDetailSerializer)
    @action(detail=True, methods=["put"])
    def publication(self, request, pk=None):
        """The office records where and from when to when a closed rectification is published (≥ 30 days)."""
        rect = self.get_object()
        if not access.is_office(request.user):  # before the body is read
            raise PermissionDenied("只有考核办可以登记公示。")
        body = PublicationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.publication_record(user=request.user, rectification=rect, **body.validated_data)
        return self._detail(rect.pk)

    @extend_schema(request=DuesSerializer, responses=RectificationDetailSerializer)
    @action(detail=True, methods=["put"])
    def dues(self, request, pk=None):
        """The office moves the plan's and the rectification's due dates (with a reason); the open step's due
        follows and its people are told."""
        rect = self.get_object()
        if not access.is_office(request.user):  # before the body is read
            raise PermissionDenied("只有考核办可以调整整改期限。")
        body = DuesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.dues_change(user=request.user, rectification=rect, **body.validated_data)
        return self._detail(rect.pk)

    @extend_schema(request=ProgressSerializer, responses={201: ReportSerializer})
    @action(detail=True, methods=["post"])
    def progress(self, request, pk=None):
        """Report progress (unit staff, while the rectification is carried out), citing files of the case."""
        rect = self.get_object()
        body = ProgressSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = services.report_progress(user=request.user, rectification=rect, text=body.validated_data["text"],
                                          evidence_ids=body.validated_data["evidence_ids"])
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)
