"""The OpenAPI schema the API keeps (drf-spectacular): the one place that documents the error answers.

Every API error has one JSON shape (`cases.api.errors`): `{"detail": "…", "errors": {field: [message]}}`.
Which error statuses an operation can answer follows from what it is, not from a per-endpoint list that
would go stale as endpoints are added:

- every operation: 401 (no or an expired token), 403 (not this role's), 404 (not visible, or a page past the
  end), 429 (a login locked out, or a throttled action);
- with query parameters or a request body: 400 (every bad field named);
- with a request body (POST, PUT, PATCH): 409 (someone else acted first), 413 (body over the limit),
  415 (a media type the operation does not parse); DELETE: 400 (it takes no body, and refuses one), 409.

405 is not per operation: a method an endpoint does not have is not in the schema at all (its answer is the
same JSON shape, from the same exception handler).

tests/test_schemathesis.py checks every answer's status, media type and body against this schema.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_DESCRIPTIONS = {
    "400": "Bad input: `errors` names every bad field; nothing was changed.",
    "401": "Not signed in, or the token has expired or was revoked.",
    "403": "Signed in, but this action is not the caller's (role, step or separation of duties).",
    "404": "No such object among those the caller may see, or a page past the end.",
    "409": "Someone else acted first, or the object is no longer in a state that allows this.",
    "413": "The request body is over the size limit.",
    "415": "The request body's media type is not one this operation reads.",
    "429": "Too many attempts: the login is locked out for a while, or the action was throttled.",
}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


# The JSON shape of every API error (cases.api.errors.exception_handler). Built with `inline_serializer`:
# a field named `errors` cannot be declared on a Serializer subclass, whose own `errors` it would hide.
ERROR_SERIALIZER = inline_serializer("Error", {
    "detail": serializers.CharField(help_text="What went wrong, for people."),
    "errors": serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Bad input only: each bad field (by its path) with its messages.",
    ),
})


def error_statuses(method: str, *, has_parameters: bool) -> list[str]:
    """The error statuses an operation of `method` can answer (see the module's docstring)."""
    codes = ["401", "403", "404", "429"]
    if has_parameters or method in BODY_METHODS or method == "DELETE":
        codes.append("400")
    if method in BODY_METHODS:
        codes += ["409", "413", "415"]
    elif method == "DELETE":
        codes.append("409")
    return sorted(codes)


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, plus the documented error answers of every operation and
    serializers' fields that their output may leave out (`schema_optional_fields`)."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        # Query parameters can be bad (filters, page numbers); a bad path id is simply not found (404).
        has_parameters = any(p.get("in") == "query" for p in self._get_parameters())
        for code in error_statuses(self.method, has_parameters=has_parameters):
            if code not in responses:
                response = OpenApiResponse(ERROR_SERIALIZER, description=ERROR_DESCRIPTIONS[code])
                responses[code] = self._get_response_for_code(response, code, ["application/json"], direction)
        return responses

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        """A read-only field is always in the output, so drf-spectacular marks it required; a serializer
        that leaves some out for some callers names them in `schema_optional_fields`."""
        schema = super()._map_basic_serializer(serializer, direction)
        optional = set(getattr(serializer, "schema_optional_fields", ()))
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema
