"""The rubric document: its spec, the validation of its dict form, and the engine's view of it.

A rubric is a tree of sections → items with maximum points and the deduction / bonus rules
of the source notice, plus the round-level catalogues a notice defines (deduction
catalogue, special bonus levels, weighted components, activity targets). Every rule kind is
documented in ``docs/rubrics.md``. Pure Python (no ORM): YAML, JSON (:mod:`cases.rubrics.text`)
and Excel (:mod:`cases.rubrics.excel`) all come down to the dict form validated here.

Loading is all-or-nothing: every problem is collected and raised together in a
:class:`RubricError` whose messages name the offending field (``sections[1].items[0].max:
...``). The section/item tree is read by :func:`read_sections`, which the exchange format of
:mod:`cases.scoring.exchange` uses too, with its own keys (:class:`TreeShape`) and words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cases.scoring.engine import ScoringItem, ScoringRubric, ScoringSection
from cases.validation import Dialect, DocumentError, Validator, canonical, decimal_text

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
DECIMAL_FIELDS = ("amount", "max_amount", "threshold", "step", "cap")

# Rubric files are written by hand, mostly in YAML: its words, plain numbers, and an empty value
# (`max:`) is the same as leaving the key out.
RUBRIC_FILE = Dialect(
    root="rubric",
    mapping="mapping",
    a_mapping="a mapping",
    sequence="list",
    a_sequence="a list",
    null_is_absent=True,
    decimal_strings_only=False,
)


class RubricError(DocumentError):
    """An invalid rubric document. ``messages`` lists every problem found."""


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


def scoring_sections(sections: Iterable[SectionSpec]) -> tuple[ScoringSection, ...]:
    """The sections as the engine takes them: codes, maxima and bonus caps only."""
    return tuple(
        ScoringSection(s.code, s.max, tuple(ScoringItem(i.code, i.max, i.bonus_cap) for i in s.items))
        for s in sections
    )


def to_scoring_rubric(spec: RubricSpec) -> ScoringRubric:
    """The arithmetic view of a rubric for :mod:`cases.scoring.engine` (no cap → 0)."""
    return ScoringRubric(
        scoring_sections(spec.sections),
        spec.special_bonus_cap if spec.special_bonus_cap is not None else ZERO,
    )


# ---------------------------------------------------------------------------------------
# The section/item tree (rubric files and exchange documents)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeShape:
    """The keys a format gives sections and items, in the order missing ones are reported.

    Rubric files: a section has a title, an item its standard text (``content``) and may carry
    rules, a veto and an evidence flag. Exchange documents: only an optional ``title`` on both,
    for readability. ``item_text`` names the item's wording key.
    """

    section_required: tuple[str, ...]
    section_optional: tuple[str, ...]
    item_required: tuple[str, ...]
    item_optional: tuple[str, ...]
    item_text: str


RUBRIC_TREE = TreeShape(
    section_required=("code", "title", "max", "items"),
    section_optional=(),
    item_required=("code", "content", "max"),
    item_optional=("bonus_cap", "evidence_required", "veto", "rules"),
    item_text="content",
)


@dataclass
class SectionsRead:
    """What :func:`read_sections` could read: the sections without errors, and every section's max
    (``None`` where it could not be read) for checks on the whole."""

    sections: list[SectionSpec] = field(default_factory=list)
    maxima: list[Decimal | None] = field(default_factory=list)


def read_sections(v: Validator, raw: object, path: str, shape: TreeShape, item_codes: set[str]) -> SectionsRead:
    """Validate a list of sections with their items: codes unique (item codes across the whole
    rubric), no item max above its section's. ``item_codes`` receives every readable item code,
    even when the tree has errors (the exchange format checks its sheets against them)."""
    read = SectionsRead()
    section_codes: set[str] = set()
    for si, raw_section in enumerate(v.sequence(raw, path, non_empty=True) or []):
        spath = f"{path}[{si}]"
        data = v.mapping(raw_section, spath, shape.section_required, shape.section_optional)
        if data is None:
            read.maxima.append(None)
            continue
        mark = v.mark()
        code = v.code(data.get("code"), f"{spath}.code") if v.present(data, "code") else None
        v.unique(code, section_codes, f"{spath}.code", "section")
        title = _text(v, data, "title", spath, required="title" in shape.section_required)
        smax = v.decimal(data["max"], f"{spath}.max") if v.present(data, "max") else None
        items = []
        # In a rubric file an absent list is an empty one, reported as such besides "missing".
        if "items" in data or v.dialect.null_is_absent:
            for ii, raw_item in enumerate(v.sequence(data.get("items"), f"{spath}.items", non_empty=True) or []):
                item = _item(v, raw_item, f"{spath}.items[{ii}]", smax, shape, item_codes)
                if item is not None:
                    items.append(item)
        read.maxima.append(smax)
        if not v.failed_since(mark) and code is not None and title is not None and smax is not None:
            read.sections.append(SectionSpec(code, title, smax, tuple(items)))
    return read


def _text(v: Validator, data: dict[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    if not v.present(data, key):
        return None if required else ""
    return v.text(data[key], f"{path}.{key}", required=required)


def _item(
    v: Validator, raw: object, path: str, section_max: Decimal | None, shape: TreeShape, item_codes: set[str]
) -> ItemSpec | None:
    data = v.mapping(raw, path, shape.item_required, shape.item_optional)
    if data is None:
        return None
    mark = v.mark()
    code = v.code(data.get("code"), f"{path}.code") if v.present(data, "code") else None
    v.unique(code, item_codes, f"{path}.code", "item")
    text = _text(v, data, shape.item_text, path, required=shape.item_text in shape.item_required)
    imax = v.decimal(data["max"], f"{path}.max") if v.present(data, "max") else None
    if imax is not None and section_max is not None and imax > section_max:
        v.error(f"{path}.max", f"item max {imax} exceeds the section max {section_max}")
    bonus_cap = v.decimal(data["bonus_cap"], f"{path}.bonus_cap") if v.present(data, "bonus_cap") else ZERO
    evidence = veto = False
    rules: tuple[RuleSpec | None, ...] = ()
    if "rules" in shape.item_optional:
        evidence = v.boolean(data.get("evidence_required"), f"{path}.evidence_required")
        veto = v.boolean(data.get("veto"), f"{path}.veto")
        rules = tuple(_rule(v, r, f"{path}.rules[{i}]") for i, r in enumerate(v.sequence(data.get("rules"), f"{path}.rules") or []))
    if v.failed_since(mark) or code is None or text is None or imax is None or bonus_cap is None:
        return None
    return ItemSpec(code, text, imax, bonus_cap, evidence, veto, tuple(r for r in rules if r is not None))


def _rule(v: Validator, raw: object, path: str) -> RuleSpec | None:
    if not isinstance(raw, dict):
        v.wrong_type(path, v.dialect.a_mapping, raw)
        return None
    kind = raw.get("kind")
    if kind not in RULE_KINDS:
        v.error(f"{path}.kind", f"unknown rule kind {kind!r} (expected one of {', '.join(RULE_KINDS)})")
        return None
    required, optional = RULE_KINDS[kind]
    data = v.mapping(raw, path, ("kind", "text", *required), ("condition", *optional))
    if data is None:
        return None
    mark = v.mark()
    values: dict[str, Any] = {"kind": kind}
    values["text"] = v.text(data.get("text"), f"{path}.text")
    values["condition"] = v.text(data.get("condition"), f"{path}.condition", required=False)
    for name in DECIMAL_FIELDS:
        if data.get(name) is not None:
            values[name] = v.decimal(data[name], f"{path}.{name}")
    if data.get("elements") is not None:
        elements = v.sequence(data["elements"], f"{path}.elements") or []
        values["elements"] = tuple(e for i, e in enumerate(elements) if v.element_text(e, f"{path}.elements[{i}]"))
    if kind == "bonus_by_level":
        values["levels"] = _levels(v, data.get("levels"), f"{path}.levels")
        if not values["levels"] and data.get("levels") is not None:
            v.error(f"{path}.levels", "must not be empty")
    if kind == "deduct_per_percent" and values.get("step") == 0:
        v.error(f"{path}.step", "must be greater than 0")
    if v.failed_since(mark):
        return None
    return RuleSpec(**values)


def _levels(v: Validator, value: object, path: str) -> tuple[tuple[str, Decimal], ...]:
    """A mapping of level name → amount (bonus levels of a rule, the special bonus levels)."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        v.wrong_type(path, "a mapping of level → amount", value)
        return ()
    out = []
    for level, amount in value.items():
        if level is None or amount is None:
            v.error(f"{path}.{level}", "level name and amount are both required")
            continue
        name = v.text(level, f"{path}.{level}")
        d = v.decimal(amount, f"{path}.{level}")
        if name is not None and d is not None:
            out.append((name, d))
    return tuple(out)


