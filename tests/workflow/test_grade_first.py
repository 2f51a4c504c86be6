"""Seed 000, grade first: each expert first proposes a grade, a rank in the group and a deduction; the group
leader decides the grade from the panel's proposals and returns the sheets; the experts then score within
the band of that grade (a total outside it is refused with a field message); the result's grade is the
leader's and its panel the mean of the in-band totals.

The test rubric has 15 points; the bands are 好 ≥ 13 (to 15 included), 较好 ≥ 10 (below 13), 一般 ≥ 0."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from cases import models as m
from cases.scoring import round_config
from tests.api_helpers import API, ok
from tests.factories import act, advance_case, make_round

CONFIG = {"grade_first": True, "grade_source": "proposal",
          "grades": {"scheme": "thresholds", "bands": [["好", "13"], ["较好", "10"], ["一般", "0"]]}}


def _refused(call) -> dict:
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.message_dict


def test_the_configuration_needs_score_bands_and_the_leader_s_grade():
    assert round_config.problems(CONFIG) == []
    assert round_config.problems({**CONFIG, "grade_source": "engine"}) != []
    assert round_config.problems({**CONFIG, "grades": {"scheme": "distribution", "bands": [["好", "100"]]}}) != []
    bands = CONFIG
    assert round_config.grade_band(bands, "好", Decimal("15")) == (Decimal("13"), Decimal("15"), True)
    assert round_config.grade_band(bands, "较好", Decimal("15")) == (Decimal("10"), Decimal("13"), False)
    assert round_config.grade_band(bands, "差", Decimal("15")) is None


@pytest.mark.django_db
def test_propose_decide_then_score_within_the_band(api):
    setup = make_round(units=1, experts=2, launch=True, config=CONFIG)
    case = advance_case(setup, 0, upto="score")
    leader = setup.group_of(0).leader
    one, two = setup.group_of(0).experts

    # First the proposal: every part checked and named at once.
    assert set(_refused(lambda: act(setup, one, "score", case))) == {"proposal"}
    task = setup.task("score", case, expert=one)
    bad = ok(api(one).post(f"{API}/tasks/{task.pk}/submit/", {"proposal": {
        "grade": "优秀", "rank": 3, "deduction": "-1", "color": "red"}}, format="json"), 400)
    assert set(bad["errors"]) == {"proposal.grade", "proposal.rank", "proposal.deduction", "proposal.color"}
    act(setup, one, "score", case, proposal={"grade": "较好", "rank": 1, "deduction": "0.5"})
    act(setup, two, "score", case, proposal={"grade": "好", "rank": "1", "deduction": "0"})
    first = m.ScoreSheet.objects.get(case=case, expert=one)
    assert (first.proposed_grade, first.proposed_rank, first.proposed_deduction) == ("较好", 1, Decimal("0.50"))

    # The leader cannot finish before deciding; deciding returns every sheet for scoring.
    assert set(_refused(lambda: act(setup, leader, "review", case, "approve"))) == {"grade"}
    act(setup, leader, "review", case, "return", grade="较好", comment="按较好档赋分")
    case.refresh_from_db()
    assert case.proposed_grade == "较好" and case.status == m.CaseStatus.SCORE
    assert m.ScoreSheet.objects.filter(case=case, status=m.SheetStatus.RETURNED).count() == 2

    # Within the band [10, 13): 14 is refused, with the band in the message; 12 and 11 are taken.
    errors = _refused(lambda: act(setup, one, "score", case, items=[
        {"item": "S1.1", "deduction": "1", "reason": "台账不全"}]))
    assert set(errors) == {"total"} and "不低于10分且低于13分" in errors["total"][0]
    act(setup, one, "score", case, items=[{"item": "S1.1", "deduction": "3", "reason": "台账不全"}])
    act(setup, two, "score", case, items=[{"item": "S1.1", "deduction": "4", "reason": "台账不全"}])

    # Finishing with another grade would need the sheets scored again.
    assert set(_refused(lambda: act(setup, leader, "review", case, "approve", grade="好"))) == {"grade"}
    act(setup, leader, "review", case, "approve")
    act(setup, setup.office, "compile")
    result = m.Result.objects.get(case=case)
    assert (result.grade, result.panel) == ("较好", Decimal("11.50"))


@pytest.mark.django_db
def test_the_review_page_shows_the_panel_s_proposals(client):
    setup = make_round(units=1, experts=2, launch=True, config=CONFIG)
    case = advance_case(setup, 0, upto="score")
    one, two = setup.group_of(0).experts
    client.force_login(one)
    page = client.get(f"/tasks/{setup.task('score', case, expert=one).pk}/").content.decode()
    assert 'name="proposed_grade"' in page
    client.post(f"/tasks/{setup.task('score', case, expert=one).pk}/", {
        "action": "submit", "proposed_grade": "好", "proposed_rank": "1", "proposed_deduction": "0"})
    act(setup, two, "score", case, proposal={"grade": "较好", "rank": 1, "deduction": "1"})
    assert m.ScoreSheet.objects.get(case=case, expert=one).proposed_grade == "好"
    client.force_login(setup.group_of(0).leader)
    page = client.get(f"/tasks/{setup.task('review', case).pk}/").content.decode()
    assert "专家的档次建议" in page and "好 1 · 较好 1 · 一般 0" in page
