"""A social round's materials (seed 004; docs/social-round.md): one unit's, read by the unit and the office,
with draft saving for the two texts a unit writes over days; the round's overview for the office.

Delivering, reviewing and signing are task actions (`/api/v1/tasks/{id}/submit/` …): they move the unit's
SocialCaseFlow. Thin: row-level access from `cases.access`, one service call per write."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.api.fields import StrictSerializer
from cases.social.materials import selectors, services


class QuestionnaireSerializer(StrictSerializer):
    topic = serializers.CharField(allow_blank=True, max_length=services.MAX_TOPIC_CHARS)
    questions = serializers.ListField(child=serializers.CharField(allow_blank=True), max_length=services.MAX_QUESTIONS)


class AnalysisSerializer(StrictSerializer):
    completion = serializers.CharField(allow_blank=True, trim_whitespace=False)
    innovation = serializers.CharField(allow_blank=True, trim_whitespace=False)
    weaknesses = serializers.CharField(allow_blank=True, trim_whitespace=False)


def _case(request, pk: int) -> m.Case:
    return get_object_or_404(access.visible(m.Case, request.user).select_related("round", "unit"), pk=pk)


def _social_case(request, pk: int) -> m.Case:
    case = _case(request, pk)
    if case.round.kind != m.RoundKind.SOCIAL:  # the resource exists only for a social round's case
        raise NotFound("只有社会评价轮次的考评对象有此项材料。")
    return case


def _drafting(request, pk: int) -> m.Case:
    """The case for a draft's PUT: refused before the body is read unless the user drafts the unit's materials
    (the round's kind and state are the service's to check, after the body)."""
    case = _case(request, pk)
    if not access.can_draft_social_material(request.user, case):
        raise PermissionDenied("只有本单位填报员可以填写本单位的材料。")
    return case


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def case_materials(request, pk: int):
    """The unit's questionnaire, situation table and reports, performance analysis and deliveries."""
    return Response(selectors.materials_of(_social_case(request, pk)))


@extend_schema(request=QuestionnaireSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["PUT"])
def case_questionnaire(request, pk: int):
    """Save the questionnaire's draft (submitting it is the `questionnaire` task's action)."""
    case = _drafting(request, pk)
    body = QuestionnaireSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    services.questionnaire_save(user=request.user, case=case, **body.validated_data)
    return Response(selectors.materials_of(case))


@extend_schema(request=AnalysisSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["PUT"])
def case_analysis(request, pk: int):
    """Save the performance analysis's draft (≤ 1,400 characters together; sending it to the unit's head is
    the `analysis` task's action)."""
    case = _drafting(request, pk)
    body = AnalysisSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    services.analysis_save(user=request.user, case=case, data=body.validated_data)
    return Response(selectors.materials_of(case))


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def round_materials(request, pk: int):
    """The office's overview: per unit, each material delivered or not, late or not, and the two drafts'
    states."""
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    if not access.sees_everything(request.user):
        raise PermissionDenied("只有考核办可以查看各单位的材料报送情况。")
    return Response({"round": round.pk, "late_material_deduction": str(selectors.late_deduction(round)),
                     "units": selectors.round_overview(round)})