# ---------------------------------------------------------------------------------------
# Validation of the dict form (shared by YAML, JSON and Excel)
# ---------------------------------------------------------------------------------------

_DOCUMENT_REQUIRED = ("code", "title", "version", "total_max", "sections")
_DOCUMENT_OPTIONAL = (
    "source",
    "special_bonus_cap",
    "special_bonus_levels",
    "deduction_catalogue",
    "components",
    "activity_targets",
    "reconstructed",
)


def rubric_from_dict(data: object) -> RubricSpec:
    """Validate the dict form of a rubric (as read from YAML/JSON) and build the spec.

    Raises :class:`RubricError` with every problem found.
    """
    v = Validator(RUBRIC_FILE)
    doc = v.mapping(data, "", _DOCUMENT_REQUIRED, _DOCUMENT_OPTIONAL)
    if doc is None:
        raise RubricError(v.errors)
    code = v.code(doc.get("code"), "code", max_length=64)
    title = v.text(doc.get("title"), "title")
    version = v.integer(doc.get("version"), "version", minimum=1)
    source = v.text(doc.get("source"), "source", required=False)
    total_max = v.decimal(doc.get("total_max"), "total_max")
    special_cap = v.decimal(doc.get("special_bonus_cap"), "special_bonus_cap")
    levels = _levels(v, doc.get("special_bonus_levels"), "special_bonus_levels")
    read = read_sections(v, doc.get("sections"), "sections", RUBRIC_TREE, set())
    _check_total(v, total_max, read.maxima)
    catalogue = _catalogue(v, doc.get("deduction_catalogue"))
    components = _components(v, doc.get("components"))
    targets = _targets(v, doc.get("activity_targets"))
    reconstructed = tuple(
        note
        for i, note in enumerate(v.sequence(doc.get("reconstructed"), "reconstructed") or [])
        if v.element_text(note, f"reconstructed[{i}]")
    )
    if v.errors or code is None or title is None or version is None or source is None or total_max is None:
        raise RubricError(v.errors)
    return RubricSpec(
        code=code,
        title=title,
        version=version,
        total_max=total_max,
        sections=tuple(read.sections),
        source=source,
        special_bonus_cap=special_cap,
        special_bonus_levels=levels,
        deduction_catalogue=catalogue,
        components=components,
        activity_targets=targets,
        reconstructed=reconstructed,
    )


