"""Generate the files in events/ (`make events`): events for `sam local invoke -e` and env.json.

    python events/generate.py           # (re)write every file
    python events/generate.py --check   # exit 1, naming the files, if the committed ones differ

Every API Gateway event comes from ``local_stack.proxy_events.proxy_event``, the one builder the
local stack and the tests use, with fixed request ids, times and token claims so that the files
are the same on every run. SQS and DynamoDB stream events come from ``local_stack.pollers``
(``sqs_record`` / ``stream_record``), the builders the local stack's event source pollers use, fed
with fixed message ids, receipt handles and times. ``tests/unit/test_event_files.py`` and
``tests/unit/test_queue_event_files.py`` run the real handler on each file (expected answers in each
folder's ``expected.json``) and check that the committed files equal what this script produces.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent
ROOT = EVENTS_DIR.parent
for _path in (ROOT, ROOT / "layers" / "gateway"):  # local_stack, and the layer's models for message bodies
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from local_stack.proxy_events import claims_for, proxy_event  # noqa: E402 - importable only once sys.path has the repo root

# Fixed instants: the token was issued at 2026-01-01T00:00:00Z and expires at 2100-01-01T00:00:00Z
# (the handlers trust API Gateway's authorizer and do not check it, but a far-future exp keeps the
# claims plausible for anything that does); the requests were made at 2026-01-01T12:00:00Z.
TOKEN_ISSUED_AT = 1767225600
TOKEN_EXPIRES_AT = 4102444800
REQUEST_TIME = 1767268800
STAGE = "dev"  # template.yaml's default StageName
TENANT = "TENANT1"

# What the local stack (local_stack/stack.py) creates: moto on 127.0.0.1:4566 (MOTO_PORT), region
# eu-west-2, names "local-<LogicalId>". The queue URLs are the ones moto's server builds (checked
# by starting one, see local_resources()).
LOCAL_PREFIX = "local"
LOCAL_REGION = "eu-west-2"
LOCAL_MOTO_URL = "http://127.0.0.1:4566"
# A Lambda container started by `sam local invoke --docker-network fibre-cafe-lambda` reaches the local stack's moto
# on that network's gateway address (local_stack/containers.py, events/README.md), with the default MOTO_PORT.
SAM_LOCAL_ENDPOINT_URL = "http://10.213.213.1:4566"

COLLECTION = "/service-order-cancellations"
ITEM = "/service-order-cancellations/{id}"
# The documented example request, for order 1001 (the local stack's demo order for TENANT1 / DUMMY_SUPPLIER).
EXAMPLE_BODY: dict[str, Any] = {
    "supplier": "DUMMY_SUPPLIER",
    "orderId": 1001,
    "reasonCode": "CUSTOMER_CHANGED_MIND",
    "text": "Delivery too long",
}


def tenant_claims() -> dict[str, str]:
    return claims_for(TENANT, issued_at=TOKEN_ISSUED_AT, lifetime=TOKEN_EXPIRES_AT - TOKEN_ISSUED_AT)


def api_event(name: str, method: str, path: str, *, resource: str, headers: dict[str, str] | None = None,
              body: str | None = None, claims: dict[str, str] | None | bool = True) -> dict[str, Any]:
    return proxy_event(
        method, path, resource=resource, headers=headers, body=body,
        claims=tenant_claims() if claims is True else (claims or None),
        stage=STAGE, request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"events/tenant_api/{name}")), request_time=REQUEST_TIME,
    )


def post_headers(name: str, *, content_type: str | None = "application/json", drop: tuple[str, ...] = (),
                 request_id: str | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": content_type,
        "X-Request-ID": request_id or f"events-{name}",
        "X-Conversation-ID": "events-conversation-1",
    }
    return {key: value for key, value in headers.items() if value is not None and key not in drop}


def with_body(**changes: Any) -> str:
    """The example body with fields changed (a value of ``...`` removes the field)."""
    body = {**EXAMPLE_BODY, **changes}
    return json.dumps({key: value for key, value in body.items() if value is not ...})


MULTIPART_BOUNDARY = "----events-boundary-7MA4YWxkTrZu0gW"
MULTIPART_BODY = "".join(
    f"--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n{value}\r\n" for key, value in EXAMPLE_BODY.items()
) + f"--{MULTIPART_BOUNDARY}--\r\n"


def tenant_api_events() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(file name -> event, file name -> expectation). ``after``: files to invoke first, in a fresh stack."""
    events: dict[str, dict[str, Any]] = {}
    expected: dict[str, dict[str, Any]] = {}

    def add(name: str, status: int, code: str | None, description: str, event: dict[str, Any], **extra: Any) -> None:
        file = f"{name}.json"
        events[file] = event
        expected[file] = {"status": status, "code": code, "description": description, **extra}

    def bad_post(name: str, description: str, *, body: str | None = None, content_type: str | None = "application/json",
                 drop: tuple[str, ...] = ()) -> None:
        event = api_event(name, "POST", COLLECTION, resource=COLLECTION, body=with_body() if body is None else body,
                          headers=post_headers(name, content_type=content_type, drop=drop))
        add(name, 400, "MALFORMED_REQUEST", description, event)

    valid = "post-valid"
    add(valid, 201, None, "the documented example request for demo order 1001: a new cancellation, RECEIVED_BY_GATEWAY",
        api_event(valid, "POST", COLLECTION, resource=COLLECTION, body=with_body(), headers=post_headers(valid)))
    add(
        "post-replay",
        201,
        None,
        "post-valid again (same X-Request-ID and body): the identical answer, nothing new stored",
        api_event(
            "post-replay",
            "POST",
            COLLECTION,
            resource=COLLECTION,
            body=with_body(),
            headers=post_headers("post-replay", request_id=f"events-{valid}"),
        ),
        after=[f"{valid}.json"],
        same_body_as=f"{valid}.json",
    )

    bad_post("post-missing-x-request-id", "no X-Request-ID header", drop=("X-Request-ID",))
    bad_post("post-missing-x-conversation-id", "no X-Conversation-ID header", drop=("X-Conversation-ID",))
    bad_post("post-missing-order-id", "no orderId", body=with_body(orderId=...))
    bad_post("post-order-id-float", "orderId 1.5 (not a whole number)", body=with_body(orderId=1.5))
    bad_post("post-order-id-string", 'orderId "123" (a string, not a number)', body=with_body(orderId="123"))
    bad_post("post-order-id-zero", "orderId 0 (must be >= 1)", body=with_body(orderId=0))
    bad_post("post-order-id-2-pow-53", "orderId 2**53 (must be <= 2**53 - 1)", body=with_body(orderId=2**53))
    bad_post("post-reason-code-not-in-enum", "reasonCode not one of the ten codes", body=with_body(reasonCode="BORED"))
    bad_post("post-supplier-with-dash", "supplier with a dash (must match ^\\w{1,20}$)", body=with_body(supplier="DUMMY-SUPPLIER"))
    bad_post("post-text-1001-chars", "text of 1001 characters (at most 1000)", body=with_body(text="x" * 1001))
    bad_post("post-text-empty", "empty text (at least 1 character)", body=with_body(text=""))
    bad_post("post-unknown-field", "an unknown field (orderID, a typo of orderId)", body=with_body(orderID=1001))
    bad_post("post-body-not-json", "a body that is not JSON (cut short)", body=with_body()[:40])
    bad_post("post-body-json-array", "a JSON array holding the example object", body=f"[{with_body()}]")
    bad_post("post-body-empty", "no body at all", body="")
    bad_post("post-content-type-multipart", "multipart/form-data with the example's fields",
             body=MULTIPART_BODY, content_type=f"multipart/form-data; boundary={MULTIPART_BOUNDARY}")
    bad_post("post-content-type-text-plain", "the example body sent as text/plain", content_type="text/plain")

    add("get-cancellation-1", 200, None, "GET of cancellation 1, the one post-valid created on a fresh stack",
        api_event("get-cancellation-1", "GET", f"{COLLECTION}/1", resource=ITEM, headers={"X-Request-ID": "events-get-cancellation-1"}),
        after=[f"{valid}.json"])
    add("get-non-numeric-id", 400, "MALFORMED_REQUEST", "GET with an id that is not a number",
        api_event("get-non-numeric-id", "GET", f"{COLLECTION}/abc", resource=ITEM, headers={"X-Request-ID": "events-get-non-numeric-id"}))
    add("post-without-claims", 401, "NOT_AUTHORISED", "the example request with no authorizer claims (no verified token)",
        api_event("post-without-claims", "POST", COLLECTION, resource=COLLECTION, body=with_body(),
                  headers=post_headers("post-without-claims"), claims=None))
    # An empty body reaches the Lambda as null, as API Gateway sends it.
    events["post-body-empty.json"]["body"] = None
    return events, expected


