"""POST /kcis (Supplier Updates API 1.8) through SupplierUpdatesApiFunction: domain.md section 3 and the
error contract of section 1 (error body {uuid, code, messages}; messages name the field).

Decisions: a token of a client not registered as a supplier or tenant gets 403 (like a tenant token: the
token is valid, the client may not use this API); X-Conversation-ID is optional but, when sent, must follow
the same rule as X-Request-ID (1 to 255 visible ASCII characters). CANCELLATION_REJECTED without
serviceOrderCancellationId is malformed (400): domain.md makes the id "required when the KCI answers a tenant's
cancellation", which a rejection always does; accepting it would leave the tenant's cancellation open forever
while the supplier believes it delivered the rejection.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fibre_cafe.models.kci import SupplierKci
from local_stack.proxy_events import claims_for, proxy_event
from testing.events import make_kci
from testing.lambda_context import lambda_context
from testing.lifecycle import api_call

ORDER_ID = 123
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def assert_error(body: dict, code: str) -> None:
    assert set(body) == {"uuid", "code", "messages"}
    assert body["code"] == code
    uuid.UUID(body["uuid"])
    assert body["messages"] and all(isinstance(m, str) and m for m in body["messages"])


def queued_kcis(lifecycle) -> list[dict]:
    answer = lifecycle.sqs.receive_message(QueueUrl=lifecycle.queue("KciQueue"), MaxNumberOfMessages=10,
                                           MessageAttributeNames=["All"], VisibilityTimeout=0)
    return answer.get("Messages", [])


def post_raw(lifecycle, body: str | None, *, client: str | None = "DUMMY_SUPPLIER", headers: dict | None = None) -> tuple[int, dict | None]:
    all_headers = {"Content-Type": "application/json", "X-Request-ID": str(uuid.uuid4()), **(headers or {})}
    all_headers = {k: v for k, v in all_headers.items() if v is not None}
    event = proxy_event("POST", "/kcis", headers=all_headers, body=body, claims=claims_for(client) if client else None)
    answer = lifecycle.updates_api.lambda_handler(event, lambda_context())
    return answer["statusCode"], (json.loads(answer["body"]) if answer.get("body") else None)


# --------------------------------------------------------------------------------------------- who may call


def test_a_tenant_token_is_refused_with_403(lifecycle):
    status, body = lifecycle.post_kci(make_kci(ORDER_ID), supplier="TENANT1")
    assert status == 403
    assert_error(body, "NOT_AUTHORISED")
    assert queued_kcis(lifecycle) == []


def test_no_token_is_refused_with_401(lifecycle):
    status, body = post_raw(lifecycle, json.dumps(make_kci(ORDER_ID)), client=None)
    assert status == 401
    assert_error(body, "NOT_AUTHORISED")


def test_an_unregistered_client_is_refused_with_403(lifecycle):
    status, body = post_raw(lifecycle, json.dumps(make_kci(ORDER_ID)), client="SOMEONE_ELSE")
    assert status == 403
    assert_error(body, "NOT_AUTHORISED")


# --------------------------------------------------------------------------------------------- headers


def test_x_request_id_is_required(lifecycle):
    status, body = post_raw(lifecycle, json.dumps(make_kci(ORDER_ID)), headers={"X-Request-ID": None})
    assert status == 400
    assert_error(body, "MALFORMED_REQUEST")
    assert body["messages"] == ["Missing required header X-Request-ID"]
    assert queued_kcis(lifecycle) == []


@pytest.mark.parametrize("value", ["", "has space", "x" * 256, "caf\u00e9"], ids=["empty", "space", "too-long", "non-ascii"])
def test_an_invalid_x_request_id_is_malformed(lifecycle, value):
    status, body = post_raw(lifecycle, json.dumps(make_kci(ORDER_ID)), headers={"X-Request-ID": value})
    assert status == 400
    assert_error(body, "MALFORMED_REQUEST")
    assert any("X-Request-ID" in message for message in body["messages"])


def test_x_conversation_id_is_optional_and_carried_when_sent(lifecycle):
    assert post_raw(lifecycle, json.dumps(make_kci(ORDER_ID, 1)))[0] == 204  # no X-Conversation-ID
    assert lifecycle.post_kci(make_kci(ORDER_ID, 2), headers={"X-Conversation-ID": "journey-7"})[0] == 204

    envelopes = sorted((json.loads(m["Body"]) for m in queued_kcis(lifecycle)), key=lambda e: e["kci"]["sequenceNumber"])
    assert [e.get("conversationId") for e in envelopes] == [None, "journey-7"]


# --------------------------------------------------------------------------------------------- schema problems: 400


def without(body: dict, *fields: str) -> dict:
    return {k: v for k, v in body.items() if k not in fields}


BASE = make_kci(ORDER_ID, 1, "ACKNOWLEDGED", kci_id="1150e313-3020-49f3-ace3-f8aacfeec4e3")
ENTITY = BASE["provideServiceOrder"]

SCHEMA_PROBLEMS = {
    "id-not-a-uuid": ({**BASE, "id": "1150e313-3020-49f3"}, "id"),
    "id-missing": (without(BASE, "id"), "id"),
    "sequence-zero": ({**BASE, "sequenceNumber": 0}, "sequenceNumber"),
    "sequence-fraction": ({**BASE, "sequenceNumber": 1.5}, "sequenceNumber"),
    "sequence-string": ({**BASE, "sequenceNumber": "1"}, "sequenceNumber"),
    "sequence-boolean": ({**BASE, "sequenceNumber": True}, "sequenceNumber"),
    "sequence-missing": (without(BASE, "sequenceNumber"), "sequenceNumber"),
    "issued-without-zone": ({**BASE, "issuedOn": "2024-04-10T09:53:39.144"}, "issuedOn"),
    "issued-malformed-date": ({**BASE, "issuedOn": "2024-04-012"}, "issuedOn"),
    "issued-not-a-date": ({**BASE, "issuedOn": "yesterday"}, "issuedOn"),
    "reason-unknown": ({**BASE, "reasonCode": "CANCELLATION_ACCEPTED"}, "reasonCode"),
    "reason-missing": (without(BASE, "reasonCode"), "reasonCode"),
    "no-order-entity": (without(BASE, "provideServiceOrder"), "provideServiceOrder"),
    "two-order-entities": ({**BASE, "ceaseServiceOrder": ENTITY}, "ceaseServiceOrder"),
    "cancelled-without-problem-code": ({**BASE, "reasonCode": "CANCELLED"}, "problemCode"),
    "cancellation-rejected-without-id": ({**BASE, "reasonCode": "CANCELLATION_REJECTED", "text": "no"}, "serviceOrderCancellationId"),
    "unknown-top-level-field": ({**BASE, "deliveredOn": "2024-04-10T09:53:39.144Z"}, "deliveredOn"),
    "entity-without-id": ({**BASE, "provideServiceOrder": without(ENTITY, "id")}, "provideServiceOrder.id"),
    "entity-without-tenant": ({**BASE, "provideServiceOrder": without(ENTITY, "tenant")}, "provideServiceOrder.tenant"),
    "entity-without-status": ({**BASE, "provideServiceOrder": without(ENTITY, "status")}, "provideServiceOrder.status"),
    "cancellation-id-string": ({**BASE, "serviceOrderCancellationId": "234"}, "serviceOrderCancellationId"),
    "supplier-codes-not-a-list": ({**BASE, "supplierCodes": "C1"}, "supplierCodes"),
}


@pytest.mark.parametrize(("body", "field"), list(SCHEMA_PROBLEMS.values()), ids=list(SCHEMA_PROBLEMS))
def test_schema_problems_are_400_malformed_request_naming_the_field(lifecycle, body, field):
    status, answer = lifecycle.post_kci(body)

    assert status == 400, answer
    assert_error(answer, "MALFORMED_REQUEST")
    assert any(field in message for message in answer["messages"]), answer["messages"]
    assert queued_kcis(lifecycle) == []


def test_every_schema_problem_is_listed(lifecycle):
    body = {**BASE, "id": "nope", "sequenceNumber": 0, "reasonCode": "NOPE", "extra": 1}

    status, answer = lifecycle.post_kci(body)

    assert status == 400
    for field in ("id", "sequenceNumber", "reasonCode", "extra"):
        assert any(field in message for message in answer["messages"]), (field, answer["messages"])


@pytest.mark.parametrize("raw", ["{not json", "[]", '"text"', "", '{"id": 1, "id": 2}'],
                         ids=["not-json", "array", "string", "empty", "duplicate-key"])
def test_a_body_that_is_not_a_json_object_is_malformed(lifecycle, raw):
    status, answer = post_raw(lifecycle, raw)
    assert status == 400
    assert_error(answer, "MALFORMED_REQUEST")


def test_the_accepted_values_are_named_for_an_unknown_reason_code(lifecycle):
    status, answer = lifecycle.post_kci({**BASE, "reasonCode": "CANCELLATION_ACCEPTED"})
    assert status == 400
    [message] = answer["messages"]
    assert message.startswith("Invalid value for field reasonCode - accepted values are ")
    assert "CANCELLATION_REJECTED" in message and "ACKNOWLEDGED" in message


# --------------------------------------------------------------------------------------------- rule problems: 422


@pytest.mark.parametrize(("kci_fields", "why"), [
    ({"supplier": "FIBRECO"}, "entity names another supplier"),
    ({"order_id": 500}, "order of another supplier"),
    ({"tenant": "TENANT2"}, "order of another tenant"),
    ({"order_type": "CEASE"}, "order of another type"),
], ids=["entity-supplier", "other-supplier", "other-tenant", "other-type"])
def test_rule_problems_are_422_invalid_request_and_nothing_is_queued(lifecycle, kci_fields, why):
    lifecycle.register_order(ORDER_ID, supplier="DUMMY_SUPPLIER", tenant="TENANT1", order_type="PROVIDE")
    lifecycle.register_order(500, supplier="FIBRECO", tenant="TENANT1", order_type="PROVIDE")
    order_id = kci_fields.pop("order_id", ORDER_ID)

    status, body = lifecycle.post_kci(make_kci(order_id, 2, "UPDATE", **kci_fields), supplier="DUMMY_SUPPLIER")

    assert status == 422, why
    assert_error(body, "INVALID_REQUEST")
    assert queued_kcis(lifecycle) == []


# --------------------------------------------------------------------------------------------- accepted: 204


def test_an_accepted_kci_is_204_with_no_body_and_queued_with_who_sent_it_and_when(lifecycle):
    kci = make_kci(ORDER_ID, 1, "ACKNOWLEDGED", supplier_order_reference="FC123", appointmentReservationId=23456)
    request_id = f"supplier-req-{uuid.uuid4()}"
    event = proxy_event("POST", "/kcis", headers={"Content-Type": "application/json", "X-Request-ID": request_id,
                                                  "X-Conversation-ID": "conv-9"},
                        body=json.dumps(kci), claims=claims_for("FIBRECO"))

    answer = lifecycle.updates_api.lambda_handler(event, lambda_context())

    assert answer["statusCode"] == 204
    assert not answer.get("body")
    headers = {k: v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items() if v} | (answer.get("headers") or {})
    assert headers.get("X-Request-ID") == request_id
    [message] = queued_kcis(lifecycle)
    envelope = json.loads(message["Body"])
    assert set(envelope) >= {"supplier", "receivedOn", "requestId", "conversationId", "kci"}
    assert envelope["supplier"] == "FIBRECO"  # from the token, not from the body
    assert envelope["requestId"] == request_id and envelope["conversationId"] == "conv-9"
    received = datetime.fromisoformat(envelope["receivedOn"].replace("Z", "+00:00"))
    assert received.tzinfo is not None and abs(datetime.now(UTC) - received) < timedelta(minutes=1)
    assert envelope["kci"] == SupplierKci.model_validate(kci).model_dump(mode="json", exclude_none=True)
    assert message["MessageAttributes"]["supplier"]["StringValue"] == "FIBRECO"
    assert lifecycle.order(ORDER_ID) is None  # only queued: the processor applies it


def test_a_kci_for_an_unknown_order_is_accepted(lifecycle):
    """The registry is fed by KCIs: an order the gateway does not know yet is not an error at ingest."""
    assert lifecycle.post_kci(make_kci(98765, 1, "ACKNOWLEDGED"))[0] == 204
    assert len(queued_kcis(lifecycle)) == 1


def test_the_documented_example_in_domain_md_is_accepted(lifecycle):
    example = {"id": "1150e313-3020-49f3-ace3-f8aacfeec4e3", "sequenceNumber": 1, "issuedOn": "2024-04-10T09:53:39.144Z",
               "reasonCode": "ACKNOWLEDGED",
               "provideServiceOrder": {"id": 12345, "tenant": "TENANT1", "supplierOrderReference": "FC123", "status": "ACKNOWLEDGED",
                                       "address": {"id": "10002429380", "type": "UPRN"},
                                       "serviceOrderItem": {"serviceSpecification": {"id": "FTTP"},
                                                            "serviceCharacteristics": [{"name": "LINE_PROFILE", "value": "1"}]},
                                       "primaryContact": {"name": "John Smith", "phoneNumber": "01234 567890"},
                                       "appointmentReservationId": 23456}}
    status, body = api_call(lifecycle.updates_api, "POST", "/kcis", client="DUMMY_SUPPLIER", body=example)
    assert (status, body) == (204, None)
