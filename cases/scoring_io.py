"""JSON exchange format v1 for the scoring engine: parse, validate, compute.

Pure Python (no Django import). ``parse_exchange`` turns the decoded JSON document into the
engine's dataclasses or raises :class:`ScoringInputError` with *every* problem found, each
message starting with the path of the offending field, e.g.
``units[3].sheets[0].items.S9.9: unknown item``. The format is specified in
``docs/scoring.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cases.scoring import (
    AGGREGATION_LEVELS,
    AGGREGATIONS,
    GRADE_SCHEMES,
    GradeScheme,
    Incident,
    ItemMarks,
    ScoringConfig,
    ScoringError,
    ScoringItem,
    ScoringRubric,
    ScoringSection,
    Sheet,
    UnitInput,
    compute_results,
    results_to_json,
)

__all__ = [
    "FORMAT_VERSION",
    "ExchangeInput",
    "ScoringInputError",
    "compute_exchange",
    "exchange_to_dict",
    "load_exchange_text",
    "parse_exchange",
]

FORMAT_VERSION = 1
MAX_INTEGER_DIGITS = 12

_DECIMAL_RE = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
ZERO = Decimal(0)


class ScoringInputError(ValueError):
    """Invalid exchange input. ``messages`` lists every problem, each prefixed by its path."""

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


@dataclass(frozen=True)
class ExchangeInput:
    rubric: ScoringRubric
    config: ScoringConfig
    units: tuple[UnitInput, ...]


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Validator:
    """Collects every error instead of stopping at the first one."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}" if path else message)

    # -- primitive checks; each returns None after recording an error -----------------

    def obj(
        self,
        value: Any,
        path: str,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
    ) -> dict | None:
        if not isinstance(value, dict):
            self.error(path or "input", f"expected an object, got {_type_name(value)}")
            return None
        for key in required:
            if key not in value:
                self.error(_join(path, key), "missing")
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                self.error(_join(path, str(key)), "unknown key")
        return value

    def array(self, value: Any, path: str, *, non_empty: bool = False) -> list | None:
        if not isinstance(value, list):
            self.error(path, f"expected an array, got {_type_name(value)}")
            return None
        if non_empty and not value:
            self.error(path, "must not be empty")
        return value

    def text(self, value: Any, path: str, *, non_empty: bool = True) -> str | None:
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {_type_name(value)}")
            return None
        if non_empty and not value.strip():
            self.error(path, "must not be empty")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.error(path, f"expected true or false, got {_type_name(value)}")
            return None
        return value

    def integer(self, value: Any, path: str, *, minimum: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"expected an integer, got {_type_name(value)}")
            return None
        if value < minimum:
            self.error(path, f"must be at least {minimum}")
            return None
        return value

    def decimal(self, value: Any, path: str) -> Decimal | None:
        """A non-negative decimal string with at most 2 decimals and 12 integer digits."""
        if not isinstance(value, str):
            self.error(
                path,
                f'expected a decimal string such as "2.5", got {_type_name(value)}',
            )
            return None
        match = _DECIMAL_RE.fullmatch(value)
        if match is None:
            self.error(path, f'{value!r} is not a decimal string (expected e.g. "2.5")')
            return None
        sign, whole, frac = match.groups()
        ok = True
        if sign and (whole.strip("0") or (frac or "").strip("0")):
            self.error(path, f"must not be negative (got {value})")
            ok = False
        if frac is not None and len(frac) > 2:
            self.error(path, f"has more than 2 decimals (got {value})")
            ok = False
        if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
            self.error(path, f"is too large (at most {MAX_INTEGER_DIGITS} integer digits)")
            ok = False
        if not ok:
            return None
        return abs(Decimal(value))

    def decimals(self, value: Any, path: str) -> list[Decimal]:
        items = self.array(value, path)
        if items is None:
            return []
        out = []
        for i, v in enumerate(items):
            d = self.decimal(v, f"{path}[{i}]")
            if d is not None:
                out.append(d)
        return out