def _check_total(v: Validator, total_max: Decimal | None, maxima: list[Decimal | None]) -> None:
    """total_max is the sum of the section maxima (checked only when every one could be read)."""
    if total_max is None or not maxima or None in maxima:
        return
    section_sum = sum((m for m in maxima if m is not None), ZERO)
    if total_max != section_sum:
        v.error("total_max", f"must equal the sum of the section maxima ({canonical(section_sum)}), got {total_max}")


def _catalogue(v: Validator, raw: object) -> tuple[DeductionSpec, ...]:
    catalogue = []
    codes: set[str] = set()
    for i, raw_row in enumerate(v.sequence(raw, "deduction_catalogue") or []):
        path = f"deduction_catalogue[{i}]"
        d = v.mapping(raw_row, path, ("code", "kind", "amount", "per"), ("note", "veto"))
        if d is None:
            continue
        code = v.code(d.get("code"), f"{path}.code")
        v.unique(code, codes, f"{path}.code", "deduction")
        kind = v.text(d.get("kind"), f"{path}.kind")
        amount = v.decimal(d.get("amount"), f"{path}.amount")
        per = d.get("per")
        if per is not None and per not in DEDUCTION_UNITS:
            v.error(f"{path}.per", f"must be one of {' '.join(DEDUCTION_UNITS)}, got {per!r}")
        note = v.text(d.get("note"), f"{path}.note", required=False)
        veto = v.boolean(d.get("veto"), f"{path}.veto")
        if code is not None and kind is not None and amount is not None and per in DEDUCTION_UNITS:
            catalogue.append(DeductionSpec(code, kind, amount, per, note or "", veto))
    return tuple(catalogue)


def _components(v: Validator, raw: object) -> tuple[ComponentSpec, ...]:
    """Composite parts: all in points (max) or all in percent (weight, summing to 100)."""
    components = []
    codes: set[str] = set()
    weights: list[Decimal] = []
    modes: set[str] = set()
    rows = v.sequence(raw, "components") or []
    for i, raw_row in enumerate(rows):
        path = f"components[{i}]"
        d = v.mapping(raw_row, path, ("code", "title"), ("max", "weight", "note"))
        if d is None:
            continue
        code = v.code(d.get("code"), f"{path}.code")
        v.unique(code, codes, f"{path}.code", "component")
        title = v.text(d.get("title"), f"{path}.title")
        cmax = cweight = None
        has_max, has_weight = d.get("max") is not None, d.get("weight") is not None
        if has_max == has_weight:
            v.error(path, "give exactly one of max (points) or weight (percent)")
        if has_max:
            cmax = v.decimal(d["max"], f"{path}.max")
            modes.add("max")
        if has_weight:
            cweight = v.decimal(d["weight"], f"{path}.weight")
            modes.add("weight")
            if cweight is not None:
                weights.append(cweight)
        note = v.text(d.get("note"), f"{path}.note", required=False)
        if code is not None and title is not None:
            components.append(ComponentSpec(code, title, cmax, cweight, note or ""))
    if len(modes) > 1:
        v.error("components", "all components must use max, or all must use weight")
    elif modes == {"weight"} and len(weights) == len(rows) and sum(weights, ZERO) != 100:
        v.error("components", f"weights sum to {sum(weights, ZERO)}, expected 100")
    return tuple(components)


