"""Server-rendered pages: inbox, task pages, case pages with their flow diagram, rounds, the office
dashboard, the audit log.

Same rules as the API: rows come from `access.visible(Model, user)` / `selectors.tasks_for`, POSTs are read by
forms (`workflow.pages.forms`), writes go through the same services, and their errors are shown on
the page instead of a JSON body.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.models import Task

from cases import access, round_templates
from cases import models as m
from cases.errors import Conflict
from cases.objections import selectors as objection_selectors
from cases.party_building import selectors as party_selectors
from cases.party_building import selfcheck
from cases.rectification import services as rectification_services
from cases.scoring import results, round_config
from cases.services import inspections, submissions
from cases.services import rounds as round_services
from cases.services import sheets as sheet_services
from cases.uploads import mebibytes
from workflow import selectors, services
from workflow.deadlines import dashboard
from workflow.deadlines.rules import phase_due, traffic_light
from workflow.deadlines.selectors import dues_of
from workflow.flows import CaseFlow, RectificationFlow, RoundFlow, SocialCaseFlow
from workflow.pages import audit_display, forms, social
from workflow.steps import actions_of

QUEUE_ON_LANDING = 20
SCOPES = [("inbox", gettext_lazy("我的待办")), ("queue", gettext_lazy("可认领")), ("archive", gettext_lazy("已办"))]


def task_context(tasks) -> dict:
    """The rounds and cases (as instances: the pages follow them) a page of tasks refers to, and the
    tasks' dues, in three queries."""
    data = [t.process.data for t in tasks]
    # order_by(): the models' default orderings would join cases_round and sort for nothing here.
    return {
        "cases": m.Case.objects.select_related("unit", "group").order_by().in_bulk(
            {d["case"] for d in data if "case" in d}),
        "rounds": m.Round.objects.order_by().in_bulk({d["round"] for d in data if "round" in d}),
        "dues": dues_of(t.pk for t in tasks),
    }


def _row(task, ctx) -> dict:
    data = task.process.data
    round = ctx["rounds"].get(data.get("round"))
    case = ctx["cases"].get(data.get("case"))
    due = ctx.get("dues", {}).get(task.pk)  # the effective due, extensions included
    if due is None and round is not None:
        due = phase_due(round, task.flow_task)
    return {
        "task": task,
        "title": task.flow_task.task_title,
        "round": round,
        "case": case,
        "due": due,
        "light": traffic_light(due, task.finished),
    }


@login_required
def inbox(request):
    scope = request.GET.get("scope", "inbox")
    if scope not in dict(SCOPES):
        scope = "inbox"
    qs = selectors.tasks_for(request.user, scope).select_related("process").order_by("-created", "-pk")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    ctx = task_context(page.object_list)
    counts = {name: selectors.tasks_for(request.user, name).count() for name, _ in SCOPES[:2]}
    claimable = []
    if scope == "inbox" and counts["queue"]:
        # The landing page shows the work waiting to be claimed too: most people's work starts there
        # (a role's task is queued until someone takes it), and an empty 我的待办 read as "nothing to do".
        queued = list(selectors.tasks_for(request.user, "queue").select_related("process")
                      .order_by("created", "pk")[:QUEUE_ON_LANDING])
        queue_ctx = task_context(queued)
        claimable = [_row(t, queue_ctx) for t in queued]
    return render(request, "ui/inbox.html", {
        "scope": scope,
        "scopes": [(name, label, counts.get(name)) for name, label in SCOPES],
        "rows": [_row(t, ctx) for t in page.object_list],
        "page": page,
        "claimable": claimable,
        "queue_count": counts["queue"],
    })


def _visible_task(user, pk) -> Task:
    return get_object_or_404(selectors.tasks_for(user, "all").select_related("process", "owner"), pk=pk)


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{field}: {msg}" if field != "__all__" else msg
                for field, msgs in exc.message_dict.items() for msg in msgs]
    return exc.messages


