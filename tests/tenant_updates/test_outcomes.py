"""Every cancellation outcome and every applied supplier KCI becomes the right tenant KCI (issue 7, items 1-2).

Driven through the real handlers: TenantApiFunction (create), SupplierDispatcherFunction against the scripted
supplier stub, SupplierUpdatesApiFunction + KciProcessorFunction for supplier KCIs, ForwardingSweeperFunction
and RedriveFunction. Each test checks the outbox item written with the change (orders table,
``TENANT_KCI#<seq>``), then what TenantKciRelayFunction puts on the FIFO queue from the table's stream.

| change                                                  | tenant KCI                                           |
|---------------------------------------------------------|------------------------------------------------------|
| supplier 201, or KCI CANCELLED naming the cancellation  | INFORMATIONAL, information.type CANCELLED            |
| supplier 422, or KCI CANCELLATION_REJECTED              | ACTION_REQUIRED, RESUBMIT, the supplier's reason     |
| supplier 401/403, 5xx/timeouts spent, sweeper gives up  | ERROR, error {uuid, code, messages}                  |
| any other applied supplier KCI                          | INFORMATIONAL, information.type = its reasonCode     |
| duplicate KCI, supplier 202 (PENDING), retried attempts | nothing                                              |

Decision (the issue is silent): an ERROR tenant KCI carries ``information.type`` FAILED_TO_SEND, the status the
tenant can also read with GET /service-order-cancellations/{id}; what the tenant must act on is ``error``.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fibre_cafe.clock import utc_now
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.logic import forwarding_sweeper
from fibre_cafe.logic.apply_kci import ApplyKci
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.kci import KciEnvelope
from fibre_cafe.models.tenant_kci import TenantKci, TenantKciMessage
from testing.events import make_kci
from testing.lambda_context import lambda_context
from testing.lifecycle import TENANT

DOCS_EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "docs_examples"
ORDER_ID = 123
CONVERSATION = "conv-tenant-original"
DOCUMENTED_201 = json.loads((DOCS_EXAMPLES / "supplier-cancel-response-201.json").read_text())
SUPPLIER_422 = json.dumps({"uuid": "d48e1fee-095a-478e-b453-858c76254d49", "code": "INVALID_REQUEST",
                           "messages": ["UPRN 100000001 is not within our coverage area"]})
REASON_CODES = {
    "PROVIDE": "CUSTOMER_CHANGED_MIND",
    "MODIFY": "NO_LONGER_REQUIRED",
    "CEASE": "OTHER",
    "UNSOLICITED_CEASE": "NO_AUTHORISATION",
}
ENTITY_TYPES = {
    "PROVIDE": "PROVIDE_ORDER",
    "MODIFY": "MODIFY_ORDER",
    "CEASE": "CEASE_ORDER",
    "UNSOLICITED_CEASE": "UNSOLICITED_CEASE_ORDER",
}


# --------------------------------------------------------------------------------------------- helpers


def cancel(world, order_id: int = ORDER_ID, *, order_type: str = "PROVIDE", **kwargs) -> int:
    body = world.cancel_ok(order_id, reason_code=REASON_CODES[order_type], headers={"X-Conversation-ID": CONVERSATION}, **kwargs)
    return body["id"]


def supplier_answers(world, supplier_stub, *answers) -> None:
    """The dispatcher sends the queued cancellation; the supplier answers each attempt in turn (backoffs elapse)."""
    supplier_stub.answers.extend(answers)
    for _ in answers:
        event, result = world.dispatch()
        assert event["Records"], "nothing to dispatch"
        if result["batchItemFailures"]:
            world.make_visible(event)


def post_kcis(world, *kcis: dict) -> None:
    for kci in kcis:
        status, body = world.post_kci(kci)
        assert status == 204, body
    assert world.process_kcis() == {"batchItemFailures": []}


def pending(world, supplier_stub, order_id: int = ORDER_ID) -> int:
    """An order known from its supplier's ACKNOWLEDGED KCI (tenant KCI 1), cancelled, the supplier answering 202."""
    world.register_order_by_kci(order_id)
    cancellation_id = cancel(world, order_id)
    supplier_answers(world, supplier_stub, (202, "", 0))
    assert world.cancellation(cancellation_id).status is CancellationStatus.PENDING
    return cancellation_id


