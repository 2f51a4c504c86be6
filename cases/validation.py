"""One error-collecting validator for the documents people hand us: rubric files and exchange inputs.

Pure Python (no Django import). A :class:`Validator` walks a decoded document and records every
problem as ``path: message`` (``sections[1].items[0].max: must not be negative (got -1)``) instead
of stopping at the first, so a user fixes a file in one pass. Its checks return ``None`` after
recording an error, and the caller builds nothing from a part that had errors.

The two formats differ in their words and conventions, which a :class:`Dialect` names: rubric
files are written by hand in YAML (a ``mapping``, a ``list``, an empty value is as good as an
absent key, amounts may be plain numbers), exchange documents are machine-made JSON (an
``object``, an ``array``, ``null`` is a value of the wrong type, amounts are decimal strings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Dialect", "DocumentError", "Validator", "canonical", "decimal_text", "join"]

# Amounts: at most 2 decimals everywhere; the exchange format also bounds the integer digits so
# that sums over millions of values stay exact at the engine's precision.
MAX_INTEGER_DIGITS = 12
# What a stored rubric can hold: points are DecimalField(max_digits=8, decimal_places=2), codes at most
# 32 characters (a rubric's own code 64). Refused here, with the path, rather than by the database (a 500).
MAX_POINTS = Decimal("999999.99")
MAX_CODE_LENGTH = 32
_CODE = re.compile(r"\S+")
_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DECIMAL_STRING = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")


class DocumentError(ValueError):
    """An invalid document. ``messages`` lists every problem found, each prefixed by its path."""

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


@dataclass(frozen=True)
class Dialect:
    """The words and conventions of one document format, as its error messages use them."""

    root: str  # the whole document in a message about its top level ("rubric", "input")
    mapping: str  # "mapping" (YAML) or "object" (JSON)
    a_mapping: str  # the same with its article: "a mapping", "an object"
    sequence: str  # "list" or "array"
    a_sequence: str  # "a list", "an array"
    # YAML: `max:` with nothing after it means the key was left out (reported once, as missing).
    null_is_absent: bool
    # JSON exchange: amounts only as decimal strings, so a binary float can never sneak in.
    decimal_strings_only: bool

    def type_name(self, value: object) -> str:
        """The type of a decoded value in this format's words ("number", "list"/"array" …)."""
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, (int, float, Decimal)):
            return "number"
        if isinstance(value, str):
            return "string"
        if isinstance(value, list):
            return self.sequence
        if isinstance(value, dict):
            return self.mapping
        return type(value).__name__


def join(path: str, key: str) -> str:
    """``path.key``, or ``key`` at the top level."""
    return f"{path}.{key}" if path else key


