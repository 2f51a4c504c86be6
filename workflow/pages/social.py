"""A social round's pages (seed 004; docs/social-round.md): the six steps of a unit's SocialCaseFlow on the
task page (what `templates/ui/task.html` shows for each, the two drafts' saves) and the office's overview
of every unit's materials (`/rounds/{id}/social-materials/`).

The same services as the API (`cases.social.materials`); the services' field errors (`questions[2]`,
`situation.liaison_phone`, `analysis.completion` …) are shown next to the fields they name.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.models import Task

from cases import access
from cases import models as m
from cases.social import selectors as sample_selectors
from cases.social.materials import selectors, services
from cases.social.models import SampleFrame, SampleListKind
from workflow.deadlines.rules import phase_due
from workflow.pages import forms
from workflow.steps import step_named

# The analysis's three parts as 附件9–11 name them.
ANALYSIS_LABELS = {"completion": gettext_lazy("重点工作任务完成情况"), "innovation": gettext_lazy("工作创新和亮点"),
                   "weaknesses": gettext_lazy("工作难点和薄弱环节")}
SOCIAL_STEPS = ("samples", "questionnaire", "questionnaire_review", "situation", "analysis", "analysis_sign")


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """The services' error keys as the template reads them: `situation.liaison_phone` → `liaison_phone`,
    `analysis.completion` → `completion`, `questions[2]` → `question_2`; others as they are."""
    if not hasattr(exc, "error_dict"):
        return {}
    out: dict[str, list[str]] = {}
    for key, msgs in exc.message_dict.items():
        name = key.split(".", 1)[1] if key.startswith(("situation.", "analysis.")) else key
        if name.startswith("questions[") and name.endswith("]"):
            name = f"question_{name[len('questions['):-1]}"
        out.setdefault(name, []).extend(msgs)
    return out


def _case(request, task: Task) -> m.Case:
    return get_object_or_404(access.visible(m.Case, request.user).select_related("round", "unit"),
                             pk=task.process.data.get("case"))


def save_questionnaire(request, task: Task) -> None:
    """保存草稿 on the questionnaire's page (the same service as PUT /api/v1/cases/{id}/questionnaire/)."""
    case = _case(request, task)
    form = forms.QuestionnaireForm(request.POST)
    form.is_valid()  # text fields only: always valid
    services.questionnaire_save(user=request.user, case=case, topic=form.cleaned_data["topic"],
                                questions=form.questions())
    messages.success(request, _("已保存问卷草稿。"))


def save_analysis(request, task: Task) -> None:
    """保存草稿 on the analysis's page (the same service as PUT /api/v1/cases/{id}/performance-analysis/)."""
    case = _case(request, task)
    form = forms.AnalysisForm(request.POST)
    form.is_valid()
    services.analysis_save(user=request.user, case=case, data=form.analysis())
    messages.success(request, _("已保存绩效分析草稿。"))


def _sample_lists(case: m.Case) -> list[dict[str, Any]]:
    """The two lists the unit owes, their current counts against the minimums."""
    current = {f.kind: f for f in SampleFrame.objects.filter(round=case.round, unit=case.unit, is_current=True)}
    rows = []
    for kind in sample_selectors.required_kinds(case.round, case.unit):
        frame = current.get(kind)
        minimum = sample_selectors.minimum_for(case.round, case.unit, kind)
        rows.append({"label": SampleListKind(kind).label, "rows": frame.row_count if frame else 0,
                     "version": frame.version if frame else None, "minimum": minimum,
                     "ok": frame is not None and frame.row_count >= minimum})
    return rows


