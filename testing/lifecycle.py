"""The cancellation's whole life in-process against one moto world: every function of template.yaml, loaded on first
use with its template environment, driven as API Gateway, the event source mappings and the stream would drive them.

``Lifecycle`` (the ``lifecycle`` fixture): the tenant API, the Supplier Updates API, the KCI processor, the
dispatcher (calling a scripted supplier), the redrive and the sweeper; queues are polled like an event source
mapping (receive, invoke, delete what did not fail). ``TenantWorld`` (tests/tenant_updates' ``world``) adds the
orders table's stream, the tenant-KCI relay and delivery functions and a scripted tenant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3

from testing.events import StreamReader, acknowledge, api_request, make_kci, receive_event
from testing.functions import release
from testing.lambda_context import lambda_context
from testing.stub_servers import ScriptedTenant

__all__ = [
    "BACKOFF_BASE_SECONDS", "CLIENT_ID", "CLIENT_SECRET", "MAX_DELIVERY_ATTEMPTS", "SHORT_READ_TIMEOUT", "SLOW_SECONDS", "TENANT",
    "TEST_TIMEOUT", "Lifecycle", "TenantWorld", "api_call",
]

TENANT = "TENANT1"
CLIENT_ID = "fibre-cafe-gateway"  # the gateway's OAuth2 client at the scripted tenant
CLIENT_SECRET = "tenant1-secret"
MAX_DELIVERY_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 5
# HTTP timeouts (connect, read) of the delivery in tests: generous by default, so a busy machine cannot make a
# prompt answer look late; ``world.impatient()`` shortens the read timeout for the tests about timeouts, whose
# "slow" answers come far later still, so a busy machine cannot make them look timely either.
TEST_TIMEOUT = (2.0, 5.0)
SHORT_READ_TIMEOUT = 0.5
SLOW_SECONDS = 2.5


def api_call(module: Any, method: str, path: str, *, client: str | None, body: Any = None, headers: dict | None = None,
             resource: str | None = None) -> tuple[int, Any]:
    """(status, JSON body) of an API Gateway call to ``module``'s handler as ``client``, with a fresh X-Request-ID."""
    status, answer, _headers = api_request(module, method, path, client=client, body=body, headers=headers, resource=resource or path)
    return status, answer


