"""Seed 004's round-config keys (docs/round-config.md) and their checks; pure."""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

DUTY_KINDS = ("notice", "performance", "rectification")


def config_problems(config: dict[str, Any]) -> list[str]:
    found = []
    for key in ("leader_evaluation_points", "publication_deduction", "late_material_deduction"):
        if config.get(key) is not None:
            try:
                if Decimal(str(config[key])) < 0:
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                found.append(f"{key} 必须是非负数。")
    due = config.get("publication_due")
    if due is not None:
        try:
            dt.date.fromisoformat(str(due))
        except ValueError:
            found.append("publication_due 必须是日期（YYYY-MM-DD）。")
    days = config.get("publication_min_days")
    if days is not None and (not isinstance(days, dict) or any(
            k not in DUTY_KINDS or not isinstance(v, int) or isinstance(v, bool) or v <= 0 for k, v in days.items())):
        found.append("publication_min_days 必须是 {notice/performance/rectification: 正整数天数}。")
    return found
