"""Endpoints that move work: the task inbox/queue and task actions, round launch, deadline extensions,
flow diagrams."""

from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from viewflow.workflow.models import Process, Task

from cases import access
from cases import models as m
from cases.api.serializers import RoundSerializer
from workflow import dashboard, deadlines, selectors, services
from workflow.flows import CaseFlow, RoundFlow
from workflow.models import Phase

SCOPES = ("inbox", "queue", "archive", "all")
# The columns TaskSerializer reads.
LISTED_FIELDS = ("id", "flow_task", "status", "owner_id", "created", "finished", "data", "process__data")


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
        return "case" if task.flow_task.flow_class is CaseFlow else "round"

    def get_title(self, task) -> str:
        return str(task.flow_task.task_title)

    def get_due(self, task) -> str | None:
        """The task's effective due (extensions included); the phase due for a task without a row."""
        due = self.context.get("dues", {}).get(task.pk)
        if due is None:
            round = self.context["rounds"].get(self._process_data(task).get("round"))
            due = deadlines.phase_due(round, task.flow_task.name) if round else None
        return due.isoformat() if due else None

    def get_round(self, task) -> dict | None:
        round = self.context["rounds"].get(self._process_data(task).get("round"))
        return {"id": round.pk, "title": round.title} if round else None

    def get_case(self, task) -> dict | None:
        return self.context["cases"].get(self._process_data(task).get("case"))

    def get_actions(self, task) -> list[str]:
        if task.status not in ("NEW", "ASSIGNED"):
            return []
        return list(services.STEP_ACTIONS.get(task.flow_task.name, ()))

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
            titles[node] = ("case" if node.flow_class is CaseFlow else "round", str(node.task_title))
        flow, title = titles[node]
        if due is None:
            process_data = legacy_data.get(process_id, {})
            round = legacy.get(process_data.get("round"))
            due = deadlines.phase_due(round, node.name) if round else None
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
            "actions": list(services.STEP_ACTIONS.get(node.name, ())) if status in ("NEW", "ASSIGNED") else [],
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
        "dues": deadlines.dues_of(t.pk for t in tasks),
    }


class TaskActionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True)
    report = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    self_scores = serializers.DictField(required=False)
    statistics = serializers.DictField(required=False)
    items = serializers.ListField(child=serializers.DictField(), required=False)
    reason = serializers.CharField(required=False, allow_blank=True)
    sheets = serializers.ListField(child=serializers.IntegerField(), required=False)
    grade = serializers.CharField(required=False, allow_blank=True)


_REQUIRED = {"required": "必须填写。", "blank": "不能为空。", "null": "必须填写。"}


class ExtendSerializer(serializers.Serializer):
    """A new due date (ISO 8601; without an offset it is Asia/Shanghai time) and the reason."""

    due = serializers.DateTimeField(error_messages={**_REQUIRED, "invalid": "日期时间格式不正确（ISO 8601）。"})
    reason = serializers.CharField(max_length=1000, error_messages=_REQUIRED)


class PhaseExtendSerializer(ExtendSerializer):
    phase = serializers.ChoiceField(choices=Phase.choices, error_messages={
        **_REQUIRED, "invalid_choice": "阶段必须是 prepare / inspect / review / approve / report 之一。"})


def _extend_body(serializer_class, request) -> dict:
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


