"""Server-rendered pages: inbox, task pages, case pages with their flow diagram, rounds.

Same rules as the API: rows come from `restrict(user)` / `selectors.tasks_for`, writes go through
the same services, and their errors are shown on the page instead of a JSON body.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.models import Task

from cases import access
from cases import models as m
from cases import services as case_services
from cases.errors import Conflict
from cases.scoring import results, round_config
from workflow import dashboard, deadlines, selectors, services
from workflow.flows import CaseFlow, RoundFlow

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
        "dues": deadlines.dues_of(t.pk for t in tasks),
    }


def _row(task, ctx) -> dict:
    data = task.process.data
    round = ctx["rounds"].get(data.get("round"))
    case = ctx["cases"].get(data.get("case"))
    due = ctx.get("dues", {}).get(task.pk)  # the effective due, extensions included
    if due is None and round is not None:
        due = deadlines.phase_due(round, task.flow_task.name)
    return {
        "task": task,
        "title": task.flow_task.task_title,
        "round": round,
        "case": case,
        "due": due,
        "light": deadlines.traffic_light(due, task.finished),
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
    return render(request, "ui/inbox.html", {
        "scope": scope,
        "scopes": [(name, label, counts.get(name)) for name, label in SCOPES],
        "rows": [_row(t, ctx) for t in page.object_list],
        "page": page,
    })


def _visible_task(user, pk) -> Task:
    return get_object_or_404(selectors.tasks_for(user, "all").select_related("process", "owner"), pk=pk)


def _form_data(request, step: str) -> dict:
    """Turn the posted form into the action payload the service expects."""
    post = request.POST
    data = {"comment": post.get("comment", "")}
    if step == "prepare":
        data["report"] = post.get("report", "")
    if step == "score":
        codes = sorted({key.split("__", 1)[1] for key in post if key.split("__", 1)[0] in ("deduction", "bonus", "reason")
                        and "__" in key})
        items = [
            {
                "item": code,
                "deduction": post.get(f"deduction__{code}") or "0",
                "bonus": post.get(f"bonus__{code}") or "0",
                "reason": post.get(f"reason__{code}", ""),
            }
            for code in codes
        ]
        data["items"] = items
        data["reason"] = post.get("reason", "")
    if step == "review":
        data["sheets"] = [int(pk) for pk in post.getlist("sheets") if pk.isdigit()]
        data["grade"] = post.get("grade", "")
    return data


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{field}: {msg}" if field != "__all__" else msg
                for field, msgs in exc.message_dict.items() for msg in msgs]
    return exc.messages


def _handle_post(request, task: Task, step: str):
    """Run the posted action; returns an error list, or None on success."""
    action = request.POST.get("action")
    user = request.user
    case_id = task.process.data.get("case")
    try:
        if action == "claim":
            services.task_claim(user=user, task_id=task.pk)
        elif action == "unclaim":
            services.task_unclaim(user=user, task_id=task.pk)
        elif action == "save" and step == "prepare":
            case = get_object_or_404(m.Case.objects.restrict(user), pk=case_id)
            case_services.submission_save(user=user, case=case, report=request.POST.get("report", ""))
            messages.success(request, _("已保存草稿。"))
        elif action == "save" and step == "score":
            if task.owner_id != user.pk:
                raise PermissionDenied(_("只能填写本人的评分表。"))
            case = get_object_or_404(m.Case.objects.restrict(user), pk=case_id)
            sheet = case_services.score_sheet_open(case=case, expert=user)
            data = _form_data(request, step)
            case_services.score_sheet_save(user=user, sheet=sheet, items=data["items"], reason=data["reason"])
            messages.success(request, _("已保存评分。"))
        elif action == "add_inspection":
            case = get_object_or_404(m.Case.objects.restrict(user), pk=case_id)
            post = request.POST
            case_services.inspection_record_create(
                user=user, case=case, method=post.get("method", ""), date=post.get("date") or None,
                place=post.get("place", ""), participants=post.get("participants", ""), notes=post.get("notes", ""),
            )
        elif action == "add_finding":
            case = get_object_or_404(m.Case.objects.restrict(user), pk=case_id)
            post = request.POST
            item = case.round.rubric.items.filter(code=post.get("item")).first() if post.get("item") else None
            case_services.finding_create(
                user=user, case=case, source=post.get("source", ""), description=post.get("description", ""),
                item=item, severity=post.get("severity") or m.Severity.LOW,
                deduction_amount=case_services.parse_points(post.get("deduction_amount") or "0", "deduction_amount"),
                requires_rectification=bool(post.get("requires_rectification")), veto=bool(post.get("veto")),
            )
        elif action in ("submit", "approve", "return"):
            services.task_act(user=user, task_id=task.pk, action=action, data=_form_data(request, step))
            messages.success(request, _("已办理：%(title)s") % {"title": task.flow_task.task_title})
            return None
        else:
            return [_("未知操作。")]
    except ValidationError as exc:
        return _errors(exc)
    except (PermissionDenied, Conflict) as exc:
        return [str(exc)]
    return None


@login_required
def task_detail(request, pk):
    task = _visible_task(request.user, pk)
    step = task.flow_task.name
    errors = None
    if request.method == "POST":
        errors = _handle_post(request, task, step)
        if errors is None:
            if request.POST.get("action") in ("submit", "approve", "return"):
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
        "actions": services.STEP_ACTIONS.get(step, ()) if services.can_act(request.user, task) else (),
        "mine": task.owner_id == request.user.pk,
    }
    case = row["case"]
    if case is not None:
        context.update(_case_context(request.user, case))
        if step == "score" and task.owner_id == request.user.pk:
            sheet = case_services.score_sheet_open(case=case, expert=request.user)
            context["sheet"] = sheet
            context["sheet_rows"] = _sheet_rows(case, sheet)
    if task.flow_task.flow_class is RoundFlow and row["round"] is not None:
        context.update(_round_context(row["round"]))
    return render(request, "ui/task.html", context)


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
        "sheets": m.ScoreSheet.objects.restrict(user).filter(case=case).select_related("expert"),
        "methods": m.InspectionMethod.choices,
        "sources": m.FindingSource.choices,
        "severities": m.Severity.choices,
        "items": case.round.rubric.items.order_by("section__position", "position"),
        "can_inspect": access.can_record_inspection(user, case),
        "grade_bands": round_config.grade_names(case.round.config),
        "char_limit": case.round.report_char_limit,
    }


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
    }


@login_required
def case_detail(request, pk):
    case = get_object_or_404(m.Case.objects.restrict(request.user).select_related("unit", "group", "round"), pk=pk)
    process = selectors.case_process(case.pk)
    history = []
    if process is not None:
        history = (Task.objects.filter(process=process, flow_task_type=selectors.HUMAN)
                   .select_related("owner").order_by("created", "pk"))
    context = _case_context(request.user, case)
    context.update({"history": history, "diagram": mark_safe(selectors.flow_svg(CaseFlow, process.pk)) if process else ""})
    return render(request, "ui/case.html", context)


@login_required
def round_list(request):
    rounds = m.Round.objects.restrict(request.user).annotate(case_count=Count("cases"))
    return render(request, "ui/rounds.html", {"rounds": rounds, "can_dashboard": access.sees_everything(request.user)})


@login_required
def round_detail(request, pk):
    round = get_object_or_404(m.Round.objects.restrict(request.user), pk=pk)
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
    cases = m.Case.objects.restrict(request.user).filter(round=round).select_related("unit", "group")
    by_status = dict(cases.values_list("status").annotate(n=Count("pk")).order_by())
    progress = [(label, by_status.get(value, 0)) for value, label in m.CaseStatus.choices if value != "draft"]
    return render(request, "ui/round.html", {
        "round": round, "cases": cases, "progress": progress, "errors": errors,
        "can_launch": round.status == m.RoundStatus.DRAFT and access.is_office(request.user),
    })


@login_required
def audit_log(request):
    """The audit log, for the office and the auditor."""
    if not access.can_read_audit(request.user):
        raise PermissionDenied
    entries = m.AuditEntry.objects.restrict(request.user).select_related("actor", "round")
    if request.GET.get("round", "").isdigit():
        entries = entries.filter(round_id=request.GET["round"])
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    return render(request, "ui/audit.html", {"page": page})



@login_required
def round_dashboard(request, pk):
    """The office's view of a round: traffic lights, progress, overdue, upcoming, completion."""
    if not access.sees_everything(request.user):
        raise PermissionDenied
    round = get_object_or_404(m.Round.objects.restrict(request.user), pk=pk)
    data = dashboard.round_dashboard(round)
    return render(request, "ui/dashboard.html", {
        "round": round, **data, "chart": mark_safe(dashboard.completion_svg(data["completion"])),
        "can_urge": access.is_office(request.user),
    })


@login_required
def round_urge(request, pk):
    if request.method != "POST":
        return redirect("ui:dashboard", pk=pk)
    round = get_object_or_404(m.Round.objects.restrict(request.user), pk=pk)
    try:
        sent = dashboard.round_urge_overdue(user=request.user, round_id=round.pk)
        messages.success(request, _("已催办，发出%(n)s条通知。") % {"n": sent})
    except (PermissionDenied, Conflict) as exc:
        messages.error(request, str(exc))
    return redirect("ui:dashboard", pk=round.pk)
