"""Rubric file formats: YAML / JSON text and an Excel workbook (pure Python, no ORM).

A rubric is a tree of sections → items with maximum points and the deduction / bonus rules
of the source notice, plus the round-level catalogues a notice defines (deduction
catalogue, special bonus levels, weighted components, activity targets). The formats and
every rule kind are documented in ``docs/rubrics.md``.

Loading is all-or-nothing: every problem is collected and raised together in a
:class:`RubricError` whose messages name the offending field (``sections[1].items[0].max:
...``) or, for Excel, the cell (``items: row 5, column F (item_max): ...``).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO
from zipfile import BadZipFile

import yaml

from cases.scoring import ScoringItem, ScoringRubric, ScoringSection

__all__ = [
    "DEDUCTION_UNITS",
    "RULE_KINDS",
    "ActivityTarget",
    "ComponentSpec",
    "DeductionSpec",
    "ItemSpec",
    "RubricError",
    "RubricSpec",
    "RuleSpec",
    "SectionSpec",
    "dump_rubric_json",
    "dump_rubric_yaml",
    "load_rubric_json",
    "load_rubric_xlsx",
    "load_rubric_yaml",
    "rubric_from_dict",
    "rubric_to_dict",
    "rubric_to_xlsx",
    "to_scoring_rubric",
]

ZERO = Decimal(0)
DEDUCTION_UNITS = ("起", "次")

# kind -> (required fields, optional fields), besides the common "kind", "text" and
# "condition". See docs/rubrics.md for the seed phrase each kind models.
RULE_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "deduct_per_missing": (("amount",), ("elements",)),
    "deduct_per_occurrence": (("amount",), ()),
    "deduct_fixed": (("amount",), ()),
    "deduct_discretionary": ((), ("max_amount",)),
    "deduct_per_percent": (("threshold", "step", "amount"), ()),
    "bonus_by_level": (("levels",), ()),
    "bonus_per_occurrence": (("amount",), ("cap",)),
    "no_points": (("condition",), ()),
    "disqualify": (("condition",), ()),
}
_DECIMAL_FIELDS = ("amount", "max_amount", "threshold", "step", "cap")


class RubricError(ValueError):
    """An invalid rubric document. ``messages`` lists every problem found."""

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


# ---------------------------------------------------------------------------------------
# The spec
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """One deduction / bonus / no-points rule of an item, with the notice's own phrase."""

    kind: str
    text: str
    condition: str = ""
    amount: Decimal | None = None
    elements: tuple[str, ...] = ()
    max_amount: Decimal | None = None
    threshold: Decimal | None = None
    step: Decimal | None = None
    levels: tuple[tuple[str, Decimal], ...] = ()
    cap: Decimal | None = None


@dataclass(frozen=True)
class ItemSpec:
    code: str
    content: str  # the standard text (考核内容及标准)
    max: Decimal
    bonus_cap: Decimal = ZERO
    evidence_required: bool = False
    veto: bool = False
    rules: tuple[RuleSpec, ...] = ()


@dataclass(frozen=True)
class SectionSpec:
    code: str
    title: str
    max: Decimal
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class DeductionSpec:
    """A catalogue deduction applied to a unit per occurrence (扣分/起, 扣分/次)."""

    code: str
    kind: str
    amount: Decimal
    per: str = "起"
    note: str = ""
    veto: bool = False


@dataclass(frozen=True)
class ComponentSpec:
    """A part of the composite score: either points (``max``) or a percentage ``weight``."""

    code: str
    title: str
    max: Decimal | None = None
    weight: Decimal | None = None
    note: str = ""


@dataclass(frozen=True)
class ActivityTarget:
    """A row of a self-check statistics table: the annual target count of an activity."""

    code: str
    name: str
    target: int | None = None
    group: str = ""
    note: str = ""


@dataclass(frozen=True)
class RubricSpec:
    code: str
    title: str
    version: int
    total_max: Decimal
    sections: tuple[SectionSpec, ...]
    source: str = ""
    special_bonus_cap: Decimal | None = None
    special_bonus_levels: tuple[tuple[str, Decimal], ...] = ()
    deduction_catalogue: tuple[DeductionSpec, ...] = ()
    components: tuple[ComponentSpec, ...] = ()
    activity_targets: tuple[ActivityTarget, ...] = ()
    reconstructed: tuple[str, ...] = field(default=())

    @property
    def items(self) -> tuple[ItemSpec, ...]:
        return tuple(item for section in self.sections for item in section.items)


