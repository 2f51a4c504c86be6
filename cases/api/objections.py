"""`/api/v1/objections/` and `/api/v1/rounds/{id}/publication/…`: the publication (公示) of a round's
approved results, the units' objections (异议) and their resolution, and finality. Thin: row-level access
from `cases.access`, one service call (`cases.objections.services`) per write."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.api.fields import BoundedIntegerField, StrictSerializer, refuse_body
from cases.objections import selectors, services
from cases.services.common import parse_int, require_office


class ObjectionSerializer(serializers.ModelSerializer):
    unit = serializers.CharField(source="case.unit.name", read_only=True)
    evidence: "serializers.PrimaryKeyRelatedField[m.Attachment]" = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True)
    adjustment = serializers.SerializerMethodField()

    def get_adjustment(self, obj) -> str | None:
        return None if obj.adjustment is None else str(obj.adjustment)

    class Meta:
        model = m.Objection
        fields = ["id", "round", "case", "unit", "status", "reasons", "evidence", "filed_by", "filed_at",
                  "resolution", "adjustment", "resolved_by", "resolved_at"]
        read_only_fields = fields


class ObjectionFileSerializer(StrictSerializer):
    case = BoundedIntegerField(min_value=1)
    reasons = serializers.CharField(max_length=services.MAX_TEXT, allow_blank=True)  # required: the service names it
    evidence = serializers.ListField(child=BoundedIntegerField(min_value=1), required=False, default=list,
                                     max_length=50)


class ObjectionResolveSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=["uphold", "reject"])
    resolution = serializers.CharField(max_length=services.MAX_TEXT, allow_blank=True)  # required: the service
    # Signed points ("-1.50", "2"), required when upheld; parsed by the service's one parser.
    adjustment = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=16)


class PublicationOpenSerializer(StrictSerializer):
    days = BoundedIntegerField(min_value=1, max_value=60, required=False)


class ObjectionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Objections the user may see: a unit its own; group leads and liaisons their group's; the office,
    leaders and auditors all. A unit's staff or head files one on its own result during the publication."""

    serializer_class = ObjectionSerializer
    filterset_fields = ["round", "case", "status"]

    def get_queryset(self):
        return (access.visible(m.Objection, self.request.user).select_related("case__unit")
                .prefetch_related("evidence"))

    @extend_schema(request=ObjectionFileSerializer, responses={201: ObjectionSerializer})
    def create(self, request, *args, **kwargs):
        # Who may file is checked before the rest of the body: another unit's case is not found (404),
        # a case of one's group but not of one's unit is refused (403).
        raw = request.data.get("case") if hasattr(request.data, "get") else None
        case_id = parse_int(raw, "case", min_value=1) if raw not in (None, "") else None
        if case_id is not None:
            case = get_object_or_404(access.visible(m.Case, request.user).select_related("unit"), pk=case_id)
            if not selectors.may_object(request.user, case):
                raise PermissionDenied("只有本单位可以对本单位的考评结果提出异议。")
        body = ObjectionFileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        case = get_object_or_404(access.visible(m.Case, request.user).select_related("unit"), pk=data["case"])
        objection = services.objection_file(user=request.user, case=case, reasons=data["reasons"],
                                            evidence_ids=data["evidence"])
        return Response(ObjectionSerializer(objection).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ObjectionResolveSerializer, responses=ObjectionSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """The office resolves an open objection: uphold (with a signed correction of the unit's total;
        the whole round is recomputed) or reject, with a written reason either way."""
        require_office(request.user)  # before the body: others get 403
        objection = self.get_object()
        body = ObjectionResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        objection = services.objection_resolve(user=request.user, objection=objection, decision=data["decision"],
                                               resolution=data["resolution"], adjustment=data.get("adjustment"))
        return Response(ObjectionSerializer(objection).data)


def _round(request, pk: int) -> m.Round:
    return get_object_or_404(access.visible(m.Round, request.user), pk=pk)


@extend_schema(request=None, responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def publication(request, pk: int):
    """The round's publication: its period, whether it is open, the objections' counts (of those the user
    may see), whether the results are final and, if not, why."""
    round = _round(request, pk)
    return Response(selectors.publication_state(round, request.user))


@extend_schema(request=PublicationOpenSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def publication_open(request, pk: int):
    """The office publishes the leader-approved results for `days` days (default: the round's
    `publication_days`, else 5; working days unless `publication_day_kind` is calendar)."""
    round = _round(request, pk)
    require_office(request.user)  # before the body: others get 403
    body = PublicationOpenSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    round = services.publication_open(user=request.user, round=round, days=body.validated_data.get("days"))
    return Response(selectors.publication_state(round, request.user))


@extend_schema(request=None, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def publication_finalise(request, pk: int):
    """The results become final: 409 while the period runs or an objection is open."""
    round = _round(request, pk)
    require_office(request.user)
    refuse_body(request.data)
    round = services.publication_finalise(user=request.user, round=round)
    return Response(selectors.publication_state(round, request.user))