class OnePassPaginator(Paginator):
    """Django's paginator; when the rows can (`selectors.OwnTaskRows`), it reads a page and the total
    in one statement instead of a count and then the page. Same errors, same page objects."""

    def page(self, number):
        if not hasattr(self.object_list, "page"):
            return super().page(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        rows, self.count = self.object_list.page((number - 1) * self.per_page, self.per_page)
        if not rows and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        return self._get_page(rows, number, self)


class TaskPagination(PageNumberPagination):
    django_paginator_class = OnePassPaginator


class TaskViewSet(viewsets.ReadOnlyModelViewSet):
    """Tasks. `?scope=inbox` (assigned to me, default), `queue` (claimable by my roles),
    `archive` (done by me) or `all` (everything I may see); `?step=` one step's tasks only."""

    serializer_class = TaskSerializer
    pagination_class = TaskPagination

    def get_queryset(self):
        """Every task the user may see (a task's own endpoints); `list` reads the scopes."""
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Task.objects.none()
        # Only the columns the serializer reads.
        return selectors.tasks_for(self.request.user, "all").select_related("process").only(*LISTED_FIELDS)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context.update(self._context)
        return context

    @extend_schema(parameters=[
        OpenApiParameter("scope", str, enum=SCOPES, description="inbox (default), queue, archive or all"),
        OpenApiParameter("step", str, description="a step name, e.g. score"),
    ])
    def list(self, request, *args, **kwargs):
        scope = request.query_params.get("scope", "inbox")
        if scope not in SCOPES:
            raise NotFound(f"scope must be one of {', '.join(SCOPES)}")
        step = request.query_params.get("step")
        nodes = [n for n in (CaseFlow.instance.node(step), RoundFlow.instance.node(step)) if n] if step else None
        page = self.paginate_queryset(selectors.task_rows(request.user, scope, nodes))
        return self.get_paginated_response(task_rows_json(page))

    def retrieve(self, request, *args, **kwargs):
        task = self.get_object()
        self._context = task_summaries([task])
        return Response(self.get_serializer(task).data)

    def _respond(self, task_id: int):
        """The task after the action, as the list shows it (one query)."""
        (row,) = task_rows_json(selectors.task_rows_by_id([task_id]))
        return Response(row)

    @contextmanager
    def _explained_to_viewers(self):
        """Run a task action; if it fails, a user who may not see the task gets 404 rather than why
        (the service answers 403 / 409 / 400 to those who may). Checking visibility only on failure
        saves a query on every successful action: who may act on a task may see it."""
        try:
            yield
        except Exception:
            self.get_object()
            raise

    def _task_id(self, pk) -> int:
        try:
            return int(pk)
        except (TypeError, ValueError):
            raise NotFound() from None

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        with self._explained_to_viewers():
            task = services.task_claim(user=request.user, task_id=self._task_id(pk))
        return self._respond(task.pk)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def unclaim(self, request, pk=None):
        with self._explained_to_viewers():
            task = services.task_unclaim(user=request.user, task_id=self._task_id(pk))
        return self._respond(task.pk)

    def _act(self, request, pk, name):
        body = TaskActionSerializer(data=request.data)
        with self._explained_to_viewers():
            body.is_valid(raise_exception=True)
            task = services.task_act(user=request.user, task_id=self._task_id(pk), action=name,
                                     data=body.validated_data)
        return self._respond(task.pk)

    @extend_schema(request=TaskActionSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Complete a prepare / inspect / score / compile / report task (optionally with its data)."""
        return self._act(request, pk, "submit")

    @extend_schema(request=TaskActionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve at sign-off, review or the leader's approval."""
        return self._act(request, pk, "approve")

    @extend_schema(request=TaskActionSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, pk=None):
        """Send work back with a comment (review: name the `sheets` to return to their experts)."""
        return self._act(request, pk, "return")

    @extend_schema(request=ExtendSerializer)
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        """Extend this task's due date (office; a reason is required; audited; its people are told)."""
        deadlines.require_office(request.user)  # before the body: outsiders get 403
        self.get_object()
        data = _extend_body(ExtendSerializer, request)
        deadlines.task_extend(user=request.user, task_id=int(pk), due=data["due"], reason=data["reason"])
        return self._respond(int(pk))


@extend_schema(request=None, responses=RoundSerializer)
@api_view(["POST"])
def round_launch(request, pk: int):
    """Launch a drafted round: one case process per unit, the round process, rubric frozen."""
    get_object_or_404(m.Round.objects.restrict(request.user), pk=pk)
    round = services.round_launch(user=request.user, round_id=pk)
    return Response(RoundSerializer(round).data)


@extend_schema(request=ExtendSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def case_extend(request, pk: int):
    """Extend a unit's open tasks (and, for that unit, the phases they are in) to a new due date
    (office; a reason is required; audited; the people concerned are told)."""
    deadlines.require_office(request.user)  # before the body: outsiders get 403
    get_object_or_404(m.Case.objects.restrict(request.user), pk=pk)
    data = _extend_body(ExtendSerializer, request)
    rows = deadlines.case_extend(user=request.user, case_id=pk, due=data["due"], reason=data["reason"])
    tasks = task_rows_json(selectors.task_rows_by_id([r.task_id for r in rows]))
    return Response({"case": pk, "due": data["due"].isoformat(), "tasks": tasks})


@extend_schema(request=PhaseExtendSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def round_extend_phase(request, pk: int):
    """Move a phase's due date of a round later; its open tasks follow (office; a reason is required;
    audited; the people concerned are told)."""
    deadlines.require_office(request.user)  # before the body: outsiders get 403
    get_object_or_404(m.Round.objects.restrict(request.user), pk=pk)
    data = _extend_body(PhaseExtendSerializer, request)
    changed = deadlines.phase_extend(user=request.user, round_id=pk, phase=data["phase"], due=data["due"],
                                     reason=data["reason"])
    return Response({"round": pk, "phase": data["phase"], "due": data["due"].isoformat(), "tasks": len(changed)})


def _svg(flow_class, process_pk=None) -> HttpResponse:
    return HttpResponse(selectors.flow_svg(flow_class, process_pk), content_type="image/svg+xml")


@extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.STR},
               parameters=[OpenApiParameter("flow", str, OpenApiParameter.PATH, enum=["case", "round"])])
@api_view(["GET"])
def flow_diagram(request, flow: str):
    """The flow's diagram (SVG)."""
    flows = {"case": CaseFlow, "round": RoundFlow}
    if flow not in flows:
        raise NotFound()
    return _svg(flows[flow])


@extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.STR})
@api_view(["GET"])
def case_diagram(request, pk: int):
    """The case's flow diagram with its current position highlighted (SVG)."""
    case = get_object_or_404(m.Case.objects.restrict(request.user), pk=pk)
    process = selectors.case_process(case.pk)
    if process is None:
        raise NotFound()
    return _svg(CaseFlow, process.pk)


