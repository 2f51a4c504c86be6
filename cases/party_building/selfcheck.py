"""The self-check statistics table (自查统计表, seed 001): what a round's table is, how a unit's
counts are checked, and the shortfalls and deductions they give. Pure Python over plain values (no
ORM): the round's configuration, the rubric's spec and the counts stored on the submission.

The table comes from `Round.config["self_check"]` (docs/party-building.md):

    "self_check": {"rows": [{"code": "A01", "deduction": "1", "cap": "3", "item": "3.1"}, …]}

Without `rows` the table is the rubric's `activity_targets` (seed 001's 18 columns, reconstructed in
docs/rubrics.md). A row in `rows` whose code the rubric has takes the rubric's name and target unless it
gives them, and adds what it gives (a deduction per missing occurrence, a cap, the rubric item it is
charged to, `optional` for a row a unit may mark 不适用); a new code adds a row. A round without the
key has no table (its statistics stay a free-form object, as before).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

MAX_COUNT = 100_000  # nobody holds more meetings than this in a year; beyond it a count is a typo
ROW_KEYS = ("code", "name", "target", "group", "note", "optional", "deduction", "cap", "item")
ZERO = Decimal("0")
TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Row:
    """One activity of the table: its annual target (None: no target, nothing is short) and, where
    the round says so, a deduction per missing occurrence, capped, charged to a rubric item."""

    code: str
    name: str
    target: int | None
    group: str = ""
    note: str = ""
    optional: bool = False
    deduction: Decimal | None = None
    cap: Decimal | None = None
    item: str = ""


@dataclass(frozen=True)
class Line:
    """A row with a unit's count: completed (None: not entered, or 不适用 on an optional row),
    shortfall (missing occurrences) and the deduction it gives."""

    row: Row
    completed: int | None
    entered: bool
    shortfall: int
    deduction: Decimal


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _amount(value: object) -> Decimal | None:
    """A non-negative amount with at most two decimals (text or int, never a float), else None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(TWO_PLACES) or amount > Decimal("999999"):
        return None
    return amount.quantize(TWO_PLACES)


def _row_problems(i: int, raw: object) -> list[str]:
    path = f"self_check.rows[{i}]"
    if not isinstance(raw, dict):
        return [f"{path} 必须是对象。"]
    found = [f"{path}.{key}: 未知字段。" for key in raw if key not in ROW_KEYS]
    if not isinstance(raw.get("code"), str) or not raw["code"].strip():
        found.append(f"{path}.code: 必须是非空文本。")
    for key in ("name", "group", "note", "item"):
        if key in raw and not isinstance(raw[key], str):
            found.append(f"{path}.{key}: 必须是文本。")
    if raw.get("target") is not None and (not _is_int(raw["target"]) or not 0 <= raw["target"] <= MAX_COUNT):
        found.append(f"{path}.target: 必须是 0 至 {MAX_COUNT} 的整数或 null。")
    if "optional" in raw and not isinstance(raw["optional"], bool):
        found.append(f"{path}.optional: 必须是 true 或 false。")
    for key in ("deduction", "cap"):
        if raw.get(key) is not None and _amount(raw[key]) is None:
            found.append(f"{path}.{key}: 必须是不超过两位小数的非负数（文本）。")
    if raw.get("deduction") is not None and not raw.get("item"):
        found.append(f"{path}.item: 设置扣分时必须指明计入的评分项。")
    return found


def config_problems(config: dict[str, Any]) -> list[str]:
    """What is wrong with `config["self_check"]` as written (the rubric's item codes are checked at launch)."""
    if "self_check" not in config:
        return []
    section = config["self_check"]
    if not isinstance(section, dict):
        return ["self_check 必须是对象。"]
    found = [f"self_check.{key}: 未知字段。" for key in section if key != "rows"]
    rows = section.get("rows", [])
    if not isinstance(rows, list):
        return [*found, "self_check.rows 必须是列表。"]
    seen: set[str] = set()
    for i, raw in enumerate(rows):
        found.extend(_row_problems(i, raw))
        code = raw.get("code") if isinstance(raw, dict) else None
        if isinstance(code, str):
            if code in seen:
                found.append(f"self_check.rows[{i}].code: 重复的编码 {code}。")
            seen.add(code)
    return found


