"""The KCI processor (KciProcessorFunction) on real SQS events, fed by POST /kcis (SupplierUpdatesApiFunction):
domain.md section 3 (effects of a KCI) and section 4 (terminal states are final).

Terminal states are final (domain.md section 3, revised): no KCI moves a COMPLETED/REJECTED cancellation,
whatever its sequence number and whoever decided it (a KCI or the supplier's synchronous 201/422); see
test_kci_never_reverse.py for contradictions and test_kci_sequencing.py for the per-order sequence.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorCode
from fibre_cafe.models.kci import SupplierKci
from testing.events import ENTITY_FIELDS, kci_envelope, make_kci
from testing.recorders import AwsCallLog

DOCS_EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "docs_examples"
ORDER_ID = 123


def as_queued(kci: dict) -> dict:
    """The KCI as the gateway queues and keeps it: validated, then dumped (e.g. issuedOn with microseconds)."""
    return SupplierKci.model_validate(kci).model_dump(mode="json", exclude_none=True)


def failures(result: dict) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def post_and_process(lifecycle, *kcis: dict, supplier: str = "DUMMY_SUPPLIER") -> dict:
    for kci in kcis:
        status, body = lifecycle.post_kci(kci, supplier=supplier)
        assert status == 204, body
    return lifecycle.process_kcis()


def pending_cancellation(lifecycle, supplier_stub, order_id: int = ORDER_ID) -> int:
    """An order known from an ACKNOWLEDGED KCI, cancelled by its tenant, the supplier answering 202."""
    lifecycle.register_order_by_kci(order_id)
    cancellation_id = lifecycle.cancel_ok(order_id)["id"]
    supplier_stub.answers.append((202, "", 0))
    lifecycle.dispatch()
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.PENDING
    return cancellation_id


# --------------------------------------------------------------------------------------------- the order registry


@pytest.mark.parametrize("order_type", sorted(ENTITY_FIELDS))
def test_acknowledged_for_an_unknown_order_creates_its_snapshot(lifecycle, order_type):
    kci = make_kci(777, 1, "ACKNOWLEDGED", tenant="TENANT2", order_type=order_type, supplier_order_reference="FIB-777",
                   serviceId="S12345")
    request_id = f"kci-{uuid.uuid4()}"
    status, _ = lifecycle.post_kci(kci, supplier="FIBRECO", headers={"X-Request-ID": request_id})
    assert status == 204

    result = lifecycle.process_kcis()

    assert result == {"batchItemFailures": []}
    order = lifecycle.order(777)
    assert order.tenant == "TENANT2"
    assert order.supplier == "FIBRECO"  # the authenticated supplier
    assert order.orderType.value == order_type  # from the entity's key
    assert order.status == "ACKNOWLEDGED" and order.supplierStatus == "ACKNOWLEDGED"
    assert order.supplierOrderReference == "FIB-777"
    assert order.lastSequenceNumber == 1
    assert order.entity == kci[ENTITY_FIELDS[order_type]]
    assert order.openCancellationId is None
    [entry] = lifecycle.orders.history(777)
    assert entry["kciId"] == kci["id"] and entry["sequenceNumber"] == 1 and entry["reasonCode"] == "ACKNOWLEDGED"
    assert entry["supplier"] == "FIBRECO" and entry["requestId"] == request_id
    assert entry["kci"] == as_queued(kci)


def test_the_snapshot_follows_the_highest_sequence_number_and_history_keeps_everything(lifecycle):
    lifecycle.hold_window(0)  # seq 3 is applied at once, past the gap (test_kci_sequencing.py holds it)
    first = make_kci(ORDER_ID, 1, "ACKNOWLEDGED")
    third = make_kci(ORDER_ID, 3, "COMMITTED", status="IN_PROGRESS", committedDate="2024-04-15T09:00:00.000Z")
    second = make_kci(ORDER_ID, 2, "DELAY", status="HELD")
    post_and_process(lifecycle, first)
    post_and_process(lifecycle, third)
    replaced = lifecycle.order(ORDER_ID)
    assert replaced.lastSequenceNumber == 3 and replaced.supplierStatus == "IN_PROGRESS" and replaced.status == "IN_PROGRESS"
    assert replaced.entity["committedDate"] == "2024-04-15T09:00:00.000Z"

    result = post_and_process(lifecycle, second)  # late and lower: kept, but does not overwrite

    assert result == {"batchItemFailures": []}
    order = lifecycle.order(ORDER_ID)
    assert order.lastSequenceNumber == 3 and order.supplierStatus == "IN_PROGRESS" and order.status == "IN_PROGRESS"
    assert order.entity == third["provideServiceOrder"]
    assert [entry["kciId"] for entry in lifecycle.orders.history(ORDER_ID)] == [first["id"], second["id"], third["id"]]


def test_out_of_order_kcis_in_one_batch_leave_the_highest_snapshot(lifecycle):
    statuses = {1: "ACKNOWLEDGED", 2: "HELD", 3: "PENDING", 4: "IN_PROGRESS"}
    kcis = [make_kci(ORDER_ID, n, "UPDATE", status=statuses[n]) for n in (4, 1, 3, 2)]

    result = post_and_process(lifecycle, *kcis)

    assert result == {"batchItemFailures": []}
    order = lifecycle.order(ORDER_ID)
    assert order.lastSequenceNumber == 4 and order.supplierStatus == "IN_PROGRESS"
    assert len(lifecycle.orders.history(ORDER_ID)) == 4


def test_a_duplicate_kci_id_changes_nothing(lifecycle):
    lifecycle.hold_window(0)  # the hand-queued copy below (seq 9) is applied past the gap at once, not held
    kci = make_kci(ORDER_ID, 1, "ACKNOWLEDGED")
    post_and_process(lifecycle, kci)
    before = lifecycle.order(ORDER_ID)

    # Sent again (a supplier retry): 204, changes nothing. A different body with the same id is refused at the door
    # (global KCI-id uniqueness); one queued before that rule existed is still a duplicate for the processor.
    again = {**kci, "sequenceNumber": 9, "provideServiceOrder": {**kci["provideServiceOrder"], "status": "IN_PROGRESS"}}
    status, body = lifecycle.post_kci(again)
    assert status == 422 and body["messages"] == [f"Invalid value for field id - {kci['id']} is already the id of a different KCI"]
    assert lifecycle.queued("KciQueue") == 0
    lifecycle.sqs.send_message(QueueUrl=lifecycle.queue("KciQueue"), MessageBody=kci_envelope(again))
    result = post_and_process(lifecycle, kci)

    assert result == {"batchItemFailures": []}
    after = lifecycle.order(ORDER_ID)
    assert after == before  # version included
    assert [entry["kciId"] for entry in lifecycle.orders.history(ORDER_ID)] == [kci["id"]]


def test_the_same_queue_message_delivered_twice_is_applied_once(lifecycle):
    lifecycle.register_order_by_kci(ORDER_ID)
    version = lifecycle.order(ORDER_ID).version
    lifecycle.post_kci(make_kci(ORDER_ID, 2, "COMMITTED"))
    url = lifecycle.queue("KciQueue")
    from testing.events import receive_event
    from testing.lambda_context import lambda_context

    event = receive_event(url, visibility_timeout=0)
    assert lifecycle.kci_processor.lambda_handler(event, lambda_context()) == {"batchItemFailures": []}
    # Not deleted (the event source mapping crashed): delivered again.
    event = receive_event(url, visibility_timeout=0)
    assert lifecycle.kci_processor.lambda_handler(event, lambda_context()) == {"batchItemFailures": []}

    assert lifecycle.order(ORDER_ID).version == version + 1
    assert len(lifecycle.orders.history(ORDER_ID)) == 2


# --------------------------------------------------------------------------------------------- cancellations


def test_cancelled_naming_the_cancellation_completes_it_and_cancels_the_order(lifecycle, supplier_stub):
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    kci = make_kci(ORDER_ID, 2, "CANCELLED", cancellation_id=cancellation_id, problem_code="CUSTOMER_REQUESTED")

    result = post_and_process(lifecycle, kci)

    assert result == {"batchItemFailures": []}
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.COMPLETED
    assert record.decidedBy == "KCI" and record.decidedBySequence == 2 and record.decidedByKciId == kci["id"]
    assert record.error is None
    order = lifecycle.order(ORDER_ID)
    assert order.status == "CANCELLED" and order.supplierStatus == "CANCELLED" and order.openCancellationId is None
    status, body = lifecycle.get(cancellation_id)
    assert status == 200 and body["status"] == "COMPLETED"
    [_, entry] = lifecycle.orders.history(ORDER_ID)
    assert entry["cancellationEffect"] == {"cancellationId": cancellation_id, "status": "COMPLETED"}


def test_a_supplier_initiated_cancelled_completes_the_open_cancellation(lifecycle, supplier_stub):
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)

    result = post_and_process(lifecycle, make_kci(ORDER_ID, 2, "CANCELLED", problem_code="SUPPLIER_CANCELLED"))

    assert result == {"batchItemFailures": []}
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED
    order = lifecycle.order(ORDER_ID)
    assert order.status == "CANCELLED" and order.openCancellationId is None


def test_a_supplier_initiated_cancelled_without_a_cancellation_cancels_the_order(lifecycle):
    lifecycle.register_order_by_kci(ORDER_ID)

    result = post_and_process(lifecycle, make_kci(ORDER_ID, 2, "CANCELLED", problem_code="SUPPLIER_CANCELLED"))

    assert result == {"batchItemFailures": []}
    order = lifecycle.order(ORDER_ID)
    assert order.status == "CANCELLED" and order.openCancellationId is None
    status, body = lifecycle.cancel(ORDER_ID)
    assert status == 422 and body["code"] == "INVALID_REQUEST"  # nothing left to cancel


def test_cancelled_for_a_cancellation_still_received_by_gateway_completes_it(lifecycle):
    """The KCI may beat the dispatcher (the supplier answered 202 and its KCI arrived first)."""
    lifecycle.register_order_by_kci(ORDER_ID)
    cancellation_id = lifecycle.cancel_ok(ORDER_ID)["id"]

    post_and_process(lifecycle, make_kci(ORDER_ID, 2, "CANCELLED", cancellation_id=cancellation_id))

    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED
    assert lifecycle.order(ORDER_ID).status == "CANCELLED"


@pytest.mark.parametrize(("text", "problem_code", "expected"), [
    ("Engineer already on site", "TOO_LATE", "Engineer already on site"),
    (None, "ORDER_ALREADY_COMPLETE", "ORDER_ALREADY_COMPLETE"),
])
def test_cancellation_rejected_rejects_with_the_suppliers_reason(lifecycle, supplier_stub, text, problem_code, expected):
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    kci = make_kci(ORDER_ID, 2, "CANCELLATION_REJECTED", status="IN_PROGRESS", cancellation_id=cancellation_id,
                   text=text, problem_code=problem_code)

    result = post_and_process(lifecycle, kci)

    assert result == {"batchItemFailures": []}
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.REJECTED
    assert record.error.code is ErrorCode.INVALID_REQUEST
    assert record.error.messages == [f"The supplier API returned the following message: {expected}"]
    order = lifecycle.order(ORDER_ID)
    assert order.status == "IN_PROGRESS" and order.openCancellationId is None
    assert lifecycle.cancel_ok(ORDER_ID)["id"] != cancellation_id  # cancellable again


# --------------------------------------------------------------------------------------------- terminal is final


@pytest.mark.parametrize(("deciding", "later"), [("CANCELLED", "CANCELLATION_REJECTED"), ("CANCELLATION_REJECTED", "CANCELLED")])
def test_a_higher_sequence_kci_does_not_move_a_decided_cancellation(lifecycle, supplier_stub, deciding, later):
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    post_and_process(lifecycle, make_kci(ORDER_ID, 2, deciding, cancellation_id=cancellation_id, text="first answer"))
    decided = lifecycle.cancellation(cancellation_id)

    result = post_and_process(lifecycle, make_kci(ORDER_ID, 3, later, cancellation_id=cancellation_id, text="second answer"))

    assert result == {"batchItemFailures": []}  # applied (kept in history), not retried
    after = lifecycle.cancellation(cancellation_id)
    assert after.status is decided.status and after.decidedBySequence == 2 and after.error == decided.error
    assert len(lifecycle.orders.history(ORDER_ID)) == 3


def test_a_late_kci_with_a_lower_sequence_number_never_reverses_a_decision(lifecycle, supplier_stub):
    """Seq 3 (cancelled) was applied first; seq 2 (rejected) arriving after it can no longer reverse it
    (domain.md section 3, revised: what the tenant was told is never reversed)."""
    lifecycle.hold_window(0)
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    post_and_process(lifecycle, make_kci(ORDER_ID, 3, "CANCELLED", cancellation_id=cancellation_id))
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED

    post_and_process(lifecycle, make_kci(ORDER_ID, 2, "CANCELLATION_REJECTED", cancellation_id=cancellation_id, text="too late"))

    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.COMPLETED and record.decidedBySequence == 3
    order = lifecycle.order(ORDER_ID)
    assert order.lastSequenceNumber == 3 and order.status == "CANCELLED"


@pytest.mark.parametrize("named", [True, False], ids=["named", "supplier-initiated"])
def test_a_late_cancelled_kci_completes_the_cancellation_but_the_newer_snapshot_keeps_the_order_status(lifecycle, supplier_stub, named):
    """Regression (found by the order-independence property): in sequence order, seq 2 CANCELLED cancels the
    order and seq 3 then reports it IN_PROGRESS, so the order shows IN_PROGRESS. Arriving the other way round,
    the late seq 2 still completes the cancellation, but must not put CANCELLED over the newer snapshot."""
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    post_and_process(lifecycle, make_kci(ORDER_ID, 3, "UPDATE", status="IN_PROGRESS"))
    assert lifecycle.order(ORDER_ID).status == "PENDING_CANCELLATION"

    post_and_process(lifecycle, make_kci(ORDER_ID, 2, "CANCELLED", cancellation_id=cancellation_id if named else None))

    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED
    order = lifecycle.order(ORDER_ID)
    assert order.openCancellationId is None and order.lastSequenceNumber == 3
    assert order.supplierStatus == "IN_PROGRESS" and order.status == "IN_PROGRESS"


@pytest.mark.parametrize(("supplier_answer", "decided", "kci_reason"), [
    ((201, "", 0), CancellationStatus.COMPLETED, "CANCELLATION_REJECTED"),
    ((422, json.dumps({"messages": ["no"]}), 0), CancellationStatus.REJECTED, "CANCELLED"),
])
@pytest.mark.parametrize("sequence_number", [1, 2, 50])
def test_the_suppliers_synchronous_answer_is_never_overridden_by_a_kci(lifecycle, supplier_stub, supplier_answer, decided,
                                                                      kci_reason, sequence_number):
    lifecycle.register_order(ORDER_ID, status="ACKNOWLEDGED")  # lastSequenceNumber 1
    cancellation_id = lifecycle.cancel_ok(ORDER_ID)["id"]
    supplier_stub.answers.append(supplier_answer)
    lifecycle.dispatch()
    answered = lifecycle.cancellation(cancellation_id)
    assert answered.status is decided and answered.decidedBy == "SUPPLIER_RESPONSE"

    result = post_and_process(lifecycle, make_kci(ORDER_ID, sequence_number, kci_reason, cancellation_id=cancellation_id))

    assert result == {"batchItemFailures": []}
    after = lifecycle.cancellation(cancellation_id)
    assert after.status is decided and after.decidedBy == "SUPPLIER_RESPONSE" and after.version == answered.version


# --------------------------------------------------------------------------------------------- failures


def test_a_kci_naming_an_unknown_cancellation_fails_alone_then_is_dead_lettered(lifecycle):
    lifecycle.register_order_by_kci(ORDER_ID)
    lifecycle.register_order_by_kci(124)
    good_before = make_kci(ORDER_ID, 2, "COMMITTED")
    poison = make_kci(ORDER_ID, 3, "CANCELLED", cancellation_id=99999)
    good_after = make_kci(124, 2, "DELAY", status="HELD")
    for kci in (good_before, poison, good_after):
        if kci is poison:  # refused at POST /kcis now (422); queued by hand, as if accepted before that rule
            assert lifecycle.post_kci(kci)[0] == 422
            lifecycle.sqs.send_message(QueueUrl=lifecycle.queue("KciQueue"), MessageBody=kci_envelope(kci))
        else:
            assert lifecycle.post_kci(kci)[0] == 204

    event, result = lifecycle.run(lifecycle.kci_processor, "KciQueue", visibility_timeout=0)

    assert len(event["Records"]) == 3
    poison_message = next(r["messageId"] for r in event["Records"] if json.loads(r["body"])["kci"]["id"] == poison["id"])
    assert failures(result) == [poison_message]
    assert lifecycle.order(ORDER_ID).lastSequenceNumber == 2 and lifecycle.order(124).supplierStatus == "HELD"
    assert [e["kciId"] for e in lifecycle.orders.history(ORDER_ID)][-1] == good_before["id"]  # poison not recorded

    deliveries = 1
    while True:
        event, result = lifecycle.run(lifecycle.kci_processor, "KciQueue", visibility_timeout=0)
        if not event["Records"]:
            break
        deliveries += 1
        assert failures(result) == [poison_message]
    assert deliveries == 5  # the template's maxReceiveCount
    assert lifecycle.queued("KciQueue") == 0
    dead = lifecycle.sqs.receive_message(QueueUrl=lifecycle.queue("KciDeadLetterQueue"), MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["kci"]["id"] for m in dead] == [poison["id"]]  # nothing silently dropped
    assert lifecycle.order(ORDER_ID).lastSequenceNumber == 2


def test_an_unparseable_message_fails_alone(lifecycle):
    lifecycle.post_kci(make_kci(ORDER_ID, 1))
    garbage = lifecycle.sqs.send_message(QueueUrl=lifecycle.queue("KciQueue"), MessageBody="{not json")["MessageId"]
    schema_broken = lifecycle.sqs.send_message(QueueUrl=lifecycle.queue("KciQueue"),
                                               MessageBody=kci_envelope({"id": "not-a-uuid"}))["MessageId"]

    result = lifecycle.process_kcis()

    assert sorted(failures(result)) == sorted([garbage, schema_broken])
    assert lifecycle.order(ORDER_ID) is not None


@pytest.mark.parametrize(("kci_fields", "envelope_supplier", "why"), [
    ({}, "DUMMY_SUPPLIER", "order of another supplier"),
    ({"tenant": "TENANT2"}, "FIBRECO", "another tenant"),
    ({"order_type": "CEASE"}, "FIBRECO", "another order type"),
    ({"supplier": "DUMMY_SUPPLIER"}, "FIBRECO", "entity names another supplier"),
])
def test_a_kci_contradicting_the_registry_is_refused_at_ingest_and_fails_in_the_processor(lifecycle, kci_fields, envelope_supplier, why):
    lifecycle.register_order(ORDER_ID, supplier="FIBRECO", tenant="TENANT1", order_type="PROVIDE")
    before = lifecycle.order(ORDER_ID)
    kci = make_kci(ORDER_ID, 5, "UPDATE", **kci_fields)

    status, body = lifecycle.post_kci(kci, supplier=envelope_supplier)
    assert status == 422 and body["code"] == "INVALID_REQUEST", why
    assert lifecycle.queued("KciQueue") == 0

    # Built by hand, as if it had been queued before the registry changed.
    message = lifecycle.sqs.send_message(QueueUrl=lifecycle.queue("KciQueue"), MessageBody=kci_envelope(kci, envelope_supplier))
    result = lifecycle.process_kcis()

    assert failures(result) == [message["MessageId"]], why
    assert lifecycle.order(ORDER_ID) == before
    assert lifecycle.orders.history(ORDER_ID) == []


def test_a_kci_naming_another_orders_cancellation_never_moves_it(lifecycle, supplier_stub):
    """FIBRECO reports on its own order 500 but names DUMMY_SUPPLIER's cancellation of order 123: refused every time."""
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    lifecycle.register_order_by_kci(500, supplier="FIBRECO")
    kci = make_kci(500, 2, "CANCELLATION_REJECTED", cancellation_id=cancellation_id, text="not yours")
    status, body = lifecycle.post_kci(kci, supplier="FIBRECO")
    assert status == 422 and lifecycle.queued("KciQueue") == 0  # refused at the door (issue 10)
    lifecycle.sqs.send_message(QueueUrl=lifecycle.queue("KciQueue"), MessageBody=kci_envelope(kci, "FIBRECO"))

    for _ in range(5):
        event, result = lifecycle.run(lifecycle.kci_processor, "KciQueue", visibility_timeout=0)
        assert failures(result) == [event["Records"][0]["messageId"]]

    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.PENDING
    assert lifecycle.order(500).lastSequenceNumber == 1 and len(lifecycle.orders.history(500)) == 1
    lifecycle.run(lifecycle.kci_processor, "KciQueue", visibility_timeout=0)
    assert lifecycle.queued("KciDeadLetterQueue") == 1