def to_scoring_rubric(spec: RubricSpec) -> ScoringRubric:
    """The arithmetic view of a rubric for :mod:`cases.scoring` (no cap → 0)."""
    return ScoringRubric(
        tuple(
            ScoringSection(
                s.code,
                s.max,
                tuple(ScoringItem(i.code, i.max, i.bonus_cap) for i in s.items),
            )
            for s in spec.sections
        ),
        spec.special_bonus_cap if spec.special_bonus_cap is not None else ZERO,
    )


# ---------------------------------------------------------------------------------------
# Validation of the dict form (shared by YAML, JSON and Excel)
# ---------------------------------------------------------------------------------------

_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _canonical(value: Decimal) -> Decimal:
    """Integers without exponent or decimals ("5"), others without trailing zeros."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}" if path else message)

    def mapping(
        self,
        value: Any,
        path: str,
        required: tuple[str, ...],
        optional: tuple[str, ...],
    ) -> dict | None:
        if not isinstance(value, dict):
            self.error(path or "rubric", f"expected a mapping, got {_type_name(value)}")
            return None
        for key in required:
            if key not in value or value[key] is None:
                self.error(_join(path, key), "missing")
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                self.error(_join(path, str(key)), "unknown key")
        return value

    def list_of(self, value: Any, path: str, *, non_empty: bool = False) -> list:
        if value is None:
            value = []
        if not isinstance(value, list):
            self.error(path, f"expected a list, got {_type_name(value)}")
            return []
        if non_empty and not value:
            self.error(path, "must not be empty")
        return value

    # The field checkers below return None silently for a None value: a missing required
    # key is reported once by mapping(), and optional fields are simply absent.

    def text(self, value: Any, path: str, *, required: bool = True) -> str | None:
        if value is None:
            return None if required else ""
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {_type_name(value)}")
            return None
        if required and not value.strip():
            self.error(path, "must not be empty")
            return None
        return value

    def required_text(self, value: Any, path: str) -> str | None:
        """A non-empty string in a list (no mapping reports it missing)."""
        if value is None:
            self.error(path, "must not be empty")
            return None
        return self.text(value, path)

    def boolean(self, value: Any, path: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            self.error(path, f"expected true or false, got {_type_name(value)}")
            return False
        return value

    def integer(self, value: Any, path: str, *, minimum: int) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"expected an integer, got {_type_name(value)}")
            return None
        if value < minimum:
            self.error(path, f"must be at least {minimum}")
            return None
        return value

    def decimal(self, value: Any, path: str) -> Decimal | None:
        """A number ≥ 0 with at most 2 decimals, given as a string, integer or Decimal."""
        if value is None:
            return None
        if isinstance(value, bool):
            self.error(path, f"expected a number, got {_type_name(value)}")
            return None
        if isinstance(value, float):
            # Only reachable from Python callers: the loaders never produce floats.
            self.error(path, "binary floats are not accepted; write the number as text")
            return None
        if isinstance(value, str):
            if not _DECIMAL_TEXT.fullmatch(value.strip()):
                self.error(path, f"{value!r} is not a decimal number")
                return None
            value = Decimal(value.strip())
        elif isinstance(value, int):
            value = Decimal(value)
        elif not isinstance(value, Decimal):
            self.error(path, f"expected a number, got {_type_name(value)}")
            return None
        if not value.is_finite():
            self.error(path, f"{value} is not a finite number")
            return None
        ok = True
        if value < 0:
            self.error(path, f"must not be negative (got {value})")
            ok = False
        try:
            two_places = value == value.quantize(Decimal("0.01"))
        except InvalidOperation:
            two_places = False
        if not two_places:
            self.error(path, f"has more than 2 decimals (got {value})")
            ok = False
        return _canonical(value) if ok else None

    def unique(self, code: str | None, seen: set[str], path: str, what: str) -> None:
        if code is None:
            return
        if code in seen:
            self.error(path, f"duplicate {what} code {code!r}")
        seen.add(code)

    def level_map(self, value: Any, path: str) -> tuple[tuple[str, Decimal], ...]:
        if value is None:
            return ()
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping of level → amount, got {_type_name(value)}")
            return ()
        out = []
        for level, amount in value.items():
            if level is None or amount is None:
                self.error(f"{path}.{level}", "level name and amount are both required")
                continue
            name = self.text(level, f"{path}.{level}")
            d = self.decimal(amount, f"{path}.{level}")
            if name is not None and d is not None:
                out.append((name, d))
        return tuple(out)


def _rule(c: _Checker, raw: Any, path: str) -> RuleSpec | None:
    if not isinstance(raw, dict):
        c.error(path, f"expected a mapping, got {_type_name(raw)}")
        return None
    kind = raw.get("kind")
    if kind not in RULE_KINDS:
        c.error(
            f"{path}.kind",
            f"unknown rule kind {kind!r} (expected one of {', '.join(RULE_KINDS)})",
        )
        return None
    required, optional = RULE_KINDS[kind]
    data = c.mapping(raw, path, ("kind", "text", *required), ("condition", *optional))
    if data is None:
        return None
    n_errors = len(c.errors)
    values: dict[str, Any] = {"kind": kind}
    values["text"] = c.text(data.get("text"), f"{path}.text")
    values["condition"] = c.text(data.get("condition"), f"{path}.condition", required=False)
    for name in _DECIMAL_FIELDS:
        if data.get(name) is not None:
            values[name] = c.decimal(data[name], f"{path}.{name}")
    if data.get("elements") is not None:
        elements = c.list_of(data["elements"], f"{path}.elements")
        values["elements"] = tuple(e for i, e in enumerate(elements) if c.required_text(e, f"{path}.elements[{i}]"))
    if kind == "bonus_by_level":
        values["levels"] = c.level_map(data.get("levels"), f"{path}.levels")
        if not values["levels"] and data.get("levels") is not None:
            c.error(f"{path}.levels", "must not be empty")
    if kind == "deduct_per_percent" and values.get("step") == 0:
        c.error(f"{path}.step", "must be greater than 0")
    if len(c.errors) > n_errors:
        return None
    return RuleSpec(**values)


def _item(c: _Checker, raw: Any, path: str, section_max: Decimal | None) -> ItemSpec | None:
    data = c.mapping(
        raw,
        path,
        ("code", "content", "max"),
        ("bonus_cap", "evidence_required", "veto", "rules"),
    )
    if data is None:
        return None
    n_errors = len(c.errors)
    code = c.text(data.get("code"), f"{path}.code")
    content = c.text(data.get("content"), f"{path}.content")
    imax = c.decimal(data.get("max"), f"{path}.max")
    if imax is not None and section_max is not None and imax > section_max:
        c.error(f"{path}.max", f"item max {imax} exceeds the section max {section_max}")
    bonus_cap = ZERO
    if data.get("bonus_cap") is not None:
        bonus_cap = c.decimal(data["bonus_cap"], f"{path}.bonus_cap")
    evidence = c.boolean(data.get("evidence_required"), f"{path}.evidence_required")
    veto = c.boolean(data.get("veto"), f"{path}.veto")
    rules = [_rule(c, r, f"{path}.rules[{i}]") for i, r in enumerate(c.list_of(data.get("rules"), f"{path}.rules"))]
    if len(c.errors) > n_errors:
        return None
    return ItemSpec(code, content, imax, bonus_cap, evidence, veto, tuple(rules))


def rubric_from_dict(data: Any) -> RubricSpec:
    """Validate the dict form of a rubric (as read from YAML/JSON) and build the spec.

    Raises :class:`RubricError` with every problem found.
    """
    c = _Checker()
    doc = c.mapping(
        data,
        "",
        ("code", "title", "version", "total_max", "sections"),
        (
            "source",
            "special_bonus_cap",
            "special_bonus_levels",
            "deduction_catalogue",
            "components",
            "activity_targets",
            "reconstructed",
        ),
    )
    if doc is None:
        raise RubricError(c.errors)
    code = c.text(doc.get("code"), "code")
    title = c.text(doc.get("title"), "title")
    version = c.integer(doc.get("version"), "version", minimum=1)
    source = c.text(doc.get("source"), "source", required=False)
    total_max = c.decimal(doc.get("total_max"), "total_max")
    special_cap = None
    if doc.get("special_bonus_cap") is not None:
        special_cap = c.decimal(doc["special_bonus_cap"], "special_bonus_cap")
    levels = c.level_map(doc.get("special_bonus_levels"), "special_bonus_levels")

    sections: list[SectionSpec] = []
    section_codes: set[str] = set()
    item_codes: set[str] = set()
    section_sum = ZERO
    sections_ok = True
    raw_sections = c.list_of(doc.get("sections"), "sections", non_empty=True)
    for si, raw_section in enumerate(raw_sections):
        spath = f"sections[{si}]"
        sec = c.mapping(raw_section, spath, ("code", "title", "max", "items"), ())
        if sec is None:
            sections_ok = False
            continue
        n_errors = len(c.errors)
        scode = c.text(sec.get("code"), f"{spath}.code")
        c.unique(scode, section_codes, f"{spath}.code", "section")
        stitle = c.text(sec.get("title"), f"{spath}.title")
        smax = c.decimal(sec.get("max"), f"{spath}.max")
        items = []
        raw_items = c.list_of(sec.get("items"), f"{spath}.items", non_empty=True)
        for ii, raw_item in enumerate(raw_items):
            ipath = f"{spath}.items[{ii}]"
            item = _item(c, raw_item, ipath, smax)
            if isinstance(raw_item, dict) and isinstance(raw_item.get("code"), str):
                c.unique(raw_item["code"], item_codes, f"{ipath}.code", "item")
            if item is not None:
                items.append(item)
        if smax is not None:
            section_sum += smax
        else:
            sections_ok = False
        if len(c.errors) == n_errors:
            sections.append(SectionSpec(scode, stitle, smax, tuple(items)))
    if total_max is not None and sections_ok and raw_sections and total_max != section_sum:
        c.error(
            "total_max",
            f"must equal the sum of the section maxima ({_canonical(section_sum)}), got {total_max}",
        )

    catalogue = []
    catalogue_codes: set[str] = set()
    for i, raw in enumerate(c.list_of(doc.get("deduction_catalogue"), "deduction_catalogue")):
        path = f"deduction_catalogue[{i}]"
        d = c.mapping(raw, path, ("code", "kind", "amount", "per"), ("note", "veto"))
        if d is None:
            continue
        dcode = c.text(d.get("code"), f"{path}.code")
        c.unique(dcode, catalogue_codes, f"{path}.code", "deduction")
        kind = c.text(d.get("kind"), f"{path}.kind")
        amount = c.decimal(d.get("amount"), f"{path}.amount")
        per = d.get("per")
        if per is not None and per not in DEDUCTION_UNITS:
            c.error(
                f"{path}.per",
                f"must be one of {' '.join(DEDUCTION_UNITS)}, got {per!r}",
            )
        note = c.text(d.get("note"), f"{path}.note", required=False)
        veto = c.boolean(d.get("veto"), f"{path}.veto")
        catalogue.append(DeductionSpec(dcode, kind, amount, per, note, veto))

    components = []
    component_codes: set[str] = set()
    weights: list[Decimal] = []
    modes: set[str] = set()
    raw_components = c.list_of(doc.get("components"), "components")
    for i, raw in enumerate(raw_components):
        path = f"components[{i}]"
        d = c.mapping(raw, path, ("code", "title"), ("max", "weight", "note"))
        if d is None:
            continue
        ccode = c.text(d.get("code"), f"{path}.code")
        c.unique(ccode, component_codes, f"{path}.code", "component")
        ctitle = c.text(d.get("title"), f"{path}.title")
        cmax = cweight = None
        has_max, has_weight = d.get("max") is not None, d.get("weight") is not None
        if has_max == has_weight:
            c.error(path, "give exactly one of max (points) or weight (percent)")
        if has_max:
            cmax = c.decimal(d["max"], f"{path}.max")
            modes.add("max")
        if has_weight:
            cweight = c.decimal(d["weight"], f"{path}.weight")
            modes.add("weight")
            if cweight is not None:
                weights.append(cweight)
        note = c.text(d.get("note"), f"{path}.note", required=False)
        components.append(ComponentSpec(ccode, ctitle, cmax, cweight, note))
    if len(modes) > 1:
        c.error("components", "all components must use max, or all must use weight")
    elif modes == {"weight"} and len(weights) == len(raw_components) and sum(weights, ZERO) != 100:
        c.error("components", f"weights sum to {sum(weights, ZERO)}, expected 100")

    targets = []
    target_codes: set[str] = set()
    for i, raw in enumerate(c.list_of(doc.get("activity_targets"), "activity_targets")):
        path = f"activity_targets[{i}]"
        d = c.mapping(raw, path, ("code", "name"), ("target", "group", "note"))
        if d is None:
            continue
        tcode = c.text(d.get("code"), f"{path}.code")
        c.unique(tcode, target_codes, f"{path}.code", "activity target")
        name = c.text(d.get("name"), f"{path}.name")
        target = None
        if d.get("target") is not None:
            target = c.integer(d["target"], f"{path}.target", minimum=0)
        group = c.text(d.get("group"), f"{path}.group", required=False)
        note = c.text(d.get("note"), f"{path}.note", required=False)
        targets.append(ActivityTarget(tcode, name, target, group, note))

    reconstructed = tuple(
        note
        for i, note in enumerate(c.list_of(doc.get("reconstructed"), "reconstructed"))
        if c.required_text(note, f"reconstructed[{i}]")
    )

    if c.errors:
        raise RubricError(c.errors)
    return RubricSpec(
        code=code,
        title=title,
        version=version,
        total_max=total_max,
        sections=tuple(sections),
        source=source,
        special_bonus_cap=special_cap,
        special_bonus_levels=levels,
        deduction_catalogue=tuple(catalogue),
        components=tuple(components),
        activity_targets=tuple(targets),
        reconstructed=reconstructed,
    )


# ---------------------------------------------------------------------------------------
# Dict form (dump) and text formats
# ---------------------------------------------------------------------------------------


def _dec(value: Decimal) -> str:
    return format(_canonical(value), "f")


class _PlainNumber(str):
    """A canonical decimal that the YAML dumper writes unquoted (5, 0.5)."""


def _dec_plain(value: Decimal) -> _PlainNumber:
    return _PlainNumber(_dec(value))


def _rule_to_dict(rule: RuleSpec, _dec=_dec) -> dict:
    out: dict[str, Any] = {"kind": rule.kind, "text": rule.text}
    if rule.condition:
        out["condition"] = rule.condition
    for name in _DECIMAL_FIELDS:
        value = getattr(rule, name)
        if value is not None:
            out[name] = _dec(value)
    if rule.elements:
        out["elements"] = list(rule.elements)
    if rule.levels:
        out["levels"] = {level: _dec(amount) for level, amount in rule.levels}
    return out


def _item_to_dict(item: ItemSpec, _dec=_dec) -> dict:
    out: dict[str, Any] = {
        "code": item.code,
        "content": item.content,
        "max": _dec(item.max),
    }
    if item.bonus_cap:
        out["bonus_cap"] = _dec(item.bonus_cap)
    if item.evidence_required:
        out["evidence_required"] = True
    if item.veto:
        out["veto"] = True
    if item.rules:
        out["rules"] = [_rule_to_dict(r, _dec) for r in item.rules]
    return out


def rubric_to_dict(spec: RubricSpec) -> dict:
    """The dict form of a rubric (decimals as canonical strings, defaults omitted)."""
    return _to_dict(spec, _dec)


def _to_dict(spec: RubricSpec, _dec) -> dict:
    out: dict[str, Any] = {
        "code": spec.code,
        "title": spec.title,
        "version": spec.version,
    }
    if spec.source:
        out["source"] = spec.source
    out["total_max"] = _dec(spec.total_max)
    if spec.special_bonus_cap is not None:
        out["special_bonus_cap"] = _dec(spec.special_bonus_cap)
    if spec.special_bonus_levels:
        out["special_bonus_levels"] = {k: _dec(v) for k, v in spec.special_bonus_levels}
    if spec.components:
        out["components"] = []
        for comp in spec.components:
            d: dict[str, Any] = {"code": comp.code, "title": comp.title}
            if comp.max is not None:
                d["max"] = _dec(comp.max)
            if comp.weight is not None:
                d["weight"] = _dec(comp.weight)
            if comp.note:
                d["note"] = comp.note
            out["components"].append(d)
    if spec.deduction_catalogue:
        out["deduction_catalogue"] = []
        for ded in spec.deduction_catalogue:
            d = {
                "code": ded.code,
                "kind": ded.kind,
                "amount": _dec(ded.amount),
                "per": ded.per,
            }
            if ded.note:
                d["note"] = ded.note
            if ded.veto:
                d["veto"] = True
            out["deduction_catalogue"].append(d)
    out["sections"] = [
        {
            "code": s.code,
            "title": s.title,
            "max": _dec(s.max),
            "items": [_item_to_dict(i, _dec) for i in s.items],
        }
        for s in spec.sections
    ]
    if spec.activity_targets:
        out["activity_targets"] = []
        for t in spec.activity_targets:
            d = {"code": t.code, "name": t.name}
            if t.group:
                d["group"] = t.group
            d["target"] = t.target
            if t.note:
                d["note"] = t.note
            out["activity_targets"].append(d)
    if spec.reconstructed:
        out["reconstructed"] = list(spec.reconstructed)
    return out


class _YamlLoader(yaml.SafeLoader):
    """Safe loader that reads YAML floats as exact Decimals (from their source text) and
    rejects duplicate mapping keys instead of silently keeping the last one."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def _yaml_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a decimal number", node.start_mark
        ) from None


