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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cases.rubrics.document import SectionSpec, TreeShape, read_sections, scoring_sections
from cases.scoring.engine import (
    AGGREGATION_LEVELS,
    AGGREGATIONS,
    GRADE_SCHEMES,
    GradeScheme,
    Incident,
    ItemMarks,
    ScoringConfig,
    ScoringError,
    ScoringRubric,
    Sheet,
    UnitInput,
    compute_results,
    results_to_json,
)
from cases.validation import MAX_INTEGER_DIGITS, Dialect, DocumentError, Validator, decimal_text

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

ZERO = Decimal(0)


class ScoringInputError(DocumentError):
    """Invalid exchange input. ``messages`` lists every problem, each prefixed by its path."""


@dataclass(frozen=True)
class ExchangeInput:
    rubric: ScoringRubric
    config: ScoringConfig
    units: tuple[UnitInput, ...]


# Exchange documents are machine-made JSON: its words, null is a value of the wrong type, and
# amounts are decimal strings only.
EXCHANGE = Dialect(
    root="input",
    mapping="object",
    a_mapping="an object",
    sequence="array",
    a_sequence="an array",
    null_is_absent=False,
    decimal_strings_only=True,
)
# The rubric section: codes and maxima; a title on sections and items is allowed for readability.
EXCHANGE_TREE = TreeShape(
    section_required=("code", "max", "items"),
    section_optional=("title",),
    item_required=("code", "max"),
    item_optional=("bonus_cap", "title"),
    item_text="title",
)


# ---------------------------------------------------------------------------------------
# Sections of the document
# ---------------------------------------------------------------------------------------


def _parse_rubric(v: Validator, raw: object, item_codes: set[str]) -> ScoringRubric | None:
    """Parse the rubric (the same tree walk as rubric files); ``item_codes`` receives every item
    code seen, even on errors."""
    data = v.mapping(raw, "rubric", ("sections",), ("special_bonus_cap",))
    if data is None:
        return None
    mark = v.mark()
    cap = ZERO
    if "special_bonus_cap" in data:
        cap = v.decimal(data["special_bonus_cap"], "rubric.special_bonus_cap") or ZERO
    sections: list[SectionSpec] = []
    if "sections" in data:
        sections = read_sections(v, data["sections"], "rubric.sections", EXCHANGE_TREE, item_codes).sections
    if v.failed_since(mark):
        return None
    return ScoringRubric(scoring_sections(sections), cap)


def _parse_grades(v: Validator, raw: object) -> GradeScheme | None:
    path = "config.grades"
    data = v.mapping(raw, path, ("scheme", "bands"))
    if data is None:
        return None
    mark = v.mark()
    scheme = data.get("scheme")
    if "scheme" in data and scheme not in GRADE_SCHEMES:
        v.error(
            f"{path}.scheme",
            f"unknown scheme {scheme!r} (expected one of {', '.join(GRADE_SCHEMES)})",
        )
    bands = _parse_bands(v, data["bands"], f"{path}.bands") if "bands" in data else []
    if v.failed_since(mark):
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
    if v.failed_since(mark) or scheme not in ("distribution", "thresholds"):
        return None
    return GradeScheme(scheme, tuple(bands))


def _parse_bands(v: Validator, raw: object, path: str) -> list[tuple[str, Decimal]]:
    """``[["name", "value"], …]`` with unique names; the valid pairs."""
    bands: list[tuple[str, Decimal]] = []
    names: set[str] = set()
    for bi, raw_band in enumerate(v.sequence(raw, path, non_empty=True) or []):
        bpath = f"{path}[{bi}]"
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
    return bands


def _parse_config(v: Validator, raw: object) -> ScoringConfig | None:
    data = v.mapping(
        raw,
        "config",
        (),
        ("aggregation", "trim_min_sheets", "grades", "aggregation_level"),
    )
    if data is None:
        return None
    mark = v.mark()
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
    trim: int | None = 5
    if "trim_min_sheets" in data:
        trim = v.integer(data["trim_min_sheets"], "config.trim_min_sheets", minimum=3)
    grades = None
    if "grades" in data and data["grades"] is not None:
        grades = _parse_grades(v, data["grades"])
    if v.failed_since(mark) or trim is None:
        return None
    return ScoringConfig(aggregation, trim, grades, level)


def _parse_units(v: Validator, raw: object, item_codes: set[str] | None) -> list[UnitInput]:
    units: list[UnitInput] = []
    unit_codes: set[str] = set()
    for ui, raw_unit in enumerate(v.sequence(raw, "units") or []):
        unit = _parse_unit(v, raw_unit, f"units[{ui}]", item_codes, unit_codes)
        if unit is not None:
            units.append(unit)
    return units


def _parse_unit(
    v: Validator, raw: object, upath: str, item_codes: set[str] | None, unit_codes: set[str]
) -> UnitInput | None:
    data = v.mapping(
        raw,
        upath,
        ("code", "sheets"),
        ("category", "veto", "previous_rank", "incidents", "special_bonus"),
    )
    if data is None:
        return None
    mark = v.mark()
    code = v.text(data.get("code"), f"{upath}.code") if "code" in data else None
    v.unique(code, unit_codes, f"{upath}.code", "unit")
    category: str | None = ""
    if "category" in data:
        category = v.text(data["category"], f"{upath}.category", required=False)
    veto = False
    if "veto" in data:
        veto = v.boolean(data["veto"], f"{upath}.veto")
    previous_rank = data.get("previous_rank")
    if previous_rank is not None:
        previous_rank = v.integer(previous_rank, f"{upath}.previous_rank", minimum=1)
    sheets = _parse_sheets(v, data["sheets"], upath, item_codes) if "sheets" in data else []
    incidents = _parse_incidents(v, data["incidents"], f"{upath}.incidents") if "incidents" in data else []
    special_bonus: list[Decimal] = []
    if "special_bonus" in data:
        special_bonus = v.decimals(data["special_bonus"], f"{upath}.special_bonus")
    if v.failed_since(mark) or code is None or category is None:
        return None
    return UnitInput(
        code=code,
        category=category,
        veto=veto,
        previous_rank=previous_rank,
        sheets=tuple(sheets),
        incidents=tuple(incidents),
        special_bonus=tuple(special_bonus),
    )


