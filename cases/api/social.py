"""Sample frames (抽样框) of a social-evaluation round (docs/sample_frames.md).

- `GET  /api/v1/rounds/{id}/sample-frames/`: per unit, its lists' counts against the minimums (the office: every
  unit; a unit's staff and head: their own units). No personal data.
- `POST /api/v1/rounds/{id}/units/{unit}/sample-frames/{kind}/` (multipart `file`): a unit's staff upload a
  list; permission and round state checked before the body is read; a file with problems answers 400 with
  every one by row and column and changes nothing; an accepted file is the list's new version (201).
- `GET  /api/v1/sample-frames/{id}/rows/` and `/export.xlsx`: the office reads or exports the people
  (decrypted); each read and export is written to the audit log.
- `GET  /api/v1/rounds/{id}/sample-frames/duplicates/`: the office's check across every unit's lists.
- `GET  /api/v1/sample-frames/templates/{kind}.xlsx`: the empty layout of 附件2–7.
"""

import io

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from openpyxl import Workbook
from rest_framework import permissions, serializers, status
from rest_framework.decorators import api_view, authentication_classes, parser_classes, permission_classes
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.api.fields import StrictSerializer
from cases.api.imports import XLSX, refused_json
from cases.api.uploads import UPLOAD_AUTHENTICATION, upload_data
from cases.social import layouts, selectors, services
from cases.social.models import SampleFrame, SampleListKind
from cases.uploads import content_problems, extension


class FrameUploadSerializer(StrictSerializer):
    file = serializers.FileField()

    def validate_file(self, upload):
        if extension(upload.name) != "xlsx":
            raise serializers.ValidationError("请上传 .xlsx 格式的 Excel 文件（附件2–7的格式）。")
        problems = content_problems(upload.name, upload)
        if problems:
            raise serializers.ValidationError(problems)
        return upload


class OfficeOnly(permissions.BasePermission):
    message = "只有考核办可以查看和导出抽样框中的个人信息。"

    def has_permission(self, request, view):
        return access.can_read_sample_rows(request.user)


def _frame_json(frame: SampleFrame) -> dict:
    return {"id": frame.pk, "round": frame.round_id, "unit": frame.unit_id, "kind": frame.kind,
            "version": frame.version, "rows": frame.row_count, "uploaded_at": frame.uploaded_at.isoformat()}


@extend_schema(responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
def round_sample_frames(request, pk):
    """Per unit, its lists' current counts and versions against the minimums (no personal data)."""
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    return Response({"round": round.pk, "units": selectors.summary(request.user, round)})


@extend_schema(request={"multipart/form-data": FrameUploadSerializer}, responses={201: OpenApiTypes.OBJECT})
@api_view(["POST"])
@authentication_classes(UPLOAD_AUTHENTICATION)
@parser_classes([MultiPartParser, FormParser])
def upload_sample_frame(request, pk, unit, kind):
    """Upload one of the unit's lists (its staff, while the social round runs); all or nothing."""
    if kind not in layouts.LAYOUTS:
        raise Http404
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    unit_obj = get_object_or_404(m.Unit, pk=unit)
    services.require_uploadable(request.user, round, unit_obj)  # 403 / 409 before the body is read
    body = FrameUploadSerializer(data=upload_data(request))
    body.is_valid(raise_exception=True)
    upload = body.validated_data["file"]
    try:
        frame = services.upload_frame(user=request.user, round=round, unit=unit_obj, kind=kind, fileobj=upload,
                                      filename=upload.name)
    except services.FrameRefused as exc:
        return Response(refused_json(exc.problems), status=status.HTTP_400_BAD_REQUEST)
    return Response(_frame_json(frame), status=status.HTTP_201_CREATED)


@extend_schema(responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated, OfficeOnly])
def sample_frame_rows(request, pk):
    """The list's people in clear (the office); the read is audited."""
    frame = get_object_or_404(access.visible(SampleFrame, request.user), pk=pk)
    response = Response({**_frame_json(frame), "people": services.read_rows(user=request.user, frame=frame)})
    response["Cache-Control"] = "no-store"
    return response


@extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated, OfficeOnly])
def sample_frame_export(request, pk):
    """The list in its seed layout as .xlsx (the office); the export is audited."""
    frame = get_object_or_404(access.visible(SampleFrame, request.user).select_related("unit"), pk=pk)
    response = HttpResponse(services.export_xlsx(user=request.user, frame=frame), content_type=XLSX)
    name = f"抽样框-{frame.unit.name}-附件{layouts.ATTACHMENT[frame.kind]}-v{frame.version}.xlsx"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    response["Cache-Control"] = "no-store"
    return response


@extend_schema(responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated, OfficeOnly])
def round_sample_duplicates(request, pk):
    """People on more than one of a unit's current lists, across the round (unit, hash, rows)."""
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    return Response({"round": round.pk, "duplicates": selectors.cross_list_duplicates(round)})


@extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY})
@api_view(["GET"])
def sample_frame_template(request, kind):
    """The empty layout of the list `kind` (附件2–7), title and header rows as in the seed."""
    if kind not in layouts.LAYOUTS:
        raise Http404
    wb = Workbook()
    ws = wb.active
    ws.title = f"附件{layouts.ATTACHMENT[kind]}"
    ws.append([str(SampleListKind(kind).label)])
    ws.append(["报送单位：", "", "", "报送时间：    年  月  日"])
    ws.append(list(layouts.LAYOUTS[kind]))
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"抽样框模板-附件{layouts.ATTACHMENT[kind]}.xlsx")
    return response
