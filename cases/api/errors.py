"""One JSON error shape for the whole API: {"detail": "...", "errors": {field: [messages]}}."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cases.errors import Conflict


def _messages(value, path: str, field: str) -> list[str]:
    """Nested DRF errors (list items, nested serializers) as flat messages named by their path,
    like the services' own: {"items": {"0": {"deduction": [m]}}} → ["items[0].deduction: m"]."""
    if isinstance(value, dict):
        out = []
        for key, sub in value.items():
            key = str(key)
            if key == "non_field_errors":
                sub_path = path
            elif key.isdigit():
                sub_path = f"{path}[{key}]"
            else:
                sub_path = f"{path}.{key}"
            out.extend(_messages(sub, sub_path, field))
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for n, sub in enumerate(value):
            out.extend(
                _messages(sub, f"{path}[{n}]", field)
                if isinstance(sub, (dict, list, tuple))
                else _messages(sub, path, field)
            )
        return out
    return [str(value) if path == field else f"{path}: {value}"]


def _field_errors(data) -> dict[str, list[str]]:
    if not isinstance(data, dict):
        data = {"non_field_errors": data}
    return {str(field): _messages(value, str(field), str(field)) for field, value in data.items()}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"detail": "输入有误。", "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Conflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "输入有误。", "errors": _field_errors(response.data)}
    return response