def tenant_view(world, cancellation_id: int) -> dict:
    """The cancellation as the tenant reads it (GET /service-order-cancellations/{id}), without ``error`` (the
    tenant KCI carries it beside the cancellation; see assert_get_shows_the_kcis_error)."""
    status, body = world.get(cancellation_id)
    assert status == 200, body
    body.pop("error", None)
    return body


def assert_get_shows_the_kcis_error(world, cancellation_id: int, kci: dict) -> None:
    """Issue 10 item 5: GET shows, for REJECTED and FAILED_TO_SEND, the error the tenant KCI carries."""
    status, body = world.get(cancellation_id)
    assert status == 200, body
    assert body["error"] == kci["error"] and body["error"]["messages"]


def relayed(world) -> list[dict]:
    """Run the relay on the stream so far; what it put on the FIFO queue, in order."""
    event, result = world.relay()
    assert result == {"batchItemFailures": []}
    return world.queued_tenant_kcis()


def assert_envelope(kci: dict, *, sequence: int, from_supplier: bool, order_id: int = ORDER_ID) -> TenantKci:
    """The envelope fields every tenant KCI has (Tenant Updates API 1.14); issuedOn and receivedOn exactly when the
    KCI came from a supplier; deliveredOn only at delivery, so never in the outbox or on the queue."""
    model = TenantKci.model_validate(kci)
    assert uuid.UUID(kci["id"]).version == 4
    assert kci["supplier"] == "DUMMY_SUPPLIER"
    assert kci["sequenceNumber"] == sequence
    assert "deliveredOn" not in kci
    if from_supplier:
        assert kci["issuedOn"] == "2024-04-10T09:53:39.144Z"  # the supplier KCI's issuedOn (make_kci)
        assert kci["receivedOn"].endswith("Z")
    else:
        assert "issuedOn" not in kci and "receivedOn" not in kci
    assert kci["entity"]["id"] == order_id and kci["entity"]["supplier"] == "DUMMY_SUPPLIER"
    return model


def assert_queued_like_outbox(world, queued: list[dict], order_id: int = ORDER_ID, conversation: str | None = CONVERSATION) -> None:
    """The relay queued each new outbox item unchanged, grouped by tenant#order, deduplicated on the KCI id."""
    items = world.outbox.list(order_id)
    assert [message["body"]["kci"] for message in queued] == [item["kci"] for item in items[-len(queued):]]
    for message in queued:
        TenantKciMessage.model_validate(message["body"])
        assert message["group"] == f"{TENANT}#{order_id}"
        assert message["dedup"] == message["body"]["kci"]["id"]
        assert message["body"]["tenant"] == TENANT and message["body"]["orderId"] == order_id
    if conversation is not None:
        assert queued[-1]["body"]["conversationId"] == conversation


# --------------------------------------------------------------------------------------------- accepted


def test_a_synchronous_201_tells_the_tenant_cancelled_with_the_completed_cancellation(world, supplier_stub):
    world.register_order_by_kci(ORDER_ID)
    cancellation_id = cancel(world, text="Delivery too long")
    assert len(world.tenant_kcis(ORDER_ID)) == 1  # the ACKNOWLEDGED KCI; creating the cancellation tells nothing new

    supplier_answers(world, supplier_stub, (201, json.dumps({**DOCUMENTED_201, "id": cancellation_id, "orderId": ORDER_ID}), 0))

    kcis = world.tenant_kcis(ORDER_ID)
    assert len(kcis) == 2
    kci = kcis[1]
    assert_envelope(kci, sequence=2, from_supplier=False)
    assert kci["updateType"] == "INFORMATIONAL" and kci["information"] == {"type": "CANCELLED"}
    assert kci["entityType"] == "PROVIDE_ORDER"
    entity = kci["entity"]
    assert entity["status"] == "CANCELLED" and entity["supplierOrderReference"] == "FC123"
    cancellation = tenant_view(world, cancellation_id)
    assert cancellation["status"] == "COMPLETED" and cancellation["supplierReference"] == "A123-1"
    assert entity["serviceOrderCancellation"] == cancellation
    assert "error" not in kci

    queued = relayed(world)
    assert len(queued) == 2
    assert_queued_like_outbox(world, queued)


