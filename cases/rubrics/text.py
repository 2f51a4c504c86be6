"""Rubric files as text: YAML and JSON, read into exact Decimals and written back losslessly.

Both carry the dict form of :mod:`cases.rubrics.document` (layout in ``docs/rubrics.md``). Syntax
errors become a :class:`~cases.rubrics.document.RubricError` with the line and column.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from cases.rubrics.document import RubricError, RubricSpec, rubric_from_dict, rubric_to_dict
from cases.validation import decimal_text


class _YamlLoader(yaml.SafeLoader):
    """Safe loader that reads YAML floats as exact Decimals (from their source text) and
    rejects duplicate mapping keys instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # An alias repeats a node without repeating its text: nine levels of ten aliases are a
        # billion items for the validator to walk. A rubric file has no use for them.
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def _yaml_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
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


def json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for json.loads: a duplicate key is an error, not silently the last one."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_rubric_json(text: str) -> RubricSpec:
    """Load a rubric from JSON text (same structure as YAML)."""
    try:
        data = json.loads(text, parse_float=Decimal, object_pairs_hook=json_object)
    except json.JSONDecodeError as exc:
        raise RubricError([f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"]) from None
    except ValueError as exc:
        raise RubricError([f"invalid JSON: {exc}"]) from None
    return rubric_from_dict(data)


class _PlainNumber(str):
    """A canonical decimal that the YAML dumper writes unquoted (5, 0.5)."""


def _plain_number(value: Decimal) -> str:
    return _PlainNumber(decimal_text(value))


class _YamlDumper(yaml.SafeDumper):
    pass


def _represent_plain_number(dumper: yaml.SafeDumper, value: _PlainNumber) -> yaml.ScalarNode:
    tag = "float" if "." in value else "int"
    return dumper.represent_scalar(f"tag:yaml.org,2002:{tag}", str(value))


_YamlDumper.add_representer(_PlainNumber, _represent_plain_number)


def dump_rubric_yaml(spec: RubricSpec) -> str:
    """YAML text with plain numbers (``max: 5``, ``amount: 0.5``), Chinese kept as is."""
    return yaml.dump(
        rubric_to_dict(spec, _plain_number),
        Dumper=_YamlDumper,
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )


def dump_rubric_json(spec: RubricSpec) -> str:
    return json.dumps(rubric_to_dict(spec), ensure_ascii=False, indent=2)