def table(config: dict[str, Any] | None, rubric_spec: dict[str, Any] | None) -> tuple[Row, ...] | None:
    """The round's table, or None when the round has none. `config` must have passed `config_problems`."""
    section = (config or {}).get("self_check")
    if not isinstance(section, dict):
        return None
    merged: dict[str, dict[str, Any]] = {}
    for target in (rubric_spec or {}).get("activity_targets") or []:
        merged[str(target["code"])] = {k: v for k, v in target.items() if k in ROW_KEYS}
    for raw in section.get("rows") or []:
        merged.setdefault(raw["code"], {}).update(raw)
    rows = []
    for code, raw in merged.items():
        deduction = _amount(raw["deduction"]) if raw.get("deduction") is not None else None
        cap = _amount(raw["cap"]) if raw.get("cap") is not None else None
        rows.append(Row(code=code, name=str(raw.get("name") or code), target=raw.get("target"),
                        group=str(raw.get("group") or ""), note=str(raw.get("note") or ""),
                        optional=bool(raw.get("optional", False)), deduction=deduction, cap=cap,
                        item=str(raw.get("item") or "")))
    return tuple(rows)


def unknown_items(rows: tuple[Row, ...], item_codes: set[str]) -> list[str]:
    """The rows charged to a rubric item the round's rubric does not have (checked at launch)."""
    return [f"self_check: {row.code} {row.name} 计入的评分项 {row.item} 不在考评细则中。"
            for row in rows if row.item and row.item not in item_codes]


def clean_counts(rows: tuple[Row, ...], counts: object, *, field: str = "counts") -> dict[str, int | None]:
    """A unit's counts as entered ({code: count}, null = 不适用 on an optional row), checked: every bad
    entry named (`counts.A01`); a row left out is simply not entered yet (a draft)."""
    if not isinstance(counts, dict):
        raise ValidationError({field: ["必须是以统计项编码为键的对象。"]})
    by_code = {row.code: row for row in rows}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, int | None] = {}
    for code, value in counts.items():
        row = by_code.get(code)
        key = f"{field}.{code}"
        if row is None:
            errors[key] = ["未知的统计项。"]
        elif value is None:
            if row.optional:
                cleaned[code] = None
            else:
                errors[key] = ["此项必须填写完成次数（不能标为不适用）。"]
        elif not _is_int(value) or not 0 <= value <= MAX_COUNT:
            errors[key] = [f"必须是 0 至 {MAX_COUNT} 的整数。"]
        else:
            cleaned[code] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


def missing(rows: tuple[Row, ...], counts: dict[str, Any], *, field: str = "statistics") -> dict[str, list[str]]:
    """The rows without an entry, as field errors (a self-assessment is submitted with every row)."""
    return {f"{field}.{row.code}": [f"请填写“{row.name}”的完成次数。"] for row in rows if row.code not in counts}


def lines(rows: tuple[Row, ...], counts: dict[str, Any], item_max: dict[str, Decimal]) -> list[Line]:
    """Each row with the unit's count, its shortfall and deduction: shortfall × deduction per missing
    occurrence, capped by the row's cap and by the maximum of the item it is charged to."""
    out = []
    for row in rows:
        entered = row.code in counts
        value = counts.get(row.code)
        completed = value if _is_int(value) else None
        short = max(row.target - completed, 0) if row.target is not None and completed is not None else 0
        if not entered and row.target is not None and not row.optional:
            short = row.target  # nothing entered: nothing done, as far as the table shows
        amount = ZERO
        if short and row.deduction:
            amount = row.deduction * short
            for limit in (row.cap, item_max.get(row.item)):
                if limit is not None and amount > limit:
                    amount = limit
        out.append(Line(row=row, completed=completed, entered=entered, shortfall=short,
                        deduction=amount.quantize(TWO_PLACES)))
    return out


def total_deduction(found: list[Line]) -> Decimal:
    return sum((line.deduction for line in found), ZERO).quantize(TWO_PLACES)