def test_a_kci_cancelled_naming_the_cancellation_tells_the_tenant_cancelled(world, supplier_stub):
    cancellation_id = pending(world, supplier_stub)
    assert len(world.tenant_kcis(ORDER_ID)) == 1, "a 202 (PENDING) is not reported"

    post_kcis(world, make_kci(ORDER_ID, 2, "CANCELLED", cancellation_id=cancellation_id, text="Cancelled as requested"))

    kci = world.tenant_kcis(ORDER_ID)[-1]
    assert_envelope(kci, sequence=2, from_supplier=True)
    assert kci["updateType"] == "INFORMATIONAL" and kci["information"]["type"] == "CANCELLED"
    assert kci["entity"]["status"] == "CANCELLED"
    cancellation = tenant_view(world, cancellation_id)
    assert cancellation["status"] == "COMPLETED"
    assert kci["entity"]["serviceOrderCancellation"] == cancellation
    received_on = world.orders.history(ORDER_ID)[-1]["receivedOn"]
    assert kci["receivedOn"] == received_on

    queued = relayed(world)
    assert [message["body"]["kci"]["sequenceNumber"] for message in queued] == [1, 2]
    assert_queued_like_outbox(world, queued)


# --------------------------------------------------------------------------------------------- rejected


def test_a_synchronous_422_asks_the_tenant_to_resubmit_with_the_suppliers_reason(world, supplier_stub):
    world.register_order_by_kci(ORDER_ID)
    cancellation_id = cancel(world)

    supplier_answers(world, supplier_stub, (422, SUPPLIER_422, 0))

    kci = world.tenant_kcis(ORDER_ID)[-1]
    assert_envelope(kci, sequence=2, from_supplier=False)
    assert kci["updateType"] == "ACTION_REQUIRED" and kci["information"]["type"] == "RESUBMIT"
    assert "UPRN 100000001 is not within our coverage area" in kci["information"]["text"]
    assert "UPRN 100000001 is not within our coverage area" in kci["text"]
    cancellation = tenant_view(world, cancellation_id)
    assert cancellation["status"] == "REJECTED"
    assert kci["entity"]["serviceOrderCancellation"] == cancellation
    assert kci["entity"]["status"] == "ACKNOWLEDGED"  # the order is no longer pending cancellation
    assert kci["error"]["code"] == "INVALID_REQUEST"
    assert_get_shows_the_kcis_error(world, cancellation_id, kci)
    assert_queued_like_outbox(world, relayed(world))


def test_a_kci_cancellation_rejected_asks_the_tenant_to_resubmit_with_the_suppliers_reason(world, supplier_stub):
    cancellation_id = pending(world, supplier_stub)

    post_kcis(world, make_kci(ORDER_ID, 2, "CANCELLATION_REJECTED", status="IN_PROGRESS", cancellation_id=cancellation_id,
                              text="Engineer already on site", problem_code="TOO_LATE"))

    kci = world.tenant_kcis(ORDER_ID)[-1]
    assert_envelope(kci, sequence=2, from_supplier=True)
    assert kci["updateType"] == "ACTION_REQUIRED" and kci["information"]["type"] == "RESUBMIT"
    assert "Engineer already on site" in kci["information"]["text"] and "Engineer already on site" in kci["text"]
    assert kci["entity"]["status"] == "IN_PROGRESS"
    assert kci["entity"]["serviceOrderCancellation"] == tenant_view(world, cancellation_id)
    assert kci["entity"]["serviceOrderCancellation"]["status"] == "REJECTED"
    assert kci["error"]["code"] == "INVALID_REQUEST" and "Engineer already on site" in kci["error"]["messages"][0]
    assert_get_shows_the_kcis_error(world, cancellation_id, kci)
    assert_queued_like_outbox(world, relayed(world))


