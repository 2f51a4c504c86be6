"""What the task API reads and writes: a task as an inbox shows it (`TaskSerializer`, which defines
the output and the OpenAPI schema, and `task_rows_json`, the list's fast path that gives the same),
and the bodies of task actions and deadline extensions."""

import copy
from typing import Any

from django.utils import timezone
from rest_framework import serializers
from viewflow.workflow.models import Process

from cases import models as m
from cases.api.fields import BoundedIntegerField, StrictSerializer
from cases.api.serializers import ItemScoreRowsField
from workflow.deadlines.rules import phase_due
from workflow.deadlines.selectors import dues_of
from workflow.flows import CaseFlow, RectificationFlow, SocialCaseFlow
from workflow.models import Phase
from workflow.steps import actions_of

FLOW_NAMES = {CaseFlow: "case", SocialCaseFlow: "social_case", RectificationFlow: "rectification"}


class TaskSerializer(serializers.Serializer):
    """A task with what an inbox shows: the step, the case and unit, the due date, the actions."""

    id = serializers.IntegerField()
    flow = serializers.SerializerMethodField()
    step = serializers.CharField(source="flow_task.name")
    title = serializers.SerializerMethodField()
    status = serializers.CharField()
    owner = serializers.IntegerField(source="owner_id", allow_null=True)
    created = serializers.DateTimeField()
    finished = serializers.DateTimeField(allow_null=True)
    due = serializers.SerializerMethodField()
    round = serializers.SerializerMethodField()
    case = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    comment = serializers.SerializerMethodField()

    def _process_data(self, task) -> dict:
        return task.process.data

    def get_flow(self, task) -> str:
        return FLOW_NAMES.get(task.flow_task.flow_class, "round")

    def get_title(self, task) -> str:
        return str(task.flow_task.task_title)

    def get_due(self, task) -> str | None:
        """The task's effective due (extensions included); the phase due for a task without a row."""
        due = self.context.get("dues", {}).get(task.pk)
        if due is None:
            round = self.context["rounds"].get(self._process_data(task).get("round"))
            due = phase_due(round, task.flow_task) if round else None
        return due.isoformat() if due else None

    def get_round(self, task) -> dict | None:
        round = self.context["rounds"].get(self._process_data(task).get("round"))
        return {"id": round.pk, "title": round.title} if round else None

    def get_case(self, task) -> dict | None:
        return self.context["cases"].get(self._process_data(task).get("case"))

    def get_actions(self, task) -> list[str]:
        if task.status not in ("NEW", "ASSIGNED"):
            return []
        return list(actions_of(task.flow_task))

    def get_comment(self, task) -> str:
        return task.data.get("comment", "")

    def to_representation(self, task):
        """The declared fields above (which the OpenAPI schema is built from), written out: DRF's
        generic per-field loop is ~1.4 ms of a 50-task inbox page, this ~0.3 ms (bench/inbox.py).
        tests/workflow/test_task_list.py checks that both give the same result."""
        fields = self.fields
        created, finished = task.created, task.finished
        return {
            "id": task.id,
            "flow": self.get_flow(task),
            "step": task.flow_task.name,
            "title": self.get_title(task),
            "status": str(task.status),
            "owner": task.owner_id,
            "created": None if created is None else fields["created"].to_representation(created),
            "finished": None if finished is None else fields["finished"].to_representation(finished),
            "due": self.get_due(task),
            "round": self.get_round(task),
            "case": self.get_case(task),
            "actions": self.get_actions(task),
            "comment": self.get_comment(task),
        }


