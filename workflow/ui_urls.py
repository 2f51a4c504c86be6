from django.urls import path

from workflow import ui

app_name = "ui"

urlpatterns = [
    path("", ui.inbox, name="inbox"),
    path("tasks/<int:pk>/", ui.task_detail, name="task"),
]