def scheduled_event() -> dict[str, Any]:
    """EventBridge Scheduler's default payload for a Lambda target with no Input (the sweeper's schedule sets none)."""
    return {
        "version": "0",
        "id": "6f4d3c2b-1a09-4e8d-9c7b-5a4f3e2d1c0b",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": "2026-01-01T12:00:00Z",
        "region": LOCAL_REGION,
        "resources": [f"arn:aws:scheduler:{LOCAL_REGION}:123456789012:schedule/default/ForwardingSweeperFunctionEveryTwoMinutes"],
        "detail": "{}",
    }


@functools.cache
def local_resources():
    """The tables and queues the local stack creates, named as it names them: made on a moto server
    (a free port, then written as MOTO_PORT's default 4566) so the queue URLs are moto's own."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from local_stack.template import create_resources

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        kwargs = {"endpoint_url": endpoint, "region_name": LOCAL_REGION, "aws_access_key_id": "testing",
                  "aws_secret_access_key": "testing", "aws_session_token": "testing"}
        resources = create_resources(boto3.client("dynamodb", **kwargs), boto3.client("sqs", **kwargs), prefix=LOCAL_PREFIX)
    finally:
        server.stop()
    resources.queue_urls = {key: url.replace(endpoint, LOCAL_MOTO_URL, 1) for key, url in resources.queue_urls.items()}
    return resources


def env_vars() -> dict[str, dict[str, str]]:
    """events/env.json: for each function of template.yaml, its variables pointing at the local stack."""
    from local_stack.template import function_environment, load_template, resources_of_type

    resources = local_resources()
    env: dict[str, dict[str, str]] = {}
    for logical_id in sorted(resources_of_type(load_template(), "AWS::Serverless::Function")):
        variables = function_environment(logical_id, resources)
        variables["AWS_ENDPOINT_URL"] = SAM_LOCAL_ENDPOINT_URL
        env[logical_id] = dict(sorted(variables.items()))
    return env


# ------------------------------------------------------------------------------------------------
# Queue and stream events: the supplier dispatcher, the KCI processor and its API, the tenant KCI relay
# and delivery. Written for the local stack's demo data, like the tenant API events: the cancellations
# a fresh stack numbers 1, 2, 3 when the tenant cancels orders 1001, 1003 and 1002 in that order
# (each folder's expected.json lists what must exist first under "setup").
# ------------------------------------------------------------------------------------------------

MOTO_ACCOUNT = "123456789012"  # the account moto's server puts in queue and stream ARNs
SENT_AT_MS = REQUEST_TIME * 1000
ISSUED_ON = "2026-01-01T11:59:58.000Z"
RECEIVED_ON = "2026-01-01T11:59:59.000Z"
# The local stack's orders table stream, with a fixed label (moto labels a stream with its creation time).
ORDERS_STREAM_ARN = f"arn:aws:dynamodb:{LOCAL_REGION}:{MOTO_ACCOUNT}:table/{LOCAL_PREFIX}-OrdersTable/stream/2026-01-01T00:00:00.000"
# Cancellations to create (through the tenant API, in this order) before the events that name them.
SETUP_CANCELLATIONS = [
    {"id": 1, "orderId": 1001, "reasonCode": "CUSTOMER_CHANGED_MIND", "supplier": "DUMMY_SUPPLIER", "supplierOrderReference": "FC1001"},
    {"id": 2, "orderId": 1003, "reasonCode": "NO_LONGER_REQUIRED", "supplier": "DUMMY_SUPPLIER", "supplierOrderReference": "FC1003"},
    {"id": 3, "orderId": 1002, "reasonCode": "OTHER", "supplier": "FIBRECO", "supplierOrderReference": "FC1002"},
]


def fixed_uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"events/{name}"))


def sqs_message(name: str, body: str, *, receive_count: int = 1, group: str | None = None, sequence: int = 0) -> dict[str, Any]:
    """One message as ReceiveMessage returns it (boto3's shape), fixed by ``name``: what the local stack's poller turns into a record."""
    attributes = {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": str(SENT_AT_MS), "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                  "ApproximateFirstReceiveTimestamp": str(SENT_AT_MS + 5)}
    if group is not None:
        attributes.update(MessageGroupId=group, MessageDeduplicationId=fixed_uuid(f"{name}/deduplication"),
                          SequenceNumber=str(18849496460467696128 + sequence))
    return {
        "MessageId": fixed_uuid(name),
        "ReceiptHandle": base64.b64encode(f"events/{name}#receipt".encode()).decode("ascii"),
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # SQS's own checksum
        "Body": body,
        "Attributes": attributes,
    }


def sqs_event_of(queue_logical_id: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    from local_stack.pollers import sqs_event

    return sqs_event(messages, local_resources().queue_arns[queue_logical_id], LOCAL_REGION)


def supplier_request(cancellation_id: int, scenario: str | None = None) -> str:
    """A supplier-requests queue message for a setup cancellation (or an unknown one), as the tenant API queues it."""
    from fibre_cafe.models.records import SupplierRequestMessage

    known = next((c for c in SETUP_CANCELLATIONS if c["id"] == cancellation_id), None) or {
        "orderId": 1001, "reasonCode": "OTHER", "supplier": "DUMMY_SUPPLIER", "supplierOrderReference": "FC1001"}
    return SupplierRequestMessage(
        cancellationId=cancellation_id, orderId=known["orderId"], reasonCode=known["reasonCode"], supplier=known["supplier"],
        supplierOrderReference=known["supplierOrderReference"], tenant=TENANT, requestId=f"events-cancellation-{cancellation_id}",
        conversationId="events-conversation-1", passThroughHeaders={"X-Scenario": scenario} if scenario else {},
    ).model_dump_json()


def supplier_dispatcher_events() -> tuple[dict[str, Any], dict[str, Any]]:
    events: dict[str, Any] = {}
    expected: dict[str, Any] = {}

    def add(name: str, description: str, bodies: list[tuple[str, str]], failed: list[str], statuses: dict[str, str],
            supplier_calls: int) -> None:
        messages = [sqs_message(f"supplier_dispatcher/{name}/{key}", body) for key, body in bodies]
        events[f"{name}.json"] = sqs_event_of("SupplierRequestsQueue", messages)
        ids = {key: message["MessageId"] for (key, _), message in zip(bodies, messages, strict=True)}
        expected[f"{name}.json"] = {
            "description": description,
            "setup": {"cancellations": SETUP_CANCELLATIONS},
            "batchItemFailures": [ids[key] for key in failed],
            "statuses": statuses,
            "supplierCalls": supplier_calls,
        }

    add("one-record", "cancellation 1 (order 1001); the supplier answers 201 (X-Scenario SYNC_ACCEPTED): COMPLETED",
        [("c1", supplier_request(1, "SYNC_ACCEPTED"))], [], {"1": "COMPLETED"}, 1)
    add("batch", "cancellations 1, 2, 3: the suppliers answer 201, 202 and 422: COMPLETED, PENDING, REJECTED",
        [("c1", supplier_request(1, "SYNC_ACCEPTED")), ("c2", supplier_request(2, "CANCELLATION_PENDING")),
         ("c3", supplier_request(3, "SYNC_REJECTED"))], [], {"1": "COMPLETED", "2": "PENDING", "3": "REJECTED"}, 3)
    add(
        "batch-with-poison",
        "cancellation 1 (201), a body that is not JSON, a cancellation that does not exist: those two fail alone",
        [
            ("c1", supplier_request(1, "SYNC_ACCEPTED")),
            ("poison", '{"cancellationId": '),
            ("unknown", supplier_request(999, "SYNC_ACCEPTED")),
        ],
        ["poison", "unknown"],
        {"1": "COMPLETED"},
        1,
    )
    add("duplicates", "the same request for cancellation 1 delivered twice (SQS is at least once): the supplier is called once",
        [("first", supplier_request(1, "SYNC_ACCEPTED")), ("again", supplier_request(1, "SYNC_ACCEPTED"))], [], {"1": "COMPLETED"}, 1)
    add("supplier-error", "cancellation 1; the supplier answers 500 (X-Scenario SERVER_ERROR): retried later through the queue",
        [("c1", supplier_request(1, "SERVER_ERROR"))], ["c1"], {"1": "RECEIVED_BY_GATEWAY"}, 1)
    return events, expected


def supplier_kci(name: str, order_id: int, sequence: int, reason_code: str, status: str, *, order_field: str = "provideServiceOrder",
                 tenant: str = TENANT, kci_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A supplier KCI body (Supplier Updates API 1.8), fixed by ``name``."""
    kci = {"id": kci_id or fixed_uuid(f"kci/{name}"), "sequenceNumber": sequence, "issuedOn": ISSUED_ON, "reasonCode": reason_code,
           order_field: {"id": order_id, "tenant": tenant, "supplierOrderReference": f"FC{order_id}", "status": status}}
    kci.update(extra)
    return kci


def kci_envelope(kci: dict[str, Any], supplier: str = "DUMMY_SUPPLIER", request_id: str = "events-kci") -> str:
    """The KCI queue message POST /kcis makes of a KCI."""
    from fibre_cafe.models.kci import KciEnvelope

    return KciEnvelope(supplier=supplier, receivedOn=RECEIVED_ON, requestId=request_id, conversationId="events-kci-conversation",
                       kci=kci).model_dump_json(exclude_none=True)


def kci_processor_events() -> tuple[dict[str, Any], dict[str, Any]]:
    events: dict[str, Any] = {}
    expected: dict[str, Any] = {}

    def add(name: str, description: str, bodies: list[tuple[str, str]], failed: list[str], orders: dict[str, dict[str, Any]],
            setup: list[int] | None = None, cancellations: dict[str, str] | None = None) -> None:
        messages = [sqs_message(f"kci_processor/{name}/{key}", body) for key, body in bodies]
        events[f"{name}.json"] = sqs_event_of("KciQueue", messages)
        ids = {key: message["MessageId"] for (key, _), message in zip(bodies, messages, strict=True)}
        expected[f"{name}.json"] = {"description": description,
                                    "setup": {"cancellations": [c for c in SETUP_CANCELLATIONS if c["id"] in (setup or [])]},
                                    "batchItemFailures": [ids[key] for key in failed], "orders": orders, "statuses": cancellations or {}}

    add("one-record", "ACKNOWLEDGED for order 4242, new to the gateway: the order is registered",
        [("ack", kci_envelope(supplier_kci("4242-1", 4242, 1, "ACKNOWLEDGED", "ACKNOWLEDGED")))], [],
        {"4242": {"supplierStatus": "ACKNOWLEDGED", "lastSequenceNumber": 1, "history": 1}})
    add("batch", "order 4243: ACKNOWLEDGED, COMMITTED, COMPLETED (sequence 1, 2, 3): the snapshot is the last",
        [(f"s{n}", kci_envelope(supplier_kci(f"4243-{n}", 4243, n, code, status)))
         for n, code, status in ((1, "ACKNOWLEDGED", "ACKNOWLEDGED"), (2, "COMMITTED", "IN_PROGRESS"), (3, "COMPLETED", "COMPLETED"))],
        [], {"4243": {"supplierStatus": "COMPLETED", "lastSequenceNumber": 3, "history": 3}})
    add(
        "batch-with-poison",
        "a good KCI (order 4245), a body that is not JSON, a CANCELLED naming cancellation 999 (not there yet: retried), "
        "and a KCI from DUMMY_SUPPLIER about FIBRECO's order 1002 (never applicable): the last three fail alone",
        [
            ("good", kci_envelope(supplier_kci("4245-1", 4245, 1, "ACKNOWLEDGED", "ACKNOWLEDGED"))),
            ("poison", '{"supplier": "DUMMY_SUPPLIER", "kci": '),
            (
                "unknown-cancellation",
                kci_envelope(
                    supplier_kci(
                        "1001-cancelled-999",
                        1001,
                        2,
                        "CANCELLED",
                        "CANCELLED",
                        serviceOrderCancellationId=999,
                        problemCode="CUSTOMER_REQUESTED",
                    )
                ),
            ),
            (
                "other-suppliers-order",
                kci_envelope(supplier_kci("1002-by-dummy", 1002, 2, "DELAY", "IN_PROGRESS", order_field="ceaseServiceOrder")),
            ),
        ],
        ["poison", "unknown-cancellation", "other-suppliers-order"],
        {"4245": {"supplierStatus": "ACKNOWLEDGED", "lastSequenceNumber": 1, "history": 1}},
    )
    duplicate = supplier_kci("4246-1", 4246, 1, "ACKNOWLEDGED", "ACKNOWLEDGED")
    add("duplicates", "order 4246: one KCI delivered twice, then the next: applied once each (two history entries)",
        [("first", kci_envelope(duplicate)), ("again", kci_envelope(duplicate)),
         ("next", kci_envelope(supplier_kci("4246-2", 4246, 2, "COMMITTED", "IN_PROGRESS")))], [],
        {"4246": {"supplierStatus": "IN_PROGRESS", "lastSequenceNumber": 2, "history": 2}})
    add("out-of-order", "order 4247: sequence 3 (COMPLETED), then 1, then 2: the snapshot stays sequence 3's",
        [(f"s{n}", kci_envelope(supplier_kci(f"4247-{n}", 4247, n, code, status)))
         for n, code, status in ((3, "COMPLETED", "COMPLETED"), (1, "ACKNOWLEDGED", "ACKNOWLEDGED"), (2, "COMMITTED", "IN_PROGRESS"))],
        [], {"4247": {"supplierStatus": "COMPLETED", "lastSequenceNumber": 3, "history": 3}})
    add("cancelled", "CANCELLED for order 1001 naming cancellation 1 (the supplier accepted it): cancellation COMPLETED, order CANCELLED",
        [("cancelled", kci_envelope(supplier_kci("1001-cancelled-1", 1001, 2, "CANCELLED", "CANCELLED", serviceOrderCancellationId=1,
                                                 problemCode="CUSTOMER_REQUESTED")))],
        [], {"1001": {"supplierStatus": "CANCELLED", "lastSequenceNumber": 2, "history": 1}}, setup=[1], cancellations={"1": "COMPLETED"})
    return events, expected


def supplier_updates_api_events() -> tuple[dict[str, Any], dict[str, Any]]:
    events: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    supplier_claims = claims_for("DUMMY_SUPPLIER", issued_at=TOKEN_ISSUED_AT, lifetime=TOKEN_EXPIRES_AT - TOKEN_ISSUED_AT)

    def add(name: str, status: int, code: str | None, description: str, kci: Any, claims: dict[str, str] | None = None,
            extra: dict[str, Any] | None = None) -> None:
        headers = {"Content-Type": "application/json", "X-Request-ID": f"events-{name}", "X-Conversation-ID": "events-kci-conversation"}
        events[f"{name}.json"] = proxy_event(
            "POST", "/kcis", resource="/kcis", headers=headers, body=json.dumps(kci), claims=claims or supplier_claims, stage=STAGE,
            request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"events/supplier_updates_api/{name}")), request_time=REQUEST_TIME,
        )
        expected[f"{name}.json"] = {"status": status, "code": code, "description": description, **(extra or {})}

    acknowledged = supplier_kci("api-4242-1", 4242, 1, "ACKNOWLEDGED", "ACKNOWLEDGED")
    add(
        "post-acknowledged-new-order",
        204,
        None,
        "DUMMY_SUPPLIER's ACKNOWLEDGED KCI for order 4242, new to the gateway: queued",
        acknowledged,
    )
    # Supplier-initiated (no serviceOrderCancellationId): a KCI naming a cancellation that is not one of the order's
    # is refused at POST /kcis (422), and a fresh stack has no cancellation yet.
    add("post-cancelled", 204, None, "supplier-initiated CANCELLED for demo order 1001, with its problemCode: queued",
        supplier_kci("api-1001-cancelled", 1001, 2, "CANCELLED", "CANCELLED", problemCode="CUSTOMER_REQUESTED"))
    add("post-schema-error", 400, "MALFORMED_REQUEST", "sequenceNumber 0 and an unknown reasonCode",
        {**acknowledged, "sequenceNumber": 0, "reasonCode": "FINISHED"})
    # Over HTTP the authorizer refuses the tenant token's scope first: 401, as API Gateway (README, error answers at the edge).
    add("post-tenant-token", 403, "NOT_AUTHORISED", "a valid KCI sent with TENANT1's token (a tenant may not post KCIs)", acknowledged,
        claims=tenant_claims(), extra={"httpStatus": 401})
    add("post-other-suppliers-order", 422, "INVALID_REQUEST", "DUMMY_SUPPLIER's KCI about demo order 1002, which is FIBRECO's",
        supplier_kci("api-1002-by-dummy", 1002, 2, "DELAY", "IN_PROGRESS", order_field="ceaseServiceOrder"))
    return events, expected


