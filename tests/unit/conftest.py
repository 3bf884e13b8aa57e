"""Fixtures for the tenant API handler run in-process against moto."""

from __future__ import annotations

from typing import Any

import pytest

from fibre_cafe.logic.create_cancellation import RequestContext
from fibre_cafe.models.order import Order, OrderType
from testing.events import api_request
from testing.faults import Faults
from testing.functions import load_function, release
from testing.recorders import AwsCallLog
from tests.unit.tenant_api_harness import AwsView, cancellation_request, handler_clients


@pytest.fixture
def tenant_api(aws):
    """The tenant API handler module, its clients built inside this test's moto world (testing/functions.py)."""
    module = load_function("TenantApiFunction", aws)
    yield module
    # A background id-block refill must not outlive this test's moto world (it would reach for AWS).
    release(module)


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


@pytest.fixture
def call(tenant_api):
    """Invoke the handler like API Gateway would, X-Request-ID "req-1" unless given; returns (status, body-as-json-or-None, headers)."""

    def invoke(method: str, path: str, *, body=None, headers=None, client: str | None = "TENANT1", resource=None, raw_body=None):
        return api_request(tenant_api, method, path, client=client, body=body, headers={"X-Request-ID": "req-1", **(headers or {})},
                           resource=resource, raw_body=raw_body)

    return invoke


@pytest.fixture
def api(tenant_api):
    """Invoke the handler like API Gateway would; returns (status, body, headers).

    Unlike ``call``: each call gets a fresh X-Request-ID unless one is given (no accidental replays), and
    ``base64_body`` sends raw bytes.
    """

    def invoke(method: str, path: str, *, body=None, headers=None, client: str | None = "TENANT1", resource=None, raw_body=None,
               base64_body: bytes | None = None, event_overrides: dict | None = None):
        return api_request(tenant_api, method, path, client=client, body=body, headers=headers, resource=resource,
                           raw_body=base64_body if base64_body is not None else raw_body, event_overrides=event_overrides)

    return invoke


@pytest.fixture
def aws_view(aws):
    return AwsView(aws)


@pytest.fixture
def aws_calls(tenant_api) -> AwsCallLog:
    return AwsCallLog().watch(*handler_clients(tenant_api))


@pytest.fixture
def faults(tenant_api) -> Faults:
    return Faults(*handler_clients(tenant_api))


@pytest.fixture
def create(tenant_api):
    """Call the create-cancellation use case directly (thread-safe, unlike the resolver)."""

    def run(request_id: str = "req-1", *, tenant: str = "TENANT1", conversation_id: str = "conv-1",
            pass_through_headers: dict[str, str] | None = None, **fields: Any):
        return tenant_api.deps.create_cancellation(
            cancellation_request(**fields),
            RequestContext(tenant=tenant, request_id=request_id, conversation_id=conversation_id,
                           pass_through_headers=pass_through_headers or {}),
        )

    return run
