"""The published OpenAPI schema documents what the API answers (cases/api/schema.py); schemathesis checks
the answers themselves (tests/test_schemathesis.py). These are the quick, specific checks."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from cases.api.schema import error_statuses

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method.upper(), item[method]


def test_every_operation_documents_its_error_answers_as_the_json_error_shape(schema):
    for path, method, operation in _operations(schema):
        has_query = any(p["in"] == "query" for p in operation.get("parameters", []))
        for code in error_statuses(method, has_parameters=has_query):
            response = operation["responses"].get(code)
            assert response is not None, f"{method} {path}: {code} undocumented"
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"] and set(error["properties"]) == {"detail", "errors"}


def test_writes_document_bad_input_conflicts_and_body_limits(schema):
    responses = schema["paths"]["/api/v1/tasks/{id}/claim/"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "415"} <= set(responses)
    listing = schema["paths"]["/api/v1/cases/"]["get"]["responses"]
    assert "400" in listing and "409" not in listing  # bad filters, but a read conflicts with nothing


def test_case_fields_left_out_for_most_roles_are_not_required(schema):
    case = schema["components"]["schemas"]["Case"]
    assert {"proposed_grade", "panel_override", "panel_override_reason"} <= set(case["properties"])
    assert not {"proposed_grade", "panel_override", "panel_override_reason"} & set(case["required"])
    assert "status" in case["required"]


def test_preferences_updated_is_nullable(schema):
    assert schema["components"]["schemas"]["Preference"]["properties"]["updated"]["nullable"] is True


def test_downloads_declare_the_media_types_they_send(schema):
    export = schema["paths"]["/api/v1/rubrics/{id}/export/"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/yaml", "application/json",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    download = schema["paths"]["/api/v1/attachments/{id}/download/"]["get"]["responses"]["200"]["content"]
    assert {"application/pdf", "text/plain", "image/png", "application/octet-stream"} <= set(download)