def _iso(value, tz) -> str | None:
    """As DRF's DateTimeField writes it: in the current time zone `tz`, ISO 8601."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def task_rows_json(rows) -> list[dict]:
    """`selectors.ROW_FIELDS` rows as the API shows them: the list's fast path. `TaskSerializer` stays
    the definition of the output (and of the OpenAPI schema); tests/workflow/test_task_list.py checks
    the two agree. Tasks created before due rows existed take their round and case from the process,
    as in the serializer."""
    legacy_ids = [r[7] for r in rows if r[8] is None]
    legacy_data, legacy, legacy_cases = {}, {}, {}
    if legacy_ids:
        legacy_data = dict(Process.objects.filter(pk__in=legacy_ids).values_list("pk", "data"))
        legacy = m.Round.objects.order_by().in_bulk({d["round"] for d in legacy_data.values() if "round" in d})
        legacy_cases = {
            pk: (unit_name, group_name, status)
            for pk, unit_name, group_name, status in m.Case.objects.filter(
                pk__in={d["case"] for d in legacy_data.values() if "case" in d}).order_by().values_list(
                "pk", "unit__name", "group__name", "status")
        }
    tz = timezone.get_current_timezone()
    titles: dict = {}
    out = []
    for (pk, node, status, created, finished, owner_id, data, process_id, due, round_id, round_title,
         case_id, unit, group, case_status) in rows:
        if node not in titles:
            titles[node] = (FLOW_NAMES.get(node.flow_class, "round"), str(node.task_title))
        flow, title = titles[node]
        if due is None:
            process_data = legacy_data.get(process_id, {})
            round = legacy.get(process_data.get("round"))
            due = phase_due(round, node) if round else None
            round_id, round_title = (round.pk, round.title) if round else (None, None)
            case_id = process_data.get("case") if process_data.get("case") in legacy_cases else None
            if case_id:
                unit, group, case_status = legacy_cases[case_id]
        out.append({
            "id": pk,
            "flow": flow,
            "step": node.name,
            "title": title,
            "status": str(status),
            "owner": owner_id,
            "created": _iso(created, tz),
            "finished": _iso(finished, tz),
            "due": due.isoformat() if due else None,
            "round": {"id": round_id, "title": round_title} if round_id else None,
            "case": {"id": case_id, "unit": unit, "group": group, "status": case_status} if case_id else None,
            "actions": list(actions_of(node)) if status in ("NEW", "ASSIGNED") else [],
            "comment": data.get("comment", ""),
        })
    return out


def task_summaries(tasks) -> dict:
    """What the API shows of the cases and rounds a page of tasks refers to, and the tasks' dues, in
    three queries whatever the page's length. Cases come as the serializer's dicts, not model
    instances (150 Case, Unit and Group instances are ~1.5 ms of an inbox request); a page refers to
    a round or two; dues are read by primary key from `TaskDeadline`."""
    data = [t.process.data for t in tasks]
    case_ids = {d["case"] for d in data if "case" in d}
    round_ids = {d["round"] for d in data if "round" in d}
    cases = m.Case.objects.filter(pk__in=case_ids).order_by()
    return {
        "cases": {
            pk: {"id": pk, "unit": unit, "group": group, "status": status}
            for pk, unit, group, status in cases.values_list("pk", "unit__name", "group__name", "status")
        },
        "rounds": m.Round.objects.order_by().in_bulk(round_ids),
        "dues": dues_of(t.pk for t in tasks),
    }


class MeasureSerializer(StrictSerializer):
    """One measure of a rectification's plan; what is missing or out of range is the service's to name
    ("measures[1].due_date")."""

    text = serializers.CharField(required=False, allow_blank=True)
    responsible = serializers.CharField(required=False, allow_blank=True, max_length=64)
    due_date = serializers.DateField(required=False, allow_null=True)


class TaskActionSerializer(StrictSerializer):
    comment = serializers.CharField(required=False, allow_blank=True)
    report = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    self_scores = serializers.DictField(required=False)
    statistics = serializers.DictField(required=False)
    items = ItemScoreRowsField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True)
    sheets = serializers.ListField(child=BoundedIntegerField(min_value=1), required=False)
    grade = serializers.CharField(required=False, allow_blank=True)
    # Grade first (seed 000): the expert's proposal {grade, rank, deduction}, checked by the sheet service.
    proposal = serializers.DictField(required=False)
    # The leader's return of the results to one group (seed 000), by its id.
    group = BoundedIntegerField(min_value=1, required=False)
    # A rectification's plan (the `plan` step) and completion evidence (`carry_out`, with `report`).
    target = serializers.CharField(required=False, allow_blank=True)
    measures = MeasureSerializer(many=True, required=False)
    evidence_ids = serializers.ListField(child=BoundedIntegerField(min_value=1), required=False, max_length=100)
    # A social round's materials (seed 004), checked field by field by cases.social.materials.services.
    topic = serializers.CharField(required=False, allow_blank=True)
    questions = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, max_length=50)
    situation = serializers.DictField(required=False)
    analysis = serializers.DictField(required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        """Only the fields the body sends: every field is optional and has no default, so the others
        add nothing to `validated_data`, and DRF deep-copies each declared field for every instance
        (7 % of a score submission's CPU for these 21, sampled). Without a body (the OpenAPI schema) all."""
        sent: Any = getattr(self, "initial_data", None)
        if not hasattr(sent, "keys"):
            return super().get_fields()
        return {name: copy.deepcopy(field) for name, field in self._declared_fields.items() if name in sent}


_REQUIRED: dict[str, Any] = {"required": "必须填写。", "blank": "不能为空。", "null": "必须填写。"}


class ExtendSerializer(StrictSerializer):
    """A new due date (ISO 8601; without an offset it is Asia/Shanghai time) and the reason."""

    due = serializers.DateTimeField(error_messages={**_REQUIRED, "invalid": "日期时间格式不正确（ISO 8601）。"})
    reason = serializers.CharField(max_length=1000, error_messages=_REQUIRED)


class PhaseExtendSerializer(ExtendSerializer):
    phase = serializers.ChoiceField(choices=Phase.choices, error_messages={
        **_REQUIRED, "invalid_choice": "阶段必须是 prepare / inspect / review / approve / report 之一。"})
