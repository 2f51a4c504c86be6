"""Seed 001's pages (docs/party-building.md): a case's self-check statistics table (自查统计表), a group's
shortfalls, a group's democratic recommendation (民主推荐) and a case's declared bonus items
(单位自行申报的加分项目). Same rules as the API (`cases/api/party_building.py`): rows from
`access.visible`, writes through `cases.party_building.services`, errors shown on the page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.party_building import selectors, selfcheck, services
from workflow.pages.views import _errors


def _case(request, pk: int) -> m.Case:
    return get_object_or_404(access.visible(m.Case, request.user).select_related("unit", "group", "round__rubric"),
                             pk=pk)


def _group(request, pk: int) -> m.Group:
    return get_object_or_404(access.visible(m.Group, request.user).select_related("round__rubric"), pk=pk)


def _count(text: str) -> object:
    """A typed count as the service checks it: digits become an int, anything else is passed on to be named."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else text


def _act(request, write) -> list[str] | None:
    """Run a write; its refusals as the page's error list (None when it went through)."""
    try:
        write()
    except ValidationError as exc:
        return _errors(exc)
    except (PermissionDenied, Conflict) as exc:
        return [str(exc)]
    return None


@login_required
def case_self_check(request, pk):
    """The case's self-check table: the unit's staff fill it while preparing; everyone who sees the case
    sees each row's target, the count, the shortfall (highlighted) and the deduction."""
    case = _case(request, pk)
    rows = selectors.table(case.round)
    errors = None
    can_edit = (rows is not None and case.status == m.CaseStatus.PREPARE
                and access.is_unit_member(request.user, case.unit_id, m.UnitRole.STAFF))
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("只有本单位填报员可以在准备阶段填写自查统计表。"))
        assert rows is not None
        counts: dict[str, object] = {}
        for row in rows:
            if row.optional and request.POST.get(f"na_{row.code}"):
                counts[row.code] = None
            elif request.POST.get(f"count_{row.code}", "").strip():
                counts[row.code] = _count(request.POST[f"count_{row.code}"])
        errors = _act(request, lambda: services.self_check_save(user=request.user, case=case, counts=counts))
        if errors is None:
            messages.success(request, _("自查统计表已保存。"))
            return redirect("ui:case_self_check", pk=case.pk)
    lines = selfcheck.lines(rows, selectors.current_counts(case), selectors.item_maxima(case.round)) if rows else []
    return render(request, "ui/party_building/self_check.html", {
        "case": case, "enabled": rows is not None, "lines": lines, "can_edit": can_edit, "errors": errors,
        "posted": request.POST if errors else None, "total": selfcheck.total_deduction(lines),
    }, status=400 if errors else 200)


@login_required
def group_self_check(request, pk):
    """The group's units with the rows they fell short of, for the group's review."""
    group = _group(request, pk)
    if not access.can_read_group_work(request.user, group):
        raise PermissionDenied(_("只有本组成员和考核办可以查看本组的自查统计。"))
    return render(request, "ui/party_building/group_self_check.html", {
        "group": group, "enabled": selectors.table(group.round) is not None,
        "units": selectors.group_shortfalls(group),
    })


def _ballot_input(request, rules) -> tuple[list[object], list[dict[str, object]]]:
    organisations: list[object] = [_count(v) for v in request.POST.getlist("organisations")]
    workers: list[dict[str, object]] = []
    for i in range(rules.workers):
        name = request.POST.get(f"worker_name_{i}", "").strip()
        unit = request.POST.get(f"worker_unit_{i}", "").strip()
        if name or unit:
            workers.append({"unit": _count(unit), "name": name, "post": request.POST.get(f"worker_post_{i}", "")})
    return organisations, workers


@login_required
def group_recommendations(request, pk):
    """A unit's head nominates from the group's units; the group's people and the office see the tally."""
    group = _group(request, pk)
    rules = selectors.recommendation_rules(group.round)
    cases = list(group.cases.select_related("unit").order_by("unit__sort_order", "unit__code"))
    voting = [c for c in cases if access.can_vote_for_unit(request.user, c.unit_id)]
    errors = None
    if request.method == "POST":
        if not voting:
            raise PermissionDenied(_("只有本组被考评单位的负责人可以代表单位进行民主推荐。"))
        if rules is None:
            errors = [_("本轮次不开展民主推荐。")]
        else:
            organisations, workers = _ballot_input(request, rules)
            unit = request.POST.get("unit", "").strip()
            errors = _act(request, lambda: services.ballot_save(
                user=request.user, group=group, organisations=organisations, workers=workers,
                unit_id=int(unit) if unit.isdigit() and len(unit) < 10 else None))
        if errors is None:
            messages.success(request, _("推荐已提交。"))
            return redirect("ui:group_recommendations", pk=group.pk)
    own = [selectors.ballot_dict(selectors.ballot_of(group, c.unit_id)) for c in voting]
    own_ballots = [b for b in own if b]
    # The form starts from the unit's ballot (a new one replaces it whole): its choices and its workers.
    first = own_ballots[0] if len(voting) == 1 and own_ballots else {"organisations": [], "workers": []}
    chosen = {o["unit"] for o in first["organisations"]}
    earlier = list(first["workers"])
    worker_rows = [{"i": i, **(earlier[i] if i < len(earlier) else {"unit": None, "name": "", "post": ""})}
                   for i in range(rules.workers if rules else 0)]
    return render(request, "ui/party_building/recommendations.html", {
        "group": group, "rules": rules, "cases": cases, "voting": voting, "own": own_ballots,
        "chosen": chosen, "worker_rows": worker_rows, "errors": errors,
        "tally": selectors.tally(group) if rules and access.can_read_group_work(request.user, group) else None,
    }, status=400 if errors else 200)


@login_required
def case_declarations(request, pk):
    """The bonus items a unit declares: its staff declare with evidence; the office approves or refuses."""
    case = _case(request, pk)
    errors = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "declare":
            evidence = [_count(v) for v in request.POST.getlist("evidence")]
            errors = _act(request, lambda: services.declaration_create(
                user=request.user, case=case, title=request.POST.get("title", ""),
                reason=request.POST.get("reason", ""), points_requested=request.POST.get("points_requested", ""),
                evidence_ids=evidence))
        elif action in ("approve", "refuse"):
            chosen = _count(request.POST.get("declaration", ""))
            row = get_object_or_404(access.visible(m.BonusDeclaration, request.user).filter(case=case),
                                    pk=chosen if isinstance(chosen, int) else 0)
            errors = _act(request, lambda: services.declaration_decide(
                user=request.user, declaration=row, approve=action == "approve",
                points_granted=request.POST.get("points_granted") if action == "approve" else None,
                reason=request.POST.get("reason", "")))
        else:
            errors = [_("未知的操作。")]
        if errors is None:
            messages.success(request, _("已保存。"))
            return redirect("ui:case_declarations", pk=case.pk)
    return render(request, "ui/party_building/declarations.html", {
        "case": case, "errors": errors, "posted": request.POST if errors else None,
        "declarations": access.visible(m.BonusDeclaration, request.user).filter(case=case)
        .prefetch_related("evidence").select_related("declared_by", "decided_by"),
        "can_declare": access.can_declare_bonus(request.user, case),
        "can_decide": access.is_office(request.user),
        "evidence": access.visible(m.Attachment, request.user).filter(case=case, purpose=m.Attachment.Purpose.EVIDENCE),
    }, status=400 if errors else 200)