# ---------------------------------------------------------------------------------------
# Sections of the document
# ---------------------------------------------------------------------------------------


def _parse_rubric(v: _Validator, raw: Any, item_codes: set[str]) -> ScoringRubric | None:
    """Parse the rubric; ``item_codes`` receives every item code seen, even on errors."""
    data = v.obj(raw, "rubric", ("sections",), ("special_bonus_cap",))
    if data is None:
        return None
    n_errors = len(v.errors)
    cap = ZERO
    if "special_bonus_cap" in data:
        cap = v.decimal(data["special_bonus_cap"], "rubric.special_bonus_cap") or ZERO
    sections: list[ScoringSection] = []
    section_codes: set[str] = set()
    raw_sections = v.array(data["sections"], "rubric.sections", non_empty=True) if "sections" in data else []
    for si, raw_section in enumerate(raw_sections or []):
        spath = f"rubric.sections[{si}]"
        sec = v.obj(raw_section, spath, ("code", "max", "items"), ("title",))
        if sec is None:
            continue
        code = v.text(sec.get("code"), f"{spath}.code") if "code" in sec else None
        if code is not None:
            if code in section_codes:
                v.error(f"{spath}.code", f"duplicate section code {code!r}")
            section_codes.add(code)
        smax = v.decimal(sec["max"], f"{spath}.max") if "max" in sec else None
        if "title" in sec:
            v.text(sec["title"], f"{spath}.title", non_empty=False)
        items: list[ScoringItem] = []
        raw_items = v.array(sec["items"], f"{spath}.items", non_empty=True) if "items" in sec else []
        for ii, raw_item in enumerate(raw_items or []):
            ipath = f"{spath}.items[{ii}]"
            item = v.obj(raw_item, ipath, ("code", "max"), ("bonus_cap", "title"))
            if item is None:
                continue
            icode = v.text(item.get("code"), f"{ipath}.code") if "code" in item else None
            if icode is not None:
                if icode in item_codes:
                    v.error(f"{ipath}.code", f"duplicate item code {icode!r}")
                item_codes.add(icode)
            imax = v.decimal(item["max"], f"{ipath}.max") if "max" in item else None
            if imax is not None and smax is not None and imax > smax:
                v.error(
                    f"{ipath}.max",
                    f"item max {imax} exceeds the section max {smax}",
                )
            bonus_cap = ZERO
            if "bonus_cap" in item:
                bonus_cap = v.decimal(item["bonus_cap"], f"{ipath}.bonus_cap") or ZERO
            if "title" in item:
                v.text(item["title"], f"{ipath}.title", non_empty=False)
            if icode is not None and imax is not None:
                items.append(ScoringItem(icode, imax, bonus_cap))
        if code is not None and smax is not None:
            sections.append(ScoringSection(code, smax, tuple(items)))
    if len(v.errors) > n_errors:
        return None
    return ScoringRubric(tuple(sections), cap)


def _parse_grades(v: _Validator, raw: Any) -> GradeScheme | None:
    path = "config.grades"
    data = v.obj(raw, path, ("scheme", "bands"))
    if data is None:
        return None
    n_errors = len(v.errors)
    scheme = data.get("scheme")
    if "scheme" in data and scheme not in GRADE_SCHEMES:
        v.error(
            f"{path}.scheme",
            f"unknown scheme {scheme!r} (expected one of {', '.join(GRADE_SCHEMES)})",
        )
    bands: list[tuple[str, Decimal]] = []
    names: set[str] = set()
    raw_bands = v.array(data["bands"], f"{path}.bands", non_empty=True) if "bands" in data else []
    for bi, raw_band in enumerate(raw_bands or []):
        bpath = f"{path}.bands[{bi}]"
        if not isinstance(raw_band, list) or len(raw_band) != 2:
            v.error(bpath, 'expected a pair ["name", "value"]')
            continue
        name = v.text(raw_band[0], f"{bpath}[0]")
        value = v.decimal(raw_band[1], f"{bpath}[1]")
        if name is not None:
            if name in names:
                v.error(f"{bpath}[0]", f"duplicate band name {name!r}")
            names.add(name)
        if name is not None and value is not None:
            bands.append((name, value))
    if len(v.errors) > n_errors:
        return None
    if scheme == "distribution":
        total = sum((value for _, value in bands), ZERO)
        if total != 100:
            v.error(f"{path}.bands", f"percentages sum to {total}, expected 100")
    elif scheme == "thresholds":
        for bi in range(1, len(bands)):
            if bands[bi][1] >= bands[bi - 1][1]:
                v.error(
                    f"{path}.bands[{bi}][1]",
                    f"thresholds must be strictly descending ({bands[bi][1]} is not below {bands[bi - 1][1]})",
                )
    if len(v.errors) > n_errors:
        return None
    return GradeScheme(scheme, tuple(bands))