def tenant_kci_message(order_id: int, sequence: int, *, entity_type: str = "PROVIDE_ORDER", information: str = "ACKNOWLEDGED") -> Any:
    """A tenant KCI on its way to TENANT1 (what the outbox item and the tenant-updates message carry)."""
    from fibre_cafe.models.tenant_kci import TenantKci, TenantKciMessage

    kci = TenantKci(
        id=fixed_uuid(f"tenant-kci/{order_id}/{sequence}"),
        supplier="DUMMY_SUPPLIER",
        sequenceNumber=sequence,
        issuedOn=ISSUED_ON,
        receivedOn=RECEIVED_ON,
        updateType="INFORMATIONAL",
        entityType=entity_type,
        information={"type": information},
        entity={"id": order_id, "status": "ACKNOWLEDGED", "supplier": "DUMMY_SUPPLIER", "supplierOrderReference": f"FC{order_id}"},
    )
    return TenantKciMessage(tenant=TENANT, orderId=order_id, conversationId="events-conversation-1", kci=kci)


def tenant_kci_delivery_events() -> tuple[dict[str, Any], dict[str, Any]]:
    events: dict[str, Any] = {}
    expected: dict[str, Any] = {}

    def add(name: str, description: str, kcis: list[tuple[str, Any]], failed: list[str], delivered: list[str], fail_next: int = 0) -> None:
        messages = [sqs_message(f"tenant_kci_delivery/{name}/{key}", message.model_dump_json(exclude_none=True),
                                group=f"{message.tenant}#{message.orderId}", sequence=index) for index, (key, message) in enumerate(kcis)]
        events[f"{name}.json"] = sqs_event_of("TenantUpdatesQueue", messages)
        ids = {key: message["MessageId"] for (key, _), message in zip(kcis, messages, strict=True)}
        expected[f"{name}.json"] = {
            "description": description,
            "setup": {
                "outbox": [{"orderId": m.orderId, "sequenceNumber": m.kci.sequenceNumber} for _, m in kcis],
                "tenantFailNext": fail_next,
            },
            "batchItemFailures": [ids[key] for key in failed],
            "delivered": [{"orderId": m.orderId, "sequenceNumber": m.kci.sequenceNumber} for key, m in kcis if key in delivered],
        }

    add("one-record", "a tenant KCI for order 1001 (sequence 1): delivered to TENANT1's POST /kcis",
        [("1001-1", tenant_kci_message(1001, 1))], [], ["1001-1"])
    add("fifo-batch",
        "order 1001's sequence 1 and 2 (message group TENANT1#1001) and order 1003's sequence 1 (group TENANT1#1003); TENANT1 answers "
        "503 once: 1001's first fails, so its second fails unsent (its group waits), and 1003's is delivered",
        [("1001-1", tenant_kci_message(1001, 1)), ("1001-2", tenant_kci_message(1001, 2, information="COMMITTED")),
         ("1003-1", tenant_kci_message(1003, 1, entity_type="MODIFY_ORDER"))], ["1001-1", "1001-2"], ["1003-1"], fail_next=1)
    return events, expected


