"""Operator redrives and the forwarding sweeper: nothing stays stuck, nothing is sent to a supplier twice.

- FAILED_TO_SEND cancellations are re-sent by ``redrive_failed_to_send`` (the RedriveFunction's
  ``{"action": "failed-to-send"}``); the supplier's answer then moves them on (state model: FAILED_TO_SEND ->
  PENDING | COMPLETED | REJECTED).
- Dead letters go back to their queue (``{"action": "dead-letters", "queue": "supplier-requests" | "kcis"}``)
  and are processed once whatever made them fail is over (here: a DynamoDB outage, injected).
- The forwarding sweeper re-queues a cancellation whose SQS send was lost after the 201.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from fibre_cafe.clock import utc_now
from fibre_cafe.logic import forwarding_sweeper
from fibre_cafe.logic.redrive import redrive_failed_to_send
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorCode
from testing.events import make_kci
from testing.faults import fail_calls
from testing.lambda_context import lambda_context

SUPPLIER_REFUSED = (401, json.dumps({"messages": ["expired credentials"]}), 0)


def failed_to_send(lifecycle, supplier_stub, order_id: int = 123) -> int:
    """A cancellation the supplier refused to take (401): FAILED_TO_SEND, SUPPLIER_FAULT."""
    lifecycle.register_order(order_id)
    cancellation_id = lifecycle.cancel_ok(order_id)["id"]
    supplier_stub.answers.append(SUPPLIER_REFUSED)
    lifecycle.dispatch()
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.FAILED_TO_SEND and record.error.code is ErrorCode.SUPPLIER_FAULT
    return cancellation_id


def queued_bodies(lifecycle, queue: str = "SupplierRequestsQueue") -> list[dict]:
    answer = lifecycle.sqs.receive_message(QueueUrl=lifecycle.queue(queue), MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


def redrive(lifecycle, event: dict) -> dict:
    return lifecycle.redrive.lambda_handler(event, lambda_context())


# --------------------------------------------------------------------------------------------- FAILED_TO_SEND


def test_a_redriven_cancellation_moves_to_pending_on_a_202_and_completes_by_kci(lifecycle, supplier_stub):
    cancellation_id = failed_to_send(lifecycle, supplier_stub)
    deps = lifecycle.redrive.deps

    report = redrive_failed_to_send(deps.table, deps.queue)

    assert report.redriven == [cancellation_id] and report.skipped == []
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.FAILED_TO_SEND  # until the supplier answers
    assert record.dispatchAttempts == 0 and record.dispatchLeaseUntil is None
    [message] = queued_bodies(lifecycle)
    assert message["cancellationId"] == cancellation_id and message["redrive"] is True

    supplier_stub.answers.append((202, "", 0))
    _, result = lifecycle.dispatch()

    assert result == {"batchItemFailures": []}
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.PENDING and record.error is None
    assert lifecycle.order(123).status == "PENDING_CANCELLATION"
    assert len(supplier_stub.requests) == 2

    lifecycle.post_kci(make_kci(123, 2, "CANCELLED", cancellation_id=cancellation_id))
    lifecycle.process_kcis()
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED
    assert lifecycle.order(123).status == "CANCELLED"


def test_the_redrive_function_resends_every_failed_to_send_cancellation(lifecycle, supplier_stub):
    first = failed_to_send(lifecycle, supplier_stub, 123)
    second = failed_to_send(lifecycle, supplier_stub, 124)
    lifecycle.register_order(125)
    pending = lifecycle.cancel_ok(125)["id"]
    supplier_stub.answers.append((202, "", 0))
    lifecycle.dispatch()

    report = redrive(lifecycle, {"action": "failed-to-send"})

    assert sorted(report["redriven"]) == sorted([first, second])
    assert pending not in report["redriven"] + report["skipped"]
    supplier_stub.answers.extend([(201, json.dumps({"supplierReference": "R1"}), 0), (201, json.dumps({"supplierReference": "R2"}), 0)])
    _, result = lifecycle.dispatch()
    assert result == {"batchItemFailures": []}
    for cancellation_id, order_id in ((first, 123), (second, 124)):
        record = lifecycle.cancellation(cancellation_id)
        assert record.status is CancellationStatus.COMPLETED and record.supplierReference in ("R1", "R2") and record.error is None
        assert lifecycle.order(order_id).status == "CANCELLED"
    assert lifecycle.cancellation(pending).status is CancellationStatus.PENDING
    # Nothing is left to redrive.
    assert redrive(lifecycle, {"action": "failed-to-send"})["redriven"] == []


def test_a_redrive_of_chosen_ids_skips_the_others_and_anything_not_failed_to_send(lifecycle, supplier_stub):
    chosen = failed_to_send(lifecycle, supplier_stub, 123)
    other = failed_to_send(lifecycle, supplier_stub, 124)

    report = redrive(lifecycle, {"action": "failed-to-send", "ids": [chosen, 987654]})

    assert report == {"redriven": [chosen], "skipped": [987654]}
    assert [m["cancellationId"] for m in queued_bodies(lifecycle)] == [chosen]
    assert lifecycle.cancellation(other).dispatchAttempts == 1


def test_a_redriven_cancellation_rejected_by_the_supplier_releases_the_order(lifecycle, supplier_stub):
    cancellation_id = failed_to_send(lifecycle, supplier_stub)
    redrive(lifecycle, {"action": "failed-to-send"})
    supplier_stub.answers.append((422, json.dumps({"messages": ["Order already completed"]}), 0))

    lifecycle.dispatch()

    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.REJECTED
    assert record.error.messages == ["The supplier API returned the following message: Order already completed"]
    order = lifecycle.order(123)
    assert order.status == "ACKNOWLEDGED" and order.openCancellationId is None


def test_redriving_twice_before_the_dispatcher_runs_calls_the_supplier_once(lifecycle, supplier_stub):
    cancellation_id = failed_to_send(lifecycle, supplier_stub)
    redrive(lifecycle, {"action": "failed-to-send"})
    redrive(lifecycle, {"action": "failed-to-send"})
    assert len(queued_bodies(lifecycle)) == 2
    supplier_stub.answers.append((202, "", 0))

    event, result = lifecycle.dispatch()

    assert len(event["Records"]) == 2 and result == {"batchItemFailures": []}
    assert len(supplier_stub.requests) == 2  # the original refusal and one redriven call
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.PENDING


def test_an_unknown_redrive_action_is_refused(lifecycle):
    with pytest.raises(ValueError):
        redrive(lifecycle, {"action": "dead-letters", "queue": "everything"})


# --------------------------------------------------------------------------------------------- dead letters


def exhaust_into_dead_letters(lifecycle, module, queue: str) -> int:
    """Deliver until the queue's redrive policy (maxReceiveCount 5) moves the message to its DLQ."""
    deliveries = 0
    while True:
        event, result = lifecycle.run(module, queue, visibility_timeout=0)
        if not event["Records"]:
            return deliveries
        deliveries += 1
        assert len(result["batchItemFailures"]) == len(event["Records"])


