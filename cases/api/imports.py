"""Excel import of units, people and a round's groups (docs/imports.md): the office's only.

- `GET /api/v1/imports/template.xlsx`: the template (the three sheets, an example of each, 填写说明);
- `POST /api/v1/imports/people/` (multipart `file`, optional `dry_run`): units and people;
- `POST /api/v1/rounds/{id}/groups/import/`: the same, and the round's groups (a draft round).

The permission (and the round's state) is checked before the body is read (`cases.api.uploads`). A
file with problems answers 400 with every one, by sheet, row and column, and changes nothing; success
answers 200 with the counts and, once, the one-time passwords of the accounts created.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.decorators import api_view, authentication_classes, parser_classes, permission_classes
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.api.fields import StrictSerializer
from cases.api.uploads import UPLOAD_AUTHENTICATION, upload_data
from cases.imports import services, sheets
from cases.uploads import content_problems, extension

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATE_NAME = "导入模板-单位人员考评组.xlsx"


class OfficeOnly(permissions.BasePermission):
    message = "只有考核办可以导入单位、人员和考评组。"

    def has_permission(self, request, view):
        return access.is_office(request.user)


class ImportUploadSerializer(StrictSerializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)

    def validate_file(self, upload):
        if extension(upload.name) != "xlsx":
            raise serializers.ValidationError("请上传 .xlsx 格式的 Excel 文件（可下载导入模板）。")
        problems = content_problems(upload.name, upload)
        if problems:
            raise serializers.ValidationError(problems)
        return upload


def result_json(result: services.ImportResult) -> dict:
    return {
        "dry_run": result.dry_run,
        "units": vars(result.units),
        "people": vars(result.people),
        "groups": vars(result.groups),
        "accounts": [{"username": a.username, "display_name": a.display_name, "password": a.password}
                     for a in result.accounts],
    }


def refused_json(problems: list[sheets.Problem]) -> dict:
    """The API's error shape (`errors` by cell: "人员!E7"), with the same problems as rows."""
    errors: dict[str, list[str]] = {}
    for p in problems:
        errors.setdefault(p.location(), []).append(f"{p.header}：{p.message}" if p.header else p.message)
    return {"detail": f"导入文件有 {len(problems)} 处错误，未做任何修改。", "errors": errors,
            "problems": [p.as_dict() for p in problems]}


def _import(request, round=None) -> Response:
    body = ImportUploadSerializer(data=upload_data(request))
    body.is_valid(raise_exception=True)
    upload = body.validated_data["file"]
    try:
        result = services.import_workbook(user=request.user, fileobj=upload, round=round,
                                          dry_run=body.validated_data["dry_run"])
    except services.ImportRefused as exc:
        return Response(refused_json(exc.problems), status=status.HTTP_400_BAD_REQUEST)
    response = Response(result_json(result))
    response["Cache-Control"] = "no-store"  # one-time passwords
    return response


# A refused file answers the usual error shape (400) with `errors` by cell ("人员!E7") and, beside it,
# `problems`: the same as rows (sheet, row, column, header, message).
_RESPONSES = {200: OpenApiTypes.OBJECT}


@extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses=_RESPONSES)
@api_view(["POST"])
@authentication_classes(UPLOAD_AUTHENTICATION)
@permission_classes([permissions.IsAuthenticated, OfficeOnly])
@parser_classes([MultiPartParser, FormParser])
def import_people(request):
    """Import units and people from the template workbook (office); all or nothing; `dry_run` only checks."""
    return _import(request)


@extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses=_RESPONSES)
@api_view(["POST"])
@authentication_classes(UPLOAD_AUTHENTICATION)
@permission_classes([permissions.IsAuthenticated, OfficeOnly])
@parser_classes([MultiPartParser, FormParser])
def import_round_groups(request, pk):
    """Import units, people and this (draft) round's groups with their units (office); all or nothing."""
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    services.require_draft_round(round)  # 409 before the body is read
    return _import(request, round)


@extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated, OfficeOnly])
def import_template(request):
    """The import template: 单位, 人员, 考评组 with their headers, an example of each, and 填写说明."""
    response = HttpResponse(sheets.template_xlsx(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=TEMPLATE_NAME)
    return response