# --------------------------------------------------------------------------------------------- unreachable


SUPPLIER_SLOW_SECONDS = 2.5


def slow_supplier(world) -> None:
    """The dispatcher gives up on a supplier answer after 0.5 s (the stub's slow answers take 2.5 s)."""
    world.dispatcher.deps.dispatch.supplier_api.timeout = (2.0, 0.5)


UNREACHABLE = {
    # name: (supplier answers, one per attempt; error code)
    "401 at once": ([(401, "", 0)], "SUPPLIER_FAULT"),
    "403 at once": ([(403, "", 0)], "SUPPLIER_FAULT"),
    "5xx until the attempts are spent": ([(503, "", 0), (500, "", 0), (502, "", 0)], "SUPPLIER_FAULT"),
    "timeouts until the attempts are spent": ([(201, "", SUPPLIER_SLOW_SECONDS)] * 3, "SUPPLIER_TIMED_OUT"),
}


@pytest.mark.parametrize("case", sorted(UNREACHABLE))
def test_an_unreachable_supplier_is_reported_as_an_error_once(world, supplier_stub, case):
    answers, code = UNREACHABLE[case]
    if code == "SUPPLIER_TIMED_OUT":
        slow_supplier(world)
    world.register_order_by_kci(ORDER_ID)
    cancellation_id = cancel(world)

    supplier_answers(world, supplier_stub, *answers)

    assert len(supplier_stub.requests) == len(answers)
    record = world.cancellation(cancellation_id)
    assert record.status is CancellationStatus.FAILED_TO_SEND
    kcis = world.tenant_kcis(ORDER_ID)
    assert len(kcis) == 2, "one ERROR KCI, none for the attempts in between"
    kci = kcis[1]
    assert_envelope(kci, sequence=2, from_supplier=False)
    assert kci["updateType"] == "ERROR"
    assert kci["error"] == {"uuid": record.error.uuid, "code": code, "messages": record.error.messages}
    assert uuid.UUID(kci["error"]["uuid"]) and kci["error"]["messages"]
    assert kci["information"]["type"] == "FAILED_TO_SEND"
    assert kci["entity"]["serviceOrderCancellation"] == tenant_view(world, cancellation_id)
    assert kci["entity"]["serviceOrderCancellation"]["status"] == "FAILED_TO_SEND"
    assert_get_shows_the_kcis_error(world, cancellation_id, kci)
    assert_queued_like_outbox(world, relayed(world))


def sweep_at(world, monkeypatch, minutes_from_now: float) -> dict:
    later = utc_now() + timedelta(minutes=minutes_from_now)
    monkeypatch.setattr(world.sweeper.deps(), "clock", lambda: later)
    return world.sweeper.lambda_handler({}, lambda_context())