class Lifecycle:
    """Every function of the cancellation's life, in-process against this test's moto world.

    Handlers are loaded on first use (``load_function``) with their template environment. The dispatcher calls the
    Supplier API configured by ``SUPPLIERS_CONFIG`` (the scripted supplier at ``supplier_url``).
    """

    def __init__(self, aws: Any, load_function: Callable[..., Any], supplier_url: str, monkeypatch: Any = None):
        self.aws = aws
        self._load = load_function
        self._monkeypatch = monkeypatch
        self._modules: dict[str, Any] = {}
        self.supplier_url = supplier_url
        self.kci_hold_window_seconds: int | None = None
        self.dispatcher_env = {"MAX_DISPATCH_ATTEMPTS": "3", "DISPATCH_BACKOFF_BASE_SECONDS": "10"}
        self.sqs = boto3.client("sqs")
        dynamodb = boto3.client("dynamodb")
        from fibre_cafe.dal.cancellations_table import CancellationsTable
        from fibre_cafe.dal.orders_table import OrdersTable

        self.cancellations = CancellationsTable(dynamodb, aws.tables["CancellationsTable"])
        self.orders = OrdersTable(dynamodb, aws.tables["OrdersTable"])

    # -- handlers --------------------------------------------------------------------------------
    def _module(self, logical_id: str, **env: str) -> Any:
        if logical_id not in self._modules:
            self._modules[logical_id] = self._load(logical_id, **env)
        return self._modules[logical_id]

    # The functions without extra settings, each loaded on first use.
    tenant_api = property(lambda self: self._module("TenantApiFunction"))
    updates_api = property(lambda self: self._module("SupplierUpdatesApiFunction"))

    def suppliers_config(self) -> dict:
        """SUPPLIERS_CONFIG (the partner configuration) as the dispatcher and the KCI processor read it."""
        suppliers: dict[str, dict[str, Any]] = {
            "DUMMY_SUPPLIER": {"baseUrl": self.supplier_url, "auth": {"type": "none"}},
            "FIBRECO": {"baseUrl": self.supplier_url, "auth": {"type": "bearer", "token": "fibreco-secret"}},
        }
        if self.kci_hold_window_seconds is not None:
            for entry in suppliers.values():
                entry["kciHoldWindowSeconds"] = self.kci_hold_window_seconds
        return suppliers

    def hold_window(self, seconds: int | None) -> None:
        """Set every supplier's ``kciHoldWindowSeconds`` (None: the default) for the KCI processor loaded next."""
        self.kci_hold_window_seconds = seconds
        self._modules.pop("KciProcessorFunction", None)

    @property
    def kci_processor(self) -> Any:
        return self._module("KciProcessorFunction", SUPPLIERS_CONFIG=json.dumps(self.suppliers_config()))

    @property
    def dispatcher(self) -> Any:
        return self._module("SupplierDispatcherFunction", SUPPLIERS_CONFIG=json.dumps(self.suppliers_config()), **self.dispatcher_env)

    redrive = property(lambda self: self._module("RedriveFunction"))
    sweeper = property(lambda self: self._module("ForwardingSweeperFunction"))
    outbox_sweeper = property(lambda self: self._module("TenantKciOutboxSweeperFunction"))

    def queue(self, logical_id: str) -> str:
        return self.aws.queue_urls[logical_id]

    # -- orders ----------------------------------------------------------------------------------
    def register_order(self, order_id: int, *, tenant: str = "TENANT1", supplier: str = "DUMMY_SUPPLIER",
                       order_type: str = "PROVIDE", status: str = "ACKNOWLEDGED", supplier_order_reference: str | None = "FC123") -> Any:
        """An order as the rest of the gateway would have created it (OrdersTable.create)."""
        from fibre_cafe.models.order import Order, OrderType

        order = Order(id=order_id, tenant=tenant, supplier=supplier, orderType=OrderType(order_type), status=status,
                      supplierStatus=status, supplierOrderReference=supplier_order_reference, lastSequenceNumber=1, version=1)
        self.orders.create(order)
        return order

    def register_order_by_kci(self, order_id: int, *, supplier: str = "DUMMY_SUPPLIER", **kci_fields: Any) -> dict:
        """An order known to the gateway because its supplier sent an ACKNOWLEDGED KCI (POST /kcis + processor)."""
        kci = make_kci(order_id, 1, "ACKNOWLEDGED", **kci_fields)
        status, body = self.post_kci(kci, supplier=supplier)
        assert status == 204, body
        result = self.process_kcis()
        assert result["batchItemFailures"] == []
        return kci

    def order(self, order_id: int) -> Any:
        return self.orders.get(order_id)

    def cancellation(self, cancellation_id: int) -> Any:
        return self.cancellations.get(cancellation_id)

    # -- APIs ------------------------------------------------------------------------------------
    def cancel(self, order_id: int, *, tenant: str = "TENANT1", reason_code: str = "CUSTOMER_CHANGED_MIND",
               headers: dict | None = None, **fields: Any) -> tuple[int, Any]:
        body = {"orderId": order_id, "reasonCode": reason_code, **fields}
        return api_call(self.tenant_api, "POST", "/service-order-cancellations", client=tenant, body=body, headers=headers)

    def cancel_ok(self, order_id: int, **kwargs: Any) -> dict:
        status, body = self.cancel(order_id, **kwargs)
        assert status == 201, body
        return body

    def get(self, cancellation_id: int, *, tenant: str = "TENANT1") -> tuple[int, Any]:
        return api_call(self.tenant_api, "GET", f"/service-order-cancellations/{cancellation_id}", client=tenant,
                        resource="/service-order-cancellations/{id}")

    def post_kci(self, kci: Any, *, supplier: str | None = "DUMMY_SUPPLIER", headers: dict | None = None) -> tuple[int, Any]:
        return api_call(self.updates_api, "POST", "/kcis", client=supplier, body=kci, headers=headers)

    # -- queue consumers (one SQS client: a new boto3 client per call costs ~10 ms) ----------------
    def receive(self, url: str, max_messages: int = 10, visibility_timeout: int = 30) -> dict:
        """What is on a queue, as the SQS event a Lambda event source mapping would deliver."""
        return receive_event(url, max_messages, visibility_timeout, sqs=self.sqs)

    def acknowledge(self, url: str, event: dict, result: dict) -> None:
        """Delete the records the handler did not report as failed (what the event source mapping does)."""
        acknowledge(url, event, result, sqs=self.sqs)

    def run(self, module: Any, queue_logical_id: str, *, visibility_timeout: int = 30, max_messages: int = 10) -> tuple[dict, dict]:
        """One event source mapping poll: receive, invoke the handler, delete what did not fail."""
        url = self.queue(queue_logical_id)
        event = self.receive(url, max_messages, visibility_timeout)
        if not event["Records"]:
            return event, {"batchItemFailures": []}  # an event source mapping never invokes with nothing
        result = module.lambda_handler(event, lambda_context(module.__name__))
        self.acknowledge(url, event, result)
        return event, result

    def process_kcis(self, **kwargs: Any) -> dict:
        return self.run(self.kci_processor, "KciQueue", **kwargs)[1]

    def dispatch(self, **kwargs: Any) -> tuple[dict, dict]:
        return self.run(self.dispatcher, "SupplierRequestsQueue", **kwargs)

    def queued(self, queue_logical_id: str) -> int:
        """Messages on a queue, visible or not (approximate counts are exact on moto)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue(queue_logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def visible(self, queue_logical_id: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue(queue_logical_id),
                                                   AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def make_visible(self, event: dict, queue_logical_id: str = "SupplierRequestsQueue") -> None:
        """Let the backoff elapse: make the event's messages visible again now."""
        for record in event["Records"]:
            self.sqs.change_message_visibility(QueueUrl=self.queue(queue_logical_id), ReceiptHandle=record["receiptHandle"],
                                               VisibilityTimeout=0)

    def close(self) -> None:
        # A background id-block refill must not outlive this test's moto world.
        release(*self._modules.values())


