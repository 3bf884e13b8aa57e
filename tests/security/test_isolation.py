"""Tenant and supplier isolation through the local stack over HTTP (domain.md sections 1, 3 and 5).

A tenant never reads, cancels, or learns the existence of another tenant's order or cancellation:
TENANT2 probing TENANT1's order ids and cancellation id gets exactly the answer an unknown id gets
(status, code, messages once the id is substituted, the same headers with the same values but for
per-request ids, the same length), whatever state TENANT1's order is in, and nothing is stored or
queued for the probe. A supplier's KCI only ever touches that supplier's orders.
"""

from __future__ import annotations

import json

import pytest

from testing.events import sqs_record
from tests.security.support import (
    CANCELLATIONS,
    KCIS,
    Answer,
    assert_error,
    bearer,
    cancellation_body,
    client,
    kci_body,
    nothing_stored,
    order,
    snapshot,
    trace,
)

pytestmark = pytest.mark.http

ORDERS = (
    order(6101, "TENANT1 cancels it in the fixture (open cancellation)"),
    order(6102, "terminal: not cancellable", status="COMPLETED"),
    order(6103, "unsolicited-cease reason codes only", supplier="FIBRECO", order_type="UNSOLICITED_CEASE"),
    order(6104, "cancellable (supplier FIBRECO)", supplier="FIBRECO"),
    order(6201, "TENANT2's own", tenant="TENANT2"),
    order(6202, "TENANT2's own, for the request-id test", tenant="TENANT2", supplier="FIBRECO", order_type="MODIFY"),
)
# Unknown order ids with as many digits as the probed ones, so an answer's length cannot tell them apart either.
UNKNOWN_ORDER = 6999
# Headers whose values are per request (compared by presence only).
PER_REQUEST_HEADERS = {"date", "x-amzn-requestid", "x-request-id"}


