"""Builders for rectification tests: a round approved by its leader with findings to rectify."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.files.base import ContentFile
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from cases.services import inspections
from tests.factories import act, advance_case, make_round


def approved_round(units: int = 2, *, findings: int = 1, item: str = "S1.1", experts: int = 1, **kwargs):
    """A launched round (`units` units, one group) whose every case has `findings` findings that
    require rectification (on rubric item `item`), carried through compile and the leader's approval."""
    setup = make_round(units=units, experts=experts, launch=True, **kwargs)
    rubric_item = setup.rubric.items.get(code=item)
    for index in range(units):
        case = advance_case(setup, index, upto="inspect")
        leader = setup.group_of(index).leader
        for n in range(findings):
            inspections.finding_create(user=leader, case=case, source=m.FindingSource.INSPECTION,
                                       description=f"{case.unit.name}问题{n + 1}", item=rubric_item,
                                       requires_rectification=True)
        advance_case(setup, index, upto="done")
    act(setup, setup.office, "compile")
    act(setup, setup.leader, "approve", None, "approve", comment="同意")
    return setup.refresh()


def rect_task(rect: m.Rectification, step: str | None = None) -> Task | None:
    """The open task of a rectification's process (of `step`, if given)."""
    qs = Task.objects.filter(process__data__rectification=rect.pk, status__in=[STATUS.NEW, STATUS.ASSIGNED])
    tasks = [t for t in qs.order_by("pk") if step is None or t.flow_task.name == step]
    return tasks[0] if tasks else None


def measures(rect: m.Rectification, n: int = 2) -> list[dict]:
    today = timezone.localdate()
    return [{"text": f"措施{i + 1}", "responsible": f"责任人{i + 1}",
             "due_date": min(today + timedelta(days=5 * (i + 1)), rect.due_date).isoformat()} for i in range(n)]


def attachment(case: m.Case, user: m.User, purpose: str = m.Attachment.Purpose.EVIDENCE) -> m.Attachment:
    """A stored file of the case (written directly: the upload rules are tested elsewhere)."""
    content = ContentFile(b"%PDF-1.4 evidence", name="evidence.pdf")
    return m.Attachment.objects.create(case=case, purpose=purpose, file=content, original_name="佐证.pdf",
                                       size=content.size, sha256="0" * 64, uploaded_by=user)


def today() -> date:
    return timezone.localdate()


def advance_rectification(setup, rect: m.Rectification, upto: str) -> m.Rectification:
    """Carry a rectification (of unit `setup.units[i]`, one group) through its steps up to `upto`
    (its task open), by the rightful people: plan → plan_sign → plan_review → carry_out → verify."""
    from workflow import services

    steps = ["plan", "plan_sign", "plan_review", "carry_out", "verify"]
    index = [u.pk for u in setup.units].index(rect.unit_id)
    staff, head, lead = setup.staff[index], setup.heads[index], setup.group_of(index).leader
    payloads = {
        "plan": (staff, "submit", {"target": "目标", "measures": measures(rect, 1)}),
        "plan_sign": (head, "approve", {}),
        "plan_review": (lead, "approve", {}),
        "carry_out": (staff, "submit", {"report": "完成", "evidence_ids": [attachment(rect.case, staff).pk]}),
    }
    for step in steps[:steps.index(upto)]:
        user, action, data = payloads[step]
        task = rect_task(rect, step)
        assert task is not None, f"no open {step} task"
        services.task_act(user=user, task_id=task.pk, action=action, data=data)
    rect.refresh_from_db()
    return rect