class TenantWorld(Lifecycle):
    """The lifecycle harness plus the orders table's stream, the relay, the delivery function and a scripted tenant.

    - ``relay()``: the TenantKciRelayFunction on the stream records written since the last call;
    - ``deliver()``: one poll of the TenantKciDeliveryFunction's event source mapping on the FIFO queue;
    - ``outbox.list(order_id)``: the order's tenant KCIs with their delivery status.
    """

    def __init__(self, aws: Any, load_function: Callable[..., Any], supplier_url: str, monkeypatch: Any, tenant: ScriptedTenant):
        super().__init__(aws, load_function, supplier_url, monkeypatch)
        from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox

        self.tenant = tenant
        self.tenant_auth = "oauth2"  # set before the first use of ``delivery`` to change it
        self.delivery_env = {"MAX_DELIVERY_ATTEMPTS": str(MAX_DELIVERY_ATTEMPTS),
                             "DELIVERY_BACKOFF_BASE_SECONDS": str(BACKOFF_BASE_SECONDS)}
        self.outbox = TenantKciOutbox(self.orders.client, aws.tables["OrdersTable"])
        self.stream = StreamReader(self.orders.client, aws.tables["OrdersTable"])
        assert self.stream.view_type == "NEW_IMAGE"
        self.visibility_changes: list[dict] = []

    # -- handlers ---------------------------------------------------------------------------------
    @property
    def relay_function(self) -> Any:
        return self._module("TenantKciRelayFunction")

    def tenants_config(self) -> dict:
        return {TENANT: {"baseUrl": self.tenant.base_url, "auth": self.tenant.auth_config(self.tenant_auth)}}

    @property
    def delivery(self) -> Any:
        first = "TenantKciDeliveryFunction" not in self._modules
        module = self._module("TenantKciDeliveryFunction", TENANTS_CONFIG=json.dumps(self.tenants_config()), **self.delivery_env)
        if first:
            module.deps.deliver.client.timeout = TEST_TIMEOUT
            module.deps.sqs.meta.events.register("before-parameter-build.sqs.ChangeMessageVisibility", self._visibility_changed)
        return module

    def impatient(self, impatient: bool = True) -> None:
        """The delivery waits SHORT_READ_TIMEOUT for the tenant's answer (or the default again)."""
        self.delivery.deps.deliver.client.timeout = (TEST_TIMEOUT[0], SHORT_READ_TIMEOUT) if impatient else TEST_TIMEOUT

    def _visibility_changed(self, params: dict, **_kwargs: Any) -> None:
        self.visibility_changes.append({"ReceiptHandle": params["ReceiptHandle"], "VisibilityTimeout": params["VisibilityTimeout"]})

    # -- the relay --------------------------------------------------------------------------------
    def relay(self, records: list[dict] | None = None) -> tuple[dict, dict]:
        """One stream poll: the relay handler on the records written since the last poll (or ``records``)."""
        event = {"Records": self.stream.new_records() if records is None else records}
        if not event["Records"]:
            return event, {"batchItemFailures": []}
        return event, self.relay_function.lambda_handler(event, lambda_context("TenantKciRelayFunction"))

    def queued_tenant_kcis(self) -> list[dict]:
        """Receive everything on the tenant-updates queue (consuming it): [{body, group, dedup}], in queue order."""
        url = self.queue("TenantUpdatesQueue")
        found = []
        while True:
            event = self.receive(url)
            if not event["Records"]:
                return found
            for record in event["Records"]:
                found.append({"body": json.loads(record["body"]), "group": record["attributes"]["MessageGroupId"],
                              "dedup": record["attributes"]["MessageDeduplicationId"]})
            self.acknowledge(url, event, {"batchItemFailures": []})

    # -- the delivery -----------------------------------------------------------------------------
    def deliver(self, *, max_messages: int = 10, visibility_timeout: int = 30) -> tuple[dict, dict]:
        """One poll of the delivery function's event source mapping on the FIFO queue."""
        module = self.delivery
        return self.run(module, "TenantUpdatesQueue", visibility_timeout=visibility_timeout, max_messages=max_messages)

    def pump(self) -> tuple[dict, dict]:
        """Relay whatever the stream has, then one delivery poll."""
        self.relay()
        return self.deliver()

    def let_backoff_elapse(self, event: dict, result: dict | None = None) -> None:
        """Time passes: the event's messages reported failed in ``result`` (all of them without it) are visible again."""
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]} if result is not None else None
        records = [record for record in event["Records"] if failed is None or record["messageId"] in failed]
        self.make_visible({"Records": records}, "TenantUpdatesQueue")

    def deliver_until_empty(self, max_rounds: int = 30) -> list[dict]:
        """Poll, let every backoff elapse, poll again... until the tenant-updates queue is empty."""
        results = []
        for _ in range(max_rounds):
            event, result = self.deliver()
            if not event["Records"]:
                return results
            results.append(result)
            if result["batchItemFailures"]:
                self.let_backoff_elapse(event, result)
        raise AssertionError("the tenant-updates queue did not empty")

    def statuses(self, order_id: int) -> list[tuple[int, str, int]]:
        """(sequenceNumber, deliveryStatus, deliveryAttempts) of the order's tenant KCIs."""
        return [(item["kci"]["sequenceNumber"], item["deliveryStatus"], item["deliveryAttempts"]) for item in self.outbox.list(order_id)]

    def tenant_kcis(self, order_id: int) -> list[dict]:
        """The tenant KCIs of an order as the outbox holds them, in sequence order."""
        return [item["kci"] for item in self.outbox.list(order_id)]