def test_supplier_requests_dead_letters_go_back_and_are_dispatched(lifecycle, supplier_stub):
    lifecycle.register_order(123)
    cancellation_id = lifecycle.cancel_ok(123)["id"]
    outage = fail_calls(lifecycle.dispatcher.deps.dispatch.store.client, "GetItem", "InternalServerError", 500)

    assert exhaust_into_dead_letters(lifecycle, lifecycle.dispatcher, "SupplierRequestsQueue") == 5
    assert lifecycle.queued("SupplierRequestsDeadLetterQueue") == 1 and supplier_stub.requests == []
    outage()

    report = redrive(lifecycle, {"action": "dead-letters", "queue": "supplier-requests"})

    assert len(report["redriven"]) == 1
    assert lifecycle.queued("SupplierRequestsDeadLetterQueue") == 0
    supplier_stub.answers.append((201, "", 0))
    _, result = lifecycle.dispatch()
    assert result == {"batchItemFailures": []}
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED
    assert len(supplier_stub.requests) == 1


def test_kci_dead_letters_go_back_and_are_applied(lifecycle):
    lifecycle.register_order_by_kci(123)
    kci = make_kci(123, 2, "COMMITTED", status="IN_PROGRESS")
    assert lifecycle.post_kci(kci)[0] == 204
    outage = fail_calls(lifecycle.kci_processor.deps.apply_kci.store.client, "TransactWriteItems", "ProvisionedThroughputExceededException")

    assert exhaust_into_dead_letters(lifecycle, lifecycle.kci_processor, "KciQueue") == 5
    assert lifecycle.queued("KciDeadLetterQueue") == 1
    assert lifecycle.order(123).lastSequenceNumber == 1
    outage()

    report = redrive(lifecycle, {"action": "dead-letters", "queue": "kcis"})

    assert len(report["redriven"]) == 1 and lifecycle.queued("KciDeadLetterQueue") == 0
    assert lifecycle.process_kcis() == {"batchItemFailures": []}
    order = lifecycle.order(123)
    assert order.lastSequenceNumber == 2 and order.status == "IN_PROGRESS"
    assert [entry["kciId"] for entry in lifecycle.orders.history(123)][-1] == kci["id"]


