"""The notifications page: my messages (all or unread), mark one or all read, my channels.
Same rules and services as the API; another person's notification is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from notifications import selectors, services


@login_required
def notification_list(request):
    show = "unread" if request.GET.get("show") == "unread" else "all"
    qs = selectors.notifications_for(request.user)
    if show == "unread":
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {
        "show": show, "page": page, "preference": selectors.preference_for(request.user),
    })


@login_required
@require_POST
def notification_read(request, pk):
    notification = get_object_or_404(selectors.notifications_for(request.user), pk=pk)
    services.notification_mark_read(user=request.user, notification=notification)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("notifications:list")


@login_required
@require_POST
def notification_read_all(request):
    count = services.notifications_mark_all_read(user=request.user)
    messages.success(request, _("已将 %(count)s 条通知标为已读。") % {"count": count})
    return redirect("notifications:list")


@login_required
@require_POST
def preferences_save(request):
    services.preference_update(
        user=request.user,
        email_enabled=request.POST.get("email_enabled") == "on",
        sms_enabled=request.POST.get("sms_enabled") == "on",
        daily_digest=request.POST.get("daily_digest") == "on",
    )
    messages.success(request, _("已保存通知设置。"))
    return redirect("notifications:list")
