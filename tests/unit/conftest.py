"""Fixtures for the tenant API handler run in-process against moto."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from fibre_cafe.api.identity import client_principals
from fibre_cafe.logic.create_cancellation import RequestContext
from fibre_cafe.models.order import Order, OrderType
from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS, claims_for, proxy_event
from local_stack.template import function_environment
from tests.unit.tenant_api_harness import AwsCallLog, AwsView, Faults, cancellation_request, handler_clients, headers_of


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
    # A background id-block refill must not outlive this test's moto world (it would reach for AWS).
    refill = getattr(tenant_api_handler.deps.create_cancellation.ids, "_refill", None)
    if refill is not None:
        refill.exception(timeout=10)
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


# ------------------------------------------------------------------------------------------------
# Helpers for the tenant API suites (contract, order rules, persistence, idempotency, faults).
# ------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def _moto_kms_keys_are_cheap():
    """Every SSE-enabled table makes moto create a KMS key with a fresh RSA key pair (0.1-1 s each, per
    test). The tests never use the key material: generate one pair per key spec and reuse it."""
    import moto.kms.models

    original = moto.kms.models.generate_private_key
    cache: dict[str, Any] = {}

    def generate_private_key(key_spec: str):
        if key_spec not in cache:
            cache[key_spec] = original(key_spec)
        return cache[key_spec]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(moto.kms.models, "generate_private_key", generate_private_key)
        yield


@pytest.fixture(autouse=True, scope="session")
def _botocore_models_load_once():
    """moto gives every test a new boto3 default session, and each session re-reads botocore's JSON
    service models (~0.3 s a test). Share one data loader, as one long-lived session would."""
    import botocore.session

    original = botocore.session.create_loader
    loaders: dict[Any, Any] = {}

    def create_loader(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = original(search_path_string)
        return loaders[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", create_loader)
        yield


@pytest.fixture(autouse=True)
def _moto_requests_are_atomic(monkeypatch):
    """DynamoDB applies each request atomically; moto does not when several threads call it.

    moto's TransactWriteItems snapshots whole tables and restores the snapshot when a condition
    fails, which silently undoes writes other threads made meanwhile, and its UpdateItem ADD is a
    read-modify-write. Serialising moto's request processing gives the threaded tests DynamoDB's
    per-request atomicity (the code under test still runs concurrently between requests).
    """
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    lock = threading.RLock()

    def process_request(self, request):
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)


@pytest.fixture
def api(tenant_api):
    """Invoke the handler like API Gateway would; returns (status, body, headers).

    Unlike ``call``: each call gets a fresh X-Request-ID unless one is given (no accidental replays), the
    headers include multiValueHeaders (where Powertools puts them), and ``base64_body`` sends raw bytes.
    """

    def invoke(method: str, path: str, *, body=None, headers=None, client: str | None = "TENANT1", resource=None, raw_body=None,
               base64_body: bytes | None = None, event_overrides: dict | None = None):
        all_headers = {"Content-Type": "application/json", "X-Request-ID": f"req-{uuid.uuid4()}", "X-Conversation-ID": "conv-1"}
        if headers is not None:
            all_headers.update(headers)
        all_headers = {k: v for k, v in all_headers.items() if v is not None}
        if base64_body is not None:
            payload: Any = base64_body
        else:
            payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        if resource is None:
            resource = "/service-order-cancellations/{id}" if path.count("/") == 2 else path
        event = proxy_event(method, path, resource=resource, headers=all_headers, body=payload,
                            claims=claims_for(client) if client else None)
        event.update(event_overrides or {})
        answer = tenant_api.lambda_handler(event, LambdaContext())
        text = answer.get("body")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return answer["statusCode"], parsed, headers_of(answer)

    return invoke


@pytest.fixture
def aws_view(aws):
    return AwsView(aws)


@pytest.fixture
def aws_calls(tenant_api) -> AwsCallLog:
    log = AwsCallLog()
    for client in handler_clients(tenant_api):
        log.watch(client)
    return log


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