def task_context(case: m.Case, step: str, posted: Any, errors: dict[str, list[str]]) -> dict[str, Any]:
    """What the page of a social step shows: the unit's materials, the draft as saved (or as posted, when
    the post was refused), and the errors by field."""
    materials = selectors.materials_of(case)
    context: dict[str, Any] = {"social": materials, "field_errors": errors,
                               "analysis_limit": services.ANALYSIS_LIMIT, "min_questions": services.MIN_QUESTIONS}
    questionnaire = materials["questionnaire"] or {"topic": "", "questions": [], "status": "", "review_comment": ""}
    if step == "questionnaire":
        if posted is not None:
            form = forms.QuestionnaireForm(posted)
            form.is_valid()
            topic, questions = form.cleaned_data.get("topic", ""), form.questions()
        else:
            topic, questions = questionnaire["topic"], list(questionnaire["questions"])
        count = max(forms.QUESTION_ROWS, len(questions) + 2)
        context["topic"] = topic
        context["question_rows"] = [
            {"n": n, "text": questions[n] if n < len(questions) else "", "errors": errors.get(f"question_{n}", [])}
            for n in range(count)]
    analysis = materials["analysis"] or {name: "" for name in forms.ANALYSIS_FIELDS}
    if step in ("analysis", "analysis_sign"):
        parts = {name: analysis.get(name, "") for name in forms.ANALYSIS_FIELDS}
        if step == "analysis" and posted is not None:
            parts = {name: posted.get(name, "") for name in forms.ANALYSIS_FIELDS}
        context["analysis_parts"] = [
            {"name": name, "label": ANALYSIS_LABELS[name], "text": parts[name],
             "errors": errors.get(name, [])}
            for name in forms.ANALYSIS_FIELDS]
        context["analysis_used"] = services.analysis_chars(parts)
        context["analysis_over"] = context["analysis_used"] > services.ANALYSIS_LIMIT
    if step == "situation":
        saved = materials["situation"] or {}
        source = posted if posted is not None else saved
        context["situation_values"] = {name: source.get(name, "") or "" for name in forms.SITUATION_FIELDS}
    if step == "samples":
        context["sample_lists"] = _sample_lists(case)
        context["sample_problems"] = sample_selectors.delivery_problems(case.round, case.unit)
    return context


MATERIALS = [(value, label) for value, label in m.Material.choices]


@login_required
def round_social_materials(request, pk):
    """The office's overview of a social round: per unit, each material delivered (on time or late) or not
    yet, and where the questionnaire and the analysis stand."""
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    if not access.sees_everything(request.user):
        raise PermissionDenied(_("只有考核办可以查看各单位的材料报送情况。"))
    rows = selectors.round_overview(round) if round.kind == m.RoundKind.SOCIAL else []
    statuses = dict(m.DraftStatus.choices)
    for row in rows:
        row["cells"] = [row["materials"][value] for value, _label in MATERIALS]
        row["questionnaire_label"] = statuses.get(row["questionnaire"]) if row["questionnaire"] else None
        row["analysis_label"] = statuses.get(row["analysis"]) if row["analysis"] else None
    return render(request, "ui/social_materials.html", {
        "round": round, "rows": rows, "materials": MATERIALS,
        "late_deduction": selectors.late_deduction(round),
        "late_count": sum(1 for row in rows for cell in row["cells"] if cell["late"]),
    })


def case_materials_context(case: m.Case) -> dict[str, Any]:
    """A social unit's case and task pages: each material's delivery against its due, the two drafts' states
    (in place of the self-assessment, inspections and findings a social round does not have)."""
    deliveries = {d.material: d for d in m.MaterialDelivery.objects.filter(case=case)}
    rows = []
    for value, label in m.Material.choices:
        delivery = deliveries.get(value)
        # Not yet delivered: the due of its step's phase (each material is delivered by the step of its name).
        step = step_named(value)
        due = delivery.due if delivery is not None else phase_due(case.round, step.node) if step else None
        rows.append((label, delivery, due))
    return {
        "social_deliveries": rows,
        "social_questionnaire": m.Questionnaire.objects.filter(case=case).first(),
        "social_analysis": m.PerformanceAnalysis.objects.filter(case=case).first(),
    }
