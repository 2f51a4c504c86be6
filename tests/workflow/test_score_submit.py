"""The score submission's shortcuts (bench/complete_tasks.py) keep every check: the API's 404 for a
task one may not see, the sheet total, the reason check, a statement count that does not grow."""

import random
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import models as m
from cases.scoring import adapter
from cases.services import sheets
from tests.api_helpers import API
from tests.factories import advance_case, make_round

pytestmark = pytest.mark.django_db


def _reference_total(sheet: m.ScoreSheet) -> Decimal:
    """sheet_total as it was written before it read the items once: per section, then per item."""
    scores = {s.item_id: s for s in sheet.item_scores.all()}
    total = Decimal(0)
    for section in sheet.case.round.rubric.sections.prefetch_related("items"):
        base = Decimal(0)
        for item in section.items.all():
            score = scores.get(item.pk)
            deduction = score.deduction if score else Decimal(0)
            bonus = score.bonus if score else Decimal(0)
            base += min(max(item.max_points - deduction, Decimal(0)), item.max_points)
            total += min(bonus, item.bonus_cap)
        total += min(base, section.max_points)
    return total.quantize(Decimal("0.01"))


def test_sheet_total_matches_the_section_by_section_reference():
    setup = make_round(units=1, experts=1, launch=True)
    advance_case(setup, 0, "score")
    case = setup.case(0)
    expert = setup.groups[0].experts[0]
    sheet = sheets.score_sheet_open(case=case, expert=expert)
    items = list(setup.rubric.items.all())
    rng = random.Random(7)
    for _ in range(40):
        rows = []
        for item in rng.sample(items, rng.randint(0, len(items))):
            deduction = Decimal(rng.randint(0, int(item.max_points * 100))) / 100
            bonus = Decimal(rng.randint(0, int(item.bonus_cap * 100))) / 100 if item.bonus_cap else Decimal(0)
            rows.append({"item": item.code, "deduction": str(deduction), "bonus": str(bonus), "reason": "r"})
        m.ItemScore.objects.filter(sheet=sheet).delete()
        sheets.score_sheet_save(user=expert, sheet=sheet, items=rows)
        fresh = m.ScoreSheet.objects.select_related("case__round__rubric").get(pk=sheet.pk)
        assert adapter.sheet_total(fresh) == _reference_total(fresh)


def test_a_deduction_without_reason_is_refused_with_the_item_code(api):
    setup = make_round(units=1, experts=1, launch=True)
    advance_case(setup, 0, "score")
    expert = setup.groups[0].experts[0]
    task = setup.task("score", setup.case(0), expert=expert)
    resp = api(expert).post(
        f"{API}/tasks/{task.pk}/submit/", {"items": [{"item": "S1.2", "deduction": "1"}]}, format="json"
    )
    assert resp.status_code == 400
    assert resp.json()["errors"]["items"] == ["S1.2: 扣分或加分必须说明理由。"]
    task.refresh_from_db()
    assert task.status == "ASSIGNED"
    assert not m.ItemScore.objects.filter(sheet__case=setup.case(0)).exists()  # rolled back


