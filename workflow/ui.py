"""Server-rendered pages (Chinese by default): inbox, task pages."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def inbox(request):
    return HttpResponse("inbox")


@login_required
def task_detail(request, pk):
    return HttpResponse("task")
