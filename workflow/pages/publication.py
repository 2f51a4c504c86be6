"""The publication (公示) page of a round: its period, the results the user may see (with the grade's
奖励系数, the 异议更正 and the 评先资格), the objections the user may see; the office opens the
publication, resolves objections and finalises; a unit files an objection to its own result, with
its reasons and evidence (files of its case, or one uploaded here). Same services as the API."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from cases import access
from cases import models as m
from cases.objections import selectors, services
from cases.services import inspections
from cases.services.common import parse_int, require_office
from workflow.pages.actions import run_action


def _own_case(user, round: m.Round) -> m.Case | None:
    """The case of the user's unit in the round, if the user may object on it."""
    for case in round.cases.filter(unit_id__in=access.unit_ids(user)).select_related("unit"):
        if selectors.may_object(user, case):
            return case
    return None


def _file(request, round: m.Round) -> None:
    case = _own_case(request.user, round)  # checked before the body (and any file) is read
    if case is None:
        raise PermissionDenied(_("只有本单位可以对本单位的考评结果提出异议。"))
    if not services.publication_is_open(round):
        raise PermissionDenied(_("不在公示期内，不能提出异议。"))
    ids = [parse_int(v, "evidence", min_value=1) for v in request.POST.getlist("evidence")]
    upload = request.FILES.get("file")
    if upload is not None:
        ids.append(inspections.attachment_create(user=request.user, case=case, purpose=m.Attachment.Purpose.OBJECTION,
                                                 upload=upload).pk)
    services.objection_file(user=request.user, case=case, reasons=request.POST.get("reasons", ""), evidence_ids=ids)
    messages.success(request, _("异议已提交，考核办将逐件处理。"))


def _resolve(request, round: m.Round) -> None:
    require_office(request.user)
    objection = get_object_or_404(access.visible(m.Objection, request.user).filter(round=round),
                                  pk=parse_int(request.POST.get("objection", ""), "objection", min_value=1))
    services.objection_resolve(user=request.user, objection=objection, decision=request.POST.get("decision", ""),
                               resolution=request.POST.get("resolution", ""),
                               adjustment=request.POST.get("adjustment") or None)
    messages.success(request, _("异议已处理。"))


def _open(request, round: m.Round) -> None:
    require_office(request.user)
    raw = request.POST.get("days", "")
    services.publication_open(user=request.user, round=round, days=parse_int(raw, "days", min_value=1) if raw else None)
    messages.success(request, _("考评结果已公示。"))


def _finalise(request, round: m.Round) -> None:
    services.publication_finalise(user=request.user, round=round)
    messages.success(request, _("考评结果已最终确定。"))


ACTIONS = {"file": _file, "resolve": _resolve, "open": _open, "finalise": _finalise}


@login_required
def round_publication(request, pk):
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        failed = run_action(request, round, ACTIONS)
        if failed is None:
            return redirect("ui:publication", pk=round.pk)
        errors, status = failed
        round.refresh_from_db()
    results = list(access.visible(m.Result, request.user).filter(round=round).select_related("case__unit", "case__group")
                   .order_by("category", "rank", "case__unit__code"))
    objections = list(access.visible(m.Objection, request.user).filter(round=round)
                      .select_related("case__unit", "filed_by", "resolved_by").prefetch_related("evidence"))
    own = _own_case(request.user, round)
    state = selectors.publication_state(round, request.user)
    return render(request, "ui/publication.html", {
        "round": round, "state": state, "errors": errors,
        "rows": [{"result": r, "coefficient": selectors.reward_coefficient(round, r.grade)} for r in results],
        "has_coefficients": any(selectors.reward_coefficient(round, r.grade) for r in results),
        "objections": objections,
        "is_office": access.is_office(request.user),
        "can_open": access.is_office(request.user) and round.results_frozen_at and not round.publication_starts_at,
        "own_case": own if own is not None and state["open"] else None,
        "own_files": own.attachments.order_by("pk") if own is not None and state["open"] else [],
    }, status=status)
