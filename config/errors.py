"""Error responses outside the views: URLs that match nothing, bodies over the size limit, crashes.

Under /api/ every error is the API's JSON shape ({"detail": "…"}, see cases.api.errors), never an HTML
page; elsewhere the product's own Chinese pages (templates/400.html …). Django calls these for what no
view handled: a 404 of the URL resolver, a SuspiciousOperation (a body over DATA_UPLOAD_MAX_MEMORY_SIZE
is one: answered 413), an unhandled exception (500).
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _json(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status, json_dumps_params={"ensure_ascii": False})


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
        if _is_api(request):
            return _json(_("请求内容过大。"), 413)
        return render(request, "413.html", status=413)
    if _is_api(request):
        return _json(_("请求有误。"), 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json(_("您没有执行该操作的权限。"), 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json(_("未找到。"), 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _json(_("服务器内部错误，已记录。"), 500)
    return defaults.server_error(request)


def locked_out(request: HttpRequest, original_response: HttpResponse | None = None,
               credentials: dict[str, str] | None = None) -> HttpResponse:
    """django-axes' answer to a login attempt of a locked-out username and address (429)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    detail = _("登录失败次数过多，账号已临时锁定，请 %(minutes)d 分钟后再试，或联系考核办解锁。") % {"minutes": minutes}
    if _is_api(request):
        return _json(detail, 429)
    return render(request, "429.html", {"detail": detail}, status=429)