def _parse_config(v: _Validator, raw: Any) -> ScoringConfig | None:
    data = v.obj(
        raw,
        "config",
        (),
        ("aggregation", "trim_min_sheets", "grades", "aggregation_level"),
    )
    if data is None:
        return None
    n_errors = len(v.errors)
    aggregation = data.get("aggregation", "mean")
    if aggregation not in AGGREGATIONS:
        v.error(
            "config.aggregation",
            f"unknown aggregation {aggregation!r} (expected one of {', '.join(AGGREGATIONS)})",
        )
    level = data.get("aggregation_level", "total")
    if level not in AGGREGATION_LEVELS:
        v.error(
            "config.aggregation_level",
            f"unknown aggregation level {level!r} (expected one of {', '.join(AGGREGATION_LEVELS)})",
        )
    trim = 5
    if "trim_min_sheets" in data:
        trim = v.integer(data["trim_min_sheets"], "config.trim_min_sheets", minimum=3)
    grades = None
    if "grades" in data and data["grades"] is not None:
        grades = _parse_grades(v, data["grades"])
    if len(v.errors) > n_errors:
        return None
    return ScoringConfig(aggregation, trim, grades, level)


def _parse_units(v: _Validator, raw: Any, item_codes: set[str] | None) -> list[UnitInput]:
    units: list[UnitInput] = []
    raw_units = v.array(raw, "units")
    unit_codes: set[str] = set()
    for ui, raw_unit in enumerate(raw_units or []):
        upath = f"units[{ui}]"
        data = v.obj(
            raw_unit,
            upath,
            ("code", "sheets"),
            ("category", "veto", "previous_rank", "incidents", "special_bonus"),
        )
        if data is None:
            continue
        n_errors = len(v.errors)
        code = v.text(data.get("code"), f"{upath}.code") if "code" in data else None
        if code is not None:
            if code in unit_codes:
                v.error(f"{upath}.code", f"duplicate unit code {code!r}")
            unit_codes.add(code)
        category = ""
        if "category" in data:
            category = v.text(data["category"], f"{upath}.category", non_empty=False)
        veto = False
        if "veto" in data:
            veto = v.boolean(data["veto"], f"{upath}.veto")
        previous_rank = data.get("previous_rank")
        if previous_rank is not None:
            previous_rank = v.integer(previous_rank, f"{upath}.previous_rank", minimum=1)
        sheets = _parse_sheets(v, data["sheets"], upath, item_codes) if "sheets" in data else []
        incidents: list[Incident] = []
        raw_incidents = v.array(data["incidents"], f"{upath}.incidents") if "incidents" in data else []
        for ii, raw_incident in enumerate(raw_incidents or []):
            ipath = f"{upath}.incidents[{ii}]"
            inc = v.obj(raw_incident, ipath, ("kind", "amount"), ("count",))
            if inc is None:
                continue
            kind = v.text(inc.get("kind"), f"{ipath}.kind") if "kind" in inc else None
            amount = v.decimal(inc["amount"], f"{ipath}.amount") if "amount" in inc else None
            count = 1
            if "count" in inc:
                count = v.integer(inc["count"], f"{ipath}.count", minimum=0)
            if kind is not None and amount is not None and count is not None:
                incidents.append(Incident(kind, amount, count))
        special_bonus: list[Decimal] = []
        if "special_bonus" in data:
            special_bonus = v.decimals(data["special_bonus"], f"{upath}.special_bonus")
        if len(v.errors) == n_errors and code is not None:
            units.append(
                UnitInput(
                    code=code,
                    category=category,
                    veto=veto,
                    previous_rank=previous_rank,
                    sheets=tuple(sheets),
                    incidents=tuple(incidents),
                    special_bonus=tuple(special_bonus),
                )
            )
    return units


