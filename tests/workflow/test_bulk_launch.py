"""The bulk launch writes exactly the rows `CaseFlow.start.run` writes, and a bulk-started case runs
through the whole flow (workflow.services.case_processes_start)."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import PROCESS, STATUS

from cases import models as m
from tests.factories import make_round, make_user
from workflow import services
from workflow.flows import CaseFlow

pytestmark = pytest.mark.django_db

TIMESTAMPS = {"created", "started", "finished", "assigned", "scheduled"}


def _case_values(case: m.Case) -> dict:
    """What legitimately differs between two cases' rows: the ids of their case and unit, and the
    prepare task's owner when the unit has one staff member (it is assigned to them)."""
    staff = list(m.UnitMembership.objects.filter(unit_id=case.unit_id, role=m.UnitRole.STAFF)
                 .values_list("user_id", flat=True))
    return {
        "artifact_object_id": case.pk,
        "data": {"case": case.pk, "unit": case.unit_id, "group": case.group_id, "round": case.round_id},
        "owner_permission_obj_pk": str(case.unit_id),
        **({"owner_id": staff[0]} if len(staff) == 1 else {}),
    }


def _normalised(row: dict, case: m.Case, skip: set[str]) -> dict:
    """A row with ids dropped, case-specific values replaced by markers, timestamps by set/unset."""
    own = _case_values(case)
    out = {}
    for key, value in row.items():
        if key in skip:
            continue
        if key in own and value == own[key]:
            value = "<this case>"
        elif key in TIMESTAMPS:
            value = "<set>" if value is not None else None
        out[key] = value
    return out


def _rows(case: m.Case) -> tuple[dict, list[dict], list[tuple[str, list[str]]]]:
    process = Process.objects.filter(flow_class=CaseFlow, artifact_object_id=case.pk).values()
    assert len(process) == 1
    process = process[0]
    tasks = list(Task.objects.filter(process_id=process["id"]).order_by("pk").values())
    links = [
        (t.flow_task.name, sorted(p.flow_task.name for p in t.previous.all()))
        for t in Task.objects.filter(process_id=process["id"]).order_by("pk")
    ]
    skip = {"id", "process_id"}
    return (
        _normalised(process, case, skip),
        [_normalised(t, case, skip) for t in tasks],
        links,
    )


def test_bulk_rows_equal_engine_rows_field_by_field():
    setup = make_round(units=2, experts=2)
    bulk_case, engine_case = setup.cases
    assert services._bulk_start_supported(), "the bulk path must be the one under test"

    services.case_processes_start([bulk_case])
    services.case_processes_start([engine_case], engine=True)

    bulk_process, bulk_tasks, bulk_links = _rows(bulk_case)
    engine_process, engine_tasks, engine_links = _rows(engine_case)
    assert bulk_process == engine_process
    assert bulk_process["status"] == PROCESS.NEW
    assert bulk_process["data"] == "<this case>" and bulk_process["artifact_object_id"] == "<this case>"
    assert len(bulk_tasks) == len(engine_tasks) == 2
    for bulk_task, engine_task in zip(bulk_tasks, engine_tasks):
        assert bulk_task == engine_task
    start, prepare = bulk_tasks
    assert (start["flow_task"], start["flow_task_type"], start["status"]) == (CaseFlow.start, "START", STATUS.DONE)
    # The unit has one staff member: the task is theirs from the start, not queued.
    assert (prepare["flow_task"], prepare["flow_task_type"], prepare["status"]) == (
        CaseFlow.prepare,
        "HUMAN",
        STATUS.ASSIGNED,
    )
    assert prepare["owner_id"] == "<this case>"
    assert prepare["owner_permission"] == "cases.unit_staff"
    assert prepare["owner_permission_obj_pk"] == "<this case>"
    assert str(prepare["token"]) == "start"
    assert bulk_links == engine_links == [("start", []), ("prepare", ["start"])]

    # Both first tasks are in their staff member's inbox.
    from workflow import selectors

    for n, case in enumerate((bulk_case, engine_case)):
        inbox = list(selectors.tasks_for(setup.staff[n], "inbox"))
        assert [(t.flow_task, t.process.data["case"]) for t in inbox] == [(CaseFlow.prepare, case.pk)]
        assert not selectors.tasks_for(setup.staff[n], "queue").exists()


def test_bulk_and_engine_queue_the_task_of_a_unit_with_two_staff_members():
    """Two staff members: no evident owner, the task waits in the queue of both, on either path."""
    setup = make_round(units=2, experts=2)
    second = [make_user(), make_user()]
    for unit, user in zip(setup.units, second):
        m.UnitMembership.objects.create(user=user, unit=unit, role=m.UnitRole.STAFF)
    bulk_case, engine_case = setup.cases
    services.case_processes_start([bulk_case])
    services.case_processes_start([engine_case], engine=True)
    (_, bulk_tasks, _), (_, engine_tasks, _) = _rows(bulk_case), _rows(engine_case)
    assert bulk_tasks == engine_tasks
    assert (bulk_tasks[1]["status"], bulk_tasks[1]["owner_id"]) == (STATUS.NEW, None)
    from workflow import selectors

    for n, case in enumerate((bulk_case, engine_case)):
        for user in (setup.staff[n], second[n]):
            queue = list(selectors.tasks_for(user, "queue"))
            assert [(t.flow_task, t.process.data["case"]) for t in queue] == [(CaseFlow.prepare, case.pk)]