def _valid(form):
    """The form's cleaned data, or its errors raised as the services raise theirs."""
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    return form


def _case_of(request, task: Task) -> m.Case:
    return get_object_or_404(access.visible(m.Case, request.user), pk=task.process.data.get("case"))


def _claim(request, task: Task) -> None:
    services.task_claim(user=request.user, task_id=task.pk)


def _unclaim(request, task: Task) -> None:
    services.task_unclaim(user=request.user, task_id=task.pk)


def _save_report(request, task: Task) -> None:
    case = _case_of(request, task)
    form = _valid(forms.PrepareForm(request.POST))
    submissions.submission_save(user=request.user, case=case, report=form.cleaned_data["report"])
    messages.success(request, _("已保存草稿。"))


def _save_sheet(request, task: Task) -> None:
    user = request.user
    if task.owner_id != user.pk:
        raise PermissionDenied(_("只能填写本人的评分表。"))
    case = _case_of(request, task)
    sheet = sheet_services.score_sheet_open(case=case, expert=user)
    form = _valid(forms.ScoreForm(request.POST))
    sheet_services.score_sheet_save(user=user, sheet=sheet, items=form.items(), reason=form.cleaned_data["reason"])
    messages.success(request, _("已保存评分。"))


def _rectification_of(request, task: Task) -> m.Rectification:
    return get_object_or_404(access.visible(m.Rectification, request.user), pk=task.process.data.get("rectification"))


def _save_plan(request, task: Task) -> None:
    rect = _rectification_of(request, task)
    form = _valid(forms.PlanForm(request.POST))
    rectification_services.plan_save(user=request.user, rectification=rect, target=form.cleaned_data["target"],
                                      measures=form.measures())
    messages.success(request, _("已保存整改方案草稿。"))


def _report_progress(request, task: Task) -> None:
    rect = _rectification_of(request, task)
    if not services.can_act(request.user, task):
        raise PermissionDenied(_("您无权办理此任务。"))
    form = _valid(forms.ReportForm(request.POST))
    rectification_services.report_progress(user=request.user, rectification=rect, text=form.cleaned_data["report"],
                                           evidence_ids=form.cleaned_data["evidence_ids"])
    messages.success(request, _("已报送整改进展。"))


def _add_inspection(request, task: Task) -> None:
    case = _case_of(request, task)
    form = _valid(forms.InspectionForm(request.POST))
    inspections.inspection_record_create(user=request.user, case=case, **form.fields_for_service())


def _add_finding(request, task: Task) -> None:
    case = _case_of(request, task)
    form = _valid(forms.FindingForm(request.POST))
    inspections.finding_create(user=request.user, case=case, **form.fields_for_service(case))


def _act(request, task: Task) -> None:
    """submit / approve / return: complete the task (its step's handler does the work)."""
    form = _valid(forms.action_form(task.flow_task, request.POST))
    services.task_act(user=request.user, task_id=task.pk, action=request.POST["action"], data=form.payload())
    messages.success(request, _("已办理：%(title)s") % {"title": task.flow_task.task_title})


# What each posted `action` does. Drafts are saved where a step's page has one.
POST_ACTIONS = {
    "claim": _claim,
    "unclaim": _unclaim,
    "add_inspection": _add_inspection,
    "add_finding": _add_finding,
    "progress": _report_progress,
    "submit": _act,
    "approve": _act,
    "return": _act,
}
SAVE_ACTIONS = {CaseFlow.prepare: _save_report, CaseFlow.score: _save_sheet, RectificationFlow.plan: _save_plan,
                SocialCaseFlow.questionnaire: social.save_questionnaire, SocialCaseFlow.analysis: social.save_analysis}
# After these the task is done: back to the inbox. After the others: the task's page again.
COMPLETING = ("submit", "approve", "return")


