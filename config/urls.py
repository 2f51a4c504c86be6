from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from cases.api import evaluation as evaluation_api
from cases.api import imports as import_api
from cases.api import objections as objection_api
from cases.api import party_building as party_building_api
from cases.api import rectifications as rectification_api
from cases.api import round_templates as round_template_api
from cases.api import social as social_api
from cases.api import social_materials as social_materials_api
from cases.api import views as case_views
from cases.api.tokens import ObtainToken
from cases.rectification import ledger_api as rectification_ledger
from notifications import api as notification_api
from notifications import rectification_ledger as rectification_ledger_page
from notifications.documents import api as document_api
from workflow.api import views as workflow_api

# The admin speaks the product's name, not Django's (translated like every other label).
admin.site.site_header = _("考评工作平台管理后台")
admin.site.site_title = _("考评工作平台")
admin.site.index_title = _("配置与数据")

router = DefaultRouter()
# Tasks first: URLs are matched in order, and the inbox is the most requested endpoint.
router.register("tasks", workflow_api.TaskViewSet, basename="task")
router.register("units", case_views.UnitViewSet, basename="unit")
router.register("rubrics", case_views.RubricViewSet, basename="rubric")
router.register("rounds", case_views.RoundViewSet, basename="round")
router.register("groups", case_views.GroupViewSet, basename="group")
router.register("cases", case_views.CaseViewSet, basename="case")
router.register("submissions", case_views.SubmissionViewSet, basename="submission")
router.register("inspections", case_views.InspectionRecordViewSet, basename="inspection")
router.register("findings", case_views.FindingViewSet, basename="finding")
router.register("score-sheets", case_views.ScoreSheetViewSet, basename="score-sheet")
router.register("attachments", case_views.AttachmentViewSet, basename="attachment")
router.register("results", case_views.ResultViewSet, basename="result")
router.register("special-bonuses", case_views.SpecialBonusViewSet, basename="special-bonus")
router.register("audit", case_views.AuditEntryViewSet, basename="audit")
router.register("bonus-declarations", party_building_api.BonusDeclarationViewSet, basename="bonus-declaration")
router.register("rectifications", rectification_api.RectificationViewSet, basename="rectification")
router.register("objections", objection_api.ObjectionViewSet, basename="objection")
router.register("notifications", notification_api.NotificationViewSet, basename="notification")
router.register("documents", document_api.DocumentViewSet, basename="document")
router.register("document-batches", document_api.DocumentBatchViewSet, basename="document-batch")

api_v1: list[URLPattern | URLResolver] = [
    path("rounds/<int:pk>/launch/", workflow_api.round_launch, name="round-launch"),
    path("rounds/<int:pk>/dashboard/", workflow_api.round_dashboard, name="round-dashboard"),
    path("rounds/<int:pk>/urge/", workflow_api.round_urge, name="round-urge"),
    path("rounds/<int:pk>/extend-phase/", workflow_api.round_extend_phase, name="round-extend-phase"),
    path("rounds/<int:pk>/publication/", objection_api.publication, name="round-publication"),
    path("rounds/<int:pk>/publication/open/", objection_api.publication_open, name="round-publication-open"),
    path("rounds/<int:pk>/publication/finalise/", objection_api.publication_finalise,
         name="round-publication-finalise"),
    path("cases/<int:pk>/extend/", workflow_api.case_extend, name="case-extend"),
    path("cases/<int:pk>/self-check/", party_building_api.case_self_check, name="case-self-check"),
    path("rounds/<int:pk>/leader-evaluators/", evaluation_api.round_evaluators, name="round-leader-evaluators"),
    path("rounds/<int:pk>/leader-evaluation/", evaluation_api.leader_evaluation, name="round-leader-evaluation"),
    path("rounds/<int:pk>/leader-evaluation/submit/", evaluation_api.leader_evaluation_submit,
         name="round-leader-evaluation-submit"),
    path("rounds/<int:pk>/leader-evaluation/compile/", evaluation_api.leader_evaluation_compile,
         name="round-leader-evaluation-compile"),
    path("rounds/<int:pk>/leader-evaluation/approve/", evaluation_api.leader_evaluation_approve,
         name="round-leader-evaluation-approve"),
    path("rounds/<int:pk>/publication-duties/", evaluation_api.publication_duties, name="round-publication-duties"),
    path("cases/<int:pk>/publication-duties/<str:kind>/", evaluation_api.case_publication,
         name="case-publication-duty"),
    path("groups/<int:pk>/self-check/", party_building_api.group_self_check, name="group-self-check"),
    path("groups/<int:pk>/recommendations/", party_building_api.group_recommendations, name="group-recommendations"),
    path("cases/<int:pk>/diagram.svg", workflow_api.case_diagram, name="case-diagram"),
    path("flows/<str:flow>/diagram.svg", workflow_api.flow_diagram, name="flow-diagram"),
    path("auth/token/", ObtainToken.as_view(), name="api-token"),
    path("scoring/compute", case_views.scoring_compute, name="scoring-compute"),
    path("round-templates/", round_template_api.template_list, name="round-templates"),
    path("round-templates/create-round/", round_template_api.create_round, name="round-template-create-round"),
    path("round-templates/<str:code>.yaml", round_template_api.template_file, name="round-template-file"),
    path("rectification-ledger/", rectification_ledger.ledger, name="rectification-ledger"),
    path("rectification-ledger.xlsx", rectification_ledger.ledger_xlsx, name="rectification-ledger-xlsx"),
    path("imports/template.xlsx", import_api.import_template, name="import-template"),
    path("imports/people/", import_api.import_people, name="import-people"),
    path("rounds/<int:pk>/groups/import/", import_api.import_round_groups, name="round-groups-import"),
    path("rounds/<int:pk>/social-materials/", social_materials_api.round_materials, name="round-social-materials"),
    path("cases/<int:pk>/social-materials/", social_materials_api.case_materials, name="case-social-materials"),
    path("cases/<int:pk>/questionnaire/", social_materials_api.case_questionnaire, name="case-questionnaire"),
    path("cases/<int:pk>/performance-analysis/", social_materials_api.case_analysis, name="case-performance-analysis"),
    path("rounds/<int:pk>/sample-frames/", social_api.round_sample_frames, name="round-sample-frames"),
    path("rounds/<int:pk>/sample-frames/duplicates/", social_api.round_sample_duplicates,
         name="round-sample-duplicates"),
    path("rounds/<int:pk>/units/<int:unit>/sample-frames/<str:kind>/", social_api.upload_sample_frame,
         name="sample-frame-upload"),
    path("sample-frames/templates/<str:kind>.xlsx", social_api.sample_frame_template, name="sample-frame-template"),
    path("sample-frames/<int:pk>/rows/", social_api.sample_frame_rows, name="sample-frame-rows"),
    path("sample-frames/<int:pk>/export.xlsx", social_api.sample_frame_export, name="sample-frame-export"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file of its own (no inline script: CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Browsers ask for /favicon.ico whatever the page says; the file lives with the other static files.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.ico"), permanent=True)),
    path("notifications/", include("notifications.urls")),
    path("documents/", include("notifications.documents.urls")),
    path("rectification-ledger/", rectification_ledger_page.ledger_page, name="rectification-ledger-page"),
    path("", include("workflow.pages.urls")),
]

handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
