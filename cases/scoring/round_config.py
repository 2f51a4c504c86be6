"""A round's configuration (`Round.config`): what the scoring engine takes from it, and its checks.

Keys (all optional; docs/round-config.md): report_char_limit, aggregation, trim_min_sheets,
aggregation_level, grades, rank_by_category, grade_source, group_quotas, low_total_threshold,
late_deduction, composite, self_check, recommendation, special_bonus_cap
(docs/party-building.md), and the deadline keys of docs/deadlines.md.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from cases.party_building import rules, selfcheck
from cases.scoring import engine


def grade_names(config: dict[str, Any]) -> list[str]:
    """The names of the round's grade bands, best first (empty when the round has no grades)."""
    return [name for name, _ in (config.get("grades") or {}).get("bands", [])]


def scoring_config(config: dict[str, Any]) -> engine.ScoringConfig:
    """The engine's configuration; raises ScoringError, KeyError, TypeError or ValueError when malformed."""
    grades = config.get("grades")
    scheme = None
    if grades:
        scheme = engine.GradeScheme(scheme=grades["scheme"], bands=tuple((n, Decimal(str(v))) for n, v in grades["bands"]))
    composite = config.get("composite")
    weights: tuple[tuple[str, Decimal], ...] = ()
    if composite:
        weights = (("self", Decimal(str(composite["self_weight"]))),
                   *((part["name"], Decimal(str(part["weight"]))) for part in composite["rounds"]))
        for part in composite["rounds"]:
            if not isinstance(part["round"], int) or isinstance(part["round"], bool):
                raise ValueError(f"composite round must be a round id, got {part['round']!r}")
    return engine.ScoringConfig(
        aggregation=config.get("aggregation", "mean"),
        trim_min_sheets=int(config.get("trim_min_sheets", 5)),
        aggregation_level=config.get("aggregation_level", "total"),
        grades=scheme,
        composite_weights=weights,
    )


def problems(config: object) -> list[str]:
    """Every problem of a round configuration, as messages (empty when it is fine)."""
    if not isinstance(config, dict):
        return ["必须是对象。"]
    found = []
    try:
        scoring_config(config)
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:  # ScoringError is a ValueError
        found.append(f"评分配置有误：{exc}")
    for key in ("report_char_limit", "rectification_days"):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            found.append(f"{key} 必须是正整数。")
    for key in ("low_total_threshold", "late_deduction"):
        if config.get(key) is not None:
            try:
                if Decimal(str(config[key])) < 0:
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                found.append(f"{key} 必须是非负数。")
    quotas = config.get("group_quotas")
    if quotas is not None and (not isinstance(quotas, dict) or any(
            not str(v).replace(".", "", 1).isdigit() for v in quotas.values())):
        found.append("group_quotas 必须是 {等次: 百分比}。")
    found.extend(selfcheck.config_problems(config))  # seed 001: the self-check statistics table
    found.extend(rules.config_problems(config))  # seed 001: democratic recommendation, special_bonus_cap
    return found