def _targets(v: Validator, raw: object) -> tuple[ActivityTarget, ...]:
    targets = []
    codes: set[str] = set()
    for i, raw_row in enumerate(v.sequence(raw, "activity_targets") or []):
        path = f"activity_targets[{i}]"
        d = v.mapping(raw_row, path, ("code", "name"), ("target", "group", "note"))
        if d is None:
            continue
        code = v.text(d.get("code"), f"{path}.code")
        v.unique(code, codes, f"{path}.code", "activity target")
        name = v.text(d.get("name"), f"{path}.name")
        target = v.integer(d.get("target"), f"{path}.target", minimum=0)
        group = v.text(d.get("group"), f"{path}.group", required=False)
        note = v.text(d.get("note"), f"{path}.note", required=False)
        if code is not None and name is not None:
            targets.append(ActivityTarget(code, name, target, group or "", note or ""))
    return tuple(targets)


# ---------------------------------------------------------------------------------------
# The dict form (the inverse of rubric_from_dict)
# ---------------------------------------------------------------------------------------

Number = Callable[[Decimal], str]


def rule_to_dict(rule: RuleSpec, number: Number = decimal_text) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": rule.kind, "text": rule.text}
    if rule.condition:
        out["condition"] = rule.condition
    for name in DECIMAL_FIELDS:
        value = getattr(rule, name)
        if value is not None:
            out[name] = number(value)
    if rule.elements:
        out["elements"] = list(rule.elements)
    if rule.levels:
        out["levels"] = {level: number(amount) for level, amount in rule.levels}
    return out


def _item_to_dict(item: ItemSpec, number: Number) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": item.code,
        "content": item.content,
        "max": number(item.max),
    }
    if item.bonus_cap:
        out["bonus_cap"] = number(item.bonus_cap)
    if item.evidence_required:
        out["evidence_required"] = True
    if item.veto:
        out["veto"] = True
    if item.rules:
        out["rules"] = [rule_to_dict(r, number) for r in item.rules]
    return out


def rubric_to_dict(spec: RubricSpec, number: Number = decimal_text) -> dict[str, Any]:
    """The dict form of a rubric (decimals as canonical strings, defaults omitted).

    ``number`` renders the amounts: the YAML dumper passes one that it writes unquoted.
    """
    out: dict[str, Any] = {
        "code": spec.code,
        "title": spec.title,
        "version": spec.version,
    }
    if spec.source:
        out["source"] = spec.source
    out["total_max"] = number(spec.total_max)
    if spec.special_bonus_cap is not None:
        out["special_bonus_cap"] = number(spec.special_bonus_cap)
    if spec.special_bonus_levels:
        out["special_bonus_levels"] = {k: number(v) for k, v in spec.special_bonus_levels}
    if spec.components:
        out["components"] = [_component_to_dict(c, number) for c in spec.components]
    if spec.deduction_catalogue:
        out["deduction_catalogue"] = [_deduction_to_dict(d, number) for d in spec.deduction_catalogue]
    out["sections"] = [
        {
            "code": s.code,
            "title": s.title,
            "max": number(s.max),
            "items": [_item_to_dict(i, number) for i in s.items],
        }
        for s in spec.sections
    ]
    if spec.activity_targets:
        out["activity_targets"] = [_target_to_dict(t) for t in spec.activity_targets]
    if spec.reconstructed:
        out["reconstructed"] = list(spec.reconstructed)
    return out


def _component_to_dict(comp: ComponentSpec, number: Number) -> dict[str, Any]:
    d: dict[str, Any] = {"code": comp.code, "title": comp.title}
    if comp.max is not None:
        d["max"] = number(comp.max)
    if comp.weight is not None:
        d["weight"] = number(comp.weight)
    if comp.note:
        d["note"] = comp.note
    return d


def _deduction_to_dict(ded: DeductionSpec, number: Number) -> dict[str, Any]:
    d: dict[str, Any] = {"code": ded.code, "kind": ded.kind, "amount": number(ded.amount), "per": ded.per}
    if ded.note:
        d["note"] = ded.note
    if ded.veto:
        d["veto"] = True
    return d


def _target_to_dict(t: ActivityTarget) -> dict[str, Any]:
    d: dict[str, Any] = {"code": t.code, "name": t.name}
    if t.group:
        d["group"] = t.group
    d["target"] = t.target
    if t.note:
        d["note"] = t.note
    return d
