"""What the service areas share: amounts in points as the user typed them, and the office check."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError

from cases import access
from cases import models as m
from cases.scoring import engine as scoring


def parse_points(value: object, field: str) -> Decimal:
    """A non-negative amount with at most two decimals, from a string or number (never float maths)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: ["必须是数字。"]}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError({field: ["不能为负数。"]})
    if amount != amount.quantize(scoring.TWO_PLACES):
        raise ValidationError({field: ["最多两位小数。"]})
    return amount.quantize(scoring.TWO_PLACES)


def require_office(user: m.User) -> None:
    """Configuration (units, rounds, groups) and the round's office steps are the office's."""
    if not access.is_office(user):
        raise PermissionDenied("只有考核办可以进行此操作。")