def test_acting_on_a_task_one_may_not_see_is_404(api):
    setup = make_round(units=2, experts=2, launch=True, groups=2)
    advance_case(setup, 0, "score")
    mine, other = setup.groups[0].experts[0], setup.groups[0].experts[1]
    outsider = setup.groups[1].experts[0]
    task = setup.task("score", setup.case(0), expert=mine)
    body = {"items": [{"item": "S1.1", "deduction": "1", "reason": "缺"}]}
    # A colleague's and an outsider's requests are refused before anything runs, as before.
    assert api(other).post(f"{API}/tasks/{task.pk}/submit/", body, format="json").status_code in (403, 404)
    assert api(outsider).post(f"{API}/tasks/{task.pk}/submit/", body, format="json").status_code == 404
    assert api(mine).post(f"{API}/tasks/not-a-number/submit/", body, format="json").status_code == 404
    assert api(mine).post(f"{API}/tasks/999999/submit/", body, format="json").status_code == 404
    # A unit's staff member acts on the claimable prepare task of their unit: the scope check passes.
    prepare = setup.task("prepare", setup.case(1))
    resp = api(setup.staff[1]).post(f"{API}/tasks/{prepare.pk}/submit/", {"report": "自评"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "DONE"


def test_submission_statements_do_not_grow_with_the_sheet(api):
    setup = make_round(units=3, experts=1, launch=True)
    for n in range(3):
        advance_case(setup, n, "score")
    expert = setup.groups[0].experts[0]
    counts = []
    # The first submission also reads the (frozen) rubric's items, which later ones take from memory.
    for n, codes in enumerate((["S1.1"], ["S1.1"], ["S1.1", "S1.2", "S2.1", "S2.2"])):
        task = setup.task("score", setup.case(n), expert=expert)
        body = {"items": [{"item": c, "deduction": "1", "reason": "缺"} for c in codes]}
        with CaptureQueriesContext(connection) as queries:
            resp = api(expert).post(f"{API}/tasks/{task.pk}/submit/", body, format="json")
        assert resp.status_code == 200, resp.content
        counts.append(len(queries))
    assert counts[1] == counts[2] <= counts[0], counts
    totals = sorted(str(s.total) for s in m.ScoreSheet.objects.filter(case__round=setup.round))
    assert totals == ["11.00", "14.00", "14.00"]


@pytest.mark.django_db(transaction=True)
def test_a_locked_process_gives_conflict_and_nothing_is_written(monkeypatch):
    """_locked reads the task itself now: a held process lock must still end in Conflict (HTTP 409),
    with nothing written, and the action must go through once the lock is released."""
    import threading

    from django.db import close_old_connections, transaction
    from viewflow.workflow import lock
    from viewflow.workflow.models import Process

    from cases.errors import Conflict
    from workflow import services

    monkeypatch.setattr(lock.select_for_update_lock, "attempts", 1)  # fail at once, no back-off
    setup = make_round(units=1, experts=1, launch=True)
    advance_case(setup, 0, "score")
    expert = setup.groups[0].experts[0]
    task = setup.task("score", setup.case(0), expert=expert)
    held, release = threading.Event(), threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                Process.objects.select_for_update().filter(pk=task.process_id).exists()
                held.set()
                release.wait(10)
        finally:
            close_old_connections()
            from django.db import connection

            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert held.wait(10)
    data = {"items": [{"item": "S1.1", "deduction": "1", "reason": "缺"}]}
    try:
        with pytest.raises(Conflict):
            services.task_act(user=expert, task_id=task.pk, action="submit", data=data)
    finally:
        release.set()
        holder.join()
    assert not m.ItemScore.objects.filter(sheet__case=setup.case(0)).exists()
    task.refresh_from_db()
    assert task.status == "ASSIGNED"
    assert services.task_act(user=expert, task_id=task.pk, action="submit", data=data).status == "DONE"


def test_a_submission_locks_only_its_own_rows(api):
    """Row locks with joins lock every joined row: a sheet's FOR UPDATE through its default ordering
    locked the round's row and queued every expert of the round behind each other. The two locking
    reads of a submission are prepared statements (the task with its process, the expert's sheet with
    its case, round and rubric): their text is checked here, the ORM's statements as they run."""
    from workflow.services import _task_lock_sql

    prepared = {"task_lock_nowait": _task_lock_sql(nowait=True), "own_open_sheet": sheets._own_open_sheet_sql()}
    assert prepared["task_lock_nowait"].endswith("FOR UPDATE OF t, p NOWAIT")  # the task and its process
    assert prepared["own_open_sheet"].rstrip().endswith("FOR UPDATE OF s")  # the sheet alone
    setup = make_round(units=1, experts=2, launch=True)
    advance_case(setup, 0, "score")
    for expert in setup.groups[0].experts:  # the second one passes the join
        task = setup.task("score", setup.case(0), expert=expert)
        body = {"items": [{"item": "S1.1", "deduction": "1", "reason": "缺"}]}
        with CaptureQueriesContext(connection) as queries:
            assert api(expert).post(f"{API}/tasks/{task.pk}/submit/", body, format="json").status_code == 200
        executed = {q["sql"].split()[1] for q in queries if q["sql"].startswith("EXECUTE ")}
        assert set(prepared) <= executed
        locking = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"] and not q["sql"].startswith("PREPARE ")]
        for sql in locking:
            assert " JOIN " not in sql or "FOR UPDATE OF" in sql, sql


def test_only_frozen_rubrics_items_are_kept_between_requests():
    setup = make_round(units=1, experts=1)  # not launched: its rubric is a draft
    rubric = setup.round.rubric
    assert not rubric.frozen
    before = len(adapter.rubric_items(m.Rubric.objects.get(pk=rubric.pk)))
    section = rubric.sections.first()
    m.RubricItem.objects.create(rubric=rubric, section=section, code="S9.9", content="新增", max_points=1,
                                position=99)
    assert len(adapter.rubric_items(m.Rubric.objects.get(pk=rubric.pk))) == before + 1
    assert rubric.pk not in adapter._frozen_rubrics


def test_only_the_groups_experts_not_from_the_unit_get_a_sheet():
    from django.core.exceptions import PermissionDenied

    setup = make_round(units=1, experts=2)
    case, group = setup.case(0), setup.groups[0]
    recused = group.experts[1]
    m.UnitMembership.objects.create(user=recused, unit=case.unit, role=m.UnitRole.STAFF)
    assert sheets.score_sheet_open(case=case, expert=group.experts[0]).expert == group.experts[0]
    for outsider in (recused, group.leader, setup.staff[0]):
        with pytest.raises(PermissionDenied):
            sheets.score_sheet_open(case=case, expert=outsider)
    assert list(m.ScoreSheet.objects.filter(case=case).values_list("expert", flat=True)) == [group.experts[0].pk]
