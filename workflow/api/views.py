"""Endpoints that move work: the task inbox/queue and task actions, round launch, deadline extensions,
flow diagrams, the round's dashboard."""

from contextlib import contextmanager
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from viewflow.workflow.models import Task

from cases import access
from cases import models as m
from cases.api.fields import refuse_body
from cases.api.serializers import RoundSerializer
from cases.services.common import require_office
from workflow import selectors, services
from workflow.api.serializers import (
    ExtendSerializer,
    PhaseExtendSerializer,
    TaskActionSerializer,
    TaskSerializer,
    task_rows_json,
    task_summaries,
)
from workflow.deadlines import dashboard
from workflow.deadlines import services as deadlines
from workflow.flows import CaseFlow, RoundFlow, SocialCaseFlow
from workflow.steps import STEPS

# The steps `?step=` may name: every human step, by name (a name may belong to more than one flow).
STEP_NODES: dict[str, list[Any]] = {}
for _node in STEPS:
    STEP_NODES.setdefault(_node.name, []).append(_node)

SCOPES = ("inbox", "queue", "archive", "all")
# The columns TaskSerializer reads.
LISTED_FIELDS = ("id", "flow_task", "status", "owner_id", "created", "finished", "data", "process__data")


def _extend_body(serializer_class, request) -> dict:
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


class OnePassPaginator(Paginator):
    """Django's paginator; when the rows can (`selectors.OwnTaskRows`), it reads a page and the total
    in one statement instead of a count and then the page. Same errors, same page objects."""

    MAX_PAGE = 2**31 - 1

    def page(self, number):
        if not hasattr(self.object_list, "page"):
            return super().page(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        if number > self.MAX_PAGE:
            # Past any list's end, and its OFFSET would overflow PostgreSQL's bigint (a DataError, a 500):
            # the same 404 as any other page past the end.
            raise EmptyPage(self.error_messages["no_results"])
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
        if step and step not in STEP_NODES:  # checked against the list, never handed to the engine or the database
            raise ValidationError({"step": [f"步骤必须是：{'、'.join(sorted(STEP_NODES))}。"]})
        nodes = STEP_NODES[step] if step else None
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

    def _body_after_permission(self, request, pk, check_body) -> None:
        """Judge the body only for someone who may act: a stranger's bad body gets the stranger's
        answer (403/409, or 404 from `_explained_to_viewers`), not a field list. The check of who may
        act runs only when the body is bad, so a good request costs nothing more."""
        try:
            check_body()
        except ValidationError:
            services.require_may_act(user=request.user, task_id=self._task_id(pk))
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
            self._body_after_permission(request, pk, lambda: refuse_body(request.data))
            task = services.task_claim(user=request.user, task_id=self._task_id(pk))
        return self._respond(task.pk)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def unclaim(self, request, pk=None):
        with self._explained_to_viewers():
            self._body_after_permission(request, pk, lambda: refuse_body(request.data))
            task = services.task_unclaim(user=request.user, task_id=self._task_id(pk))
        return self._respond(task.pk)

    def _act(self, request, pk, name):
        body = TaskActionSerializer(data=request.data)
        with self._explained_to_viewers():
            self._body_after_permission(request, pk, lambda: body.is_valid(raise_exception=True))
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
    get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    require_office(request.user)  # before the body: others get 403
    refuse_body(request.data)
    round = services.round_launch(user=request.user, round_id=pk)
    return Response(RoundSerializer(round).data)


@extend_schema(request=ExtendSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def case_extend(request, pk: int):
    """Extend a unit's open tasks (and, for that unit, the phases they are in) to a new due date
    (office; a reason is required; audited; the people concerned are told)."""
    deadlines.require_office(request.user)  # before the body: outsiders get 403
    get_object_or_404(access.visible(m.Case, request.user), pk=pk)
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
    get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    data = _extend_body(PhaseExtendSerializer, request)
    changed = deadlines.phase_extend(user=request.user, round_id=pk, phase=data["phase"], due=data["due"],
                                     reason=data["reason"])
    return Response({"round": pk, "phase": data["phase"], "due": data["due"].isoformat(), "tasks": len(changed)})


def _svg(flow_class, process_pk=None) -> HttpResponse:
    return HttpResponse(selectors.flow_svg(flow_class, process_pk), content_type="image/svg+xml")


@extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.STR},
               parameters=[OpenApiParameter("flow", str, OpenApiParameter.PATH, enum=["case", "social_case", "round"])])
@api_view(["GET"])
def flow_diagram(request, flow: str):
    """The flow's diagram (SVG)."""
    flows = {"case": CaseFlow, "social_case": SocialCaseFlow, "round": RoundFlow}
    if flow not in flows:
        raise NotFound()
    return _svg(flows[flow])


@extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.STR})
@api_view(["GET"])
def case_diagram(request, pk: int):
    """The case's flow diagram with its current position highlighted (SVG)."""
    case = get_object_or_404(access.visible(m.Case, request.user), pk=pk)
    process = selectors.case_process(case.pk)
    if process is None:
        raise NotFound()
    return _svg(process.flow_class, process.pk)


def _person(user) -> dict:
    return {"id": user.pk, "name": str(user), "mobile": user.mobile, "office_phone": user.office_phone}


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def round_dashboard(request, pk: int):
    """The round's traffic lights, progress per step, overdue tasks (by unit, group and person, with
    contacts), deadlines in the next 7 days and cumulative completions per day."""
    if not access.sees_everything(request.user):
        raise PermissionDenied()
    round = get_object_or_404(access.visible(m.Round, request.user), pk=pk)
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
    get_object_or_404(access.visible(m.Round, request.user), pk=pk)
    require_office(request.user)  # before the body: others get 403
    refuse_body(request.data)
    return Response({"notifications": dashboard.round_urge_overdue(user=request.user, round_id=pk)})