def test_the_sweeper_giving_up_tells_the_tenant_gateway_fault(world, supplier_stub, monkeypatch):
    from testing.faults import fail_calls

    world.register_order(ORDER_ID)  # registered by the gateway: no supplier KCI, so the ERROR is tenant KCI 1
    lost = fail_calls(world.tenant_api.deps.create_cancellation.queue.client, "SendMessage", "InternalFailure", 500)
    cancellation_id = cancel(world)
    lost()
    queue_down = fail_calls(world.sweeper.deps.queue.client, "SendMessage", "InternalFailure", 500)
    for sweep_number in range(1, forwarding_sweeper.DEFAULT_MAX_ATTEMPTS + 1):
        assert sweep_at(world, monkeypatch, 3 * sweep_number)["failed_to_send"] == []
    assert world.tenant_kcis(ORDER_ID) == [], "nothing to tell while the sweeper still tries"

    report = sweep_at(world, monkeypatch, 3 * (forwarding_sweeper.DEFAULT_MAX_ATTEMPTS + 1))
    queue_down()

    assert report["failed_to_send"] == [cancellation_id]
    record = world.cancellation(cancellation_id)
    [kci] = world.tenant_kcis(ORDER_ID)
    assert_envelope(kci, sequence=1, from_supplier=False)
    assert kci["updateType"] == "ERROR"
    assert kci["error"] == {"uuid": record.error.uuid, "code": "GATEWAY_FAULT", "messages": record.error.messages}
    assert kci["entity"]["serviceOrderCancellation"]["status"] == "FAILED_TO_SEND"
    assert_queued_like_outbox(world, relayed(world))


# --------------------------------------------------------------------------------------------- other supplier KCIs


@pytest.mark.parametrize("reason_code, status", [("ACKNOWLEDGED", "ACKNOWLEDGED"), ("COMMITTED", "IN_PROGRESS"), ("DELAY", "HELD")])
def test_other_applied_supplier_kcis_are_relayed_as_informational_with_the_suppliers_reason(world, reason_code, status):
    kci_body = make_kci(ORDER_ID, 1, reason_code, status=status, text=f"{reason_code} from the supplier",
                        address={"id": "10002429380", "type": "UPRN"}, appointmentReservationId=23456)

    post_kcis(world, kci_body)

    [kci] = world.tenant_kcis(ORDER_ID)
    assert_envelope(kci, sequence=1, from_supplier=True)
    assert kci["updateType"] == "INFORMATIONAL"
    assert kci["information"] == {"type": reason_code, "text": f"{reason_code} from the supplier"}
    assert kci["entityType"] == "PROVIDE_ORDER"
    entity = kci["entity"]
    assert entity["status"] == status and entity["supplier"] == "DUMMY_SUPPLIER"
    assert entity["address"] == {"id": "10002429380", "type": "UPRN"} and entity["appointmentReservationId"] == 23456
    assert "serviceOrderCancellation" not in entity, "no cancellation in question"
    queued = relayed(world)
    assert_queued_like_outbox(world, queued, conversation=None)
    assert queued[0]["body"]["conversationId"]


def test_a_supplier_kci_while_a_cancellation_is_open_shows_it_and_carries_the_tenants_conversation(world, supplier_stub):
    cancellation_id = pending(world, supplier_stub)

    post_kcis(world, make_kci(ORDER_ID, 2, "DELAY", status="HELD", text="Awaiting a decision"))

    kci = world.tenant_kcis(ORDER_ID)[-1]
    assert_envelope(kci, sequence=2, from_supplier=True)
    assert kci["updateType"] == "INFORMATIONAL" and kci["information"]["type"] == "DELAY"
    assert kci["entity"]["status"] == "PENDING_CANCELLATION"
    assert kci["entity"]["serviceOrderCancellation"] == tenant_view(world, cancellation_id)
    assert kci["entity"]["serviceOrderCancellation"]["status"] == "PENDING"
    assert_queued_like_outbox(world, relayed(world))


def test_a_supplier_kci_about_a_cancellation_already_decided_shows_that_cancellation(world, supplier_stub):
    """The supplier answered 201, then sends its CANCELLED KCI naming the same cancellation (suppliers do both).
    The KCI changes nothing more, but it is a new supplier KCI, so it is relayed (INFORMATIONAL CANCELLED); its
    entity carries the cancellation it is about, and it continues the tenant's conversation."""
    world.register_order_by_kci(ORDER_ID)
    cancellation_id = cancel(world)
    supplier_answers(world, supplier_stub, (201, "", 0))

    post_kcis(world, make_kci(ORDER_ID, 2, "CANCELLED", cancellation_id=cancellation_id))

    kcis = world.tenant_kcis(ORDER_ID)
    assert [(kci["sequenceNumber"], kci["information"]["type"]) for kci in kcis] == [
        (1, "ACKNOWLEDGED"),
        (2, "CANCELLED"),
        (3, "CANCELLED"),
    ]
    kci = kcis[2]
    assert_envelope(kci, sequence=3, from_supplier=True)
    assert kci["entity"]["status"] == "CANCELLED"
    assert kci["entity"]["serviceOrderCancellation"] == tenant_view(world, cancellation_id)
    assert kci["entity"]["serviceOrderCancellation"]["status"] == "COMPLETED"
    queued = relayed(world)
    assert_queued_like_outbox(world, queued)  # conversationId: the tenant's