def _handle_post(request, task: Task) -> tuple[list[str] | None, int, dict[str, list[str]]]:
    """Run the posted action; returns an error list (None on success), the page's status and the errors
    by field (for the pages that show them beside their fields): the page is shown again with the
    errors, as 403 when the user may not do this, 409 when someone else did it first (what the API
    answers too)."""
    action = request.POST.get("action")
    if action == "save":
        run = SAVE_ACTIONS.get(task.flow_task)
    else:
        run = POST_ACTIONS.get(action)
    if run is None:
        return [_("未知操作。")], 400, {}
    try:
        run(request, task)
    except ValidationError as exc:
        return _errors(exc), 200, social.field_errors(exc)
    except PermissionDenied as exc:
        return [str(exc)], 403, {}
    except Conflict as exc:
        return [str(exc)], 409, {}
    return None, 200, {}


@login_required
def task_detail(request, pk):
    task = _visible_task(request.user, pk)
    step = task.flow_task.name
    errors, status, by_field = None, 200, {}
    if request.method == "POST":
        errors, status, by_field = _handle_post(request, task)
        if errors is None:
            if request.POST.get("action") in COMPLETING:
                return redirect("ui:inbox")
            return redirect("ui:task", pk=task.pk)
    ctx = task_context([task])
    row = _row(task, ctx)
    context = {
        "row": row,
        "task": task,
        "step": step,
        "errors": errors,
        "posted": request.POST if errors else None,
        "actions": actions_of(task.flow_task) if services.can_act(request.user, task) else (),
        "mine": task.owner_id == request.user.pk,
    }
    case = row["case"]
    if case is not None:
        context.update(_case_context(request.user, case))
        if task.flow_task.flow_class is SocialCaseFlow and step in social.SOCIAL_STEPS:
            context.update(social.task_context(case, step, request.POST if errors else None, by_field))
        if step == "score" and task.owner_id == request.user.pk:
            sheet = sheet_services.score_sheet_open(case=case, expert=request.user)
            context["sheet"] = sheet
            context["sheet_rows"] = _sheet_rows(case, sheet)
    if task.flow_task.flow_class is RoundFlow and row["round"] is not None:
        context.update(_round_context(row["round"]))
    if task.flow_task.flow_class is RectificationFlow:
        context.update(_rectification_context(request.user, task.process.data["rectification"]))
    return render(request, "ui/task.html", context, status=status)


def _rectification(user, rectification_id: int) -> m.Rectification:
    return get_object_or_404(
        access.visible(m.Rectification, user)
        .select_related("round", "unit", "group", "finding__item", "recurring_of__round", "verified_by")
        .prefetch_related("measures", "reports__evidence", "reviews__reviewer"), pk=rectification_id)


@login_required
def rectification_detail(request, pk):
    """One rectification as its people and the office read it: problem, plan, reports, reviews, its open task."""
    rect = _rectification(request.user, pk)
    errors = None
    if request.method == "POST":  # the office moves its dates, or records the publication once it is closed
        try:
            if request.POST.get("form") == "dues":
                form = _valid(forms.DuesForm(request.POST))
                rectification_services.dues_change(user=request.user, rectification=rect, **form.cleaned_data)
                messages.success(request, _("已调整整改期限。"))
            else:
                form = _valid(forms.PublicationForm(request.POST))
                rectification_services.publication_record(user=request.user, rectification=rect,
                                                          **form.cleaned_data)
                messages.success(request, _("已登记公示。"))
            return redirect("ui:rectification", pk=rect.pk)
        except ValidationError as exc:
            errors = _errors(exc)
        except (PermissionDenied, Conflict) as exc:
            errors = [str(exc)]
    task = (selectors.tasks_for(request.user, "all")
            .filter(process__flow_class=RectificationFlow, process__data__rectification=rect.pk,
                    status__in=selectors.OPEN).first())
    return render(request, "ui/rectification.html", {
        "rect": rect, "task": task, "errors": errors,
        "can_publish": access.is_office(request.user) and rect.status == m.RectificationStatus.CLOSED,
        "can_move_dues": access.is_office(request.user) and rect.status != m.RectificationStatus.CLOSED,
    })


