"""Test harness for the tenant API suites: direct views of moto, AWS call logs, fault injection."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.awsrequest import AWSResponse

from fibre_cafe.models.cancellation import ServiceOrderCancellationRequest

EXAMPLE_REQUEST = {"supplier": "DUMMY_SUPPLIER", "orderId": 123, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}


def headers_of(answer: dict) -> dict[str, str]:
    """A proxy answer's headers, single- and multi-value (Powertools fills multiValueHeaders)."""
    merged = {k: v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
    merged.update(answer.get("headers") or {})
    return merged


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


class AwsView:
    """The tables and queues as boto3 sees them, read directly (not through the code under test)."""

    def __init__(self, resources):
        self.dynamodb = boto3.client("dynamodb")
        self.sqs = boto3.client("sqs")
        self.cancellations_table = resources.tables["CancellationsTable"]
        self.orders_table = resources.tables["OrdersTable"]
        self.queue_url = resources.queue_urls["SupplierRequestsQueue"]
        self._received: list[dict] = []
        self._deserializer = TypeDeserializer()

    def _scan(self, table: str) -> list[dict]:
        items = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend({k: _plain(self._deserializer.deserialize(v)) for k, v in item.items()} for item in page["Items"])
        return items

    def cancellation_items(self) -> list[dict]:
        return [item for item in self._scan(self.cancellations_table) if item["pk"].startswith("CANCELLATION#")]

    def request_items(self) -> list[dict]:
        return [item for item in self._scan(self.cancellations_table) if item["pk"].startswith("REQUEST#")]

    def counter_items(self) -> list[dict]:
        return [item for item in self._scan(self.cancellations_table) if item["pk"].startswith("COUNTER#")]

    def order_item(self, order_id: int) -> dict | None:
        answer = self.dynamodb.get_item(TableName=self.orders_table, Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "SNAPSHOT"}},
                                        ConsistentRead=True)
        item = answer.get("Item")
        return {k: _plain(self._deserializer.deserialize(v)) for k, v in item.items()} if item else None

    def messages(self) -> list[dict]:
        """Every message put on the supplier-requests queue so far: ``{"body": ..., "attributes": ...}``."""
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=3600,
                                              MessageAttributeNames=["All"], WaitTimeSeconds=0)
            batch = answer.get("Messages", [])
            if not batch:
                return list(self._received)
            for message in batch:
                attributes = {k: v.get("StringValue") for k, v in (message.get("MessageAttributes") or {}).items()}
                self._received.append({"body": json.loads(message["Body"]), "attributes": attributes})


@dataclass
class AwsCall:
    service: str
    operation: str
    thread: str
    started: float
    finished: float | None = None


@dataclass
class AwsCallLog:
    """Every AWS API call the handler's clients make (botocore event hooks), in the order they started."""

    calls: list[AwsCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def operations(self, service: str | None = None) -> list[str]:
        with self._lock:
            return [c.operation for c in self.calls if service is None or c.service == service]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def watch(self, client) -> None:
        service = client.meta.service_model.service_id.hyphenize()
        local = threading.local()

        def before(**kwargs):
            model = kwargs["model"]
            entry = AwsCall(service, model.name, threading.current_thread().name, time.monotonic())
            local.__dict__.setdefault("open", []).append(entry)
            with self._lock:
                self.calls.append(entry)

        def after(**kwargs):
            stack = local.__dict__.get("open") or []
            if stack:
                stack.pop().finished = time.monotonic()

        # Registered first, so they run before any fault injected later answers the call.
        client.meta.events.register_first(f"before-call.{service}.*", before)
        client.meta.events.register_first(f"after-call.{service}.*", after)


def handler_clients(tenant_api) -> tuple[Any, Any]:
    """The (dynamodb, sqs) clients the tenant API's dependencies use."""
    deps = tenant_api.deps
    return deps.orders.client, deps.create_cancellation.queue.client


def error_answer(code: str, status: int = 400, message: str = "injected by the test", **extra: Any):
    """What botocore turns into a ClientError of ``code`` (as its Stubber does)."""
    parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}, **extra}
    return AWSResponse(None, status, {}, None), parsed


class Faults:
    """Inject failures into the handler's real (moto-backed) clients, one operation at a time.

    ``fail("BatchGetItem", "ThrottlingException")`` answers that operation with an AWS error
    (a real ClientError, built by botocore from the error response) without reaching moto;
    ``fail(..., raises=ReadTimeoutError(...))`` raises instead (timeouts, crashes);
    ``before("TransactWriteItems", fn)`` runs ``fn`` and then lets the real call through.
    ``times`` limits how often (None: every call). Other operations are untouched.
    """

    SQS_OPERATIONS = frozenset({"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage"})

    def __init__(self, dynamodb, sqs):
        self.clients = {"dynamodb": dynamodb, "sqs": sqs}
        self.injected: dict[str, int] = {}

    def _client(self, operation: str):
        return self.clients["sqs" if operation in self.SQS_OPERATIONS else "dynamodb"]

    def _register(self, operation: str, action: Callable[[dict], Any], times: int | None) -> None:
        client = self._client(operation)
        service = client.meta.service_model.service_id.hyphenize()
        remaining = [times]
        lock = threading.Lock()

        def hook(**kwargs):
            with lock:
                if remaining[0] is not None:
                    if remaining[0] <= 0:
                        return None
                    remaining[0] -= 1
                self.injected[operation] = self.injected.get(operation, 0) + 1
            return action(kwargs)

        client.meta.events.register(f"before-call.{service}.{operation}", hook)

    def fail(self, operation: str, code: str | None = None, *, status: int = 400, raises: BaseException | None = None,
             times: int | None = None, **extra: Any) -> None:
        def action(_kwargs):
            if raises is not None:
                raise raises
            return error_answer(code, status, **extra)

        self._register(operation, action, times)

    def before(self, operation: str, side_effect: Callable[[], None], *, times: int | None = 1) -> None:
        def action(_kwargs):
            side_effect()
            return None

        self._register(operation, action, times)

    def answer(self, operation: str, parsed: dict | Callable[[dict], dict], *, times: int | None = None) -> None:
        """Answer the operation successfully with ``parsed`` (or ``parsed(request_params)``), e.g. UnprocessedKeys."""

        def action(kwargs):
            body = parsed(kwargs["params"]) if callable(parsed) else parsed
            return AWSResponse(None, 200, {}, None), body

        self._register(operation, action, times)


def cancellation_request(**fields: Any) -> ServiceOrderCancellationRequest:
    return ServiceOrderCancellationRequest.model_validate({**EXAMPLE_REQUEST, **fields})
