"""Round templates (考评模板) over the API: `GET /api/v1/round-templates/` (the ready ones), `GET
/api/v1/round-templates/{code}.yaml` (a file to copy and change) and `POST /api/v1/round-templates/create-round/`
(a draft round from a ready template, or from a changed copy sent as text). Anyone signed in reads them; only
the office creates rounds (refused before the body is read)."""

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cases import models as m
from cases import round_templates as t
from cases.api import serializers as s
from cases.api.fields import StrictSerializer
from cases.services import rounds
from cases.services.common import require_office
from cases.validation import DocumentError

MAX_TEMPLATE_CHARS = 64_000


def template_json(template: t.RoundTemplate) -> dict[str, Any]:
    return {"code": template.code, "seed": template.seed, "title": template.title, "kind": template.kind,
            "rubric": template.rubric, "description": template.description, "phases": template.phases,
            "methods": list(template.methods), "config": template.config,
            "requirements": list(template.requirements)}


class TemplateSerializer(serializers.Serializer):
    """A template as the list shows it (the schema of `template_json`)."""

    code = serializers.CharField()
    seed = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    rubric = serializers.CharField()
    description = serializers.CharField()
    phases = serializers.DictField(child=serializers.IntegerField())
    methods = serializers.ListField(child=serializers.CharField())
    config = serializers.DictField()
    requirements = serializers.ListField(child=serializers.CharField())


@extend_schema(responses=TemplateSerializer(many=True))
@api_view(["GET"])
def template_list(request: Request) -> Response:
    """The ready templates, one per seed notice."""
    return Response([template_json(x) for x in t.ready_templates()])


@extend_schema(responses={(200, "application/yaml"): OpenApiTypes.STR})
@api_view(["GET"])
def template_file(request: Request, code: str) -> HttpResponse:
    """A ready template's file, to copy, change and send back as `template_yaml`."""
    template = t.ready_template(code)
    if template is None:
        raise NotFound("没有这个考评模板。")
    response = HttpResponse(t.template_path(code).read_text("utf-8"), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{template.code}.yaml"'
    return response


class CreateRound(StrictSerializer):
    template = serializers.CharField(required=False, max_length=64, help_text="a ready template's code")
    template_yaml = serializers.CharField(required=False, max_length=MAX_TEMPLATE_CHARS, trim_whitespace=False,
                                          help_text="a changed copy of a template file")
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    start = serializers.DateField(help_text="the first day of the preparation phase")
    title = serializers.CharField(required=False, max_length=255, allow_blank=True)


def template_of(data: dict[str, Any]) -> t.RoundTemplate:
    """The template a request names (a ready one's code) or sends (a file's text); a field error otherwise."""
    if ("template" in data) == ("template_yaml" in data):
        raise ValidationError({"template": ["请选择一个考评模板，或上传修改后的模板文件（二者取一）。"]})
    if "template" in data:
        template = t.ready_template(data["template"])
        if template is None:
            raise ValidationError({"template": [f"没有考评模板“{data['template']}”。"]})
        return template
    try:
        return t.load_template_yaml(data["template_yaml"])
    except DocumentError as exc:
        raise ValidationError({"template_yaml": exc.messages}) from None


@extend_schema(request=CreateRound, responses={201: s.RoundSerializer})
@api_view(["POST"])
def create_round(request: Request) -> Response:
    """A draft round from a template: its kind, rubric, phase dues from `start`, methods and configuration."""
    user = request.user
    assert isinstance(user, m.User)  # DRF's IsAuthenticated (the default permission) let only users in
    require_office(user)  # before the body is read
    body = CreateRound(data=request.data)
    body.is_valid(raise_exception=True)
    data = dict(body.validated_data)
    round = rounds.round_create_from_template(user=user, template=template_of(data), year=data["year"],
                                              start=data["start"], title=data.get("title", ""))
    return Response(s.RoundSerializer(round).data, status=status.HTTP_201_CREATED)