def stream_record_of(
    name: str, event_name: str, image: dict[str, Any], keys: tuple[str, ...] = ("pk", "sk"), sequence: int = 0
) -> dict[str, Any]:
    """One record of Lambda's DynamoDB stream event for the orders table (NEW_IMAGE), through the poller's builder."""
    from local_stack.pollers import stream_record

    record = {
        "eventID": hashlib.md5(f"events/{name}".encode()).hexdigest(),  # an id, not a secret
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "dynamodb": {"ApproximateCreationDateTime": REQUEST_TIME, "Keys": {key: image[key] for key in keys}, "NewImage": image,
                     "SequenceNumber": str(4421584500000000017450439091 + sequence), "SizeBytes": len(json.dumps(image)),
                     "StreamViewType": "NEW_IMAGE"},
    }
    return stream_record(record, ORDERS_STREAM_ARN, LOCAL_REGION)


def tenant_kci_relay_events() -> tuple[dict[str, Any], dict[str, Any]]:
    from fibre_cafe.dal.dynamodb_codec import to_item
    from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox

    outbox_item = TenantKciOutbox(None, f"{LOCAL_PREFIX}-OrdersTable").put(tenant_kci_message(1001, 1), RECEIVED_ON)["Put"]["Item"]
    snapshot = to_item(
        {
            "pk": "ORDER#1001",
            "sk": "SNAPSHOT",
            "id": 1001,
            "tenant": TENANT,
            "supplier": "DUMMY_SUPPLIER",
            "orderType": "PROVIDE",
            "status": "ACKNOWLEDGED",
            "supplierStatus": "ACKNOWLEDGED",
            "tenantKciSequence": 1,
            "version": 2,
        }
    )
    event = {"Records": [stream_record_of("relay/snapshot", "MODIFY", snapshot, sequence=0),
                         stream_record_of("relay/outbox", "INSERT", outbox_item, sequence=1)]}
    expected = {"outbox-insert.json": {
        "description": "the orders table's stream: order 1001's snapshot changed (MODIFY: not relayed) and its tenant KCI 1 was written "
                       "(INSERT of TENANT_KCI#000000000001: sent to the tenant-updates FIFO queue, group TENANT1#1001)",
        "batchItemFailures": [], "queued": [{"group": "TENANT1#1001", "kciId": fixed_uuid("tenant-kci/1001/1")}],
    }}
    return {"outbox-insert.json": event}, expected


