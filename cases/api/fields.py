"""What every API body shares: the one number parser as DRF fields, and unknown fields refused.

The fields delegate to `cases.services.common` (`parse_points`, `parse_int`), so the API, the pages'
forms and the services refuse the same input with the same message."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.services.common import MAX_INT, MAX_POINTS, parse_int, parse_points


def _drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    # parse_* name their field; DRF names it again by the serializer's key, so keep the messages only.
    return serializers.ValidationError([msg for msgs in exc.message_dict.values() for msg in msgs])


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d{1,6}(\.\d{1,2})?$",
                      "example": "2.50"})
class PointsField(serializers.Field):
    """An amount in points (`parse_points`): finite, ≥ 0, at most two decimals, bounded; written as text."""

    def __init__(self, *, max_value: Decimal = MAX_POINTS, **kwargs: Any) -> None:
        self.max_value = max_value
        super().__init__(**kwargs)

    def validate_empty_values(self, data: object) -> tuple[bool, object]:
        # Where an amount may be absent (allow_null), a form's blank means absent too.
        if data == "" and self.allow_null:
            return True, None
        return super().validate_empty_values(data)

    def to_internal_value(self, data: object) -> Decimal:
        try:
            return parse_points(data, self.field_name or "value", max_value=self.max_value)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None

    def to_representation(self, value: Decimal) -> str:
        return str(value)


@extend_schema_field(OpenApiTypes.INT)
class BoundedIntegerField(serializers.IntegerField):
    """An integer (`parse_int`) within the database's integer range unless narrowed: an id or count
    beyond it must be a 400, not a database error."""

    def __init__(self, *, min_value: int = 0, max_value: int = MAX_INT, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)
        self.bounds = (min_value, max_value)

    def to_internal_value(self, data: object) -> int:
        try:
            return parse_int(data, self.field_name or "value", min_value=self.bounds[0], max_value=self.bounds[1])
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None


# Not a field of any body, but a browser's form posts may carry it (SessionAuthentication reads it).
_IGNORED = {"csrfmiddlewaretoken"}


class StrictFieldsMixin:
    """Refuses a body key the serializer does not define (or only outputs), each named as its own
    field error beside the others: a typo in a field name must not save the rest. Nested serializers
    (and each row of a list of them) check their own keys, since DRF calls their
    `to_internal_value` with their part of the body."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if hasattr(data, "keys"):
            fields = self.fields  # type: ignore[attr-defined]
            unknown = {
                str(key): ["只读字段，不能写入。" if key in fields else "未知字段。"]
                for key in data.keys()
                if (key not in fields or fields[key].read_only) and key not in _IGNORED
            }
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**unknown, **exc.detail}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    """A request body: unknown fields refused."""


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A model's body: unknown fields refused; integers bounded and amounts parsed by the one parser."""

    def build_standard_field(self, field_name: str, model_field: Any) -> tuple[type, dict[str, Any]]:
        """A model's DecimalField (every one holds points) as a `PointsField` bounded by its column, an
        integer column as a `BoundedIntegerField` within the column's range: the one parser."""
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        kept = {k: v for k, v in kwargs.items()
                if k in ("required", "allow_null", "read_only", "label", "help_text", "validators")}
        if field_class is serializers.DecimalField:
            whole = model_field.max_digits - model_field.decimal_places
            kept.pop("validators", None)  # MinValueValidator(0) and the digits: parse_points checks both
            return PointsField, {**kept, "max_value": Decimal(f"{'9' * whole}.{'9' * model_field.decimal_places}")}
        if field_class is serializers.IntegerField:
            bounds = {"min_value": kwargs.get("min_value", -MAX_INT - 1), "max_value": kwargs.get("max_value", MAX_INT)}
            return BoundedIntegerField, {**kept, **bounds}
        return field_class, kwargs


def refuse_body(data: Any) -> None:
    """For an action that takes no body (claim, launch, mark read, …): every key sent is unknown, and
    refused by name like the keys no serializer defines."""
    if hasattr(data, "keys"):
        unknown = {str(key): ["未知字段。"] for key in data.keys() if key not in _IGNORED}
        if unknown:
            raise serializers.ValidationError(unknown)
    elif data not in (None, "", [], {}):
        raise serializers.ValidationError({"non_field_errors": ["此操作不接受请求内容。"]})