def _rectification_context(user, rectification_id: int) -> dict:
    """A rectification's task page: the rectification with its plan, reports and reviews, the files a
    report may cite (entered once), and blank rows for new measures."""
    rect = _rectification(user, rectification_id)
    measures = list(rect.measures.all())
    evidence = (access.visible(m.Attachment, user).filter(rectification_services.evidence_allowed(rect))
                .order_by("uploaded_at", "pk"))
    return {
        "rect": rect,
        "measure_rows": [*measures, *[None] * forms.MEASURE_ROWS][: max(len(measures) + 3, 3)],
        "evidence_choices": evidence,
        "min_due": timezone.localdate().isoformat(),
    }


def _sheet_rows(case: m.Case, sheet: m.ScoreSheet) -> list[dict]:
    scores = {s.item_id: s for s in sheet.item_scores.all()}
    return [{"item": item, "score": scores.get(item.pk)}
            for item in case.round.rubric.items.select_related("section").order_by("section__position", "position")]


def _case_context(user, case: m.Case) -> dict:
    return {
        "case": case,
        "submissions": case.submissions.order_by("-attempt"),
        "inspections": case.inspections.all(),
        "findings": case.findings.select_related("item"),
        "sheets": access.visible(m.ScoreSheet, user).filter(case=case).select_related("expert"),
        "attachments": access.visible(m.Attachment, user).filter(case=case).prefetch_related("items")
        .order_by("uploaded_at", "pk"),
        "upload_extensions": ", ".join(f".{e}" for e in settings.UPLOAD_ALLOWED_EXTENSIONS),
        "upload_max": mebibytes(settings.UPLOAD_MAX_BYTES),
        "methods": m.InspectionMethod.choices,
        "sources": m.FindingSource.choices,
        "severities": m.Severity.choices,
        "items": case.round.rubric.items.order_by("section__position", "position"),
        "can_inspect": access.can_record_inspection(user, case),
        "grade_bands": round_config.grade_names(case.round.config),
        "char_limit": case.round.report_char_limit,
        **_grade_first_context(case),
        **_party_building_context(user, case),
        **(social.case_materials_context(case) if case.round.kind == m.RoundKind.SOCIAL else {}),
    }


def _party_building_context(user, case: m.Case) -> dict:
    """Seed 001's section of the case pages: the self-check table (shortfalls highlighted), links to the
    declared bonus items and the group's recommendation."""
    lines = party_selectors.case_lines(case)
    return {
        "self_check_lines": lines,
        "self_check_total": selfcheck.total_deduction(lines) if lines else None,
        "self_check_editable": lines is not None and case.status == m.CaseStatus.PREPARE,
        "recommendation_rules": party_selectors.recommendation_rules(case.round),
        "can_read_group_work": access.can_read_group_work(user, case.group),
    }


def _grade_first_context(case: m.Case) -> dict:
    """Grade first (seed 000): whether the experts are still proposing, the decided grade's band, and the
    panel's proposals counted by grade for the group leader."""
    config = case.round.config or {}
    if not round_config.grade_first(config):
        return {}
    band = round_config.grade_band(config, case.proposed_grade, case.round.rubric.total_max)
    proposals = [s for s in case.score_sheets.select_related("expert").order_by("expert_id", "attempt")
                 if s.proposed_grade]
    tally = {g: sum(1 for s in proposals if s.proposed_grade == g) for g in round_config.grade_names(config)}
    return {"grade_first": True, "proposing": not case.proposed_grade, "band": band, "proposals": proposals,
            "proposal_tally": tally}