# --------------------------------------------------------------------------------------------- nothing new, nothing told


def test_a_duplicate_supplier_kci_tells_the_tenant_nothing(world, supplier_stub):
    cancellation_id = pending(world, supplier_stub)
    committed = make_kci(ORDER_ID, 2, "COMMITTED", status="IN_PROGRESS")
    cancelled = make_kci(ORDER_ID, 3, "CANCELLED", cancellation_id=cancellation_id)
    post_kcis(world, committed, cancelled)
    assert [kci["sequenceNumber"] for kci in world.tenant_kcis(ORDER_ID)] == [1, 2, 3]
    assert len(relayed(world)) == 3

    post_kcis(world, committed, cancelled, committed)  # suppliers and queues retry

    assert [kci["sequenceNumber"] for kci in world.tenant_kcis(ORDER_ID)] == [1, 2, 3]
    assert relayed(world) == []


def test_a_202_and_the_retried_attempts_before_an_answer_tell_the_tenant_nothing(world, supplier_stub):
    world.register_order(ORDER_ID)
    cancel(world)

    supplier_answers(world, supplier_stub, (503, "", 0), (202, "", 0))

    assert world.tenant_kcis(ORDER_ID) == []
    assert relayed(world) == []


# --------------------------------------------------------------------------------------------- envelope


@pytest.mark.parametrize("order_type", sorted(ENTITY_TYPES))
def test_the_entity_type_follows_the_order_type(world, supplier_stub, order_type):
    world.register_order_by_kci(ORDER_ID, order_type=order_type)
    cancel(world, order_type=order_type)
    supplier_answers(world, supplier_stub, (201, "", 0))

    kcis = world.tenant_kcis(ORDER_ID)
    assert [kci["entityType"] for kci in kcis] == [ENTITY_TYPES[order_type]] * 2
    assert [kci["information"]["type"] for kci in kcis] == ["ACKNOWLEDGED", "CANCELLED"]


