"""Round configuration of the democratic recommendation (民主推荐) and of the special bonus cap a round
may set for the bonus items its units declare. Pure Python; checked by `cases.scoring.round_config`.

    "recommendation": {"organisations": 2, "workers": 3, "allow_self": true}
    "special_bonus_cap": "20"

Seed 001 says only that each group "进行民主推荐本联络组先进基层党组织和优秀党务干部": it gives no
number of places and does not forbid a unit to name itself, so the places are configuration (default 1
each) and self-nomination is allowed unless `allow_self` is false. A round without `recommendation` holds
none. It gives no amounts or cap for the declared bonus items either: a round sets `special_bonus_cap`
(overriding the rubric's), else the rubric's cap applies (0 when it has none: nothing is added).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_PLACES = 100
REC_KEYS = ("organisations", "workers", "allow_self")


@dataclass(frozen=True)
class RecommendationRules:
    organisations: int = 1
    workers: int = 1
    allow_self: bool = True


def recommendation(config: dict[str, Any] | None) -> RecommendationRules | None:
    """The round's recommendation rules, or None when the round holds no recommendation."""
    section = (config or {}).get("recommendation")
    if not isinstance(section, dict):
        return None
    return RecommendationRules(organisations=section.get("organisations", 1), workers=section.get("workers", 1),
                               allow_self=section.get("allow_self", True))


def special_bonus_cap(config: dict[str, Any] | None) -> Decimal | None:
    """The round's own cap on the special bonus, or None (the rubric's applies)."""
    value = (config or {}).get("special_bonus_cap")
    return None if value is None else Decimal(str(value))


def config_problems(config: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if "recommendation" in config:
        section = config["recommendation"]
        if not isinstance(section, dict):
            found.append("recommendation 必须是对象。")
        else:
            found += [f"recommendation.{key}: 未知字段。" for key in section if key not in REC_KEYS]
            for key in ("organisations", "workers"):
                value = section.get(key, 1)
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PLACES:
                    found.append(f"recommendation.{key}: 必须是 0 至 {MAX_PLACES} 的整数。")
            if not isinstance(section.get("allow_self", True), bool):
                found.append("recommendation.allow_self: 必须是 true 或 false。")
    value = config.get("special_bonus_cap")
    if value is not None:
        try:
            if isinstance(value, (bool, float)) or Decimal(str(value)) < 0 or not Decimal(str(value)).is_finite() \
                    or Decimal(str(value)) != Decimal(str(value)).quantize(Decimal("0.01")):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            found.append("special_bonus_cap 必须是不超过两位小数的非负数。")
    return found
