"""Reads of the publication (公示) and objections (异议) shared by the API, the pages and the documents."""

import datetime as dt
from typing import Any

from django.db.models import Count
from django.utils import timezone

from cases import access
from cases import models as m
from cases.objections import services
from cases.scoring import round_config


def may_object(user: m.User, case: m.Case) -> bool:
    """Whether `user` may file an objection on `case`: its unit's staff or head."""
    return (access.is_unit_member(user, case.unit_id, m.UnitRole.STAFF)
            or access.is_unit_member(user, case.unit_id, m.UnitRole.HEAD))


def _iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def publication_state(round: m.Round, user: m.User, now: dt.datetime | None = None) -> dict[str, Any]:
    """The round's publication as the API and the pages show it."""
    now = now or timezone.now()
    counts = dict(access.visible(m.Objection, user).filter(round=round).order_by().values_list("status")
                  .annotate(n=Count("pk")))
    configured = round_config.publication_days(round.config or {})
    return {
        "round": round.pk,
        "configured_days": configured,
        "day_kind": (round.config or {}).get("publication_day_kind", "working"),
        "starts_at": _iso(round.publication_starts_at),
        "ends_at": _iso(round.publication_ends_at),
        "open": services.publication_is_open(round, now),
        "objections": {status: counts.get(status, 0) for status in m.ObjectionStatus.values},
        "final": round.results_final_at is not None,
        "final_at": _iso(round.results_final_at),
        "finality_problem": services.finality_problem(round, now),
    }


def reward_coefficient(round: m.Round, grade: str) -> str | None:
    """The grade's 奖励系数 in the round, as text ("1.10"), or None when the round has none for it."""
    value = round_config.reward_coefficients(round.config or {}).get(grade)
    return None if value is None else str(value)


def open_counts() -> dict[int, int]:
    """Open objections per round (the office dashboard)."""
    return dict(m.Objection.objects.filter(status=m.ObjectionStatus.OPEN).order_by().values_list("round_id")
                .annotate(n=Count("pk")))
