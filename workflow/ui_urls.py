from django.urls import path

from workflow import ui

app_name = "ui"

urlpatterns = [
    path("", ui.inbox, name="inbox"),
    path("tasks/<int:pk>/", ui.task_detail, name="task"),
    path("cases/<int:pk>/", ui.case_detail, name="case"),
    path("rounds/", ui.round_list, name="rounds"),
    path("rounds/<int:pk>/", ui.round_detail, name="round"),
    path("rounds/<int:pk>/dashboard/", ui.round_dashboard, name="dashboard"),
    path("rounds/<int:pk>/urge/", ui.round_urge, name="urge"),
    path("audit/", ui.audit_log, name="audit"),
]