def _round_context(round: m.Round) -> dict:
    """The compile / approve / report pages: the ranking table, grade distribution, group means."""
    cases = {c.pk: c for c in round.cases.select_related("unit", "group")}
    stored = list(m.Result.objects.filter(round=round).select_related("case"))
    preview, problems = False, []
    if not stored and all(c.status == m.CaseStatus.DONE for c in cases.values()):
        try:
            computed = results.compute(round)
        except ValidationError as exc:
            problems = _errors(exc)
        else:
            stored, preview = results.result_rows(round, computed), True
    for result in stored:
        result.case = cases[result.case_id]
    return {
        "round_cases": cases.values(),
        "round_obj": round,
        "results": stored,
        "results_preview": preview,
        "results_problems": problems,
        "results_summary": results.summary(round, stored) if stored else None,
        "round_groups": round.groups.order_by("number"),
    }


@login_required
def task_attachment(request, pk):
    """Upload an evidence file from the self-assessment page. Who may upload is checked before the
    request body is read (as the API does): the open prepare task, by the unit's staff who may act on
    it; then the same service as POST /api/v1/attachments/ checks the file."""
    task = _visible_task(request.user, pk)
    if request.method != "POST":
        return redirect("ui:task", pk=task.pk)
    if task.flow_task is not CaseFlow.prepare or not services.can_act(request.user, task):
        raise PermissionDenied(_("只有本单位填报员可以在准备阶段上传佐证材料。"))
    case = _case_of(request, task)  # acting on the prepare task is the unit staff's role (can_act above)
    try:
        form = _valid(forms.EvidenceForm(request.POST, request.FILES))
        attachment = inspections.attachment_create(
            user=request.user, case=case, purpose=m.Attachment.Purpose.EVIDENCE,
            upload=form.cleaned_data["file"], item_codes=form.cleaned_data["items"])
    except ValidationError as exc:
        for error in _errors(exc):
            messages.error(request, error)
    except (PermissionDenied, Conflict) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已上传：%(name)s") % {"name": attachment.original_name})
    return redirect("ui:task", pk=task.pk)


@login_required
def case_detail(request, pk):
    case = get_object_or_404(access.visible(m.Case, request.user).select_related("unit", "group", "round"), pk=pk)
    process = selectors.case_process(case.pk)
    history = []
    if process is not None:
        history = (Task.objects.filter(process=process, flow_task_type=selectors.HUMAN)
                   .select_related("owner").order_by("created", "pk"))
    context = _case_context(request.user, case)
    context.update({"history": history, "diagram": mark_safe(selectors.flow_svg(process.flow_class, process.pk)) if process else ""})
    return render(request, "ui/case.html", context)


@login_required
def round_list(request):
    """The rounds the user may see; the office drafts a new one from a template (考评模板)."""
    errors = None
    if request.method == "POST":
        try:
            form = _valid(forms.RoundFromTemplateForm(request.POST))
            template = round_templates.ready_template(form.cleaned_data["template"])
            if template is None:
                raise ValidationError({"template": [_("请选择考评模板。")]})
            round = round_services.round_create_from_template(
                user=request.user, template=template, year=form.cleaned_data["year"],
                start=form.cleaned_data["start"], title=form.cleaned_data["title"])
            messages.success(request, _("已按模板新建考评轮次（草稿），请设置考评组和单位后启动。"))
            return redirect("ui:round", pk=round.pk)
        except ValidationError as exc:
            errors = _errors(exc)
        except PermissionDenied as exc:
            errors = [str(exc)]
    rounds = access.visible(m.Round, request.user).annotate(case_count=Count("cases"))
    return render(request, "ui/rounds.html", {
        "rounds": rounds, "can_dashboard": access.sees_everything(request.user), "errors": errors,
        "templates": round_templates.ready_templates() if access.is_office(request.user) else (),
        "this_year": timezone.localdate().year,
    })


