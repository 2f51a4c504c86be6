"""`GET /api/v1/rectification-ledger.pdf?round=<id>`: a round's rectification ledger (整改台账) as a PDF, at once.

The ledger is an internal working paper (office, leaders, auditors), so this renders the `rectification_ledger`
kind from an unsaved draft in the request, bounded to `MAX_ROWS` rows; a larger ledger is drafted as a document
(`POST /api/v1/documents/`, kind `rectification_ledger`) and rendered by the worker like every other document.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request

from cases import access
from cases import models as m
from notifications.documents import kinds as k
from notifications.documents import render, services
from notifications.documents.models import Document, DocumentKind

MAX_ROWS = 300


class LedgerPdfQuery(serializers.Serializer):
    round = serializers.IntegerField(min_value=1)


@extend_schema(parameters=[OpenApiParameter("round", int, required=True, description="考评轮次")],
               responses={(200, "application/pdf"): OpenApiTypes.BINARY})
@api_view(["GET"])
def ledger_pdf(request: Request) -> HttpResponse:
    """The round's rectification ledger as a PDF (office, leaders and auditors; at most `MAX_ROWS` rows)."""
    if not access.sees_everything(request.user):
        raise PermissionDenied()
    query = LedgerPdfQuery(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    round = get_object_or_404(access.visible(m.Round, request.user), pk=query.validated_data["round"])
    if m.Rectification.objects.filter(round=round).count() > MAX_ROWS:
        raise ValidationError({"round": [f"台账超过{MAX_ROWS}行，请起草“整改台账”公文后生成。"]})
    kind = k.KINDS[DocumentKind.RECTIFICATION_LEDGER]
    content = kind.build(round, None, {})
    draft = Document(round=round, kind=kind.code, issuer=services.issuer_default(), audience=kind.audience,
                     title=content.title, addressees=content.addressees, body=content.body, cc=content.cc)
    pdf = render.render_pdf(services.html_of(draft, preview=False, content=content)).pdf
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="rectification-ledger-{round.pk}.pdf"'
    return response
