"""Seed 000: the leader may return a round's results to one group, not only to the office. Only that group's
decisions reopen; its leaders recheck, then the office compiles again and the leader approves."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cases import models as m
from cases.errors import Conflict
from cases.services import decisions
from tests.api_helpers import API, ok
from tests.factories import act, advance_case, make_round

pytestmark = pytest.mark.django_db


def _compiled(**kwargs):
    setup = make_round(units=2, experts=1, groups=2, launch=True, **kwargs)
    for i in range(2):
        advance_case(setup, i)
    act(setup, setup.office, "compile")
    return setup


def test_the_leader_returns_the_results_to_one_group_and_only_it_reopens(api):
    setup = _compiled()
    g0, g1 = setup.groups
    first, second = setup.case(0), setup.case(1)
    assert (first.group_id, second.group_id) == (g0.group.pk, g1.group.pk)
    ranks = dict(m.Result.objects.filter(round=setup.round).values_list("case_id", "rank"))
    assert ranks[first.pk] == ranks[second.pk] == 1  # equal sheets: tied

    # A group of another round, and no comment: both named, nothing changes.
    other = make_round(units=1, experts=1)
    task = setup.task("approve")
    bad = ok(api(setup.leader).post(f"{API}/tasks/{task.pk}/return/", {"group": other.groups[0].group.pk},
                                    format="json"), 400)
    assert set(bad["errors"]) == {"group", "comment"}
    ok(api(setup.leader).post(f"{API}/tasks/{task.pk}/return/", {"group": g1.group.pk, "comment": "第二组复核"},
                              format="json"))
    setup.round.refresh_from_db()
    assert (setup.round.status, setup.round.reopened_group_id) == (m.RoundStatus.COMPILING, g1.group.pk)
    assert setup.task("compile") is None  # the office waits for the group
    recheck = setup.task("group_recheck")
    assert recheck.owner == g1.leader

    # Only the returned group's decisions are open; the other group's leader cannot recheck.
    with pytest.raises(Conflict):
        decisions.case_set_panel_override(user=g0.leader, case=first, panel="10", reason="改")
    decisions.case_set_panel_override(user=g1.leader, case=second, panel="15", reason="复核后调整")
    with pytest.raises(PermissionDenied):
        act(setup, g0.leader, "group_recheck")
    act(setup, g1.leader, "group_recheck")
    setup.round.refresh_from_db()
    assert setup.round.reopened_group_id is None

    # The office compiles again and the leader approves: the recheck moved the ranking.
    act(setup, setup.office, "compile")
    act(setup, setup.leader, "approve", None, "approve", comment="同意")
    results = {r.case_id: r for r in m.Result.objects.filter(round=setup.round)}
    assert results[second.pk].panel == Decimal("15.00") and results[second.pk].rank == 1
    assert results[first.pk].rank == 2
    returned = m.AuditEntry.objects.get(action="round.return")
    assert returned.after == {"group": g1.group.name} and returned.comment == "第二组复核"
    assert m.AuditEntry.objects.filter(action="round.group_rechecked").count() == 1


def test_a_return_to_the_office_still_reopens_every_group():
    setup = _compiled()
    act(setup, setup.leader, "approve", None, "return", comment="重新汇总")
    assert setup.task("compile") is not None and setup.task("group_recheck") is None
    for i, g in enumerate(setup.groups):
        decisions.case_set_panel_override(user=g.leader, case=setup.case(i), panel="12", reason="复核")
    act(setup, setup.office, "compile")
    with pytest.raises(ValidationError):  # a comment is still required
        act(setup, setup.leader, "approve", None, "return", comment="")
    assert setup.round.reopened_group_id is None
