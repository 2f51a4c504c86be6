"""Domain reads that services and pages share: query-only, no writes."""

from collections.abc import Mapping
from datetime import datetime

from cases import models as m
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