@pytest.fixture(scope="module")
def world(stack, http, register_orders, good_tokens) -> dict:
    """TENANT1's open cancellation of 6101 (and the X-Request-ID and body it used)."""
    register_orders(*ORDERS)
    request_id = "req-tenant1-6101"
    body = cancellation_body(6101, "CUSTOMER_CHANGED_MIND", supplier="DUMMY_SUPPLIER", text="Moving house")
    answer = http.post(
        f"{stack.base_url}{CANCELLATIONS}", json=body, headers={**bearer(good_tokens["TENANT1"]), **trace(request_id)}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    return {"cancellation": answer.json(), "request_id": request_id, "body": body}


def unknown_cancellation_id(stack, known: int) -> int:
    """An id with as many digits as ``known`` that no cancellation has."""
    table = stack.resources.tables["CancellationsTable"]
    for candidate in range(10 ** (len(str(known)) - 1), 10 ** len(str(known)))[::-1]:
        if "Item" not in client(stack, "dynamodb").get_item(TableName=table, Key={"pk": {"S": f"CANCELLATION#{candidate}"}}):
            return candidate
    raise AssertionError("no free id of that length")


def signature(answer, probed_id: int) -> dict:
    """What a caller can observe of an error answer, with the probed id and the per-request values taken out."""
    answer = Answer.of(answer)
    body = assert_error(answer, answer.status, answer.json()["code"])
    headers = {}
    for name, value in answer.headers:
        headers[name.lower()] = "<per-request>" if name.lower() in PER_REQUEST_HEADERS else value
    return {
        "status": answer.status,
        "code": body["code"],
        "messages": [message.replace(str(probed_id), "<id>") for message in body["messages"]],
        "headers": headers,
        "length": len(answer.body),
    }


def assert_indistinguishable(theirs, theirs_id: int, unknown, unknown_id: int, status: int, code: str) -> None:
    assert Answer.of(theirs).status == status and Answer.of(theirs).json()["code"] == code, Answer.of(theirs).body
    assert signature(theirs, theirs_id) == signature(unknown, unknown_id)


# ---------------------------------------------------------------------------------------------- another tenant's cancellation


def test_reading_another_tenants_cancellation_answers_like_an_unknown_id(stack, http, good_tokens, world):
    own_id = world["cancellation"]["id"]
    unknown_id = unknown_cancellation_id(stack, own_id)
    headers = bearer(good_tokens["TENANT2"])
    with nothing_stored(stack):
        theirs = http.get(f"{stack.base_url}{CANCELLATIONS}/{own_id}", headers=headers, timeout=30)
        unknown = http.get(f"{stack.base_url}{CANCELLATIONS}/{unknown_id}", headers=headers, timeout=30)
        with_trace = http.get(f"{stack.base_url}{CANCELLATIONS}/{own_id}", headers={**headers, **trace()}, timeout=30)
        unknown_with_trace = http.get(f"{stack.base_url}{CANCELLATIONS}/{unknown_id}", headers={**headers, **trace()}, timeout=30)
    assert_indistinguishable(theirs, own_id, unknown, unknown_id, 422, "NOT_FOUND")
    assert_indistinguishable(with_trace, own_id, unknown_with_trace, unknown_id, 422, "NOT_FOUND")
    # The owner still reads it.
    mine = http.get(f"{stack.base_url}{CANCELLATIONS}/{own_id}", headers=bearer(good_tokens["TENANT1"]), timeout=30)
    assert mine.status_code == 200 and mine.json() == world["cancellation"]


# ---------------------------------------------------------------------------------------------- another tenant's orders

# (probe name, TENANT1's order, request body fields besides orderId). Each state would give TENANT1 a different
# answer (422 INVALID_REQUEST for an open cancellation, a terminal order, a wrong reason-code family, another
# supplier; 201 otherwise): TENANT2 must get NOT_FOUND in every case, exactly as for an order that does not exist.
ORDER_PROBES = [
    ("open-cancellation", 6101, {"reasonCode": "OTHER"}),
    ("completed-order", 6102, {"reasonCode": "OTHER"}),
    ("wrong-reason-family", 6103, {"reasonCode": "CUSTOMER_CHANGED_MIND"}),
    ("right-reason-family", 6103, {"reasonCode": "NO_AUTHORISATION"}),
    ("supplier-differs", 6104, {"reasonCode": "OTHER", "supplier": "DUMMY_SUPPLIER"}),
    ("supplier-matches", 6104, {"reasonCode": "OTHER", "supplier": "FIBRECO", "text": "Cancel please"}),
]


@pytest.mark.parametrize(("order_id", "fields"), [pytest.param(order, fields, id=name) for name, order, fields in ORDER_PROBES])
def test_cancelling_another_tenants_order_answers_like_an_unknown_order(stack, http, good_tokens, world, order_id, fields):
    headers = {**bearer(good_tokens["TENANT2"]), "Content-Type": "application/json"}
    with nothing_stored(stack):
        theirs = http.post(f"{stack.base_url}{CANCELLATIONS}", json={"orderId": order_id, **fields},
                           headers={**headers, **trace()}, timeout=30)
        unknown = http.post(f"{stack.base_url}{CANCELLATIONS}", json={"orderId": UNKNOWN_ORDER, **fields},
                            headers={**headers, **trace()}, timeout=30)
    assert_indistinguishable(theirs, order_id, unknown, UNKNOWN_ORDER, 422, "NOT_FOUND")


def test_replaying_another_tenants_request_id_and_body_does_not_return_their_answer(stack, http, good_tokens, world):
    """Idempotency records are per tenant: TENANT1's X-Request-ID and body, sent by TENANT2, are a new request of
    TENANT2 (an order TENANT2 does not have), not a replay of TENANT1's 201."""
    headers = {**bearer(good_tokens["TENANT2"]), **trace(world["request_id"])}
    unknown_body = {**world["body"], "orderId": UNKNOWN_ORDER}
    with nothing_stored(stack):
        theirs = http.post(f"{stack.base_url}{CANCELLATIONS}", json=world["body"], headers=headers, timeout=30)
        unknown = http.post(f"{stack.base_url}{CANCELLATIONS}", json=unknown_body, headers={**headers, **trace()}, timeout=30)
    assert theirs.status_code != 201 and "id" not in theirs.json()
    assert_indistinguishable(theirs, 6101, unknown, UNKNOWN_ORDER, 422, "NOT_FOUND")


def test_another_tenants_request_id_is_free_for_a_request_of_ones_own(stack, http, good_tokens, world):
    """Nor is TENANT1's X-Request-ID a conflict for TENANT2 (which would tell TENANT2 the id is in use)."""
    answer = http.post(f"{stack.base_url}{CANCELLATIONS}", json=cancellation_body(6202), headers={
        **bearer(good_tokens["TENANT2"]), **trace(world["request_id"])}, timeout=30)
    assert answer.status_code == 201, answer.text
    assert answer.json()["orderId"] == 6202 and answer.json()["id"] != world["cancellation"]["id"]


def test_the_probed_orders_are_as_they_were(stack, http, good_tokens, world):
    """After every probe, TENANT1's orders are untouched and TENANT1's own requests behave as before."""
    answer = http.post(f"{stack.base_url}{CANCELLATIONS}", json=cancellation_body(6104, supplier="FIBRECO"),
                       headers={**bearer(good_tokens["TENANT1"]), **trace()}, timeout=30)
    assert answer.status_code == 201, answer.text
    again = http.post(f"{stack.base_url}{CANCELLATIONS}", json=cancellation_body(6101),
                      headers={**bearer(good_tokens["TENANT1"]), **trace()}, timeout=30)
    assert_error(again, 422, "INVALID_REQUEST")  # the open cancellation of the fixture, still open


def test_each_tenant_reads_its_own_cancellations_only(stack, http, good_tokens, world):
    created = http.post(f"{stack.base_url}{CANCELLATIONS}", json=cancellation_body(6201),
                        headers={**bearer(good_tokens["TENANT2"]), **trace()}, timeout=30)
    assert created.status_code == 201, created.text
    own = http.get(f"{stack.base_url}{CANCELLATIONS}/{created.json()['id']}", headers=bearer(good_tokens["TENANT2"]), timeout=30)
    assert own.status_code == 200 and own.json() == created.json()
    other = http.get(f"{stack.base_url}{CANCELLATIONS}/{created.json()['id']}", headers=bearer(good_tokens["TENANT1"]), timeout=30)
    assert_error(other, 422, "NOT_FOUND")


# ---------------------------------------------------------------------------------------------- suppliers


def order_item(stack, order_id: int) -> list[str]:
    """Every item of the order (snapshot, KCI history, tenant KCIs), for comparison."""
    answer = client(stack, "dynamodb").query(TableName=stack.resources.tables["OrdersTable"], KeyConditionExpression="pk = :pk",
                                             ExpressionAttributeValues={":pk": {"S": f"ORDER#{order_id}"}}, ConsistentRead=True)
    return sorted(json.dumps(item, sort_keys=True) for item in answer["Items"])


@pytest.mark.parametrize(
    "extra",
    [{}, {"entity_supplier": "DUMMY_SUPPLIER"}, {"reason_code": "CANCELLED", "status": "CANCELLED"}],
    ids=["update", "claiming-to-be-the-orders-supplier", "cancelled"],
)
def test_a_supplier_cannot_send_a_kci_for_another_suppliers_order(stack, http, good_tokens, world, extra):
    """FIBRECO's KCI for DUMMY_SUPPLIER's order 6101: 422 INVALID_REQUEST, nothing queued, the registry unchanged."""
    extra = dict(extra)
    entity_supplier = extra.pop("entity_supplier", None)
    body = kci_body(6101, **extra)
    if entity_supplier:
        body["provideServiceOrder"]["supplier"] = entity_supplier
    before = order_item(stack, 6101)
    with nothing_stored(stack):
        answer = http.post(f"{stack.base_url}{KCIS}", json=body, headers={**bearer(good_tokens["FIBRECO"]), **trace()}, timeout=30)
    assert_error(answer, 422, "INVALID_REQUEST")
    assert order_item(stack, 6101) == before


def test_a_kci_naming_another_suppliers_cancellation_never_moves_it(stack, http, good_tokens, world):
    """FIBRECO's CANCELLED KCI for its own order 6104 that names TENANT1's cancellation of DUMMY_SUPPLIER's order 6101:
    accepted for processing (the order is FIBRECO's), but the KCI processor never moves the other order's cancellation."""
    foreign_id = world["cancellation"]["id"]
    cancellations = stack.resources.tables["CancellationsTable"]
    dynamodb = client(stack, "dynamodb")

    def foreign() -> dict:
        return dynamodb.get_item(TableName=cancellations, Key={"pk": {"S": f"CANCELLATION#{foreign_id}"}}, ConsistentRead=True)["Item"]

    before_cancellation, before_order = foreign(), order_item(stack, 6101)
    body = kci_body(6104, reason_code="CANCELLED", status="CANCELLED", sequence_number=5, cancellation_id=foreign_id)
    answer = http.post(f"{stack.base_url}{KCIS}", json=body, headers={**bearer(good_tokens["FIBRECO"]), **trace()}, timeout=30)
    assert answer.status_code in (204, 422), answer.text

    if answer.status_code == 204:
        # Run the KCI processor on what was queued (the stack's pollers are off in these tests).
        sqs = client(stack, "sqs")
        url, arn = stack.resources.queue_urls["KciQueue"], stack.resources.queue_arns["KciQueue"]
        records = []
        for _ in range(5):
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                               AttributeNames=["All"]).get("Messages", []):
                if json.loads(message["Body"])["kci"]["id"] == body["id"]:
                    records.append(sqs_record(message, arn, "eu-west-2"))
            if records:
                break
        assert len(records) == 1
        # The processor refuses it (the named cancellation is not of order 6104): retried, then dead-lettered.
        outcome = stack.functions["KciProcessorFunction"].invoke({"Records": records})
        assert outcome["batchItemFailures"] == [{"itemIdentifier": records[0]["messageId"]}]

    assert foreign() == before_cancellation
    assert order_item(stack, 6101) == before_order
    assert before_cancellation["status"]["S"] == "RECEIVED_BY_GATEWAY"


def test_no_cancellation_ever_pairs_a_tenant_with_another_tenants_order(stack, world):
    """Whatever ran before: every stored cancellation belongs to the tenant of its order."""
    tenant_of = {order.id: order.tenant for order in ORDERS}
    items = [json.loads(item) for item in snapshot(stack)["CancellationsTable"]]
    cancellations = [item for item in items if item["pk"]["S"].startswith("CANCELLATION#")]
    assert cancellations
    for item in cancellations:
        assert item["tenant"]["S"] == tenant_of[int(item["orderId"]["N"])], item
