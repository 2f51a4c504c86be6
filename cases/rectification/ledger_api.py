"""The rectification ledger (整改台账), read-only: `GET /api/v1/rectification-ledger/` (a page of rows with the
figures, across rounds and per round) and `GET /api/v1/rectification-ledger.xlsx`.

Who sees which rows is `cases.access` (office, leaders and auditors all; a group's leaders and liaison the
group's; a unit its own). The ledger's PDF is a document (kind `rectification_ledger`), rendered by the worker like every other.
"""

from dataclasses import fields
from datetime import date
from typing import Any

from django.core.cache import cache
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cases import access
from cases import models as m
from cases.rectification import exports
from cases.rectification import selectors as s
from cases.rectification.models import Rectification, RectificationStatus

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class LedgerQuery(serializers.Serializer):
    round = serializers.IntegerField(required=False, min_value=1)
    unit = serializers.IntegerField(required=False, min_value=1)
    group = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(required=False, choices=RectificationStatus.choices)
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)
    page = serializers.IntegerField(required=False, min_value=1, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=PAGE_SIZE)


LEDGER_PARAMETERS = [
    OpenApiParameter("round", int, description="考评轮次"),
    OpenApiParameter("unit", int, description="单位"),
    OpenApiParameter("group", int, description="考评组"),
    OpenApiParameter("status", str, enum=[v for v, _ in RectificationStatus.choices], description="状态"),
    OpenApiParameter("overdue", bool, description="只看逾期（true）或未逾期（false）"),
]


def query_of(request: Request) -> tuple[s.LedgerFilters, dict[str, Any]]:
    """The filters of a ledger request (a field-level 400 on a bad one) and the paging parameters."""
    query = LedgerQuery(data=request.query_params.dict())  # a plain dict: an absent flag stays None
    query.is_valid(raise_exception=True)
    v = query.validated_data
    filters = s.LedgerFilters(round=v.get("round"), unit=v.get("unit"), group=v.get("group"),
                              status=v.get("status"), overdue=v.get("overdue"))
    return filters, v


def visible_ledger(request: Request, filters: s.LedgerFilters, on: date) -> Any:
    qs = access.restrict(Rectification.objects.all(), request.user)
    return s.filtered(qs, filters, on=on)


def _figures(f: s.Figures) -> dict[str, Any]:
    return {"open": f.open, "overdue": f.overdue, "closed": f.closed, "closed_on_time": f.closed_on_time,
            "closed_on_time_pct": f.closed_on_time_pct}


_ROW_FIELDS = [f.name for f in fields(s.LedgerRow)]


def row_json(row: s.LedgerRow) -> dict[str, Any]:
    """A row as JSON (its fields are flat: no `asdict` deep copy)."""
    return {name: getattr(row, name) for name in _ROW_FIELDS}


@extend_schema(parameters=LEDGER_PARAMETERS, responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def ledger(request: Request) -> Response:
    """The ledger: a page of rows (finding, unit, group, owner, dues, status, traffic light, days overdue,
    verification, 反复出现) with the figures of every row that matches (open, overdue, closed, closed on time)
    across rounds and per round. A page is kept in the cache until a rectification changes
    (`selectors.ledger_key`); the lowest-band repeats come from the results and are read each time."""
    filters, v = query_of(request)
    on = s.today()
    key = s.ledger_key(scope=access.scope_key(request.user), filters=filters, on=on)
    page, size = v["page"], v["page_size"]
    body = cache.get(f"{key}:page:{page}:{size}")
    if body is None:
        body = _page(visible_ledger(request, filters, on), filters, key, on, page, size)
        cache.set(f"{key}:page:{page}:{size}", body, s.FIGURES_TTL)
    return Response({**body, "lowest_band_repeats": _repeats(request, filters.round)})


def _page(qs: Any, filters: s.LedgerFilters, key: str, on: date, page: int, size: int) -> dict[str, Any]:
    total, by_round = s.ledger_figures(qs, key=key, on=on)
    count = total.open + total.closed
    if page > 1 and (page - 1) * size >= count:
        raise ValidationError({"page": ["页码超出范围。"]})
    rows = s.ledger_page(qs, offset=(page - 1) * size, limit=size, on=on) if count else []
    return {
        "count": count, "page": page, "page_size": size, "on": on,
        "figures": _figures(total),
        "by_round": [{"round": r.round_id, "title": r.round_title, **_figures(r.figures)} for r in by_round]
        if filters.round is None else [],
        "results": [row_json(row) for row in rows],
    }


def _repeats(request: Request, round_id: int | None) -> list[dict[str, Any]]:
    """With a round chosen, for the office, leaders and auditors: the units in the lowest band of this round
    and of the one before it of the same kind (组织处理建议)."""
    if round_id is None or not access.sees_everything(request.user):
        return []
    round = access.visible(m.Round, request.user).filter(pk=round_id).first()
    if round is None:
        return []
    return [{"unit": x.unit_id, "unit_name": x.unit_name, "grade": x.grade, "previous_round": x.previous_round_id,
             "previous_grade": x.previous_grade, "flag": x.flag} for x in s.lowest_band_repeats(round)]


@extend_schema(parameters=LEDGER_PARAMETERS, responses={(200, XLSX): OpenApiTypes.BINARY})
@api_view(["GET"])
def ledger_xlsx(request: Request) -> HttpResponse:
    """Every row of the ledger that matches, as an Excel workbook (at most `exports.MAX_ROWS`)."""
    filters, _ = query_of(request)
    on = s.today()
    qs = visible_ledger(request, filters, on)
    if qs.count() > exports.MAX_ROWS:
        raise ValidationError({"round": [f"台账超过{exports.MAX_ROWS}行，请按轮次、单位或考评组筛选后导出。"]})
    content = exports.ledger_xlsx(s.ledger_rows(qs, on=on))
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="rectification-ledger-{on.isoformat()}.xlsx"'
    return response
