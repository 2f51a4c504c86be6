"""What the service areas share: the one parser of the numbers people type (amounts in points and
integers), and the office check."""

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError

from cases import access
from cases import models as m
from cases.scoring import engine as scoring

# The largest amount any points column holds (DecimalField(max_digits=8, decimal_places=2)). Above it
# an amount is no score at all, and quantizing "1e309" to two places would raise InvalidOperation.
MAX_POINTS = Decimal("999999.99")
# PostgreSQL's integer column; an id or a count beyond it would be a DataError (a 500), not a 400.
MAX_INT = 2**31 - 1
# Nobody types a number longer than this; longer text is refused before Decimal/int work on it.
_MAX_TEXT = 40
# Plain decimal notation (an exponent too: a JSON float may print as "1e-05"); not Python's extras
# such as "1_000" or non-ASCII digits, which Decimal() would accept.
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SPECIAL = {"nan", "+nan", "-nan", "snan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def _number_text(value: object, field: str) -> str:
    """The text of a number: a string, an int or a Decimal (a JSON float's repr is exact enough:
    "1.005" stays "1.005"); never a bool, which Python would take for 0 or 1."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValidationError({field: ["必须是数字。"]})
    text = value.strip() if isinstance(value, str) else str(value)
    if not text or len(text) > _MAX_TEXT:
        raise ValidationError({field: ["必须是数字。"]})
    return text


def parse_points(value: object, field: str, *, max_value: Decimal = MAX_POINTS) -> Decimal:
    """An amount in points: finite, ≥ 0, ≤ `max_value`, at most two decimals, from a string or a
    number (never float maths). Every input amount goes through here (services, the API's
    `PointsField`, the pages' forms), so all refuse the same input with the same message."""
    text = _number_text(value, field)
    if text.lower() in _SPECIAL or (isinstance(value, Decimal) and not value.is_finite()):
        raise ValidationError({field: ["必须是有限的数字。"]})
    if not _DECIMAL.fullmatch(text):
        raise ValidationError({field: ["必须是数字。"]})
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValidationError({field: ["必须是数字。"]}) from None
    if amount < 0:
        raise ValidationError({field: ["不能为负数。"]})
    if amount > max_value:
        raise ValidationError({field: [f"不能超过 {max_value}。"]})
    # Bounded above, so quantizing cannot overflow the context's precision.
    if amount != amount.quantize(scoring.TWO_PLACES):
        raise ValidationError({field: ["最多两位小数。"]})
    return amount.quantize(scoring.TWO_PLACES).copy_abs()  # "-0" is zero


def parse_int(value: object, field: str, *, min_value: int = 0, max_value: int = MAX_INT) -> int:
    """An integer within [min_value, max_value] (ids, counts, page numbers), from a string or an int."""
    text = _number_text(value, field)
    if isinstance(value, float) or not text.lstrip("+-").isdigit() or not text.isascii():
        raise ValidationError({field: ["必须是整数。"]})
    number = int(text)
    if number < min_value:
        raise ValidationError({field: [f"不能小于 {min_value}。"]})
    if number > max_value:
        raise ValidationError({field: [f"不能超过 {max_value}。"]})
    return number


def require_office(user: m.User) -> None:
    """Configuration (units, rounds, groups) and the round's office steps are the office's."""
    if not access.is_office(user):
        raise PermissionDenied("只有考核办可以进行此操作。")
