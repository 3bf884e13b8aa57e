"""The committed OpenAPI document is what the code generates, and it documents the contract's answers."""

from __future__ import annotations

import json

import pytest

from tools import openapi


@pytest.fixture(scope="module")
def generated() -> dict:
    return openapi.generate()


def test_committed_document_matches_the_code(generated):
    committed = openapi.OUTPUT.read_text()
    assert committed == openapi.render(generated), "docs/openapi.json is stale: run `make openapi` and commit it"


def test_every_route_of_the_template_is_documented_with_its_scope(generated):
    for (path, method), scopes in openapi._route_scopes().items():
        operation = generated["paths"][path][method]
        assert operation["security"] == [{openapi.scheme_for(scopes): scopes}]
        assert scopes, f"{method.upper()} {path} has no OAuth2 scope in template.yaml"


def test_swagger_can_authorise_as_a_tenant_and_as_a_supplier(generated):
    """One OAuth2 scheme per token endpoint (a scheme has one tokenUrl): Swagger UI's Authorize offers both."""
    schemes = generated["components"]["securitySchemes"]
    flows = {name: scheme["flows"]["clientCredentials"] for name, scheme in schemes.items()}
    assert {flow["tokenUrl"]: sorted(flow["scopes"]) for flow in flows.values()} == {
        "/auth/tenant/access-token": ["fibre-cafe/tenant"], "/auth/supplier/access-token": ["fibre-cafe/supplier-updates"]}
    used = {name for operations in generated["paths"].values() for operation in operations.values()
            for requirement in operation["security"] for name in requirement}
    assert used == set(schemes)
    tenant_scheme = next(name for name, flow in flows.items() if flow["tokenUrl"] == "/auth/tenant/access-token")
    assert generated["paths"]["/service-order-cancellations"]["post"]["security"] == [{tenant_scheme: ["fibre-cafe/tenant"]}]
    assert generated["paths"]["/kcis"]["post"]["security"] != [{tenant_scheme: ["fibre-cafe/supplier-updates"]}]


def test_every_error_response_is_the_contract_error_body(generated):
    error_body = generated["components"]["schemas"]["ErrorBody"]
    assert set(error_body["required"]) == {"uuid", "code", "messages"}
    assert error_body["properties"]["messages"]["type"] == "array"
    codes = generated["components"]["schemas"]["ErrorCode"]["enum"]
    assert set(codes) == {"GATEWAY_FAULT", "INVALID_REQUEST", "MALFORMED_REQUEST", "NOT_AUTHORISED", "NOT_FOUND",
                          "NOT_IMPLEMENTED", "SUPPLIER_FAULT", "SUPPLIER_TIMED_OUT", "TENANT_FAULT"}
    for path, operations in generated["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, f"{method} {path} {status}"


def test_success_answers_are_the_real_ones(generated):
    paths = generated["paths"]
    assert "201" in paths["/service-order-cancellations"]["post"]["responses"]
    assert "200" not in paths["/service-order-cancellations"]["post"]["responses"]
    assert paths["/service-order-cancellations"]["post"]["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServiceOrderCancellation"}
    assert "204" in paths["/kcis"]["post"]["responses"] and "content" not in paths["/kcis"]["post"]["responses"]["204"]
    assert "503" in paths["/service-order-cancellations"]["post"]["responses"]
    assert "Retry-After" in paths["/service-order-cancellations"]["post"]["responses"]["503"]["headers"]


def test_request_schema_carries_every_field_rule(generated):
    request = generated["components"]["schemas"]["ServiceOrderCancellationRequest"]
    assert set(request["required"]) == {"orderId", "reasonCode"}
    assert request["additionalProperties"] is False
    json_text = json.dumps(request)
    assert "9007199254740991" in json_text and '"minimum": 1' in json_text.replace('"minimum":1', '"minimum": 1')
    assert "^[A-Za-z0-9_]{1,20}$" in json_text
    assert '"maxLength": 1000' in json_text
