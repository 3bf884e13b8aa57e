"""Schemathesis against docs/openapi.json, through the real handlers in-process (moto): no 5xx, nothing undocumented.

Every operation of the generated OpenAPI document, in positive and negative mode. Each generated case
becomes the REST API proxy event API Gateway would send, with the verified claims of the route's
principal (a tenant for the Tenant API, a supplier for POST /kcis), and goes to the handler the
template routes it to. The answer is checked by Schemathesis: not a server error, a documented status
code, a documented content type, and a body that matches the documented schema for that status.

Sizes: SCHEMATHESIS_CASES cases in all (150 in make test, 1200 in make soak), seed SCHEMATHESIS_SEED
(see conftest.py). A few orders exist (ids 1-20 for TENANT1 with DUMMY_SUPPLIER, 21-25 already
completed), so generated requests also reach the 201 and 422 paths; cancellations made along the way
are read back by the GET cases. With ``-s`` each test prints the statuses it got; SHOW_400=1 also prints why
a positive (schema-valid) case was refused: the document does not say that a KCI carries exactly one order
entity, nor that ``text`` may not hold control characters, so such cases get a (documented) 400.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.transport import Response
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from local_stack.proxy_events import claims_for, proxy_event
from local_stack.template import api_routes
from testing.aws import moto_world
from testing.lambda_context import lambda_context
from tests.reliability.sizes import size

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.json")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PRINCIPALS = {"TenantApiFunction": "TENANT1", "SupplierUpdatesApiFunction": "DUMMY_SUPPLIER"}
OPERATIONS = sorted((op.ok().method.upper(), op.ok().path) for op in SCHEMA.get_all_operations())
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
CASES_PER_TEST = max(5, size("SCHEMATHESIS_CASES") // (len(OPERATIONS) * len(MODES)))


@pytest.fixture(scope="module")
def world():
    """One moto world for the module, the two API handlers loaded into it, a few orders."""
    from fibre_cafe.dal.orders_table import OrdersTable
    from fibre_cafe.models.order import Order, OrderType
    from testing.functions import load_function, release

    with moto_world() as resources:
        handlers = {logical_id: load_function(logical_id, resources) for logical_id in PRINCIPALS}
        import boto3

        orders = OrdersTable(boto3.client("dynamodb"), resources.tables["OrdersTable"])
        for order_id in range(1, 26):
            status = "ACKNOWLEDGED" if order_id <= 20 else "COMPLETED"
            orders.create(Order(id=order_id, tenant="TENANT1", supplier="DUMMY_SUPPLIER", orderType=OrderType.PROVIDE, status=status,
                                supplierStatus=status, supplierOrderReference=f"FC{order_id}", lastSequenceNumber=1, version=1))
        yield {route.path + " " + route.method: handlers[route.function] for route in api_routes() if route.function in handlers}, \
            {route.path + " " + route.method: route.function for route in api_routes()}
        release(*handlers.values())


def _event(case) -> tuple[dict, requests.PreparedRequest]:
    """The proxy event for a generated case, and the same request as ``requests`` would send it (for the checks)."""
    path = case.formatted_path
    headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
    body: str | bytes | None = None
    if case.body is not NOT_SET:
        media_type = case.media_type or "application/json"
        headers.setdefault("Content-Type", media_type)
        if isinstance(case.body, (bytes, bytearray)):
            body = bytes(case.body)
        elif "json" in media_type:
            body = json.dumps(case.body)
        else:
            body = case.body if isinstance(case.body, str) else json.dumps(case.body)
    query = {str(k): (v if isinstance(v, list) else str(v)) for k, v in (case.query or {}).items()}
    prepared = requests.Request(case.method, f"http://127.0.0.1{path}", headers=headers, data=body, params=query).prepare()
    return {"path": path, "headers": headers, "body": body, "query": query}, prepared


def _response(answer: dict, prepared: requests.PreparedRequest) -> Response:
    """The handler's proxy answer as the HTTP response API Gateway would give (headers and multiValueHeaders merged)."""
    headers: dict[str, list[str]] = {}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), []).extend(str(v) for v in values or [])
    for name, value in (answer.get("headers") or {}).items():
        if str(value) not in headers.get(name.lower(), []):
            headers.setdefault(name.lower(), []).append(str(value))
    text = answer.get("body") or ""
    content = base64.b64decode(text) if answer.get("isBase64Encoded") else text.encode("utf-8")
    return Response(status_code=answer["statusCode"], headers=headers, content=content, request=prepared, elapsed=0.0, verify=False,
                    encoding="utf-8")


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.value)
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_generated_requests_get_documented_answers_and_no_5xx(world, method, path, mode):
    handlers, functions = world
    operation = SCHEMA[path][method]
    handler = handlers[f"{path} {method}"]
    client = PRINCIPALS[functions[f"{path} {method}"]]
    problems: list[str] = []
    statuses: dict[int, int] = {}

    @seed(size("SCHEMATHESIS_SEED"))
    @settings(max_examples=CASES_PER_TEST, deadline=None, database=None, derandomize=False, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        case = data.draw(operation.as_strategy(generation_mode=mode))
        request, prepared = _event(case)
        event = proxy_event(method, request["path"], resource=path, headers=request["headers"], body=request["body"],
                            query=request["query"] or None, claims=claims_for(client))
        answer = handler.lambda_handler(event, lambda_context())
        statuses[answer["statusCode"]] = statuses.get(answer["statusCode"], 0) + 1
        if mode is GenerationMode.POSITIVE and answer["statusCode"] == 400 and os.environ.get("SHOW_400"):
            print("400 for a positive case:", json.loads(answer["body"])["messages"][:2])
        try:
            case.validate_response(_response(answer, prepared), checks=CHECKS)
        except Exception as exc:  # noqa: BLE001 - collect every problem, report them together
            problems.append(f"{method} {request['path']} headers={request['headers']} body={request['body']!r:.300} -> "
                            f"{answer['statusCode']} {answer.get('body')!r:.300}: {str(exc)[:600]}")

    run()
    print(f"{method} {path} {mode.value}: statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= CASES_PER_TEST // 2, statuses
    assert not problems, f"{len(problems)} of {sum(statuses.values())} answers broke the documented contract:\n" + "\n\n".join(problems[:5])
