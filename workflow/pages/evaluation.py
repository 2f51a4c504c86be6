"""Seed 004's leader evaluation and publication duties page of a social round (docs/leader-evaluation.md):
an evaluator fills one anonymous form per unit; the office sees participation counts, means per unit
and every unit's publication duties with the red flags, and compiles the component; a unit's staff or
head record where and since when the unit published. Same services as the API."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from cases import access
from cases import models as m
from cases.evaluation import selectors, services
from cases.services.common import parse_int
from workflow.pages.actions import run_action


def _own_cases(user, round: m.Round) -> list[m.Case]:
    return [c for c in round.cases.filter(unit_id__in=access.unit_ids(user)).select_related("unit")
            if access.is_unit_member(user, c.unit_id, m.UnitRole.STAFF)
            or access.is_unit_member(user, c.unit_id, m.UnitRole.HEAD)]


def _submit(request, round: m.Round) -> None:
    if not selectors.is_evaluator(request.user, round):
        raise PermissionDenied(_("只有考核办指定的领导评价人可以填写领导评价表。"))
    case = round.cases.select_related("round", "unit").filter(
        pk=parse_int(request.POST.get("case", ""), "case", min_value=1)).first()
    if case is None:
        raise ValidationError({"case": [_("不是本轮次的考评对象。")]})
    services.form_submit(user=request.user, case=case, score=request.POST.get("score", ""))
    messages.success(request, _("领导评价表已提交。"))


def _record(request, round: m.Round) -> None:
    cases = {c.pk: c for c in _own_cases(request.user, round)}
    if not cases:
        raise PermissionDenied(_("只有本单位可以登记本单位的公示情况。"))
    case = cases.get(parse_int(request.POST.get("case", ""), "case", min_value=1))
    if case is None:
        raise PermissionDenied(_("只有本单位可以登记本单位的公示情况。"))
    services.publication_record(user=request.user, case=case, kind=request.POST.get("kind", ""),
                                place=request.POST.get("place", ""), start_date=request.POST.get("start_date", ""),
                                end_date=request.POST.get("end_date") or None)
    messages.success(request, _("公示情况已登记。"))


def _compile(request, round: m.Round) -> None:
    services.compile_results(user=request.user, round=round)
    messages.success(request, _("领导评价结果已汇总。"))


ACTIONS = {"submit": _submit, "record": _record, "compile": _compile}


@login_required
def round_leader_evaluation(request, pk):
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    evaluator = selectors.is_evaluator(request.user, round)
    office_view = access.sees_everything(request.user)
    own_cases = _own_cases(request.user, round)
    if not (evaluator or office_view or own_cases):
        raise PermissionDenied(_("只有领导评价人、考核办和被考评单位可以查看此页。"))
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        failed = run_action(request, round, ACTIONS)
        if failed is None:
            return redirect("ui:leader_evaluation", pk=round.pk)
        errors, status = failed
    duties = selectors.duties(round, None if office_view else own_cases) if (office_view or own_cases) else []
    return render(request, "ui/leader_evaluation.html", {
        "round": round, "errors": errors,
        "own_forms": selectors.own_forms(request.user, round) if evaluator else None,
        "summary": selectors.unit_summary(round) if office_view else None,
        "points_max": selectors.points_max(round),
        "duties": duties, "red": sum(1 for d in duties if d["red"]),
        "due_date": selectors.due_date(round),
        "own_cases": own_cases, "kinds": m.DutyKind.choices,
        "is_office": access.is_office(request.user),
    }, status=status)
