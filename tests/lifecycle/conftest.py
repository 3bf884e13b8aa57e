"""Fixtures for the cancellation's life after the 201: every function in-process against moto."""

from __future__ import annotations

import importlib
import json
import threading
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import boto3
import botocore.session
import pytest
from moto import mock_aws

from fibre_cafe.api.identity import client_principals
from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS, claims_for, proxy_event
from local_stack.template import create_resources, function_environment, function_spec

_BOTOCORE_SESSION: list = []


@contextmanager
def moto_world(prefix: str = "test", template: dict | None = None):
    """A fresh moto world with every table and queue of template.yaml; yields the created resources.

    moto gives each world a new boto3 default session, which reloads every service model from disk
    (0.2-0.5 s per world); here every world shares one botocore session, so models load once.
    """
    with mock_aws():
        if not _BOTOCORE_SESSION:
            _BOTOCORE_SESSION.append(botocore.session.get_session())
        boto3.setup_default_session(botocore_session=_BOTOCORE_SESSION[0])  # undone when the mock stops
        yield create_resources(boto3.client("dynamodb"), boto3.client("sqs"), prefix=prefix, template=template)


def tables_only_template() -> dict:
    """template.yaml with only its DynamoDB tables (for tests that need fresh tables many times over)."""
    from local_stack.template import load_template

    template = load_template()
    return {**template, "Resources": {name: res for name, res in template["Resources"].items() if res["Type"] == "AWS::DynamoDB::Table"}}


@pytest.fixture
def aws():
    """A fresh moto world per test (as tests/conftest.py's, with the shared botocore session)."""
    with moto_world() as resources:
        yield resources


class Context:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-2:000000000000:function:test"
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def load_function(aws, monkeypatch) -> Callable:
    """Import a template function's handler with its template environment, clients built inside this moto world."""

    def load(logical_id: str, **extra_env: str):
        env = function_environment(logical_id, aws)
        env.update(CLIENT_PRINCIPALS=json.dumps(DEV_CLIENT_PRINCIPALS), **extra_env)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        client_principals.cache_clear()
        module = importlib.import_module(function_spec(logical_id).module)
        monkeypatch.setattr(module, "deps", module.Dependencies())
        return module

    yield load
    client_principals.cache_clear()


def api_call(module, method: str, path: str, *, client: str, body=None, headers=None, resource=None):
    all_headers = {"Content-Type": "application/json", "X-Request-ID": str(uuid.uuid4()), "X-Conversation-ID": "conv-1", **(headers or {})}
    event = proxy_event(method, path, resource=resource or path, headers=all_headers,
                        body=json.dumps(body) if body is not None else None, claims=claims_for(client))
    answer = module.lambda_handler(event, Context())
    text = answer.get("body")
    return answer["statusCode"], (json.loads(text) if text else None)


def drain(queue_url: str, max_messages: int = 10, visibility_timeout: int = 30) -> dict:
    """Receive what is on a queue as the SQS event a Lambda event source mapping would deliver.

    ``visibility_timeout=0`` leaves the messages visible (a redelivery can be driven at once).
    """
    sqs = boto3.client("sqs")
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=max_messages, AttributeNames=["All"],
                                 MessageAttributeNames=["All"], VisibilityTimeout=visibility_timeout)
    records = []
    for message in answer.get("Messages", []):
        records.append({
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-2:000000000000:" + queue_url.rsplit("/", 1)[-1],
            "awsRegion": "eu-west-2",
        })
    return {"Records": records}