def test_sequence_numbers_are_shared_by_supplier_and_gateway_kcis_without_gaps_or_repeats(world, supplier_stub):
    """A long mix on one order: supplier KCIs, a duplicate, a 202, a rejection by KCI, a supplier outage, an operator
    redrive answered 201, and the supplier's late CANCELLED KCI for the cancellation already completed."""
    world.register_order_by_kci(ORDER_ID)                                                       # 1 supplier
    first = cancel(world)
    supplier_answers(world, supplier_stub, (202, "", 0))                                         # -
    committed = make_kci(ORDER_ID, 2, "COMMITTED", status="IN_PROGRESS")
    post_kcis(world, committed, committed)                                                      # 2 supplier, then a duplicate
    post_kcis(world, make_kci(ORDER_ID, 3, "CANCELLATION_REJECTED", status="IN_PROGRESS", cancellation_id=first,
                              text="Too late"))                                                 # 3 supplier
    second = cancel(world)
    supplier_answers(world, supplier_stub, (503, "", 0), (429, "", 0), (500, "", 0))           # 4 gateway (ERROR)
    assert world.redrive.lambda_handler({"action": "failed-to-send"}, lambda_context())["redriven"] == [second]
    supplier_answers(world, supplier_stub, (201, "", 0))                                         # 5 gateway
    post_kcis(world, make_kci(ORDER_ID, 4, "CANCELLED", cancellation_id=second))                 # 6 supplier (already decided)
    post_kcis(world, make_kci(ORDER_ID, 5, "COMPLETED", status="CANCELLED"))                     # 7 supplier

    kcis = world.tenant_kcis(ORDER_ID)
    assert [kci["sequenceNumber"] for kci in kcis] == [1, 2, 3, 4, 5, 6, 7]
    assert [kci["updateType"] for kci in kcis] == ["INFORMATIONAL", "INFORMATIONAL", "ACTION_REQUIRED", "ERROR",
                                                   "INFORMATIONAL", "INFORMATIONAL", "INFORMATIONAL"]
    assert [kci["information"]["type"] for kci in kcis] == ["ACKNOWLEDGED", "COMMITTED", "RESUBMIT", "FAILED_TO_SEND",
                                                           "CANCELLED", "CANCELLED", "COMPLETED"]
    assert ["issuedOn" in kci for kci in kcis] == [True, True, True, False, False, True, True]
    assert ["receivedOn" in kci for kci in kcis] == [True, True, True, False, False, True, True]
    assert len({kci["id"] for kci in kcis}) == 7
    assert [item["sk"] for item in world.outbox.list(ORDER_ID)] == [f"TENANT_KCI#{n:012d}" for n in range(1, 8)]
    assert world.order(ORDER_ID).tenantKciSequence == 7
    queued = relayed(world)
    assert [message["body"]["kci"]["sequenceNumber"] for message in queued] == [1, 2, 3, 4, 5, 6, 7]
    assert_queued_like_outbox(world, queued, conversation=None)


def test_a_kci_applied_while_the_supplier_call_is_in_flight_takes_the_next_sequence_number(world, supplier_stub):
    """The supplier's synchronous answer and a supplier KCI for the same order race: the KCI commits first (while
    the dispatcher waits for the supplier), so recording the answer finds the order changed, reads it again and
    takes the following number. Neither tenant KCI is lost or numbered twice."""
    world.register_order_by_kci(ORDER_ID)
    cancellation_id = cancel(world)
    dynamodb = boto3.client("dynamodb")
    apply_kci = ApplyKci(GatewayStore(dynamodb, CancellationsTable(dynamodb, world.aws.tables["CancellationsTable"]),
                                      OrdersTable(dynamodb, world.aws.tables["OrdersTable"])))
    racing = make_kci(ORDER_ID, 2, "COMMITTED", status="IN_PROGRESS")

    def kci_arrives(_request):
        apply_kci(KciEnvelope(supplier="DUMMY_SUPPLIER", receivedOn="2024-04-10T09:53:40.000Z", requestId="race",
                              conversationId="supplier-conv", kci=racing))

    supplier_stub.before_answer = kci_arrives
    supplier_answers(world, supplier_stub, (201, "", 0))

    kcis = world.tenant_kcis(ORDER_ID)
    assert [(kci["sequenceNumber"], kci["information"]["type"]) for kci in kcis] == [
        (1, "ACKNOWLEDGED"),
        (2, "COMMITTED"),
        (3, "CANCELLED"),
    ]
    assert kcis[2]["entity"]["serviceOrderCancellation"]["status"] == "COMPLETED"
    assert world.cancellation(cancellation_id).status is CancellationStatus.COMPLETED


# A random mix of what can happen to one order; each example uses its own order in the test's moto world.
STEPS = st.lists(st.sampled_from(["supplier-kci", "duplicate-kci", "cancel-201", "cancel-202", "cancel-422", "cancel-401",
                                  "kci-cancelled", "kci-rejected"]), min_size=2, max_size=7)
