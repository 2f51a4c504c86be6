"""Seed 004's anonymous leader evaluation (附件9–11): forms, anonymity (schema and responses), double
submission, bad input, the permission matrix, hand-computed means and the component feeding a composite.

Hand-computed figures (three evaluators, component worth 10 points: mean / 5 × 10, the mean rounded
to two decimals first, ROUND_HALF_UP):
    A: 5, 4, 4 → 13 / 3 = 4.333… → 4.33 → 8.66, rank 1
    B: 3, 2, 4 →  9 / 3 = 3.00        → 6.00, rank 3
    C: 5, 5, 1 → 11 / 3 = 3.666… → 3.67 → 7.34, rank 2
"""

from decimal import Decimal as D

import pytest
from django.db import models

from cases import models as m
from cases.scoring import results
from tests.factories import make_round, make_user

pytestmark = pytest.mark.django_db

SCORES = {"A": [5, 4, 4], "B": [3, 2, 4], "C": [5, 5, 1]}


def _social(config=None):
    setup = make_round(units=3, experts=1, config={"leader_evaluation_points": "10", **(config or {})})
    m.Round.objects.filter(pk=setup.round.pk).update(kind=m.RoundKind.SOCIAL)
    setup.round.refresh_from_db()
    m.Unit.objects.filter(pk=setup.units[1].pk).update(category=m.UnitCategory.MASS)
    m.Unit.objects.filter(pk=setup.units[2].pk).update(category=m.UnitCategory.INSTITUTION)
    evaluators = [make_user(org_role=m.OrgRole.LEADER), make_user(org_role=m.OrgRole.LEADER), make_user()]
    setup.extra["evaluators"] = evaluators
    return setup


def _assign(api, setup):
    ids = [u.pk for u in setup.extra["evaluators"]]
    r = api(setup.office).put(f"/api/v1/rounds/{setup.round.pk}/leader-evaluators/", {"users": ids}, format="json")
    assert r.status_code == 200, r.content
    return r


def _submit(api, setup, user, case, score, expect=201):
    r = api(user).post(f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/submit/",
                       {"case": case.pk, "score": score}, format="json")
    assert r.status_code == expect, r.content
    return r


def _fill(api, setup):
    responses = []
    for letter, case in zip("ABC", setup.cases, strict=True):
        for user, score in zip(setup.extra["evaluators"], SCORES[letter], strict=True):
            responses.append(_submit(api, setup, user, case, score))
    return responses


def test_answer_table_has_nothing_that_identifies_the_evaluator():
    fields = {f.name: f for f in m.LeaderEvaluationAnswer._meta.get_fields()}
    assert set(fields) == {"id", "round", "case", "form", "score"}
    assert isinstance(fields["id"], models.UUIDField) and fields["id"].primary_key  # random, not a sequence
    assert not any(isinstance(f, models.DateField | models.DateTimeField) for f in fields.values())
    assert not any(getattr(f, "related_model", None) is m.User for f in fields.values())
    # Participation names the evaluator and the unit, and nothing of the answer.
    part = {f.name: f for f in m.LeaderEvaluationParticipation._meta.get_fields()}
    assert set(part) == {"id", "round", "case", "evaluator"}
    assert not any(getattr(f, "related_model", None) is m.LeaderEvaluationAnswer for f in part.values())
    # The database table itself, not only the model.
    from django.db import connection
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(
            cursor, m.LeaderEvaluationAnswer._meta.db_table)}
    assert columns == {"id", "round_id", "case_id", "form", "score"}


