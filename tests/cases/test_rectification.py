"""Rectification (整改) on PostgreSQL: bad input refused field by field with nothing changed, who sees and
who acts (three personas on the endpoint), idempotent start, the lowest band, the recurring link."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cases import models as m
from cases.errors import Conflict
from cases.rectification import selectors, services
from tests.api_helpers import API, ok
from tests.factories import make_user
from tests.rectification_helpers import approved_round, attachment, measures, rect_task, today

S = m.RectificationStatus


def plan_url(rect) -> str:
    return f"{API}/rectifications/{rect.pk}/plan/"


def errors(resp) -> dict:
    body = ok(resp, 400)
    return body["errors"]


@pytest.fixture
def world(db):
    setup = approved_round(units=2)
    rects = [m.Rectification.objects.get(round=setup.round, unit=unit) for unit in setup.units]
    return setup, rects


def _snapshot(rect):
    rect.refresh_from_db()
    return (rect.status, rect.target, list(rect.measures.values_list("text", "responsible", "due_date")),
            rect.reports.count(), rect.reviews.count())


def test_a_plan_is_checked_field_by_field_and_nothing_is_saved(world, api):
    setup, (rect, _) = world
    staff = api(setup.staff[0])
    ok(staff.put(plan_url(rect), {"target": "目标", "measures": measures(rect)}, format="json"))
    before = _snapshot(rect)

    past = (today() - timedelta(days=1)).isoformat()
    late = (rect.due_date + timedelta(days=1)).isoformat()
    rows = [
        {"text": "措施1", "responsible": "张三", "due_date": past},
        {"text": "措施2", "responsible": "", "due_date": today().isoformat()},
        {"text": "措施3", "responsible": "李四", "due_date": late},
        {"text": "", "responsible": "王五"},
    ]
    found = errors(staff.put(plan_url(rect), {"target": "新目标", "measures": rows}, format="json"))
    assert set(found) == {"measures[0].due_date", "measures[1].responsible", "measures[2].due_date",
                          "measures[3].text", "measures[3].due_date"}
    assert "不能早于今天" in found["measures[0].due_date"][0]
    assert "measures" in errors(staff.put(plan_url(rect), {"target": "x", "measures": []}, format="json"))
    unknown = errors(staff.put(plan_url(rect), {"measures": [{"text": "a", "owner": "b"}]}, format="json"))
    assert "measures" in unknown  # unknown fields refused, nested rows too
    assert _snapshot(rect) == before

    # The same through the task action: 400 and the task still open.
    task = rect_task(rect, "plan")
    resp = staff.post(f"{API}/tasks/{task.pk}/submit/", {"target": "t", "measures": rows[:1]}, format="json")
    assert "measures[0].due_date" in errors(resp)
    assert rect_task(rect, "plan") == task and _snapshot(rect) == before


def test_evidence_must_be_of_the_same_case(world, api):
    setup, (rect, other) = world
    for r in (rect, other):  # both plans accepted
        m.Rectification.objects.filter(pk=r.pk).update(status=S.IN_PROGRESS)
    own = attachment(rect.case, setup.staff[0])
    foreign = attachment(other.case, setup.staff[1])
    staff = api(setup.staff[0])
    url = f"{API}/rectifications/{rect.pk}/progress/"
    found = errors(staff.post(url, {"text": "进展", "evidence_ids": [own.pk, foreign.pk]}, format="json"))
    assert str(foreign.pk) in found["evidence_ids"][0]
    assert "text" in errors(staff.post(url, {"text": " ", "evidence_ids": [own.pk]}, format="json"))
    assert rect.reports.count() == 0
    ok(staff.post(url, {"text": "进展", "evidence_ids": [own.pk]}, format="json"), 201)
    # The unit's rectification evidence of an earlier case is offered again (entered once).
    earlier = attachment(other.case, setup.staff[1], purpose=m.Attachment.Purpose.RECTIFICATION)
    with pytest.raises(ValidationError):
        services.report_progress(user=setup.staff[0], rectification=rect, text="x", evidence_ids=[earlier.pk])


def test_three_personas_on_the_endpoint(world, api):
    setup, (rect, other) = world
    own_staff, other_staff, lead = setup.staff[0], setup.staff[1], setup.groups[0].leader
    listed = {u: {row["id"] for row in ok(api(u).get(f"{API}/rectifications/"))["results"]}
              for u in (own_staff, other_staff, lead, setup.office, setup.auditor)}
    assert listed[own_staff] == {rect.pk}
    assert listed[other_staff] == {other.pk}
    assert listed[lead] == listed[setup.office] == listed[setup.auditor] == {rect.pk, other.pk}
    outsider = make_user()
    assert ok(api(outsider).get(f"{API}/rectifications/"))["results"] == []
    expert = setup.groups[0].experts[0]
    assert ok(api(expert).get(f"{API}/rectifications/"))["results"] == []

    # Detail and writes: the other unit's staff get 404 (not theirs to see), the leader 403 (sees, may not write).
    ok(api(own_staff).get(f"{API}/rectifications/{rect.pk}/"))
    ok(api(other_staff).get(f"{API}/rectifications/{rect.pk}/"), 404)
    ok(api(lead).get(f"{API}/rectifications/{rect.pk}/"))
    body = {"target": "目标", "measures": measures(rect)}
    before = _snapshot(rect)
    ok(api(other_staff).put(plan_url(rect), body, format="json"), 404)
    ok(api(lead).put(plan_url(rect), body, format="json"), 403)
    assert _snapshot(rect) == before
    ok(api(own_staff).put(plan_url(rect), body, format="json"))
    # The task: the other unit's staff may not act on it (nor see it).
    task = rect_task(rect, "plan")
    ok(api(other_staff).post(f"{API}/tasks/{task.pk}/submit/", {}, format="json"), 404)  # not a task they see
    assert rect_task(rect, "plan") == task
    # Filters.
    rows = ok(api(lead).get(f"{API}/rectifications/", {"unit": setup.units[1].pk}))["results"]
    assert [r["id"] for r in rows] == [other.pk]
    assert ok(api(lead).get(f"{API}/rectifications/", {"status": "closed"}))["results"] == []


def test_wrong_state_and_wrong_person_in_the_services(world):
    setup, (rect, _) = world
    with pytest.raises(Conflict):
        services.plan_sign(user=setup.heads[0], rectification=rect, approve=True)
    with pytest.raises(PermissionDenied):
        services.plan_save(user=setup.heads[0], rectification=rect, target="", measures=measures(rect))
    with pytest.raises(ValidationError):
        services.plan_submit(user=setup.staff[0], rectification=rect)  # no measures yet
    with pytest.raises(Conflict):
        services.verify(user=setup.office, rectification=rect, approve=True)


def test_start_is_idempotent_and_takes_the_lowest_band(world):
    setup, rects = world
    rnd = setup.round
    assert services.rectifications_start(round=rnd) == []
    m.Round.objects.filter(pk=rnd.pk).update(
        config={**rnd.config, "grades": {"scheme": "distribution", "bands": [["达标", "50"], ["不达标", "50"]]},
                "rectification_plan_days": 5})
    rnd.refresh_from_db()
    m.Result.objects.filter(case__unit=setup.units[1]).update(grade="不达标")
    (low,) = services.rectifications_start(round=rnd)
    assert low.source == m.RectificationSource.LOWEST_GRADE and low.unit == setup.units[1]
    assert low.finding is None and "不达标" in low.problem and low.plan_due == today() + timedelta(days=5)
    assert services.rectifications_start(round=rnd) == []
    assert m.Rectification.objects.filter(round=rnd).count() == 3


def test_a_finding_on_the_same_item_next_round_is_linked_as_recurring(db):
    first = approved_round(units=2)
    second = approved_round(units=2, unit_objs=first.units, unit_people=(first.staff, first.heads))
    earlier = {r.unit_id: r for r in m.Rectification.objects.filter(round=first.round)}
    later = list(m.Rectification.objects.filter(round=second.round))
    assert len(later) == 2
    assert all(r.recurring_of_id == earlier[r.unit_id].pk for r in later)
    # Entered once: the unit's rectification evidence of the earlier round is offered again, not its
    # other files of that round, nor another unit's.
    rect = next(r for r in later if r.unit_id == first.units[0].pk)
    m.Rectification.objects.filter(pk=rect.pk).update(status=S.IN_PROGRESS)
    old_case = first.case(0)
    kept = attachment(old_case, first.staff[0], purpose=m.Attachment.Purpose.RECTIFICATION)
    other_file = attachment(old_case, first.staff[0])
    foreign = attachment(first.case(1), first.staff[1], purpose=m.Attachment.Purpose.RECTIFICATION)
    report = services.report_progress(user=first.staff[0], rectification=rect, text="沿用", evidence_ids=[kept.pk])
    assert [a.pk for a in report.evidence.all()] == [kept.pk]
    for refused_id in (other_file.pk, foreign.pk):
        with pytest.raises(ValidationError):
            services.report_progress(user=first.staff[0], rectification=rect, text="x", evidence_ids=[refused_id])
    # A different rubric item is not a recurrence.
    third = approved_round(units=1, item="S2.2", unit_objs=first.units[:1],
                           unit_people=(first.staff[:1], first.heads[:1]))
    (other,) = m.Rectification.objects.filter(round=third.round)
    assert other.recurring_of_id is None


def _upload(client, case, name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(f"{API}/attachments/?case={case.pk}",
                       {"case": case.pk, "purpose": "rectification", "file": SimpleUploadedFile(name, content)},
                       format="multipart")


def test_rectification_evidence_uploads(world, api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.UPLOAD_MAX_BYTES = 1024
    setup, (rect, _) = world
    staff = api(setup.staff[0])
    pdf = b"%PDF-1.4 rectification evidence"
    assert "file" in errors(_upload(staff, rect.case, "run.exe", pdf))  # a forbidden type
    ok(_upload(staff, rect.case, "big.pdf", pdf + b"0" * 2048), 413)  # over the limit: refused while it streams
    ok(_upload(api(setup.groups[0].leader), rect.case, "a.pdf", pdf), 403)
    assert not m.Attachment.objects.filter(purpose="rectification").exists()
    body = ok(_upload(staff, rect.case, "整改佐证.pdf", pdf), 201)
    m.Rectification.objects.filter(pk=rect.pk).update(status=S.IN_PROGRESS)
    report = services.report_progress(user=setup.staff[0], rectification=rect, text="进展", evidence_ids=[body["id"]])
    assert [a.pk for a in report.evidence.all()] == [body["id"]]
    m.Rectification.objects.filter(case=rect.case).update(status=S.CLOSED)
    ok(_upload(staff, rect.case, "late.pdf", pdf), 409)


def _lowest(setup, unit_index: int):
    rnd = setup.round
    m.Round.objects.filter(pk=rnd.pk).update(
        config={**rnd.config, "grades": {"scheme": "distribution", "bands": [["达标", "50"], ["不达标", "50"]]}})
    rnd.refresh_from_db()
    m.Result.objects.filter(round=rnd, case__unit=setup.units[unit_index]).update(grade="不达标")
    return services.rectifications_start(round=rnd)


def test_a_unit_in_the_lowest_band_twice_running_is_flagged(db, api):
    first = approved_round(units=2)
    _lowest(first, 0)
    second = approved_round(units=2, unit_objs=first.units, unit_people=(first.staff, first.heads))
    m.Round.objects.filter(pk=second.round.pk).update(previous_round=first.round)
    second.round.refresh_from_db()
    (again,) = _lowest(second, 0)
    assert again.recurring_of == m.Rectification.objects.get(round=first.round, source="lowest_grade")
    assert [x.unit_id for x in selectors.lowest_band_repeats(second.round)] == [first.units[0].pk]
    assert selectors.lowest_band_repeats(first.round) == []
    rows = ok(api(second.office).get(f"{API}/rectifications/", {"round": second.round.pk, "source": "lowest_grade"}))
    assert [(r["id"], r["consecutive_lowest"]) for r in rows["results"]] == [(again.pk, True)]


def test_a_step_in_the_wrong_state_is_409_and_changes_nothing(world, api):
    setup, (rect, _) = world
    staff = api(setup.staff[0])
    ok(staff.post(f"{API}/rectifications/{rect.pk}/progress/", {"text": "进展"}, format="json"), 409)  # still planning
    m.Rectification.objects.filter(pk=rect.pk).update(status=S.CLOSED)
    before = _snapshot(rect)
    ok(staff.put(plan_url(rect), {"target": "目标", "measures": measures(rect)}, format="json"), 409)
    ok(staff.post(f"{API}/rectifications/{rect.pk}/progress/", {"text": "进展"}, format="json"), 409)
    assert _snapshot(rect) == before


def test_the_office_records_a_closed_rectifications_publication(world, api):
    from datetime import timedelta

    from tests.rectification_helpers import advance_rectification

    setup, rects = world
    rect = advance_rectification(setup, rects[0], "verify")
    url = f"{API}/rectifications/{rect.pk}/publication/"
    start = today()
    body = {"published_from": str(start), "published_until": str(start + timedelta(days=29)), "where": "门户网站整改专栏"}
    # Not closed yet: 409; not the office: 403, before the body is read; nothing changed.
    assert api(setup.office).put(url, body, format="json").status_code == 409
    assert api(setup.staff[0]).put(url, body, format="json").status_code == 403
    lead = setup.group_of(0).leader
    from workflow import services as flow_services

    flow_services.task_act(user=lead, task_id=rect_task(rect, "verify").pk, action="approve", data={"comment": "通过"})
    short = {**body, "published_until": str(start + timedelta(days=28)), "where": " "}
    assert set(errors(api(setup.office).put(url, short, format="json"))) == {"published_until", "where"}
    rect.refresh_from_db()
    assert rect.published_from is None
    done = ok(api(setup.office).put(url, body, format="json"))
    assert (done["published_from"], done["published_until"]) == (body["published_from"], body["published_until"])
    assert m.AuditEntry.objects.filter(action="rectification.publish", object_id=str(rect.pk)).exists()


def test_the_round_config_names_when_rectifications_start():
    from cases.scoring.round_config import problems

    assert problems({"rectification_start": "finding", "rectification_plan_days": 7}) == []
    assert problems({"rectification_start": "soon", "rectification_plan_days": 0}) == [
        "rectification_start 必须是 approval（结果审定时）或 finding（记录问题时）。",
        "rectification_plan_days 必须是正整数。",
    ]
