"""POST /kcis refuses at the door what could never be applied (issue 10, item 3), over HTTP through the local stack:
400 (schema) or 422 (rules), a message naming the field, nothing queued and nothing stored. The same KCI sent
twice stays a 204 no-op."""

from __future__ import annotations

import json
import re
import uuid

import pytest

pytestmark = pytest.mark.http

ORDER = 1001  # DUMMY_SUPPLIER's, TENANT1's (local_stack/seed.py)


def kci(order_id: int = ORDER, sequence_number: int = 2, reason_code: str = "UPDATE", **extra_entity) -> dict:
    return {"id": str(uuid.uuid4()), "sequenceNumber": sequence_number, "issuedOn": "2024-04-10T09:53:39.144Z",
            "reasonCode": reason_code,
            "provideServiceOrder": {"id": order_id, "tenant": "TENANT1", "status": "IN_PROGRESS", **extra_entity}}


@pytest.fixture(scope="module")
def supplier_token(token_for) -> str:
    return token_for("DUMMY_SUPPLIER", "supplier")


@pytest.fixture(scope="module")
def post(http, stack, supplier_token):
    def send(body, raw: str | None = None):
        return http.post(f"{stack.base_url}/kcis", data=raw if raw is not None else json.dumps(body), timeout=10,
                         headers={"Authorization": f"Bearer {supplier_token}", "Content-Type": "application/json",
                                  "X-Request-ID": str(uuid.uuid4())})
    return send


@pytest.fixture(scope="module")
def footprint(stack):
    """What is stored and queued: (items in the orders table, items in the cancellations table, messages on the KCI queue)."""
    dynamodb, sqs = stack.client("dynamodb"), stack.client("sqs")

    def measure() -> tuple[int, int, int]:
        orders = dynamodb.scan(TableName=stack.resources.tables["OrdersTable"], Select="COUNT")["Count"]
        cancellations = dynamodb.scan(TableName=stack.resources.tables["CancellationsTable"], Select="COUNT")["Count"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.resources.queue_urls["KciQueue"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return orders, cancellations, sum(int(value) for value in attributes.values())

    return measure


def refused(post, footprint, body, status: int, field: str, raw: str | None = None) -> list[str]:
    before = footprint()
    answer = post(body, raw)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["code"] == ("MALFORMED_REQUEST" if status == 400 else "INVALID_REQUEST")
    assert any(field in message for message in error["messages"]), error
    assert footprint() == before, "nothing queued, nothing stored"
    return error["messages"]


@pytest.mark.parametrize(("extra", "field"), [
    ({"note": 12345678901234567890123456789012345678901}, "provideServiceOrder.note"),
    ({"address": {"easting": 1e200}}, "provideServiceOrder.address.easting"),
    ({"address": {"easting": -1e200}}, "provideServiceOrder.address.easting"),
    ({"charges": [1, 1e-200]}, "provideServiceOrder.charges[1]"),
])
def test_numbers_dynamodb_cannot_hold_are_400(post, footprint, extra, field):
    refused(post, footprint, kci(**extra), 400, field)


def test_an_overflowing_json_number_is_400(post, footprint):
    body = kci()
    raw = json.dumps(body).replace('"status": "IN_PROGRESS"', '"status": "IN_PROGRESS", "n": 1e400')
    refused(post, footprint, None, 400, "provideServiceOrder.n", raw=raw)


@pytest.mark.parametrize("issued_on", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_timestamps_that_overflow_when_normalised_are_400(post, footprint, issued_on):
    refused(post, footprint, {**kci(), "issuedOn": issued_on}, 400, "issuedOn")


@pytest.mark.parametrize(("extra", "field"), [
    ({"": "empty key"}, "provideServiceOrder"),
    ({"address": {"": 1}}, "provideServiceOrder.address"),
    ({"k" * 101: 1}, "provideServiceOrder"),
    ({"a\u0001b": 1}, "provideServiceOrder"),
    ({"contacts": [{"x\ny": 1}]}, "provideServiceOrder.contacts[0]"),
])
def test_empty_over_long_or_control_character_keys_are_400(post, footprint, extra, field):
    messages = refused(post, footprint, kci(**extra), 400, "Invalid field name in " + field)
    assert messages


def test_extras_deeper_than_the_documented_depth_are_400(post, footprint):
    nested: dict = {"leaf": 1}
    for _ in range(9):
        nested = {"n": nested}
    refused(post, footprint, kci(deep=nested), 400, "nested more than 8 levels")
    shallow: dict = {"leaf": 1}
    for _ in range(7):
        shallow = {"n": shallow}
    before = footprint()
    assert post(kci(deep=shallow)).status_code == 204
    assert footprint()[2] == before[2] + 1


def test_extras_larger_than_the_documented_size_are_400(post, footprint):
    refused(post, footprint, kci(notes="x" * (33 * 1024)), 400, "bytes of JSON")


def test_a_cancellation_id_not_of_this_order_answers_as_an_unknown_one(http, stack, post, footprint, token_for):
    # TENANT2 cancels its order 2001 (also DUMMY_SUPPLIER's): that cancellation exists, but is not order 1001's.
    answer = http.post(f"{stack.base_url}/service-order-cancellations", timeout=10,
                       json={"orderId": 2001, "reasonCode": "CUSTOMER_CHANGED_MIND"},
                       headers={"Authorization": f"Bearer {token_for('TENANT2')}", "X-Request-ID": str(uuid.uuid4()),
                                "X-Conversation-ID": "c"})
    assert answer.status_code == 201, answer.text
    others = answer.json()["id"]
    unknown = others + 100000

    def body(cancellation_id: int) -> dict:
        return {**kci(reason_code="CANCELLATION_REJECTED"), "serviceOrderCancellationId": cancellation_id, "text": "no"}

    other_messages = refused(post, footprint, body(others), 422, "serviceOrderCancellationId")
    unknown_messages = refused(post, footprint, body(unknown), 422, "serviceOrderCancellationId")
    # The same answer either way (no existence leak): only the id the supplier sent differs.
    assert [re.sub(r"\b\d+\b", "N", m) for m in other_messages] == [re.sub(r"\b\d+\b", "N", m) for m in unknown_messages]


def test_a_kci_id_used_by_a_different_kci_on_any_order_is_422_and_the_same_kci_twice_is_204(post, footprint):
    first = kci(ORDER, 2, "COMMITTED")
    before = footprint()
    assert post(first).status_code == 204
    assert post(first).status_code == 204  # a retry: accepted again, a no-op for the processor
    assert footprint()[2] == before[2] + 2

    other_order = {**kci(1003), "id": first["id"]}
    other_order["modifyServiceOrder"] = other_order.pop("provideServiceOrder")
    refused(post, footprint, other_order, 422, "Invalid value for field id")
    refused(post, footprint, {**first, "sequenceNumber": 3}, 422, "Invalid value for field id")