def _parse_sheets(v: _Validator, raw: Any, upath: str, item_codes: set[str] | None) -> list[Sheet]:
    sheets: list[Sheet] = []
    raw_sheets = v.array(raw, f"{upath}.sheets")
    if raw_sheets is not None and not raw_sheets:
        v.error(f"{upath}.sheets", "at least one sheet is required")
    experts: set[str] = set()
    for si, raw_sheet in enumerate(raw_sheets or []):
        spath = f"{upath}.sheets[{si}]"
        data = v.obj(raw_sheet, spath, ("expert",), ("items",))
        if data is None:
            continue
        expert = v.text(data.get("expert"), f"{spath}.expert") if "expert" in data else None
        if expert is not None:
            if expert in experts:
                v.error(f"{spath}.expert", f"duplicate expert {expert!r} in this unit")
            experts.add(expert)
        items: dict[str, ItemMarks] = {}
        raw_items = data.get("items", {})
        if not isinstance(raw_items, dict):
            v.error(f"{spath}.items", f"expected an object, got {_type_name(raw_items)}")
            raw_items = {}
        for icode, raw_marks in raw_items.items():
            if item_codes is not None and icode not in item_codes:
                v.error(f"{spath}.items.{icode}", "unknown item")
                continue
            marks = _fast_marks(raw_marks)
            if marks is None:
                marks = _slow_marks(v, raw_marks, f"{spath}.items.{icode}")
            if marks is not None:
                items[icode] = marks
        if expert is not None:
            sheets.append(Sheet(expert, items))
    return sheets


_VALID_AMOUNT = re.compile(rf"[0-9]{{1,{MAX_INTEGER_DIGITS}}}(?:\.[0-9]{{1,2}})?")
_MARK_KEYS = frozenset(("deductions", "bonus"))
_NO_AMOUNTS: tuple[Decimal, ...] = ()


def _fast_amounts(raw: Any) -> tuple[Decimal, ...] | None:
    if type(raw) is not list:
        return None
    if not raw:
        return _NO_AMOUNTS
    match = _VALID_AMOUNT.fullmatch
    for value in raw:
        if type(value) is not str or match(value) is None:
            return None
    return tuple(map(Decimal, raw))


def _fast_marks(raw: Any) -> ItemMarks | None:
    """Fast path for a well-formed item entry (the bulk of a large document): no path
    strings are built. Returns None whenever anything is off; the slow path then reports
    the problems with their paths."""
    if type(raw) is not dict or not _MARK_KEYS.issuperset(raw):
        return None
    deductions = _fast_amounts(raw.get("deductions", _NO_AMOUNTS_LIST))
    bonus = _fast_amounts(raw.get("bonus", _NO_AMOUNTS_LIST))
    if deductions is None or bonus is None:
        return None
    return ItemMarks(deductions, bonus)


_NO_AMOUNTS_LIST: list = []


