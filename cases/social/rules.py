"""The round configuration of sample frames (pure): minimum sizes by unit type, checked where the config is
written (`cases/scoring/round_config.problems`)."""

from typing import Any

# Seed 004 二(一)4, 二(二)3, 二(三)3: the hot/difficult-work list's minimum by the unit's type.
DEFAULT_MINIMUMS = {"economic": 500, "public_affairs": 500, "supervision": 500, "special_affairs": 300,
                    "party_mass": 300, "institution": 300}
MAX_MINIMUM = 10_000  # a list holds at most this many people (cases/social/layouts.MAX_DATA_ROWS)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MINIMUM


def config_problems(config: dict[str, Any]) -> list[str]:
    found = []
    minimums = config.get("sample_minimums")
    if minimums is not None:
        if not isinstance(minimums, dict):
            found.append("sample_minimums 必须是对象（单位类型: 人数）。")
        else:
            unknown = sorted(set(minimums) - set(DEFAULT_MINIMUMS))
            if unknown:
                found.append(f"sample_minimums：未知的单位类型“{'、'.join(map(str, unknown))}”。")
            if not all(_count(v) for v in minimums.values()):
                found.append(f"sample_minimums 的人数必须是 0 到 {MAX_MINIMUM} 之间的整数。")
    types = config.get("sample_unit_types")
    if types is not None and (not isinstance(types, dict) or not all(v in DEFAULT_MINIMUMS for v in types.values())):
        found.append(f"sample_unit_types 必须是对象（单位编码: {'/'.join(DEFAULT_MINIMUMS)}）。")
    overrides = config.get("sample_minimum_overrides")
    if overrides is not None and (not isinstance(overrides, dict) or not all(_count(v) for v in overrides.values())):
        found.append(f"sample_minimum_overrides 必须是对象（单位编码: 0 到 {MAX_MINIMUM} 之间的整数）。")
    return found