def canonical(value: Decimal) -> Decimal:
    """Integers without exponent or decimals ("5"), others without trailing zeros ("0.5")."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def decimal_text(value: Decimal) -> str:
    """The canonical text of an amount: no exponent, no trailing fractional zeros ("5", "0.5")."""
    return format(canonical(value), "f")


class Validator:
    """Collects every error of one document, each addressed by the path of its field."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}" if path else message)

    def mark(self) -> int:
        """A bookmark; ``failed_since(mark)`` tells whether a part of the document had errors."""
        return len(self.errors)

    def failed_since(self, mark: int) -> bool:
        return len(self.errors) > mark

    def wrong_type(self, path: str, expected: str, value: object) -> None:
        self.error(path, f"expected {expected}, got {self.dialect.type_name(value)}")

    def present(self, data: dict[str, Any], key: str) -> bool:
        """Whether ``key`` carries a value (in YAML, ``key:`` with no value does not)."""
        return key in data and not (self.dialect.null_is_absent and data[key] is None)

    # -- structure ---------------------------------------------------------------------------

    def mapping(
        self,
        value: object,
        path: str,
        required: Sequence[str] = (),
        optional: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        """A mapping with these keys: every missing and every unknown key is reported."""
        if not isinstance(value, dict):
            self.wrong_type(path or self.dialect.root, self.dialect.a_mapping, value)
            return None
        for key in required:
            if not self.present(value, key):
                self.error(join(path, key), "missing")
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                self.error(join(path, str(key)), "unknown key")
        return value

    def sequence(self, value: object, path: str, *, non_empty: bool = False) -> list[Any] | None:
        """A list (``None`` after a type error; an absent YAML value is an empty list)."""
        if value is None and self.dialect.null_is_absent:
            value = []
        if not isinstance(value, list):
            self.wrong_type(path, self.dialect.a_sequence, value)
            return None
        if non_empty and not value:
            self.error(path, "must not be empty")
        return value

    def unique(self, code: str | None, seen: set[str], path: str, what: str) -> None:
        """Report a code seen before among ``seen`` (which receives it)."""
        if code is None:
            return
        if code in seen:
            self.error(path, f"duplicate {what} code {code!r}")
        seen.add(code)

    # -- fields ------------------------------------------------------------------------------
    # In a dialect where null is absent, a None value is skipped silently: a missing required key
    # is reported once by mapping(), and an optional field is simply not there.

    def text(self, value: object, path: str, *, required: bool = True) -> str | None:
        """A string; ``required`` ones must not be blank. An absent optional text is ""."""
        if value is None and self.dialect.null_is_absent:
            return None if required else ""
        if not isinstance(value, str):
            self.wrong_type(path, "a string", value)
            return None
        if required and not value.strip():
            self.error(path, "must not be empty")
            return None
        return value

    def code(self, value: object, path: str, *, max_length: int = MAX_CODE_LENGTH) -> str | None:
        """A required identifier: no spaces or line breaks (it names files and headers), bounded."""
        text = self.text(value, path)
        if text is None:
            return None
        if not _CODE.fullmatch(text) or len(text) > max_length:
            self.error(path, f"must be at most {max_length} characters without spaces or line breaks")
            return None
        return text

    def element_text(self, value: object, path: str) -> str | None:
        """A non-blank string in a list, where no mapping reports it missing."""
        if value is None:
            self.error(path, "must not be empty")
            return None
        return self.text(value, path)

    def boolean(self, value: object, path: str) -> bool:
        """true or false (false after an error; absent is false)."""
        if value is None and self.dialect.null_is_absent:
            return False
        if not isinstance(value, bool):
            self.wrong_type(path, "true or false", value)
            return False
        return value

    def integer(self, value: object, path: str, *, minimum: int) -> int | None:
        if value is None and self.dialect.null_is_absent:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(path, "an integer", value)
            return None
        if value < minimum:
            self.error(path, f"must be at least {minimum}")
            return None
        return value

    def decimal(self, value: object, path: str) -> Decimal | None:
        """A non-negative amount with at most 2 decimals, as the dialect writes amounts."""
        if self.dialect.decimal_strings_only:
            return self._decimal_string(value, path)
        if value is None and self.dialect.null_is_absent:
            return None
        return self._number(value, path)

    def decimals(self, value: object, path: str) -> list[Decimal]:
        """A list of amounts; the valid ones (the others are reported)."""
        out = []
        for i, v in enumerate(self.sequence(value, path) or []):
            d = self.decimal(v, f"{path}[{i}]")
            if d is not None:
                out.append(d)
        return out

    def _number(self, value: object, path: str) -> Decimal | None:
        """Rubric files: a number ≥ 0 with at most 2 decimals, as text, an integer or a Decimal."""
        if isinstance(value, bool):
            self.wrong_type(path, "a number", value)
            return None
        if isinstance(value, float):
            # Only reachable from Python callers: the loaders never produce floats.
            self.error(path, "binary floats are not accepted; write the number as text")
            return None
        if isinstance(value, str):
            if not _NUMBER_TEXT.fullmatch(value.strip()):
                self.error(path, f"{value!r} is not a decimal number")
                return None
            value = Decimal(value.strip())
        elif isinstance(value, int):
            value = Decimal(value)
        elif not isinstance(value, Decimal):
            self.wrong_type(path, "a number", value)
            return None
        if not value.is_finite():
            self.error(path, f"{value} is not a finite number")
            return None
        ok = True
        if value < 0:
            self.error(path, f"must not be negative (got {value})")
            ok = False
        if value > MAX_POINTS:
            self.error(path, f"must not be above {MAX_POINTS} (got {value})")
            ok = False
        try:
            two_places = value == value.quantize(Decimal("0.01"))
        except InvalidOperation:
            two_places = False
        if not two_places:
            self.error(path, f"has more than 2 decimals (got {value})")
            ok = False
        return canonical(value) if ok else None

    def _decimal_string(self, value: object, path: str) -> Decimal | None:
        """Exchange documents: a decimal string ≥ 0, at most 2 decimals and 12 integer digits."""
        if not isinstance(value, str):
            self.wrong_type(path, 'a decimal string such as "2.5"', value)
            return None
        match = _DECIMAL_STRING.fullmatch(value)
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
        return abs(Decimal(value))  # "-0" is zero
