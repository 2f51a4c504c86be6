from django.urls import path

from workflow.pages import evaluation, imports, party_building, publication, samples, social, views

app_name = "ui"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
    path("tasks/<int:pk>/attachments/", views.task_attachment, name="task_attachment"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/self-check/", party_building.case_self_check, name="case_self_check"),
    path("cases/<int:pk>/bonus-declarations/", party_building.case_declarations, name="case_declarations"),
    path("groups/<int:pk>/self-check/", party_building.group_self_check, name="group_self_check"),
    path("groups/<int:pk>/recommendations/", party_building.group_recommendations, name="group_recommendations"),
    path("rounds/", views.round_list, name="rounds"),
    path("rounds/<int:pk>/", views.round_detail, name="round"),
    path("rounds/<int:pk>/dashboard/", views.round_dashboard, name="dashboard"),
    path("rounds/<int:pk>/urge/", views.round_urge, name="urge"),
    path("rounds/<int:pk>/publication/", publication.round_publication, name="publication"),
    path("rounds/<int:pk>/leader-evaluation/", evaluation.round_leader_evaluation, name="leader_evaluation"),
    path("rounds/<int:pk>/sample-frames/", samples.sample_frames_page, name="sample_frames"),
    path("rounds/<int:pk>/social-materials/", social.round_social_materials, name="social_materials"),
    path("audit/", views.audit_log, name="audit"),
    path("imports/", imports.import_page, name="imports"),
    path("rectifications/", views.rectification_list, name="rectifications"),
    path("rectifications/<int:pk>/", views.rectification_detail, name="rectification"),
]