def test_a_queued_cancellation_rejected_without_a_cancellation_id_fails_rather_than_being_dropped(lifecycle, supplier_stub):
    """Refused at ingest (400, see test_supplier_updates_api.py); one queued before that rule is retried, then
    dead-lettered for an operator, instead of being recorded with no effect while the cancellation stays open."""
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    kci = make_kci(ORDER_ID, 2, "CANCELLATION_REJECTED", text="no")
    message = lifecycle.sqs.send_message(QueueUrl=lifecycle.queue("KciQueue"), MessageBody=kci_envelope(kci))

    result = lifecycle.process_kcis()

    assert failures(result) == [message["MessageId"]]
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.PENDING
    assert len(lifecycle.orders.history(ORDER_ID)) == 1


# --------------------------------------------------------------------------------------------- documented examples


@pytest.mark.parametrize("path", sorted(DOCS_EXAMPLES.glob("supplier-kci-*.json")), ids=lambda p: p.stem)
def test_every_documented_supplier_kci_is_accepted_and_applied(lifecycle, path):
    kci = json.loads(path.read_text())

    status, body = lifecycle.post_kci(kci, supplier="FIBRECO")

    assert (status, body) == (204, None)
    assert lifecycle.process_kcis() == {"batchItemFailures": []}
    [entity_field] = [name for name in ENTITY_FIELDS.values() if name in kci]
    entity = kci[entity_field]
    order = lifecycle.order(entity["id"])
    assert order.supplier == "FIBRECO" and order.tenant == entity["tenant"]
    assert order.supplierStatus == entity["status"] and order.lastSequenceNumber == kci["sequenceNumber"]
    assert order.entity == entity