def _parse_incidents(v: Validator, raw: object, path: str) -> list[Incident]:
    incidents: list[Incident] = []
    for ii, raw_incident in enumerate(v.sequence(raw, path) or []):
        ipath = f"{path}[{ii}]"
        inc = v.mapping(raw_incident, ipath, ("kind", "amount"), ("count",))
        if inc is None:
            continue
        kind = v.text(inc.get("kind"), f"{ipath}.kind") if "kind" in inc else None
        amount = v.decimal(inc["amount"], f"{ipath}.amount") if "amount" in inc else None
        count: int | None = 1
        if "count" in inc:
            count = v.integer(inc["count"], f"{ipath}.count", minimum=0)
        if kind is not None and amount is not None and count is not None:
            incidents.append(Incident(kind, amount, count))
    return incidents


def _parse_sheets(v: Validator, raw: object, upath: str, item_codes: set[str] | None) -> list[Sheet]:
    sheets: list[Sheet] = []
    raw_sheets = v.sequence(raw, f"{upath}.sheets")
    if raw_sheets is not None and not raw_sheets:
        v.error(f"{upath}.sheets", "at least one sheet is required")
    experts: set[str] = set()
    for si, raw_sheet in enumerate(raw_sheets or []):
        spath = f"{upath}.sheets[{si}]"
        data = v.mapping(raw_sheet, spath, ("expert",), ("items",))
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
            v.wrong_type(f"{spath}.items", v.dialect.a_mapping, raw_items)
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


def _fast_amounts(raw: object) -> tuple[Decimal, ...] | None:
    if type(raw) is not list:
        return None
    if not raw:
        return _NO_AMOUNTS
    match = _VALID_AMOUNT.fullmatch
    for value in raw:
        if type(value) is not str or match(value) is None:
            return None
    return tuple(map(Decimal, raw))


def _fast_marks(raw: object) -> ItemMarks | None:
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


_NO_AMOUNTS_LIST: list[str] = []


def _slow_marks(v: Validator, raw: object, ipath: str) -> ItemMarks | None:
    marks = v.mapping(raw, ipath, (), ("deductions", "bonus"))
    if marks is None:
        return None
    deductions = v.decimals(marks["deductions"], f"{ipath}.deductions") if "deductions" in marks else []
    bonus = v.decimals(marks["bonus"], f"{ipath}.bonus") if "bonus" in marks else []
    return ItemMarks(tuple(deductions), tuple(bonus))


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def parse_exchange(data: object) -> ExchangeInput:
    """Validate a decoded exchange document and build the engine's inputs.

    Raises :class:`ScoringInputError` listing every problem found.
    """
    v = Validator(EXCHANGE)
    doc = v.mapping(data, "", ("rubric", "config", "units"), ("version",))
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


def compute_exchange(data: object) -> dict[str, Any]:
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


def load_exchange_text(text: str) -> object:
    """Decode JSON text; syntax errors become a ScoringInputError with line and column.

    Floats are decoded as Decimals so a number where a decimal string is expected is
    reported as such instead of being silently converted.
    """
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ScoringInputError([f"input: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]) from None


def exchange_to_dict(inputs: ExchangeInput) -> dict[str, Any]:
    """The inverse of :func:`parse_exchange` (useful to generate test and benchmark data)."""
    rubric = {
        "sections": [
            {
                "code": s.code,
                "max": decimal_text(s.max),
                "items": [
                    {
                        "code": i.code,
                        "max": decimal_text(i.max),
                        "bonus_cap": decimal_text(i.bonus_cap),
                    }
                    for i in s.items
                ],
            }
            for s in inputs.rubric.sections
        ],
        "special_bonus_cap": decimal_text(inputs.rubric.special_bonus_cap),
    }
    config: dict[str, Any] = {
        "aggregation": inputs.config.aggregation,
        "trim_min_sheets": inputs.config.trim_min_sheets,
        "aggregation_level": inputs.config.aggregation_level,
    }
    if inputs.config.grades is not None:
        config["grades"] = {
            "scheme": inputs.config.grades.scheme,
            "bands": [[n, decimal_text(v)] for n, v in inputs.config.grades.bands],
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
                            "deductions": [decimal_text(d) for d in m.deductions],
                            "bonus": [decimal_text(b) for b in m.bonus],
                        }
                        for code, m in sh.items.items()
                    },
                }
                for sh in u.sheets
            ],
            "incidents": [{"kind": i.kind, "amount": decimal_text(i.amount), "count": i.count} for i in u.incidents],
            "special_bonus": [decimal_text(b) for b in u.special_bonus],
        }
        for u in inputs.units
    ]
    return {
        "version": FORMAT_VERSION,
        "rubric": rubric,
        "config": config,
        "units": units,
    }