def _person(user) -> dict:
    return {"id": user.pk, "name": str(user), "mobile": user.mobile, "office_phone": user.office_phone}


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def round_dashboard(request, pk: int):
    """The round's traffic lights, progress per step, overdue tasks (by unit, group and person, with
    contacts), deadlines in the next 7 days and cumulative completions per day."""
    if not access.sees_everything(request.user):
        raise PermissionDenied()
    round = get_object_or_404(m.Round.objects.restrict(request.user), pk=pk)
    data = dashboard.round_dashboard(round)
    overdue = [{"task": r.task_id, "title": r.title, "unit": r.unit, "group": r.group, "due": r.due.isoformat(),
                "days_overdue": r.days, "workdays_overdue": r.workdays, "claimed": r.claimed,
                "people": [_person(p) for p in r.people]} for r in data["overdue"]]
    return Response({
        "lights": data["lights"],
        "cases": [{"case": c.pk, "unit": c.unit.name, "status": c.status, "light": light} for c, light in data["cases"]],
        "steps": [{"step": s.step, "title": s.title, "done": s.done, "open": s.open, "overdue": s.overdue}
                  for s in data["steps"]],
        "overdue": overdue,
        "overdue_by_unit": [{"unit": k, "tasks": n, "max_days": d} for k, n, d in data["overdue_by_unit"]],
        "overdue_by_group": [{"group": k, "tasks": n, "max_days": d} for k, n, d in data["overdue_by_group"]],
        "overdue_by_person": [{**_person(k), "tasks": n, "max_days": d} for k, n, d in data["overdue_by_person"]],
        "upcoming": [{"task": r.task_id, "title": str(r.task.flow_task.task_title),
                      "unit": r.case.unit.name if r.case else None, "due": r.due.isoformat()} for r in data["upcoming"]],
        "completion": [{"date": day.isoformat(), "done": total} for day, total in data["completion"]],
        "calendar_warnings": data["calendar_warnings"],
    })


@extend_schema(request=None, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def round_urge(request, pk: int):
    """一键催办: remind every owner of an overdue task at once (office; at most once an hour per round)."""
    get_object_or_404(m.Round.objects.restrict(request.user), pk=pk)
    return Response({"notifications": dashboard.round_urge_overdue(user=request.user, round_id=pk)})