_YamlLoader.add_constructor("tag:yaml.org,2002:float", _yaml_decimal)


def load_rubric_yaml(text: str) -> RubricSpec:
    """Load a rubric from YAML text (numbers may be written plain: 0.5, 5, or quoted)."""
    try:
        data = yaml.load(text, Loader=_YamlLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RubricError([f"{where}invalid YAML: {problem}"]) from None
    return rubric_from_dict(data)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_rubric_json(text: str) -> RubricSpec:
    """Load a rubric from JSON text (same structure as YAML)."""
    try:
        data = json.loads(text, parse_float=Decimal, object_pairs_hook=_json_pairs)
    except json.JSONDecodeError as exc:
        raise RubricError([f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"]) from None
    except ValueError as exc:
        raise RubricError([f"invalid JSON: {exc}"]) from None
    return rubric_from_dict(data)


class _YamlDumper(yaml.SafeDumper):
    pass


def _represent_plain_number(dumper: yaml.SafeDumper, value: _PlainNumber):
    tag = "float" if "." in value else "int"
    return dumper.represent_scalar(f"tag:yaml.org,2002:{tag}", str(value))


_YamlDumper.add_representer(_PlainNumber, _represent_plain_number)


def dump_rubric_yaml(spec: RubricSpec) -> str:
    """YAML text with plain numbers (``max: 5``, ``amount: 0.5``), Chinese kept as is."""
    return yaml.dump(
        _to_dict(spec, _dec_plain),
        Dumper=_YamlDumper,
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )


def dump_rubric_json(spec: RubricSpec) -> str:
    return json.dumps(rubric_to_dict(spec), ensure_ascii=False, indent=2)


# ---------------------------------------------------------------------------------------
# Excel
# ---------------------------------------------------------------------------------------

ITEM_COLUMNS = (
    "section_code",
    "section_title",
    "section_max",
    "item_code",
    "content",
    "item_max",
    "bonus_cap",
    "evidence_required",
    "veto",
    "rules_json",
)
META_KEYS = ("code", "title", "version", "source", "total_max", "special_bonus_cap")
TABLES: dict[str, tuple[str, ...]] = {
    "special_bonus_levels": ("level", "amount"),
    "deduction_catalogue": ("code", "kind", "amount", "per", "note", "veto"),
    "components": ("code", "title", "max", "weight", "note"),
    "activity_targets": ("code", "name", "group", "target", "note"),
    "reconstructed": ("note",),
}
TABLE_REQUIRED: dict[str, tuple[str, ...]] = {
    "special_bonus_levels": ("level", "amount"),
    "deduction_catalogue": ("code", "kind", "amount", "per"),
    "components": ("code", "title"),
    "activity_targets": ("code", "name"),
    "reconstructed": ("note",),
}
_TEXT_COLUMNS = frozenset(
    (
        "section_code",
        "section_title",
        "item_code",
        "content",
        "key",
        "code",
        "title",
        "kind",
        "per",
        "note",
        "name",
        "group",
        "level",
    )
)
_TRUE = {"true", "yes", "y", "1", "是", "√", "x"}
_FALSE = {"false", "no", "n", "0", "否", ""}


def _xl_value(value: Decimal | int | str | bool | None) -> Any:
    if isinstance(value, Decimal):
        value = _canonical(value)
        return int(value) if value == value.to_integral_value() else value  # openpyxl writes Decimals as numbers
    return value


def rubric_to_xlsx(spec: RubricSpec) -> bytes:
    """Write a rubric workbook (layout in docs/rubrics.md); lossless with load_rubric_xlsx."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    bold = Font(bold=True)

    def put_row(ws, row: list) -> None:
        ws.append([_xl_value(v) for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never let a leading "=" become a formula

    def sheet(title: str, header: tuple[str, ...], widths: dict[int, int] | None = None):
        ws = wb.create_sheet(title)
        ws.append(list(header))
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
        for col, width in (widths or {}).items():
            ws.column_dimensions[chr(ord("A") + col)].width = width
        return ws

    meta = wb.active
    meta.title = "rubric"
    meta.append(["key", "value"])
    for cell in meta[1]:
        cell.font = bold
    meta.column_dimensions["A"].width = 20
    meta.column_dimensions["B"].width = 60
    for key in META_KEYS:
        value = getattr(spec, key)
        if value is None or value == "":
            continue
        put_row(meta, [key, value])

    ws = sheet("items", ITEM_COLUMNS, {0: 12, 1: 18, 2: 10, 3: 10, 4: 80, 5: 9, 6: 9, 9: 60})
    for s in spec.sections:
        for item in s.items:
            rules = json.dumps([_rule_to_dict(r) for r in item.rules], ensure_ascii=False) if item.rules else None
            put_row(
                ws,
                [
                    s.code,
                    s.title,
                    s.max,
                    item.code,
                    item.content,
                    item.max,
                    item.bonus_cap,
                    item.evidence_required,
                    item.veto,
                    rules,
                ],
            )
            ws.cell(ws.max_row, 5).alignment = Alignment(wrap_text=True, vertical="top")

    rows: dict[str, list[list]] = {
        "special_bonus_levels": [[k, v] for k, v in spec.special_bonus_levels],
        "deduction_catalogue": [
            [d.code, d.kind, d.amount, d.per, d.note or None, d.veto] for d in spec.deduction_catalogue
        ],
        "components": [[c.code, c.title, c.max, c.weight, c.note or None] for c in spec.components],
        "activity_targets": [
            [t.code, t.name, t.group or None, t.target, t.note or None] for t in spec.activity_targets
        ],
        "reconstructed": [[note] for note in spec.reconstructed],
    }
    for title, header in TABLES.items():
        if rows[title]:
            ws = sheet(title, header, {0: 14, 1: 30, 4: 40} if len(header) > 4 else {0: 90})
            for row in rows[title]:
                put_row(ws, row)

    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


class _Cells:
    """Reads cells of one worksheet and remembers where every value came from."""

    def __init__(
        self,
        ws,
        header: tuple[str, ...],
        required: tuple[str, ...],
        errors: list[str],
    ) -> None:
        self.ws = ws
        self.errors = errors
        self.columns: dict[str, int] = {}
        first = [c.value for c in ws[1]] if ws.max_row >= 1 else []
        for idx, name in enumerate(first):
            if isinstance(name, str) and name.strip():
                key = name.strip()
                if key in self.columns:
                    self.errors.append(f"{ws.title}: row 1: duplicate column {key!r}")
                self.columns[key] = idx
        for name in required:
            if name not in self.columns:
                self.errors.append(f"{ws.title}: row 1: missing column {name!r}")
        for name in self.columns:
            if name not in header:
                self.errors.append(f"{ws.title}: row 1: unknown column {name!r}")

    def where(self, row: int, name: str) -> str:
        from openpyxl.utils import get_column_letter

        idx = self.columns.get(name, 0)
        return f"{self.ws.title}: row {row}, column {get_column_letter(idx + 1)} ({name})"

    def rows(self):
        for r, values in enumerate(self.ws.iter_rows(min_row=2, values_only=True), start=2):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            yield r, values

    def get(self, values: tuple, name: str, *, text: bool = False) -> Any:
        idx = self.columns.get(name)
        if idx is None or idx >= len(values):
            return None
        value = values[idx]
        if isinstance(value, float):
            # Excel stores numbers as binary doubles; the shortest repr is what the user
            # typed (0.5, 0.2) and is checked for ≤ 2 decimals like any other number.
            value = int(value) if value.is_integer() else Decimal(repr(value))
        if isinstance(value, str) and not value.strip():
            return None
        numeric = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
        if numeric and (text or name in _TEXT_COLUMNS):
            # a code typed as a number in Excel (1, 1.1) is still a code
            return str(value)
        return value

    def boolean(self, values: tuple, name: str, row: int) -> bool:
        value = self.get(values, name)
        if value is None or isinstance(value, bool):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        self.errors.append(f"{self.where(row, name)}: expected TRUE/FALSE, got {value!r}")
        return False


def load_rubric_xlsx(fileobj: BinaryIO | str) -> RubricSpec:
    """Load a rubric workbook written by :func:`rubric_to_xlsx` or by hand.

    Errors name the sheet, row and column: ``items: row 5, column F (item_max): ...``.
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(fileobj, read_only=False, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError, BadZipFile) as exc:
        raise RubricError([f"not a readable .xlsx workbook: {exc}"]) from None

    errors: list[str] = []
    locations: dict[str, str] = {}
    data: dict[str, Any] = {}

    for name in ("rubric", "items"):
        if name not in wb.sheetnames:
            errors.append(f"missing sheet {name!r}")
    for name in wb.sheetnames:
        if name not in ("rubric", "items", *TABLES):
            errors.append(f"unknown sheet {name!r}")
    if errors:
        raise RubricError(errors)

    meta = _Cells(wb["rubric"], ("key", "value"), ("key", "value"), errors)
    for r, values in meta.rows():
        key = meta.get(values, "key")
        if key not in META_KEYS:
            errors.append(f"{meta.where(r, 'key')}: unknown key {key!r}")
            continue
        if key in data:
            errors.append(f"{meta.where(r, 'key')}: duplicate key {key!r}")
            continue
        data[key] = meta.get(values, "value", text=key in ("code", "title", "source"))
        locations[key] = meta.where(r, "value")

    items_sheet = _Cells(wb["items"], ITEM_COLUMNS, ITEM_COLUMNS[:6], errors)
    sections: list[dict] = []
    current: dict | None = None
    for r, values in items_sheet.rows():
        scode = items_sheet.get(values, "section_code")
        stitle = items_sheet.get(values, "section_title")
        smax = items_sheet.get(values, "section_max")
        if scode is None and current is None:
            errors.append(f"{items_sheet.where(r, 'section_code')}: missing")
            continue
        if scode is not None and (current is None or scode != current["code"]):
            if any(s["code"] == scode for s in sections):
                errors.append(
                    f"{items_sheet.where(r, 'section_code')}: section {scode!r} appears "
                    "again after other sections; keep its rows together"
                )
            current = {"code": scode, "title": stitle, "max": smax, "items": []}
            spath = f"sections[{len(sections)}]"
            sections.append(current)
            for key, col in (("code", "section_code"), ("title", "section_title")):
                locations[f"{spath}.{key}"] = items_sheet.where(r, col)
            locations[f"{spath}.max"] = items_sheet.where(r, "section_max")
            locations[spath] = items_sheet.where(r, "section_code")
        else:
            for key, col, value in (
                ("title", "section_title", stitle),
                ("max", "section_max", smax),
            ):
                if value is not None and value != current[key]:
                    errors.append(
                        f"{items_sheet.where(r, col)}: differs from the first row of "
                        f"section {current['code']!r} ({current[key]!r})"
                    )
        spath = f"sections[{len(sections) - 1}]"
        ipath = f"{spath}.items[{len(current['items'])}]"
        item: dict[str, Any] = {}
        for key, col in (
            ("code", "item_code"),
            ("content", "content"),
            ("max", "item_max"),
            ("bonus_cap", "bonus_cap"),
        ):
            item[key] = items_sheet.get(values, col)
            locations[f"{ipath}.{key}"] = items_sheet.where(r, col)
        for key in ("evidence_required", "veto"):
            item[key] = items_sheet.boolean(values, key, r)
            locations[f"{ipath}.{key}"] = items_sheet.where(r, key)
        locations[ipath] = items_sheet.where(r, "item_code")
        rules_text = items_sheet.get(values, "rules_json")
        locations[f"{ipath}.rules"] = items_sheet.where(r, "rules_json")
        if rules_text is not None:
            try:
                item["rules"] = json.loads(str(rules_text), parse_float=Decimal, object_pairs_hook=_json_pairs)
            except ValueError as exc:
                errors.append(f"{items_sheet.where(r, 'rules_json')}: invalid JSON: {exc}")
        current["items"].append(item)
    data["sections"] = sections
    locations["sections"] = "items"

    for title, header in TABLES.items():
        if title not in wb.sheetnames:
            continue
        table = _Cells(wb[title], header, TABLE_REQUIRED[title], errors)
        locations[title] = title
        if title == "special_bonus_levels":
            levels: dict[str, Any] = {}
            for r, values in table.rows():
                level = table.get(values, "level")
                if level in levels:
                    errors.append(f"{table.where(r, 'level')}: duplicate level {level!r}")
                levels[level] = table.get(values, "amount")
                locations[f"{title}.{level}"] = table.where(r, "amount")
            data[title] = levels
            continue
        if title == "reconstructed":
            notes = []
            for r, values in table.rows():
                locations[f"{title}[{len(notes)}]"] = table.where(r, "note")
                notes.append(table.get(values, "note"))
            data[title] = notes
            continue
        rows_out = []
        for r, values in table.rows():
            path = f"{title}[{len(rows_out)}]"
            row: dict[str, Any] = {}
            for col in header:
                value = table.boolean(values, col, r) if col == "veto" else table.get(values, col)
                if value is not None and not (col == "veto" and value is False):
                    row[col] = value
                locations[f"{path}.{col}"] = table.where(r, col)
            locations[path] = table.where(r, header[0])
            rows_out.append(row)
        data[title] = rows_out

    if errors:
        raise RubricError(errors)
    try:
        return rubric_from_dict(data)
    except RubricError as exc:
        raise RubricError([_locate(m, locations) for m in exc.messages]) from None


def _locate(message: str, locations: Mapping[str, str]) -> str:
    """Translate "sections[0].items[2].max: msg" into the Excel cell it came from."""
    path, sep, text = message.partition(": ")
    if not sep:
        return message
    probe = path
    while probe:
        if probe in locations:
            rest = path[len(probe) :].lstrip(".")
            return f"{locations[probe]}: {rest + ': ' if rest else ''}{text}"
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return message


def load_upload(name: str, content: bytes) -> RubricSpec:
    """Load an uploaded rubric file by its extension (.yaml/.yml, .json, .xlsx)."""
    from io import BytesIO

    lowered = name.lower()
    try:
        if lowered.endswith((".yaml", ".yml")):
            return load_rubric_yaml(content.decode("utf-8"))
        if lowered.endswith(".json"):
            return load_rubric_json(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise RubricError(["file: not UTF-8 text"]) from None
    if lowered.endswith(".xlsx"):
        return load_rubric_xlsx(BytesIO(content))
    raise RubricError([f"file: unsupported type {name!r} (use .yaml, .json or .xlsx)"])