@login_required
def round_detail(request, pk):
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    errors = None
    if request.method == "POST" and request.POST.get("action") == "launch":
        try:
            services.round_launch(user=request.user, round_id=round.pk)
            messages.success(request, _("已启动考评，各单位已收到准备任务。"))
            return redirect("ui:round", pk=round.pk)
        except ValidationError as exc:
            errors = _errors(exc)
        except (PermissionDenied, Conflict) as exc:
            errors = [str(exc)]
    cases = access.visible(m.Case, request.user).filter(round=round).select_related("unit", "group")
    by_status = dict(cases.values_list("status").annotate(n=Count("pk")).order_by())
    progress = [(label, by_status.get(value, 0)) for value, label in m.CaseStatus.choices if value != "draft"]
    overdue = dashboard.case_overdue_days(round)
    rows = [{"case": c, "overdue_days": overdue.get(c.pk)} for c in cases.order_by("unit__sort_order", "unit__code")]
    return render(request, "ui/round.html", {
        "round": round, "rows": rows, "progress": progress, "errors": errors,
        "can_launch": round.status == m.RoundStatus.DRAFT and access.is_office(request.user),
        "can_dashboard": access.sees_everything(request.user),
    })


@login_required
def audit_log(request):
    """The audit log, for the office and the auditor."""
    if not access.can_read_audit(request.user):
        raise PermissionDenied
    entries = access.visible(m.AuditEntry, request.user).select_related("actor", "round")
    if request.GET.get("round", "").isdigit():
        entries = entries.filter(round_id=request.GET["round"])
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    return render(request, "ui/audit.html", {"page": page, "rows": audit_display.describe(page.object_list)})



@login_required
def round_dashboard(request, pk):
    """The office's view of a round: traffic lights, progress, overdue, upcoming, completion."""
    if not access.sees_everything(request.user):
        raise PermissionDenied
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    data = dashboard.round_dashboard(round)
    return render(request, "ui/dashboard.html", {
        "round": round, **data, "chart": mark_safe(dashboard.completion_svg(data["completion"])),
        "can_urge": access.is_office(request.user),
        "open_objections": objection_selectors.open_counts().get(round.pk, 0),
    })


@login_required
def round_urge(request, pk):
    if request.method != "POST":
        return redirect("ui:dashboard", pk=pk)
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    try:
        sent = dashboard.round_urge_overdue(user=request.user, round_id=round.pk)
        messages.success(request, _("已催办，发出%(n)s条通知。") % {"n": sent})
    except (PermissionDenied, Conflict) as exc:
        messages.error(request, str(exc))
    return redirect("ui:dashboard", pk=round.pk)


@login_required
def rectification_list(request):
    """The rectifications the user may see (a unit its own, a group's leads theirs, the office all), by
    round and status; each with its open task, if the user may see that task, and days overdue."""
    qs = (access.visible(m.Rectification, request.user).select_related("round", "unit", "group", "recurring_of")
          .order_by("-round__prepare_due", "unit__sort_order", "pk"))
    round_id, status = request.GET.get("round", ""), request.GET.get("status", "")
    if round_id.isdigit():
        qs = qs.filter(round_id=int(round_id))
    if status in m.RectificationStatus.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    rects = list(page.object_list)
    open_tasks = {
        t.process.data.get("rectification"): t
        for t in selectors.tasks_for(request.user, "all").filter(
            process__flow_class=RectificationFlow, status__in=selectors.OPEN,
            process__data__rectification__in=[r.pk for r in rects]).select_related("process")
    }
    # Days overdue of the step the rectification is at (the plan's due while planning, the review's, the
    # rectification's own, the verification's), as its task's traffic light counts them.
    today = timezone.localdate()
    dues = {pk: timezone.localdate(due) for pk, due in selectors.rectification_step_dues(r.pk for r in rects).items()}
    rows = [{"rect": r, "task": open_tasks.get(r.pk), "step_due": dues.get(r.pk),
             "overdue": max((today - dues[r.pk]).days, 0) if r.pk in dues else 0}
            for r in rects]
    rounds = access.visible(m.Round, request.user).filter(rectifications__isnull=False).distinct().order_by("-prepare_due")
    return render(request, "ui/rectifications.html", {
        "rows": rows, "page": page, "rounds": rounds, "statuses": m.RectificationStatus.choices,
        "round_id": round_id, "status": status,
    })
