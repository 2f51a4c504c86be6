"""Seed 001's endpoints (docs/party-building.md): the self-check statistics table of a case and of a
group, a group's democratic recommendation (民主推荐), and the bonus items units declare
(`/api/v1/bonus-declarations/`). Thin: row-level access from `cases.access`, one service call per write."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.api.fields import BoundedIntegerField, PointsField, StrictSerializer
from cases.party_building import selectors, selfcheck, services


class SelfCheckWriteSerializer(StrictSerializer):
    # {row code: completed count, or null for 不适用 on an optional row}; checked row by row by the service.
    counts = serializers.JSONField()


class RecommendationWriteSerializer(StrictSerializer):
    unit = BoundedIntegerField(min_value=1, required=False, allow_null=True, default=None)
    # Unit ids of the group; and [{"unit": id, "name": "…", "post": "…"}]. Checked item by item by the service.
    organisations = serializers.ListField(child=serializers.JSONField(), required=False, default=list, max_length=200)
    workers = serializers.ListField(child=serializers.JSONField(), required=False, default=list, max_length=200)


def _self_check_body(case: m.Case) -> dict:
    rows = selectors.table(case.round)
    if rows is None:  # a round without the table: nothing to show (a write is a 409)
        return {"case": case.pk, "unit": case.unit_id, "enabled": False, "rows": [], "shortfall_rows": 0,
                "deduction": "0.00"}
    found = selfcheck.lines(rows, selectors.current_counts(case), selectors.item_maxima(case.round))
    return {"case": case.pk, "unit": case.unit_id, "enabled": True,
            "rows": [selectors.line_dict(line) for line in found],
            "shortfall_rows": sum(1 for line in found if line.shortfall),
            "deduction": str(selfcheck.total_deduction(found))}


@extend_schema(methods=["GET"], responses=OpenApiTypes.OBJECT)
@extend_schema(methods=["PUT"], request=SelfCheckWriteSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["GET", "PUT"])
def case_self_check(request, pk: int):
    """The case's self-check statistics table (自查统计表): each row's annual target, the unit's completed
    count, the shortfall and the deduction it gives (GET); the unit's staff save the counts while preparing
    (PUT, the whole table; every row is needed to submit the self-assessment)."""
    case = get_object_or_404(access.visible(m.Case, request.user).select_related("round__rubric"), pk=pk)
    if request.method == "PUT":
        if not access.is_unit_member(request.user, case.unit_id, m.UnitRole.STAFF):  # before the body
            raise PermissionDenied("只有本单位填报员可以填写自查统计表。")
        body = SelfCheckWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.self_check_save(user=request.user, case=case, counts=body.validated_data["counts"])
    return Response(_self_check_body(case))


def _group_for_group_work(request, pk: int) -> m.Group:
    group = get_object_or_404(access.visible(m.Group, request.user).select_related("round__rubric"), pk=pk)
    return group


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def group_self_check(request, pk: int):
    """Every unit of the group with the rows of its self-check table it fell short of, and the deduction
    (for the group's review): the group's people and the office, leaders, auditors."""
    group = _group_for_group_work(request, pk)
    if not access.can_read_group_work(request.user, group):
        raise PermissionDenied("只有本组成员和考核办可以查看本组的自查统计。")
    units = selectors.group_shortfalls(group)  # empty for a round without the table
    return Response({"group": group.pk, "enabled": selectors.table(group.round) is not None,
                     "units": [{**u, "deduction": str(u["deduction"])} for u in units]})


@extend_schema(methods=["GET"], responses=OpenApiTypes.OBJECT)
@extend_schema(methods=["PUT"], request=RecommendationWriteSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["GET", "PUT"])
def group_recommendations(request, pk: int):
    """The group's democratic recommendation (民主推荐). GET: the caller's units' own ballots, and for the
    group's people and the organisation-wide roles the tally (votes per nominated organisation and worker,
    which units voted). PUT: a unit's head casts (or replaces) the unit's ballot while the group step runs."""
    group = _group_for_group_work(request, pk)
    if request.method == "PUT":
        if not any(access.can_vote_for_unit(request.user, uid) for uid in group.cases.values_list("unit_id", flat=True)):
            raise PermissionDenied("只有本组被考评单位的负责人可以代表单位进行民主推荐。")
        body = RecommendationWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.ballot_save(user=request.user, group=group, organisations=data["organisations"],
                             workers=data["workers"], unit_id=data["unit"])
    own = access.visible(m.RecommendationBallot, request.user).filter(group=group, unit_id__in=access.unit_ids(request.user))
    rules = selectors.recommendation_rules(group.round)  # None: the round holds none (a write is a 409)
    out: dict[str, object] = {"group": group.pk, "enabled": rules is not None,
           "rules": None if rules is None else {"organisations": rules.organisations, "workers": rules.workers,
                                                "allow_self": rules.allow_self},
           "own_ballots": [selectors.ballot_dict(b) for b in own.select_related("unit")]}
    if rules is not None and access.can_read_group_work(request.user, group):
        out["tally"] = selectors.tally(group)
    return Response(out)


# --- bonus items units declare ---------------------------------------------------------------------


class BonusDeclarationSerializer(serializers.ModelSerializer):
    unit = serializers.IntegerField(source="case.unit_id", read_only=True)
    unit_name = serializers.CharField(source="case.unit.name", read_only=True)
    evidence: "serializers.PrimaryKeyRelatedField[m.Attachment]" = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True)

    class Meta:
        model = m.BonusDeclaration
        fields = ["id", "round", "case", "unit", "unit_name", "title", "reason", "points_requested", "evidence",
                  "status", "points_granted", "decision_reason", "declared_by", "declared_at", "decided_by",
                  "decided_at", "special_bonus"]
        read_only_fields = fields


class DeclarationCreateSerializer(StrictSerializer):
    case = BoundedIntegerField(min_value=1)
    title = serializers.CharField(allow_blank=True, max_length=255)
    reason = serializers.CharField(allow_blank=True)
    points_requested = PointsField()
    evidence_ids = serializers.ListField(child=BoundedIntegerField(min_value=1), required=False, default=list,
                                         max_length=100)


class ApproveSerializer(StrictSerializer):
    points_granted = PointsField()
    reason = serializers.CharField(allow_blank=True, required=False, default="")


class RefuseSerializer(StrictSerializer):
    reason = serializers.CharField(allow_blank=True)


class BonusDeclarationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Bonus items a unit declares itself (单位自行申报的加分项目): a unit's staff declare (POST), the
    office approves with the points granted (a special bonus of the case, capped with the others) or
    refuses with a reason. Rows follow the cases a user may see."""

    serializer_class = BonusDeclarationSerializer
    filterset_fields = ["round", "case", "status"]

    def get_queryset(self):
        return (access.visible(m.BonusDeclaration, self.request.user).select_related("case__unit")
                .prefetch_related("evidence"))

    @extend_schema(request=DeclarationCreateSerializer, responses={201: BonusDeclarationSerializer})
    def create(self, request, *args, **kwargs):
        body = DeclarationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        case = get_object_or_404(access.visible(m.Case, request.user).select_related("round"), pk=data.pop("case"))
        declaration = services.declaration_create(user=request.user, case=case, **data)
        return Response(BonusDeclarationSerializer(self.get_queryset().get(pk=declaration.pk)).data,
                        status=status.HTTP_201_CREATED)

    def _decide(self, request, serializer_class, approve: bool):
        declaration = self.get_object()
        if not access.is_office(request.user):  # before the body is read
            raise PermissionDenied("只有考核办可以审核加分项目。")
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        services.declaration_decide(user=request.user, declaration=declaration, approve=approve, **body.validated_data)
        return Response(BonusDeclarationSerializer(self.get_queryset().get(pk=declaration.pk)).data)

    @extend_schema(request=ApproveSerializer, responses=BonusDeclarationSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """The office approves with the points it grants (at most those requested)."""
        return self._decide(request, ApproveSerializer, True)

    @extend_schema(request=RefuseSerializer, responses=BonusDeclarationSerializer)
    @action(detail=True, methods=["post"])
    def refuse(self, request, pk=None):
        """The office refuses, with its reason."""
        return self._decide(request, RefuseSerializer, False)
