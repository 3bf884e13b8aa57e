"""Fixtures for telling the tenant (issue 7): the lifecycle harness plus the orders table's stream, the
tenant-KCI relay and delivery functions, and a scripted tenant (Tenant Updates API + token endpoint) on 127.0.0.1.

Builds on tests/lifecycle/conftest.py (the moto world from template.yaml, ``load_function``, the supplier
stub and the ``Lifecycle`` harness); nothing here talks to real AWS, and HTTP goes to 127.0.0.1 only.

``world`` is a ``TenantWorld``: everything ``Lifecycle`` does, and

- ``relay()``: the TenantKciRelayFunction on the stream records written since the last call, read from
  moto's DynamoDB Streams API and given to the handler in Lambda's event shape;
- ``deliver()``: one poll of the TenantKciDeliveryFunction's event source mapping on the FIFO queue
  (receive, invoke, delete what was not reported failed);
- ``outbox.list(order_id)``: the order's tenant KCIs with their delivery status.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config

# The lifecycle fixtures, registered here as this directory's own. _moto_transactions_back_up_items_not_tables
# also makes a cancelled TransactWriteItems leave no stream record, as in DynamoDB (plain moto 5.2 keeps the
# records of its partial writes, so the relay would see a phantom tenant KCI, e.g. after a duplicate KCI).
from tests.lifecycle.conftest import (  # noqa: F401
    Context,
    Lifecycle,
    _moto_kms_keys_are_cheap,
    _moto_requests_are_atomic,
    _moto_transactions_back_up_items_not_tables,
    aws,
    load_function,
    supplier_stub,
)

TENANT = "TENANT1"
CLIENT_ID = "fibre-cafe-gateway"
CLIENT_SECRET = "tenant1-secret"
MAX_DELIVERY_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 5
# HTTP timeouts (connect, read) of the delivery in tests: generous by default, so a busy machine cannot make a
# prompt answer look late; ``world.impatient()`` shortens the read timeout for the tests about timeouts, whose
# "slow" answers come far later still, so a busy machine cannot make them look timely either.
TEST_TIMEOUT = (2.0, 5.0)
SHORT_READ_TIMEOUT = 0.5
SLOW_SECONDS = 2.5


# ------------------------------------------------------------------------------------------------
# A tenant: POST {base}/kcis and its OAuth2 token endpoint.
# ------------------------------------------------------------------------------------------------


class TenantStubServer:
    """The tenant's Tenant Updates API on 127.0.0.1, with its own client-credentials token endpoint.

    - ``POST /oauth2/token``: checks the gateway's client id/secret (HTTP Basic or form), answers
      ``{"access_token", "expires_in": token_lifetime, "token_type": "Bearer"}`` (or a scripted status
      from ``token_answers``). Every call is logged in ``token_requests``.
    - ``POST /TENANT1/kcis``: answers the next scripted ``(status, delay_seconds)`` from ``answers`` if
      there is one, or ``answer_for(body)`` if set; otherwise checks the credentials (``expect`` =
      ``oauth2``: a token this endpoint issued and did not revoke; ``basic``: user/password;
      ``bearer``: the static token) and answers 204 (401 if they are wrong). Every request is logged in
      ``requests`` with the status answered.
    """

    def __init__(self, token_lifetime: int = 3600):
        self.token_lifetime = token_lifetime
        self.answers: list[tuple[int, float]] = []
        self.answer_for: Callable[[dict], tuple[int, float] | None] | None = None
        self.token_answers: list[int] = []
        self.requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.expect = "oauth2"
        self.basic = ("gateway", "basic-password")
        self.static_token = "static-tenant-token"
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if self.path.endswith("/oauth2/token"):
                    status, text, delay = stub._token(dict(self.headers), raw)
                elif self.path.endswith("/kcis"):
                    status, text, delay = stub._kci(self.path, dict(self.headers), raw)
                else:
                    status, text, delay = 404, "", 0.0
                if delay:
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
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # -- wiring -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/{TENANT}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/token"

    def auth_config(self, kind: str = "oauth2") -> dict:
        """The ``auth`` block of TENANTS_CONFIG for ``kind`` (and what this tenant then checks)."""
        self.expect = kind
        if kind == "oauth2":
            return {"type": "oauth2", "tokenUrl": self.token_url, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "scope": "kcis"}
        if kind == "basic":
            return {"type": "basic", "username": self.basic[0], "password": self.basic[1]}
        if kind == "bearer":
            return {"type": "bearer", "token": self.static_token}
        return {"type": "none"}

    # -- endpoints --------------------------------------------------------------------------------
    def _token(self, headers: dict, raw: str) -> tuple[int, str, float]:
        from urllib.parse import parse_qs

        form = {key: values[-1] for key, values in parse_qs(raw).items()}
        with self._lock:
            self.token_requests.append({"headers": headers, "form": form})
            if self.token_answers:
                return self.token_answers.pop(0), json.dumps({"error": "server_error"}), 0.0
            credentials = _basic_credentials(headers) or (form.get("client_id"), form.get("client_secret"))
            if credentials != (CLIENT_ID, CLIENT_SECRET) or form.get("grant_type") != "client_credentials":
                return 401, json.dumps({"error": "invalid_client"}), 0.0
            token = f"token-{len(self.issued) + 1}-{uuid.uuid4().hex[:8]}"
            self.issued.append(token)
            return 200, json.dumps({"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}), 0.0

    def _authorised(self, headers: dict) -> bool:
        authorization = headers.get("Authorization", "")
        if self.expect == "oauth2":
            token = authorization.removeprefix("Bearer ")
            return authorization.startswith("Bearer ") and token in self.issued and token not in self.revoked
        if self.expect == "basic":
            return _basic_credentials(headers) == self.basic
        if self.expect == "bearer":
            return authorization == f"Bearer {self.static_token}"
        return True

    def _kci(self, path: str, headers: dict, raw: str) -> tuple[int, str, float]:
        body = json.loads(raw) if raw else None
        with self._lock:
            scripted = self.answers.pop(0) if self.answers else (self.answer_for(body) if self.answer_for else None)
            if scripted is None:
                scripted = (204 if self._authorised(headers) else 401, 0.0)
            status, delay = scripted
            self.requests.append({"path": path, "headers": headers, "body": body, "status": status})
        text = "" if status == 204 else json.dumps({"uuid": str(uuid.uuid4()), "code": "TENANT_FAULT", "messages": ["scripted"]})
        return status, text, delay

    # -- what the tenant saw ----------------------------------------------------------------------
    @property
    def accepted(self) -> list[dict]:
        """The KCIs the tenant accepted (2xx), oldest first."""
        return [request["body"] for request in self.requests if 200 <= request["status"] < 300]

    def seen(self) -> list[tuple[int, int, int]]:
        """(orderId, sequenceNumber, status answered) of every request, in arrival order."""
        return [(r["body"]["entity"]["id"], r["body"]["sequenceNumber"], r["status"]) for r in self.requests]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _basic_credentials(headers: dict) -> tuple[str, str] | None:
    authorization = headers.get("Authorization", "")
    if not authorization.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
    return user, password


@pytest.fixture
def tenant_stub():
    with TenantStubServer() as stub:
        yield stub


# ------------------------------------------------------------------------------------------------
# The orders table's stream, in Lambda's event shape.
# ------------------------------------------------------------------------------------------------


class OrdersStream:
    """Reads the orders table's stream (moto's DynamoDB Streams API) from its start, remembering where it got to."""

    def __init__(self, dynamodb, table_name: str):
        description = dynamodb.describe_table(TableName=table_name)["Table"]
        self.arn = description["LatestStreamArn"]
        assert description["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
        # botocore would send DescribeStream to an account-id endpoint moto does not intercept.
        self.client = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
        shards = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        self._iterators = [
            self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            for shard in shards
        ]

    def new_records(self) -> list[dict]:
        """The stream records written since the last call, as a Lambda DynamoDB event source delivers them."""
        records = []
        for index, iterator in enumerate(self._iterators):
            answer = self.client.get_records(ShardIterator=iterator)
            self._iterators[index] = answer["NextShardIterator"]
            records.extend(self._lambda_record(record) for record in answer["Records"])
        return records

    def _lambda_record(self, record: dict) -> dict:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-2",
            "dynamodb": dynamodb,
            "eventSourceARN": self.arn,
        }


# ------------------------------------------------------------------------------------------------
# The harness.
# ------------------------------------------------------------------------------------------------


class TenantWorld(Lifecycle):
    """The lifecycle harness plus the relay, the delivery function and the tenant stub."""

    def __init__(self, aws, load_function, supplier_url: str, monkeypatch, tenant: TenantStubServer):
        super().__init__(aws, load_function, supplier_url, monkeypatch)
        from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox

        self.tenant = tenant
        self.tenant_auth = "oauth2"  # set before the first use of ``delivery`` to change it
        self.delivery_env = {"MAX_DELIVERY_ATTEMPTS": str(MAX_DELIVERY_ATTEMPTS), "DELIVERY_BACKOFF_BASE_SECONDS": str(BACKOFF_BASE_SECONDS)}
        self.outbox = TenantKciOutbox(self.orders.client, aws.tables["OrdersTable"])
        self.stream = OrdersStream(self.orders.client, aws.tables["OrdersTable"])
        self.visibility_changes: list[dict] = []

    # -- handlers ---------------------------------------------------------------------------------
    @property
    def relay_function(self):
        return self._module("TenantKciRelayFunction")

    def tenants_config(self) -> dict:
        return {TENANT: {"baseUrl": self.tenant.base_url, "auth": self.tenant.auth_config(self.tenant_auth)}}

    @property
    def delivery(self):
        first = "TenantKciDeliveryFunction" not in self._modules
        module = self._module("TenantKciDeliveryFunction", TENANTS_CONFIG=json.dumps(self.tenants_config()), **self.delivery_env)
        if first:
            module.deps.deliver.client.timeout = TEST_TIMEOUT
            module.deps.sqs.meta.events.register("before-parameter-build.sqs.ChangeMessageVisibility", self._visibility_changed)
        return module

    def impatient(self, impatient: bool = True) -> None:
        """The delivery waits SHORT_READ_TIMEOUT for the tenant's answer (or the default again)."""
        self.delivery.deps.deliver.client.timeout = (TEST_TIMEOUT[0], SHORT_READ_TIMEOUT) if impatient else TEST_TIMEOUT

    def _visibility_changed(self, params, **_kwargs):
        self.visibility_changes.append({"ReceiptHandle": params["ReceiptHandle"], "VisibilityTimeout": params["VisibilityTimeout"]})

    # -- queues (Lifecycle's drain/acknowledge, on one SQS client: a new boto3 client per call costs ~10 ms) -------
    def receive(self, url: str, max_messages: int = 10, visibility_timeout: int = 30) -> dict:
        """What is on a queue, as the SQS event a Lambda event source mapping would deliver (as conftest's ``drain``)."""
        answer = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=max_messages, AttributeNames=["All"],
                                          MessageAttributeNames=["All"], VisibilityTimeout=visibility_timeout)
        return {"Records": [{
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-2:000000000000:" + url.rsplit("/", 1)[-1],
            "awsRegion": "eu-west-2",
        } for message in answer.get("Messages", [])]}

    def acknowledge(self, url: str, event: dict, result: dict) -> None:
        """Delete the records the handler did not report as failed (what the event source mapping does)."""
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])

    def run(self, module, queue_logical_id: str, *, visibility_timeout: int = 30, max_messages: int = 10) -> tuple[dict, dict]:
        url = self.queue(queue_logical_id)
        event = self.receive(url, max_messages, visibility_timeout)
        if not event["Records"]:
            return event, {"batchItemFailures": []}  # an event source mapping never invokes with nothing
        result = module.lambda_handler(event, Context())
        self.acknowledge(url, event, result)
        return event, result

    # -- the relay --------------------------------------------------------------------------------
    def relay(self, records: list[dict] | None = None) -> tuple[dict, dict]:
        """One stream poll: the relay handler on the records written since the last poll (or ``records``)."""
        event = {"Records": self.stream.new_records() if records is None else records}
        if not event["Records"]:
            return event, {"batchItemFailures": []}
        return event, self.relay_function.lambda_handler(event, Context())

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


@pytest.fixture
def world(aws, load_function, supplier_stub, tenant_stub, monkeypatch):
    harness = TenantWorld(aws, load_function, supplier_stub.url, monkeypatch, tenant_stub)
    yield harness
    harness.close()


def failures(result: dict) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def lower_keys(headers: dict[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in headers.items()}