def acknowledge(queue_url: str, event: dict, result: dict) -> None:
    """Delete the records the handler did not report as failed (what the event source mapping does)."""
    failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
    sqs = boto3.client("sqs")
    for record in event["Records"]:
        if record["messageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])


class SupplierStubServer:
    """A tiny Supplier API on 127.0.0.1 that answers from a script: a list of (status, body, delay_seconds)."""

    def __init__(self):
        self.answers: list[tuple[int, str, float]] = []
        self.requests: list[dict] = []
        # Called (in the server's thread) with the logged request before the answer is sent: lets a
        # test change the world while the supplier call is in flight.
        self.before_answer: Callable[[dict], None] | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                logged = {"path": self.path, "headers": dict(self.headers), "body": json.loads(body) if body else None}
                stub.requests.append(logged)
                status, text, delay = stub.answers.pop(0) if stub.answers else (202, "", 0.0)
                if stub.before_answer is not None:
                    stub.before_answer(logged)
                if delay:
                    import time

                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(text.encode())))
                    self.end_headers()
                    self.wfile.write(text.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def supplier_stub():
    with SupplierStubServer() as stub:
        yield stub


# ------------------------------------------------------------------------------------------------
# moto: cheap KMS keys and per-request atomicity (as in tests/unit/conftest.py).
# ------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def _moto_kms_keys_are_cheap():
    """SSE-enabled tables make moto generate an RSA key pair per table (0.1-1 s each): reuse one per key spec."""
    import moto.kms.models

    original = moto.kms.models.generate_private_key
    cache: dict = {}

    def generate_private_key(key_spec: str):
        if key_spec not in cache:
            cache[key_spec] = original(key_spec)
        return cache[key_spec]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(moto.kms.models, "generate_private_key", generate_private_key)
        yield


@pytest.fixture(autouse=True, scope="session")
def _moto_transactions_back_up_items_not_tables():
    """moto deep-copies whole tables (with their streams) on every TransactWriteItems, so a write's cost grows with
    everything written before it (the 500th KCI of a run cost ~20 times the first). The local stack's fix, one
    implementation shared with it and the benchmarks (local_stack/moto_patches.py): back up only the items a
    transaction names, and serialise DynamoDB requests as DynamoDB applies each atomically. Session-wide once a
    lifecycle test has run, so it also serves tests that build on this harness (tests/tenant_updates read the
    orders stream)."""
    from local_stack.moto_patches import item_level_transaction_backups

    with item_level_transaction_backups():
        yield


@pytest.fixture(autouse=True)
def _moto_requests_are_atomic(monkeypatch):
    """DynamoDB applies each request atomically; moto does not when several threads call it (its
    TransactWriteItems restores a whole-table snapshot on a failed condition). Serialise moto's request
    processing so threaded tests get DynamoDB's per-request atomicity."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    lock = threading.RLock()

    def process_request(self, request):
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)


# ------------------------------------------------------------------------------------------------
# KCI bodies and the whole lifecycle harness.
# ------------------------------------------------------------------------------------------------

ENTITY_FIELDS = {
    "PROVIDE": "provideServiceOrder",
    "CEASE": "ceaseServiceOrder",
    "MODIFY": "modifyServiceOrder",
    "UNSOLICITED_CEASE": "unsolicitedCeaseServiceOrder",
}


def make_kci(order_id: int, sequence_number: int = 1, reason_code: str = "ACKNOWLEDGED", *, status: str | None = None,
             tenant: str = "TENANT1", order_type: str = "PROVIDE", cancellation_id: int | None = None,
             problem_code: str | None = None, text: str | None = None, kci_id: str | None = None,
             supplier_order_reference: str | None = "FC123", **entity_extra) -> dict:
    """A supplier KCI body as POST /kcis takes it (Supplier Updates API 1.8)."""
    if status is None:
        status = {"CANCELLED": "CANCELLED", "ACKNOWLEDGED": "ACKNOWLEDGED"}.get(reason_code, "IN_PROGRESS")
    if reason_code == "CANCELLED" and problem_code is None:
        problem_code = "CUSTOMER_REQUESTED"
    entity = {"id": order_id, "tenant": tenant, "status": status, **entity_extra}
    if supplier_order_reference is not None:
        entity["supplierOrderReference"] = supplier_order_reference
    body = {
        "id": kci_id or str(uuid.uuid4()),
        "sequenceNumber": sequence_number,
        "issuedOn": "2024-04-10T09:53:39.144Z",
        "reasonCode": reason_code,
        ENTITY_FIELDS[order_type]: entity,
    }
    if cancellation_id is not None:
        body["serviceOrderCancellationId"] = cancellation_id
    if problem_code is not None:
        body["problemCode"] = problem_code
    if text is not None:
        body["text"] = text
    return body


def kci_envelope(kci: dict, supplier: str = "DUMMY_SUPPLIER", request_id: str | None = None) -> str:
    """The KCI queue message POST /kcis would have sent (built by hand, bypassing the ingest checks)."""
    from fibre_cafe.models.kci import KciEnvelope

    return KciEnvelope(supplier=supplier, receivedOn="2024-04-10T09:53:40.000Z", requestId=request_id or str(uuid.uuid4()),
                       conversationId="conv-1", kci=kci).model_dump_json()


class AwsCallCounter:
    """Counts the API calls a boto3 client makes (botocore ``before-call`` hook), by operation."""

    def __init__(self, client):
        self.operations: list[str] = []
        self._lock = threading.Lock()
        client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model, **_kwargs):
        with self._lock:
            self.operations.append(model.name)

    def take(self) -> list[str]:
        with self._lock:
            taken, self.operations = self.operations, []
        return taken


class Lifecycle:
    """Every function of the cancellation's life, in-process against this test's moto world.

    Handlers are loaded on first use with their template environment. The dispatcher calls the
    Supplier API configured by ``SUPPLIERS_CONFIG`` (the supplier stub by default).
    """

    def __init__(self, aws, load_function, supplier_url: str, monkeypatch):
        self.aws = aws
        self._load = load_function
        self._monkeypatch = monkeypatch
        self._modules: dict[str, object] = {}
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
    def _module(self, logical_id: str, **env: str):
        if logical_id not in self._modules:
            self._modules[logical_id] = self._load(logical_id, **env)
        return self._modules[logical_id]

    @property
    def tenant_api(self):
        return self._module("TenantApiFunction")

    @property
    def updates_api(self):
        return self._module("SupplierUpdatesApiFunction")

    def suppliers_config(self) -> dict:
        """SUPPLIERS_CONFIG (the partner configuration) as the dispatcher and the KCI processor read it."""
        suppliers = {"DUMMY_SUPPLIER": {"baseUrl": self.supplier_url, "auth": {"type": "none"}},
                     "FIBRECO": {"baseUrl": self.supplier_url, "auth": {"type": "bearer", "token": "fibreco-secret"}}}
        if self.kci_hold_window_seconds is not None:
            for entry in suppliers.values():
                entry["kciHoldWindowSeconds"] = self.kci_hold_window_seconds
        return suppliers

    def hold_window(self, seconds: int | None) -> None:
        """Set every supplier's ``kciHoldWindowSeconds`` (None: the default) for the KCI processor loaded next."""
        self.kci_hold_window_seconds = seconds
        self._modules.pop("KciProcessorFunction", None)

    @property
    def kci_processor(self):
        return self._module("KciProcessorFunction", SUPPLIERS_CONFIG=json.dumps(self.suppliers_config()))

    @property
    def dispatcher(self):
        return self._module("SupplierDispatcherFunction", SUPPLIERS_CONFIG=json.dumps(self.suppliers_config()), **self.dispatcher_env)

    @property
    def redrive(self):
        return self._module("RedriveFunction")

    @property
    def sweeper(self):
        return self._module("ForwardingSweeperFunction")

    def queue(self, logical_id: str) -> str:
        return self.aws.queue_urls[logical_id]

    # -- orders ----------------------------------------------------------------------------------
    def register_order(self, order_id: int, *, tenant: str = "TENANT1", supplier: str = "DUMMY_SUPPLIER",
                       order_type: str = "PROVIDE", status: str = "ACKNOWLEDGED", supplier_order_reference: str | None = "FC123"):
        """An order as the rest of the gateway would have created it (OrdersTable.create)."""
        from fibre_cafe.models.order import Order, OrderType

        order = Order(id=order_id, tenant=tenant, supplier=supplier, orderType=OrderType(order_type), status=status,
                      supplierStatus=status, supplierOrderReference=supplier_order_reference, lastSequenceNumber=1, version=1)
        self.orders.create(order)
        return order

    def register_order_by_kci(self, order_id: int, *, supplier: str = "DUMMY_SUPPLIER", **kci_fields) -> dict:
        """An order known to the gateway because its supplier sent an ACKNOWLEDGED KCI (POST /kcis + processor)."""
        kci = make_kci(order_id, 1, "ACKNOWLEDGED", **kci_fields)
        status, body = self.post_kci(kci, supplier=supplier)
        assert status == 204, body
        result = self.process_kcis()
        assert result["batchItemFailures"] == []
        return kci

    def order(self, order_id: int):
        return self.orders.get(order_id)

    def cancellation(self, cancellation_id: int):
        return self.cancellations.get(cancellation_id)

    # -- APIs ------------------------------------------------------------------------------------
    def cancel(self, order_id: int, *, tenant: str = "TENANT1", reason_code: str = "CUSTOMER_CHANGED_MIND",
               headers: dict | None = None, **fields):
        body = {"orderId": order_id, "reasonCode": reason_code, **fields}
        return api_call(self.tenant_api, "POST", "/service-order-cancellations", client=tenant, body=body, headers=headers)

    def cancel_ok(self, order_id: int, **kwargs) -> dict:
        status, body = self.cancel(order_id, **kwargs)
        assert status == 201, body
        return body

    def get(self, cancellation_id: int, *, tenant: str = "TENANT1"):
        return api_call(self.tenant_api, "GET", f"/service-order-cancellations/{cancellation_id}", client=tenant,
                        resource="/service-order-cancellations/{id}")

    def post_kci(self, kci, *, supplier: str | None = "DUMMY_SUPPLIER", headers: dict | None = None):
        return api_call(self.updates_api, "POST", "/kcis", client=supplier, body=kci, headers=headers)

    # -- queue consumers -------------------------------------------------------------------------
    def run(self, module, queue_logical_id: str, *, visibility_timeout: int = 30, max_messages: int = 10) -> tuple[dict, dict]:
        """One event source mapping poll: receive, invoke the handler, delete what did not fail."""
        url = self.queue(queue_logical_id)
        event = drain(url, max_messages=max_messages, visibility_timeout=visibility_timeout)
        if not event["Records"]:
            return event, {"batchItemFailures": []}  # an event source mapping never invokes with nothing
        result = module.lambda_handler(event, Context())
        acknowledge(url, event, result)
        return event, result

    def process_kcis(self, **kwargs) -> dict:
        return self.run(self.kci_processor, "KciQueue", **kwargs)[1]

    def dispatch(self, **kwargs) -> tuple[dict, dict]:
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
        tenant_api = self._modules.get("TenantApiFunction")
        if tenant_api is not None:
            refill = getattr(tenant_api.deps.create_cancellation.ids, "_refill", None)
            if refill is not None:
                refill.exception(timeout=10)


@pytest.fixture
def lifecycle(aws, load_function, supplier_stub, monkeypatch):
    harness = Lifecycle(aws, load_function, supplier_stub.url, monkeypatch)
    yield harness
    harness.close()


def fail_calls(client, operation: str, code: str = "ThrottlingException", status: int = 400) -> Callable[[], None]:
    """Answer every ``operation`` call of ``client`` with an AWS error (a real ClientError, built by botocore,
    without reaching moto or retrying) until the returned function is called."""
    from botocore.awsrequest import AWSResponse

    def hook(**_kwargs):
        parsed = {"Error": {"Code": code, "Message": "injected by the test"}, "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}
        return AWSResponse(None, status, {}, None), parsed

    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, hook)
    return lambda: client.meta.events.unregister(event, hook)
