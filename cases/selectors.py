"""Domain reads that services and pages share: query-only, no writes."""

from collections.abc import Mapping
from datetime import datetime

from django.db.models import Exists, OuterRef

from cases import access
from cases import models as m
from cases.party_building import selfcheck
from cases.scoring import round_config


def round_problems(dues: Mapping[str, datetime | None], config: object) -> dict[str, list[str]]:
    """What is wrong with a round's phase dues (each not before the previous phase's) and its
    configuration, as {field: [messages]}; for the services, and for the admin form's errors.
    `config` is checked as given: it may be anything a user typed."""
    errors: dict[str, list[str]] = {}
    for a, b in zip(m.Round.DUE_FIELDS, m.Round.DUE_FIELDS[1:]):
        due_a, due_b = dues.get(a), dues.get(b)
        if due_a and due_b and due_b < due_a:
            errors[b] = [f"不能早于 {a}。"]
    found = round_config.problems(config)
    if found:
        errors["config"] = found
    return errors


def round_launch_problems(round: m.Round) -> dict[str, list[str]]:
    """Why a drafted round cannot run yet, as {field: [messages]}: no cases, a rubric without items,
    a group without a leader or an expert, a case whose every expert is recused."""
    problems: dict[str, list[str]] = {}
    if not round.cases.exists():
        problems.setdefault("cases", []).append("本轮没有被考评单位。")
    if not round.rubric.items.exists():
        problems.setdefault("rubric", []).append("考评细则没有评分项。")
    if round.kind == m.RoundKind.SOCIAL:
        # A social round's units deliver materials and are evaluated by leaders and the public, not scored by
        # experts (seed 004): its groups only sort the units for the office.
        return problems
    for group in round.groups.prefetch_related("members"):
        roles = [member.role for member in group.members.all()]
        if m.GroupRole.LEADER not in roles:
            problems.setdefault("groups", []).append(f"{group.name}没有组长。")
        if m.GroupRole.EXPERT not in roles:
            problems.setdefault("groups", []).append(f"{group.name}没有评分专家。")
    # Every case needs at least one expert who is not from the unit itself (one query for all cases).
    eligible = access.scoring_experts(OuterRef("group_id"), OuterRef("unit_id"))
    for case in round.cases.filter(~Exists(eligible)).select_related("unit"):
        problems.setdefault("cases", []).append(f"{case.unit.name}没有可回避后评分的专家。")
    # Seed 001: a self-check row's deduction is charged to an item the rubric must have.
    rows = selfcheck.table(round.config or {}, round.rubric.spec)
    if rows:
        unknown = selfcheck.unknown_items(rows, set(round.rubric.items.values_list("code", flat=True)))
        if unknown:
            problems["config"] = unknown
    return problems