def test_launch_uses_a_constant_number_of_statements():
    counts = []
    for units in (2, 12):
        setup = make_round(units=units, experts=2, groups=2)
        # One unit with a second staff member: its task is queued, every other one assigned.
        m.UnitMembership.objects.create(user=make_user(), unit=setup.units[0], role=m.UnitRole.STAFF)
        ContentType.objects.clear_cache()  # both launches look the content types up afresh
        with CaptureQueriesContext(connection) as queries:
            services.round_launch(user=setup.office, round_id=setup.round.pk)
        counts.append(len(queries))
        prepare = Task.objects.filter(process__data__round=setup.round.pk, flow_task=CaseFlow.prepare)
        assert prepare.filter(status=STATUS.NEW, owner=None).count() == 1
        assigned = prepare.filter(status=STATUS.ASSIGNED).values_list("process__data__unit", "owner_id")
        assert sorted(assigned) == sorted((u.pk, s.pk) for u, s in zip(setup.units[1:], setup.staff[1:]))
    assert counts[0] == counts[1], counts


def test_launch_reports_a_case_without_eligible_expert():
    setup = make_round(units=2, experts=1)
    # The only expert of the group works in unit 0: unit 0 has nobody to score it after recusal.
    expert = setup.groups[0].experts[0]
    m.UnitMembership.objects.create(user=expert, unit=setup.units[0], role=m.UnitRole.STAFF)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.round_launch(user=setup.office, round_id=setup.round.pk)
    assert exc.value.message_dict == {"cases": [f"{setup.units[0].name}没有可回避后评分的专家。"]}
    assert not Process.objects.filter(flow_class=CaseFlow).exists()


def _act(user, task, action, data=None):
    assert task is not None
    return services.task_act(user=user, task_id=task.pk, action=action, data=data or {})


def test_bulk_launched_cases_run_through_the_whole_flow():
    setup = make_round(units=2, experts=2, launch=True)
    group = setup.groups[0]
    item = {"item": "S1.1", "deduction": "1", "reason": "制度不全"}
    for n, case in enumerate(setup.cases):
        staff, head = setup.staff[n], setup.heads[n]
        _act(staff, setup.task("prepare", case), "submit", {"report": "自评报告"})
        _act(head, setup.task("sign_off", case), "return", {"comment": "请补充"})
        _act(staff, setup.task("prepare", case), "submit", {"report": "自评报告（补充）"})
        _act(head, setup.task("sign_off", case), "approve")
        _act(group.leader, setup.task("inspect", case), "submit")
        for expert in group.experts:
            _act(expert, setup.task("score", case, expert=expert), "submit", {"items": [item]})
        sheet = m.ScoreSheet.objects.get(case=case, expert=group.experts[1], status=m.SheetStatus.SUBMITTED)
        _act(group.leader, setup.task("review", case), "return", {"sheets": [sheet.pk], "comment": "再看"})
        expert = group.experts[1]
        _act(expert, setup.task("score", case, expert=expert), "submit", {"items": [{**item, "deduction": "2"}]})
        _act(group.leader, setup.task("review", case), "approve")
        case.refresh_from_db()
        assert case.status == m.CaseStatus.DONE
        process = Process.objects.get(flow_class=CaseFlow, artifact_object_id=case.pk)
        assert process.status == PROCESS.DONE and process.finished is not None
        assert not Task.objects.filter(process=process, status__in=[STATUS.NEW, STATUS.ASSIGNED]).exists()
        totals = sorted(
            (s.expert_id, s.attempt, s.status, str(s.total)) for s in m.ScoreSheet.objects.filter(case=case)
        )
        assert totals == sorted(
            [
                (group.experts[0].pk, 1, "submitted", "14.00"),
                (group.experts[1].pk, 1, "returned", "14.00"),
                (group.experts[1].pk, 2, "submitted", "13.00"),
            ]
        )

    setup.refresh()
    assert setup.round.status == m.RoundStatus.COMPILING
    _act(setup.office, setup.task("compile"), "submit")
    _act(setup.leader, setup.task("approve"), "return", {"comment": "复核"})
    _act(setup.office, setup.task("compile"), "submit")
    _act(setup.leader, setup.task("approve"), "approve")
    _act(setup.office, setup.task("report"), "submit")
    setup.refresh()
    assert setup.round.status == m.RoundStatus.CLOSED
