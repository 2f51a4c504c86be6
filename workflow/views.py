"""Engine-facing views. Task pages are ours (`workflow.pages`); viewflow's node views just send users there."""

from django.shortcuts import redirect


def task_redirect_view(request, **kwargs):
    return redirect("ui:task", pk=kwargs["task_pk"])