QUEUE_EVENT_FOLDERS = {
    "supplier_dispatcher": supplier_dispatcher_events,
    "kci_processor": kci_processor_events,
    "supplier_updates_api": supplier_updates_api_events,
    "tenant_kci_relay": tenant_kci_relay_events,
    "tenant_kci_delivery": tenant_kci_delivery_events,
}


def render(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def build() -> dict[str, str]:
    """Every generated file: path relative to events/ -> content."""
    events, expected = tenant_api_events()
    files = {f"tenant_api/{name}": render(event) for name, event in events.items()}
    files["tenant_api/expected.json"] = render(expected)
    files["forwarding_sweeper/scheduled.json"] = render(scheduled_event())
    for folder, make in QUEUE_EVENT_FOLDERS.items():
        events, expected = make()
        files.update({f"{folder}/{name}": render(event) for name, event in events.items()})
        files[f"{folder}/expected.json"] = render(expected)
    files["env.json"] = render(env_vars())
    return files


def generated_dirs() -> tuple[str, ...]:
    return ("tenant_api", "forwarding_sweeper", *QUEUE_EVENT_FOLDERS)


def stale_files(files: dict[str, str]) -> list[str]:
    """Committed .json files in the generated folders that the generator no longer makes."""
    present = {str(path.relative_to(EVENTS_DIR)) for folder in generated_dirs() for path in (EVENTS_DIR / folder).glob("*.json")}
    return sorted(present - set(files))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        differ = [name for name, text in files.items() if not (EVENTS_DIR / name).is_file() or (EVENTS_DIR / name).read_text() != text]
        problems = differ + stale_files(files)
        for name in problems:
            print(f"events/{name} is not what events/generate.py makes: run `make events`", file=sys.stderr)
        return 1 if problems else 0
    for name in stale_files(files):
        (EVENTS_DIR / name).unlink()
        print(f"removed events/{name}")
    for name, text in files.items():
        path = EVENTS_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote events/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
