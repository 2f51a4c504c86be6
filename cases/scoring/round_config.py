"""A round's configuration (`Round.config`): what the scoring engine takes from it, and its checks.

Keys (all optional; docs/round-config.md): report_char_limit, aggregation, trim_min_sheets,
aggregation_level, grades, rank_by_category, grade_source, group_quotas, low_total_threshold,
late_deduction, composite, grade_first, reward_coefficients, commendation_barred_grades, publication_days,
publication_day_kind, rectification_days, rectification_plan_days, rectification_start, self_check,
recommendation, special_bonus_cap (docs/party-building.md), leader_evaluation_points, publication_due,
publication_min_days, publication_deduction (docs/leader-evaluation.md), late_material_deduction
(docs/social-round.md), and the deadline keys of docs/deadlines.md.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from cases.evaluation import config as evaluation_config
from cases.party_building import rules, selfcheck
from cases.scoring import engine
from cases.social import rules as sample_rules


def grade_names(config: dict[str, Any]) -> list[str]:
    """The names of the round's grade bands, best first (empty when the round has no grades)."""
    return [name for name, _ in (config.get("grades") or {}).get("bands", [])]


def grade_first(config: dict[str, Any]) -> bool:
    """Seed 000: experts propose a grade, the group leader decides it, the experts score within its band."""
    return bool(config.get("grade_first"))


def grade_band(config: dict[str, Any], grade: str, total_max: Decimal) -> tuple[Decimal, Decimal, bool] | None:
    """(lowest, highest, whether the highest belongs to the band) of a grade of a `thresholds` scheme: from
    the grade's minimum total up to the next better grade's minimum (not included), the best grade up to the
    rubric's maximum (included). None for another scheme or an unknown grade."""
    grades = config.get("grades") or {}
    if grades.get("scheme") != "thresholds":
        return None
    bands = [(name, Decimal(str(value))) for name, value in grades.get("bands", [])]
    for i, (name, low) in enumerate(bands):
        if name == grade:
            return (low, total_max, True) if i == 0 else (low, bands[i - 1][1], False)
    return None


PUBLICATION_DAY_KINDS = ("working", "calendar")


def reward_coefficients(config: dict[str, Any]) -> dict[str, Decimal]:
    """奖励系数 by grade name (seed 002: 优秀 1.10, 良好 1.05, 达标 1.00, 不达标 0.80); empty when not
    configured. Assumes a checked configuration (`problems`)."""
    return {str(k): Decimal(str(v)) for k, v in (config.get("reward_coefficients") or {}).items()}


def commendation_barred_grades(config: dict[str, Any]) -> list[str]:
    """The grades that remove the unit's eligibility for commendation (seed 002: 不达标)."""
    return [str(g) for g in config.get("commendation_barred_grades") or []]


def publication_days(config: dict[str, Any]) -> int | None:
    """How long the approved results are published (公示) for objections; None: no publication period."""
    value = config.get("publication_days")
    return int(value) if value else None


def _publication_problems(config: dict[str, Any]) -> list[str]:
    found = []
    days = config.get("publication_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60):
        found.append("publication_days 必须是 1 到 60 之间的整数。")
    if config.get("publication_day_kind", "working") not in PUBLICATION_DAY_KINDS:
        found.append("publication_day_kind 必须是 working 或 calendar。")
    return found


def _grade_key_problems(config: dict[str, Any]) -> list[str]:
    found = []
    try:
        names = set(grade_names(config))
    except (TypeError, ValueError, AttributeError):  # malformed grades: reported by scoring_config
        names = set()
    coefficients = config.get("reward_coefficients")
    if coefficients is not None:
        if not isinstance(coefficients, dict):
            found.append("reward_coefficients 必须是 {等次: 系数}。")
        else:
            for grade, value in coefficients.items():
                if names and grade not in names:
                    found.append(f"reward_coefficients：未知的等次“{grade}”。")
                try:
                    number = Decimal(str(value))
                    if not number.is_finite() or number < 0 or number > 10 or number != number.quantize(Decimal("0.0001")):
                        raise InvalidOperation
                except (InvalidOperation, ValueError):
                    found.append(f"reward_coefficients：“{grade}”的系数必须是 0 到 10 之间、最多四位小数的数。")
    barred = config.get("commendation_barred_grades")
    if barred is not None:
        if not isinstance(barred, list) or not all(isinstance(g, str) for g in barred):
            found.append("commendation_barred_grades 必须是等次名称的列表。")
        elif names and set(barred) - names:
            found.append(f"commendation_barred_grades：未知的等次“{'、'.join(sorted(set(barred) - names))}”。")
    return found


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
    if config.get("rectification_start", "approval") not in ("approval", "finding"):
        found.append("rectification_start 必须是 approval（结果审定时）或 finding（记录问题时）。")
    for key in ("report_char_limit", "rectification_days", "rectification_plan_days"):
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
    if grade_first(config) and ((config.get("grades") or {}).get("scheme") != "thresholds"
                                or config.get("grade_source") != "proposal"):
        found.append("grade_first 需要按分数段划分的等次（grades.scheme: thresholds）和 grade_source: proposal。")
    found += _publication_problems(config)
    found += _grade_key_problems(config)
    quotas = config.get("group_quotas")
    if quotas is not None and (not isinstance(quotas, dict) or any(
            not str(v).replace(".", "", 1).isdigit() for v in quotas.values())):
        found.append("group_quotas 必须是 {等次: 百分比}。")
    found.extend(selfcheck.config_problems(config))  # seed 001: the self-check statistics table
    found.extend(rules.config_problems(config))  # seed 001: democratic recommendation, special_bonus_cap
    found.extend(evaluation_config.config_problems(config))  # seed 004: leader evaluation, publication duties
    found.extend(sample_rules.config_problems(config))  # seed 004: sample-frame minimums
    return found