# --------------------------------------------------------------------------------------------- cost per record


def test_at_most_two_aws_calls_per_kci_record(lifecycle, supplier_stub):
    """Measured on the processor's own DynamoDB client (the event source mapping deletes the messages)."""
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    calls = AwsCallLog().watch(lifecycle.kci_processor.deps.apply_kci.store.client)

    def cost(kci: dict) -> list[str]:
        lifecycle.post_kci(kci)
        calls.take()
        assert lifecycle.process_kcis() == {"batchItemFailures": []}
        return calls.take()

    first = make_kci(ORDER_ID, 2, "COMMITTED")
    assert cost(first) == ["GetItem", "TransactWriteItems"]  # first application
    assert cost(first) == ["GetItem", "PutItem"]  # duplicate: its place is passed, so only the history put (refused)
    new_order = make_kci(999, 1, "ACKNOWLEDGED")
    assert cost(new_order) == ["GetItem", "TransactWriteItems"]  # creates a snapshot
    deciding = make_kci(ORDER_ID, 3, "CANCELLED", cancellation_id=cancellation_id)
    assert cost(deciding) == ["GetItem", "TransactWriteItems"]  # decides the cancellation in the same transaction
    assert cost(deciding) == ["GetItem", "PutItem"]  # duplicate of a deciding KCI

    # A batch of ten: twenty calls.
    for n in range(10):
        lifecycle.post_kci(make_kci(2000 + n, 1, "ACKNOWLEDGED"))
    calls.take()
    assert lifecycle.process_kcis() == {"batchItemFailures": []}
    assert len(calls.take()) == 20