# --------------------------------------------------------------------------------------------- forwarding sweeper


def sweep_at(lifecycle, monkeypatch, minutes_from_now: float) -> dict:
    """Run the ForwardingSweeperFunction as if it were ``minutes_from_now`` later."""
    later = utc_now() + timedelta(minutes=minutes_from_now)
    monkeypatch.setattr(lifecycle.sweeper.deps(), "clock", lambda: later)
    return lifecycle.sweeper.lambda_handler({}, lambda_context())


def test_the_sweeper_requeues_a_cancellation_whose_send_was_lost_and_the_supplier_is_called_once(lifecycle, supplier_stub, monkeypatch):
    lifecycle.register_order(123)
    lost = fail_calls(lifecycle.tenant_api.deps.create_cancellation.queue.client, "SendMessage", "InternalFailure", 500)
    cancellation_id = lifecycle.cancel_ok(123)["id"]  # 201: the record is committed, the send failed
    lost()
    assert lifecycle.queued("SupplierRequestsQueue") == 0
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.RECEIVED_BY_GATEWAY

    assert sweep_at(lifecycle, monkeypatch, 0)["resent"] == []  # within the quiet period: left alone
    assert sweep_at(lifecycle, monkeypatch, 3)["resent"] == [cancellation_id]
    assert sweep_at(lifecycle, monkeypatch, 6)["resent"] == [cancellation_id]  # still unanswered: sent again
    assert [m["cancellationId"] for m in queued_bodies(lifecycle)] == [cancellation_id, cancellation_id]
    supplier_stub.answers.append((201, "", 0))

    event, result = lifecycle.dispatch()

    assert len(event["Records"]) == 2 and result == {"batchItemFailures": []}
    assert len(supplier_stub.requests) == 1
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED
    assert sweep_at(lifecycle, monkeypatch, 9) == {"resent": [], "failed_to_send": [], "skipped": []}


def test_the_sweeper_gives_up_visibly_and_the_operator_redrive_gets_it_through(lifecycle, supplier_stub, monkeypatch):
    lifecycle.register_order(123)
    lost = fail_calls(lifecycle.tenant_api.deps.create_cancellation.queue.client, "SendMessage", "InternalFailure", 500)
    cancellation_id = lifecycle.cancel_ok(123)["id"]
    lost()
    queue_down = fail_calls(lifecycle.sweeper.deps.queue.client, "SendMessage", "InternalFailure", 500)
    for sweep_number in range(1, forwarding_sweeper.DEFAULT_MAX_ATTEMPTS + 1):
        assert sweep_at(lifecycle, monkeypatch, 3 * sweep_number)["resent"] == []

    report = sweep_at(lifecycle, monkeypatch, 3 * (forwarding_sweeper.DEFAULT_MAX_ATTEMPTS + 1))

    assert report["failed_to_send"] == [cancellation_id]
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.FAILED_TO_SEND and record.error.code is ErrorCode.GATEWAY_FAULT
    status, body = lifecycle.get(cancellation_id)
    assert body["status"] == "FAILED_TO_SEND"  # visible to the tenant, not stuck silently
    queue_down()

    assert redrive(lifecycle, {"action": "failed-to-send"})["redriven"] == [cancellation_id]
    supplier_stub.answers.append((202, "", 0))
    lifecycle.dispatch()
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.PENDING
    assert len(supplier_stub.requests) == 1