INFORMATIONAL_REASONS = ("ACKNOWLEDGED", "COMMITTED", "DELAY", "UPDATE", "INFORMATION_REQUIRED")
SUPPLIER_ANSWERS = {
    "cancel-201": (201, "", 0),
    "cancel-202": (202, "", 0),
    "cancel-422": (422, SUPPLIER_422, 0),
    "cancel-401": (401, "", 0),
}
TOLD = {"cancel-201": [("INFORMATIONAL", "CANCELLED")], "cancel-202": [], "cancel-422": [("ACTION_REQUIRED", "RESUBMIT")],
        "cancel-401": [("ERROR", "FAILED_TO_SEND")]}


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_any_mix_numbers_the_tenant_kcis_one_by_one_and_tells_exactly_what_happened(world, supplier_stub, steps):
    """Whatever the mix of supplier KCIs, duplicates and cancellation outcomes (a decision by KCI applies to the
    order's open cancellation, PENDING or FAILED_TO_SEND, after creating one answered 202 if there is none), the
    order's tenant KCIs are numbered 1..n without gaps or repeats and say exactly what happened, in order. A
    cancellation the Tenant API refuses (one is open, or the order is cancelled) tells nothing."""
    order_id = _next_order_id(world)
    world.register_order(order_id)  # at supplier sequence 1
    expected: list[tuple[str, str]] = []
    sequence, last_kci, open_id = 1, None, None

    def cancel_answered(step: str) -> None:
        nonlocal open_id
        status, body = world.cancel(order_id, headers={"X-Conversation-ID": CONVERSATION})
        if status != 201:
            assert status == 422, body
            return
        supplier_stub.answers.append(SUPPLIER_ANSWERS[step])
        assert world.dispatch()[1] == {"batchItemFailures": []}
        expected.extend(TOLD[step])
        open_id = body["id"] if step in ("cancel-202", "cancel-401") else None

    for step in steps:
        if step == "supplier-kci" or (step == "duplicate-kci" and last_kci is None):
            sequence += 1
            reason = INFORMATIONAL_REASONS[sequence % len(INFORMATIONAL_REASONS)]
            last_kci = make_kci(order_id, sequence, reason, status="IN_PROGRESS")
            post_kcis(world, last_kci)
            expected.append(("INFORMATIONAL", reason))
        elif step == "duplicate-kci":
            post_kcis(world, last_kci)
        elif step.startswith("cancel-"):
            cancel_answered(step)
        else:
            if open_id is None:
                cancel_answered("cancel-202")
            if open_id is None:
                continue  # the order is cancelled: nothing open to decide
            sequence += 1
            if step == "kci-cancelled":
                post_kcis(world, make_kci(order_id, sequence, "CANCELLED", cancellation_id=open_id))
                expected.append(("INFORMATIONAL", "CANCELLED"))
            else:
                post_kcis(
                    world, make_kci(order_id, sequence, "CANCELLATION_REJECTED", status="IN_PROGRESS", cancellation_id=open_id, text="No")
                )
                expected.append(("ACTION_REQUIRED", "RESUBMIT"))
            open_id = None

    kcis = world.tenant_kcis(order_id)
    assert [(kci["updateType"], kci["information"]["type"]) for kci in kcis] == expected
    assert [kci["sequenceNumber"] for kci in kcis] == list(range(1, len(expected) + 1))
    assert len({kci["id"] for kci in kcis}) == len(kcis)
    queued = relayed(world)
    assert [(m["body"]["orderId"], m["body"]["kci"]["sequenceNumber"]) for m in queued] == [
        (order_id, n) for n in range(1, len(expected) + 1)
    ]


def _next_order_id(world) -> int:
    world.__dict__.setdefault("_mix_orders", 2000)
    world._mix_orders += 1
    return world._mix_orders


# --------------------------------------------------------------------------------------------- documented examples


@pytest.mark.parametrize("name", ["tenant-kci-provide-informational.json", "tenant-kci-unsolicited-cease-created.json"])
def test_the_documented_tenant_kcis_validate_against_the_model(name):
    example = json.loads((DOCS_EXAMPLES / name).read_text())

    kci = TenantKci.model_validate(example)

    assert kci.model_dump(mode="json", exclude_none=True) == example
    assert kci.body(example["deliveredOn"]) == example
