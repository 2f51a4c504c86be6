"""Seed 004's leader evaluation (领导评价) and publication duties (公告/公示), docs/leader-evaluation.md.

Thin: row-level access from `cases.access`, one service call per write. No response carries an answer's
id or links a form to its evaluator: an evaluator sees only whether they have submitted for a unit; the
office and the organisation-wide roles see counts and means per unit."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.api.fields import BoundedIntegerField, StrictSerializer, refuse_body
from cases.evaluation import selectors, services


class LeaderEvaluatorsSerializer(StrictSerializer):
    users = serializers.ListField(child=BoundedIntegerField(min_value=1), max_length=services.MAX_EVALUATORS)


class LeaderFormSerializer(StrictSerializer):
    case = BoundedIntegerField(min_value=1)
    score = BoundedIntegerField(min_value=1, max_value=5)


class DutyPublicationSerializer(StrictSerializer):
    place = serializers.CharField(max_length=500, error_messages={"blank": "请填写发布位置（网址或地点）。"})
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True, default=None)


def _round(request, pk: int) -> m.Round:
    return get_object_or_404(access.visible(m.Round, request.user), pk=pk)


def _summary_rows(round: m.Round) -> list[dict]:
    return [{**row, "mean": None if row["mean"] is None else str(row["mean"]),
             "points": None if row["points"] is None else str(row["points"])} for row in selectors.unit_summary(round)]


def _duty_rows(rows: list[dict]) -> list[dict]:
    return [{**row, "due_date": str(row["due_date"]), "deduction": str(row["deduction"]),
             "start_date": str(row["start_date"]) if row["start_date"] else None,
             "end_date": str(row["end_date"]) if row["end_date"] else None} for row in rows]


@extend_schema(methods=["GET"], responses=OpenApiTypes.OBJECT)
@extend_schema(methods=["PUT"], request=LeaderEvaluatorsSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["GET", "PUT"])
def round_evaluators(request, pk: int):
    """The round's leader evaluators (领导评价人): the office and the organisation-wide roles read, the
    office replaces the list (PUT {"users": [ids]})."""
    round = _round(request, pk)
    if not access.sees_everything(request.user):
        raise PermissionDenied("只有考核办可以查看领导评价人名单。")
    if request.method == "PUT":
        if not access.is_office(request.user):  # before the body
            raise PermissionDenied("只有考核办可以指定领导评价人。")
        body = LeaderEvaluatorsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.evaluators_set(user=request.user, round=round, user_ids=body.validated_data["users"])
    return Response({"round": round.pk, "evaluators": selectors.evaluators(round)})


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def leader_evaluation(request, pk: int):
    """An evaluator's forms (one per unit, with whether it is submitted: never the answer), and for the
    office and the organisation-wide roles the participation counts and the mean per unit."""
    round = _round(request, pk)
    evaluator = selectors.is_evaluator(request.user, round)
    office_view = access.sees_everything(request.user)
    if not (evaluator or office_view):
        raise PermissionDenied("只有领导评价人和考核办可以查看领导评价。")
    out: dict[str, object] = {"round": round.pk, "points_max": str(selectors.points_max(round))}
    if evaluator:
        out["own"] = selectors.own_forms(request.user, round)
    if office_view:
        out["units"] = _summary_rows(round)
    return Response(out)


@extend_schema(request=LeaderFormSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def leader_evaluation_submit(request, pk: int):
    """An evaluator submits the anonymous form for one unit ({"case": id, "score": 1–5}); a second form
    for the same unit is a 409."""
    round = _round(request, pk)
    if not selectors.is_evaluator(request.user, round):  # before the body
        raise PermissionDenied("只有考核办指定的领导评价人可以填写领导评价表。")
    body = LeaderFormSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    case = round.cases.select_related("round", "unit").filter(pk=body.validated_data["case"]).first()
    if case is None:
        raise ValidationError({"case": ["不是本轮次的考评对象。"]})
    services.form_submit(user=request.user, case=case, score=body.validated_data["score"])
    return Response({"case": case.pk, "submitted": True}, status=status.HTTP_201_CREATED)


@extend_schema(request=None, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def leader_evaluation_compile(request, pk: int):
    """The office stores each unit's component (mean mapped to points, less publication deductions) as
    the round's results."""
    round = _round(request, pk)
    refuse_body(request.data)
    services.compile_results(user=request.user, round=round)
    return Response({"round": round.pk, "units": _summary_rows(round), "results": [
        {"case": r.case_id, "unit": r.case.unit_id, "panel": str(r.panel), "deductions": str(r.deductions),
         "total": str(r.total), "rank": r.rank, "deduction_items": r.deduction_items}
        for r in m.Result.objects.filter(round=round).select_related("case")]})


@extend_schema(request=None, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def leader_evaluation_approve(request, pk: int):
    """The leader approves the compiled component; another round's composite may then name this round."""
    round = _round(request, pk)
    refuse_body(request.data)
    services.results_approve(user=request.user, round=round)
    return Response({"round": round.pk, "results_frozen_at": round.results_frozen_at})


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def publication_duties(request, pk: int):
    """Every unit's publication duties with their state (red when not met by the date) for the office and
    the organisation-wide roles; a unit's people see their own unit's."""
    round = _round(request, pk)
    if access.sees_everything(request.user):
        cases = None
    else:
        cases = list(access.visible(m.Case, request.user).filter(round=round, unit_id__in=access.unit_ids(request.user))
                     .select_related("unit"))
        if not cases:
            raise PermissionDenied("只有考核办和被考评单位可以查看公示事项。")
    rows = selectors.duties(round, cases)
    return Response({"round": round.pk, "due_date": str(selectors.due_date(round)),
                     "deduction_per_duty": str(selectors.deduction_per_duty(round)),
                     "red": sum(1 for r in rows if r["red"]), "duties": _duty_rows(rows)})


@extend_schema(request=DutyPublicationSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["PUT"])
def case_publication(request, pk: int, kind: str):
    """A unit records where and since when it published for a duty (notice / performance / rectification)."""
    case = get_object_or_404(access.visible(m.Case, request.user).select_related("round", "unit"), pk=pk)
    if not (access.is_unit_member(request.user, case.unit_id, m.UnitRole.STAFF)
            or access.is_unit_member(request.user, case.unit_id, m.UnitRole.HEAD)):  # before the body
        raise PermissionDenied("只有本单位可以登记本单位的公示情况。")
    body = DutyPublicationSerializer(data=request.data)
    errors = {} if body.is_valid() else dict(body.errors)
    if kind not in m.DutyKind.values:  # the path's duty named beside the body's fields
        errors["kind"] = ["未知的公示事项。"]
    if errors:
        raise ValidationError(errors)
    data = body.validated_data
    services.publication_record(user=request.user, case=case, kind=kind, place=data["place"],
                                start_date=data["start_date"], end_date=data["end_date"])
    return Response({"round": case.round_id, "duties": _duty_rows(selectors.duties(case.round, [case]))})