def _slow_marks(v: _Validator, raw: Any, ipath: str) -> ItemMarks | None:
    marks = v.obj(raw, ipath, (), ("deductions", "bonus"))
    if marks is None:
        return None
    deductions = v.decimals(marks["deductions"], f"{ipath}.deductions") if "deductions" in marks else []
    bonus = v.decimals(marks["bonus"], f"{ipath}.bonus") if "bonus" in marks else []
    return ItemMarks(tuple(deductions), tuple(bonus))


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def parse_exchange(data: Any) -> ExchangeInput:
    """Validate a decoded exchange document and build the engine's inputs.

    Raises :class:`ScoringInputError` listing every problem found.
    """
    v = _Validator()
    doc = v.obj(data, "", ("rubric", "config", "units"), ("version",))
    if doc is None:
        raise ScoringInputError(v.errors)
    if "version" in doc:
        version = doc["version"]
        if isinstance(version, bool) or version != FORMAT_VERSION:
            v.error("version", f"unsupported version {version!r} (expected 1)")
    # Unknown item codes in sheets are reported even when the rubric has other errors,
    # against the item codes that could be read; without a rubric they cannot be checked.
    item_codes: set[str] = set()
    rubric = _parse_rubric(v, doc["rubric"], item_codes) if "rubric" in doc else None
    config = _parse_config(v, doc["config"]) if "config" in doc else None
    units = _parse_units(v, doc["units"], item_codes if "rubric" in doc else None) if "units" in doc else []
    if v.errors or rubric is None or config is None:
        raise ScoringInputError(v.errors or ["input: invalid document"])
    return ExchangeInput(rubric, config, tuple(units))


def compute_exchange(data: Any) -> dict:
    """Validate an exchange document and return the result document (format v1).

    This is what ``POST /api/v1/scoring/compute`` and ``manage.py compute_results`` call.
    Raises :class:`ScoringInputError` (with ``.messages``) on invalid input.
    """
    parsed = parse_exchange(data)
    try:
        results = compute_results(parsed.rubric, parsed.config, parsed.units)
    except ScoringError as exc:  # defensive: the validator should have caught it
        raise ScoringInputError([str(exc)]) from None
    return results_to_json(results)


def load_exchange_text(text: str) -> Any:
    """Decode JSON text; syntax errors become a ScoringInputError with line and column.

    Floats are decoded as Decimals so a number where a decimal string is expected is
    reported as such instead of being silently converted.
    """
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ScoringInputError([f"input: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]) from None


def _dec_out(value: Decimal) -> str:
    """Canonical decimal string: no exponent, no trailing fractional zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def exchange_to_dict(inputs: ExchangeInput) -> dict:
    """The inverse of :func:`parse_exchange` (useful to generate test and benchmark data)."""
    rubric = {
        "sections": [
            {
                "code": s.code,
                "max": _dec_out(s.max),
                "items": [
                    {
                        "code": i.code,
                        "max": _dec_out(i.max),
                        "bonus_cap": _dec_out(i.bonus_cap),
                    }
                    for i in s.items
                ],
            }
            for s in inputs.rubric.sections
        ],
        "special_bonus_cap": _dec_out(inputs.rubric.special_bonus_cap),
    }
    config: dict[str, Any] = {
        "aggregation": inputs.config.aggregation,
        "trim_min_sheets": inputs.config.trim_min_sheets,
        "aggregation_level": inputs.config.aggregation_level,
    }
    if inputs.config.grades is not None:
        config["grades"] = {
            "scheme": inputs.config.grades.scheme,
            "bands": [[n, _dec_out(v)] for n, v in inputs.config.grades.bands],
        }
    units = [
        {
            "code": u.code,
            "category": u.category,
            "veto": u.veto,
            "previous_rank": u.previous_rank,
            "sheets": [
                {
                    "expert": sh.expert,
                    "items": {
                        code: {
                            "deductions": [_dec_out(d) for d in m.deductions],
                            "bonus": [_dec_out(b) for b in m.bonus],
                        }
                        for code, m in sh.items.items()
                    },
                }
                for sh in u.sheets
            ],
            "incidents": [{"kind": i.kind, "amount": _dec_out(i.amount), "count": i.count} for i in u.incidents],
            "special_bonus": [_dec_out(b) for b in u.special_bonus],
        }
        for u in inputs.units
    ]
    return {
        "version": FORMAT_VERSION,
        "rubric": rubric,
        "config": config,
        "units": units,
    }