def test_means_per_unit_hand_computed_and_stored_as_results(api):
    setup = _social()
    _assign(api, setup)
    _fill(api, setup)
    body = api(setup.office).get(f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/").json()
    by_unit = {row["case"]: row for row in body["units"]}
    a, b, c = setup.cases
    assert [by_unit[x.pk]["mean"] for x in (a, b, c)] == ["4.33", "3.00", "3.67"]
    assert [by_unit[x.pk]["points"] for x in (a, b, c)] == ["8.66", "6.00", "7.34"]
    assert [by_unit[x.pk]["submitted"] for x in (a, b, c)] == [3, 3, 3]
    assert [by_unit[x.pk]["form"] for x in (a, b, c)] == ["附件9", "附件10", "附件11"]
    r = api(setup.office).post(f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/compile/", {}, format="json")
    assert r.status_code == 200, r.content
    stored = {res.case_id: (res.total, res.rank) for res in m.Result.objects.filter(round=setup.round)}
    assert stored == {a.pk: (D("8.66"), 1), b.pk: (D("6.00"), 3), c.pk: (D("7.34"), 2)}


def test_no_response_links_a_form_to_its_evaluator(api):
    setup = _social()
    _assign(api, setup)
    texts = [r.content.decode() for r in _fill(api, setup)]
    for user in setup.extra["evaluators"]:
        texts.append(api(user).get(f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/").content.decode())
    texts.append(api(setup.office).get(f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/").content.decode())
    texts.append(api(setup.office).post(f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/compile/").content.decode())
    texts.append(api(setup.auditor).get("/api/v1/audit/", {"round": setup.round.pk}).content.decode())
    answer_ids = [str(pk) for pk in m.LeaderEvaluationAnswer.objects.values_list("id", flat=True)]
    assert len(answer_ids) == 9
    for text in texts:
        assert not any(pk in text for pk in answer_ids)
    # A submission answers with the unit and "submitted", nothing of the answer.
    evaluator = setup.extra["evaluators"][2]
    own = api(evaluator).get(f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/").json()
    assert "units" not in own  # an evaluator without an organisation-wide role sees no aggregate
    assert all(set(row) == {"case", "unit", "unit_name", "form", "submitted", "analysis"} for row in own["own"])
    assert all(row["submitted"] for row in own["own"])
    # The audit log records participation, never the score.
    for entry in m.AuditEntry.objects.filter(action="leader_evaluation_submit"):
        assert set(entry.after or {}) == {"case"}


def test_submission_answer_carries_only_case_and_flag(api):
    setup = _social()
    _assign(api, setup)
    r = _submit(api, setup, setup.extra["evaluators"][0], setup.cases[0], 5)
    assert r.json() == {"case": setup.cases[0].pk, "submitted": True}


def test_double_submission_refused_with_409_and_nothing_added(api):
    setup = _social()
    _assign(api, setup)
    user = setup.extra["evaluators"][0]
    _submit(api, setup, user, setup.cases[0], 5)
    _submit(api, setup, user, setup.cases[0], 1, expect=409)
    assert list(m.LeaderEvaluationAnswer.objects.values_list("score", flat=True)) == [5]
    assert m.LeaderEvaluationParticipation.objects.count() == 1


def test_bad_input_is_a_field_level_400_and_changes_nothing(api):
    setup = _social()
    _assign(api, setup)
    user = setup.extra["evaluators"][0]
    url = f"/api/v1/rounds/{setup.round.pk}/leader-evaluation/submit/"
    r = api(user).post(url, {"case": "x", "score": 7, "evaluator": user.pk}, format="json")
    assert r.status_code == 400
    assert {"case", "score", "evaluator"} <= set(r.json()["errors"])
    r = api(user).post(url, {"case": 999999, "score": 3}, format="json")
    assert r.status_code == 400 and "case" in r.content.decode()
    r = api(setup.office).put(f"/api/v1/rounds/{setup.round.pk}/leader-evaluators/", {"users": [999999]},
                              format="json")
    assert r.status_code == 400 and "users" in r.content.decode()
    assert not m.LeaderEvaluationAnswer.objects.exists()
    assert not m.LeaderEvaluationParticipation.objects.exists()
    assert m.LeaderEvaluator.objects.count() == 3


def test_permission_matrix(api):
    setup = _social()
    _assign(api, setup)
    base = f"/api/v1/rounds/{setup.round.pk}"
    staff, expert = setup.staff[0], setup.groups[0].experts[0]
    evaluator = setup.extra["evaluators"][2]
    # Reading the aggregates / forms.
    assert api(setup.office).get(f"{base}/leader-evaluation/").status_code == 200
    assert api(evaluator).get(f"{base}/leader-evaluation/").status_code == 200
    assert api(staff).get(f"{base}/leader-evaluation/").status_code == 403
    assert api(expert).get(f"{base}/leader-evaluation/").status_code == 403
    # Submitting a form: the assigned evaluators only.
    for user in (setup.office, staff, expert, setup.auditor):
        _submit(api, setup, user, setup.cases[0], 4, expect=403)
    _submit(api, setup, evaluator, setup.cases[0], 4)
    # The evaluator list: the office writes; others may not.
    for user in (setup.leader, staff, expert, evaluator):
        r = api(user).put(f"{base}/leader-evaluators/", {"users": []}, format="json")
        assert r.status_code in (403, 404), (user, r.status_code)
    # Compiling: the office; approving: the leader.
    for user in (staff, expert, evaluator, setup.leader):
        assert api(user).post(f"{base}/leader-evaluation/compile/").status_code in (403, 404)
    assert m.LeaderEvaluator.objects.filter(round=setup.round).count() == 3


def test_only_a_social_round_has_leader_evaluation(api):
    setup = make_round(units=1, experts=1)
    r = api(setup.office).put(f"/api/v1/rounds/{setup.round.pk}/leader-evaluators/", {"users": [setup.leader.pk]},
                              format="json")
    assert r.status_code == 409


def test_approved_component_feeds_another_rounds_composite(api):
    setup = _social()
    _assign(api, setup)
    _fill(api, setup)
    base = f"/api/v1/rounds/{setup.round.pk}/leader-evaluation"
    assert api(setup.office).post(f"{base}/compile/").status_code == 200
    assert api(setup.office).post(f"{base}/approve/").status_code == 403
    assert api(setup.leader).post(f"{base}/approve/").status_code == 200
    # Frozen: no more forms, no recompiling.
    extra = make_user()
    m.LeaderEvaluator.objects.create(round=setup.round, user=extra)
    _submit(api, setup, extra, setup.cases[0], 1, expect=409)
    assert api(setup.office).post(f"{base}/compile/").status_code == 409
    # Another round of the same units names the social round in its composite (docs/scoring.md).
    other = make_round(units=3, experts=1, unit_objs=setup.units, unit_people=(setup.staff, setup.heads),
                       config={"composite": {"self_weight": "90",
                                             "rounds": [{"round": setup.round.pk, "name": "领导评价", "weight": "10"}]}})
    parts = results.composite_scores(other.round, other.cases)
    by_unit = {case.unit_id: dict(parts[case.pk]) for case in other.cases}
    assert [by_unit[u.pk]["领导评价"] for u in setup.units] == [D("8.66"), D("6.00"), D("7.34")]


def test_pages_evaluator_fills_office_sees_means_others_refused(client):
    setup = _social()
    m.LeaderEvaluator.objects.bulk_create([m.LeaderEvaluator(round=setup.round, user=u)
                                           for u in setup.extra["evaluators"]])
    url = f"/rounds/{setup.round.pk}/leader-evaluation/"
    evaluator = setup.extra["evaluators"][2]
    client.force_login(evaluator)
    page = client.get(url)
    assert page.status_code == 200 and "自治区党委群团类及法院、检察院、民主党派机关领导评价表" in page.content.decode()
    assert "领导评价汇总" not in page.content.decode()
    r = client.post(url, {"action": "submit", "case": setup.cases[0].pk, "score": "4"})
    assert r.status_code == 302
    assert client.post(url, {"action": "submit", "case": setup.cases[0].pk, "score": "5"}).status_code == 409
    assert client.post(url, {"action": "submit", "case": setup.cases[1].pk, "score": "9"}).status_code == 400
    client.force_login(setup.office)
    page = client.get(url).content.decode()
    assert "领导评价汇总" in page and "4.00" in page
    client.force_login(setup.groups[0].experts[0])
    assert client.get(url).status_code == 403
    assert list(m.LeaderEvaluationAnswer.objects.values_list("score", flat=True)) == [4]
