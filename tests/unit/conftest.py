"""Fixtures for the tenant API handler run in-process against moto."""

from __future__ import annotations

import json

import pytest

from fibre_cafe.api.identity import client_principals
from fibre_cafe.models.order import Order, OrderType
from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS, claims_for, proxy_event
from local_stack.template import function_environment


@pytest.fixture
def tenant_api(aws, monkeypatch):
    """The tenant API handler module, its clients built inside this test's moto world."""
    env = function_environment("TenantApiFunction", aws)
    env["CLIENT_PRINCIPALS"] = json.dumps(DEV_CLIENT_PRINCIPALS)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client_principals.cache_clear()
    import tenant_api_handler

    monkeypatch.setattr(tenant_api_handler, "deps", tenant_api_handler.Dependencies())
    yield tenant_api_handler
    client_principals.cache_clear()


@pytest.fixture
def orders(tenant_api):
    """Register an order in the registry: ``orders(123, tenant="TENANT1", ...)``."""

    def register(order_id: int, tenant: str = "TENANT1", supplier: str = "DUMMY_SUPPLIER", order_type: OrderType = OrderType.PROVIDE,
                 status: str = "ACKNOWLEDGED", supplier_order_reference: str | None = "FC123") -> Order:
        order = Order(id=order_id, tenant=tenant, supplier=supplier, orderType=order_type, status=status, supplierStatus=status,
                      supplierOrderReference=supplier_order_reference, lastSequenceNumber=1, version=1)
        tenant_api.deps.orders.create(order)
        return order

    return register


class LambdaContext:
    function_name = "TenantApiFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-2:000000000000:function:TenantApiFunction"
    aws_request_id = "test-request"


@pytest.fixture
def call(tenant_api):
    """Invoke the handler like API Gateway would; returns (status, body-as-json-or-None, headers)."""

    def invoke(method: str, path: str, *, body=None, headers=None, client: str | None = "TENANT1", resource=None, raw_body=None):
        all_headers = {"Content-Type": "application/json", "X-Request-ID": "req-1", "X-Conversation-ID": "conv-1"}
        if headers is not None:
            all_headers.update(headers)
        all_headers = {k: v for k, v in all_headers.items() if v is not None}
        payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        if resource is None:
            resource = "/service-order-cancellations/{id}" if path.count("/") == 2 else path
        event = proxy_event(method, path, resource=resource, headers=all_headers, body=payload,
                            claims=claims_for(client) if client else None)
        answer = tenant_api.lambda_handler(event, LambdaContext())
        text = answer.get("body")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return answer["statusCode"], parsed, {**(answer.get("headers") or {})}

    return invoke
