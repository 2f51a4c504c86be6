"""Upload endpoints read their body last: authentication and permissions first, then the declared
size, and only then the multipart body (DRF parses it lazily, on the first touch of ``request.data``).

Two things would otherwise read it early:
- DRF's session authentication runs Django's CSRF check, which looks for ``csrfmiddlewaretoken`` in
  ``request.POST`` and so parses the whole upload before any permission is checked. Upload endpoints
  take the CSRF token from the ``X-CSRFToken`` header only (what every script and fetch() sends).
- a body over the limit: refused from its Content-Length, or by ``cases.uploads.LimitedUploadHandler``
  while it streams, both answered here with the API's JSON 413.
"""

from typing import Any, cast

from django.core.exceptions import RequestDataTooBig
from django.http import QueryDict
from drf_spectacular.authentication import SessionScheme
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request
from rest_framework.settings import api_settings

from cases.uploads import UploadTooLarge, content_length_too_large


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "上传内容超过大小上限。"
    default_code = "payload_too_large"


class _HeaderTokenOnly:
    """The request as the CSRF check sees it: everything but a parsed form body."""

    POST = QueryDict()

    def __init__(self, request: Request) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


class UploadSessionAuthentication(SessionAuthentication):
    """Session authentication whose CSRF check never parses the body (the token comes in the header)."""

    def enforce_csrf(self, request: Request) -> None:
        super().enforce_csrf(_HeaderTokenOnly(request))  # type: ignore[arg-type]


class UploadSessionScheme(SessionScheme):
    """The session cookie, as everywhere else, with the CSRF token in the X-CSRFToken header only."""

    target_class = "cases.api.uploads.UploadSessionAuthentication"
    name = "uploadCookieAuth"


# The project's authentication classes, with the session one swapped for the upload-safe variant.
UPLOAD_AUTHENTICATION: list[type[BaseAuthentication]] = [
    UploadSessionAuthentication if cls is SessionAuthentication else cls
    for cls in cast("list[type[BaseAuthentication]]", api_settings.DEFAULT_AUTHENTICATION_CLASSES)
]


def upload_data(request: Request) -> Any:
    """The upload's form data and files, read now (call it after the permission checks) and within
    the limits; a body over them is a 413 and nothing of it is kept."""
    if content_length_too_large(request.META):
        raise PayloadTooLarge(str(UploadTooLarge().args[0]))
    try:
        return request.data
    except RequestDataTooBig as exc:
        raise PayloadTooLarge(str(exc)) from None
