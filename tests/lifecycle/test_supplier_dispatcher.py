"""The supplier dispatcher (SupplierDispatcherFunction) on real SQS events from moto, against a scripted
Supplier API on 127.0.0.1 (domain.md section 2).

Every cancellation here is created through the Tenant API handler (POST /service-order-cancellations),
so the message the dispatcher consumes is the one the Tenant API queued. The template's maxReceiveCount
for the supplier-requests queue is 5; the tests run with MAX_DISPATCH_ATTEMPTS=3.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from fibre_cafe.clock import iso, utc_now
from fibre_cafe.dal.supplier_api import SupplierApi
from fibre_cafe.dal.supplier_directory import SupplierDirectory
from fibre_cafe.logic.dispatch_cancellation import DispatchResult, RetryLater
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorCode
from fibre_cafe.models.kci import KciEnvelope
from testing.events import acknowledge, make_kci, receive_event
from testing.lambda_context import lambda_context
from testing.recorders import AwsCallLog

DOCS_EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "docs_examples"
DOCUMENTED_ERRORS = {(e["code"], tuple(e["messages"])) for e in json.loads((DOCS_EXAMPLES / "error-bodies.json").read_text())}
ORDER_ID = 123
SUPPLIER_422_BODY = json.dumps({"uuid": "d48e1fee-095a-478e-b453-858c76254d49", "code": "INVALID_REQUEST",
                                "messages": ["UPRN 100000001 is not within our coverage area"]})
MAX_ATTEMPTS = 3  # the harness's MAX_DISPATCH_ATTEMPTS


def lower_keys(headers: dict) -> dict:
    return {key.lower(): value for key, value in headers.items()}


def dispatched(lifecycle, supplier_stub, answer: tuple[int, str, float]):
    """An accepted cancellation dispatched once, the supplier answering ``answer`` and the record not retried:
    (the cancellation's id, its record)."""
    cancellation_id = accepted_cancellation(lifecycle)
    supplier_stub.answers.append(answer)
    _, result = lifecycle.dispatch()
    assert result == {"batchItemFailures": []}
    return cancellation_id, lifecycle.cancellation(cancellation_id)


def accepted_cancellation(lifecycle, order_id: int = ORDER_ID, *, via_kci: bool = False, headers: dict | None = None, **order) -> int:
    """Register the order (directly, or by a supplier's ACKNOWLEDGED KCI) and cancel it through the Tenant API."""
    if via_kci:
        lifecycle.register_order_by_kci(order_id, **order)
    else:
        lifecycle.register_order(order_id, **order)
    body = lifecycle.cancel_ok(order_id, headers=headers)
    assert body["status"] == "RECEIVED_BY_GATEWAY"
    return body["id"]


def assert_documented(error, messages: int = 1) -> None:
    """The error the tenant will see is one the Fibre Cafe documents (tests/fixtures/docs_examples/error-bodies.json)."""
    assert (error.code.value, tuple(error.messages[:messages])) in DOCUMENTED_ERRORS, error
    uuid.UUID(error.uuid)


def failures(result: dict) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def point_dispatcher_at(lifecycle, base_url: str, **timeouts) -> None:
    suppliers = json.dumps({"DUMMY_SUPPLIER": {"baseUrl": base_url}})
    lifecycle.dispatcher.deps.dispatch.supplier_api = SupplierApi(SupplierDirectory(loader=lambda: suppliers), **timeouts)


# --------------------------------------------------------------------------------------------- definite answers


def test_201_with_supplier_reference_completes_the_cancellation_and_cancels_the_order(lifecycle, supplier_stub):
    cancellation_id = accepted_cancellation(lifecycle, via_kci=True)
    assert lifecycle.order(ORDER_ID).status == "PENDING_CANCELLATION"
    documented = json.loads((DOCS_EXAMPLES / "supplier-cancel-response-201.json").read_text())
    supplier_stub.answers.append((201, json.dumps({**documented, "id": cancellation_id, "orderId": ORDER_ID}), 0))

    event, result = lifecycle.dispatch()

    assert len(event["Records"]) == 1 and result == {"batchItemFailures": []}
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.COMPLETED
    assert record.supplierReference == "A123-1"
    assert record.decidedBy == "SUPPLIER_RESPONSE" and record.error is None and record.dispatchLeaseUntil is None
    order = lifecycle.order(ORDER_ID)
    assert order.status == "CANCELLED" and order.supplierStatus == "CANCELLED" and order.openCancellationId is None
    status, body = lifecycle.get(cancellation_id)
    assert status == 200 and body["status"] == "COMPLETED" and body["supplierReference"] == "A123-1"
    assert lifecycle.queued("SupplierRequestsQueue") == 0
    assert len(supplier_stub.requests) == 1


def test_201_with_an_empty_body_completes_without_a_supplier_reference(lifecycle, supplier_stub):
    cancellation_id, record = dispatched(lifecycle, supplier_stub, (201, "", 0))
    assert record.status is CancellationStatus.COMPLETED and record.supplierReference is None
    assert lifecycle.order(ORDER_ID).status == "CANCELLED"
    status, body = lifecycle.get(cancellation_id)
    assert body["status"] == "COMPLETED" and "supplierReference" not in body


def test_202_leaves_the_cancellation_pending_and_the_order_pending_cancellation(lifecycle, supplier_stub):
    cancellation_id, record = dispatched(lifecycle, supplier_stub, (202, "", 0))
    assert record.status is CancellationStatus.PENDING and record.error is None and record.dispatchLeaseUntil is None
    order = lifecycle.order(ORDER_ID)
    assert order.status == "PENDING_CANCELLATION" and order.openCancellationId == cancellation_id
    # Still open: a second cancellation of the same order is refused.
    status, body = lifecycle.cancel(ORDER_ID)
    assert status == 422 and body["code"] == "INVALID_REQUEST"
    assert lifecycle.queued("SupplierRequestsQueue") == 0


def test_422_rejects_with_the_suppliers_messages_and_releases_the_order(lifecycle, supplier_stub):
    cancellation_id, record = dispatched(lifecycle, supplier_stub, (422, SUPPLIER_422_BODY, 0))
    assert record.status is CancellationStatus.REJECTED
    assert record.error.code is ErrorCode.INVALID_REQUEST
    assert record.error.messages == ["The supplier API returned the following message: UPRN 100000001 is not within our coverage area"]
    assert_documented(record.error)
    order = lifecycle.order(ORDER_ID)
    assert order.status == "ACKNOWLEDGED" and order.openCancellationId is None
    # The order is cancellable again.
    again = lifecycle.cancel_ok(ORDER_ID)
    assert again["id"] != cancellation_id and lifecycle.order(ORDER_ID).openCancellationId == again["id"]


@pytest.mark.parametrize("http_status", [401, 403])
def test_supplier_credentials_refused_fail_to_send_at_once(lifecycle, supplier_stub, http_status):
    cancellation_id = accepted_cancellation(lifecycle)
    supplier_stub.answers.append((http_status, json.dumps({"code": "NOT_AUTHORISED", "messages": ["bad token"]}), 0))

    _, result = lifecycle.dispatch()

    assert result == {"batchItemFailures": []}  # not retried: nothing a retry could fix
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.FAILED_TO_SEND
    assert record.error.code is ErrorCode.SUPPLIER_FAULT
    assert record.error.messages == ["The supplier API returned the following message: Not authorised"]
    assert_documented(record.error)
    assert record.dispatchAttempts == 1
    assert len(supplier_stub.requests) == 1
    assert lifecycle.queued("SupplierRequestsQueue") == 0


def test_400_from_the_supplier_is_a_gateway_fault_and_not_retried(lifecycle, supplier_stub):
    cancellation_id, record = dispatched(
        lifecycle, supplier_stub, (400, json.dumps({"code": "MALFORMED_REQUEST", "messages": ["reasonCode missing"]}), 0)
    )
    assert record.status is CancellationStatus.FAILED_TO_SEND
    assert record.error.code is ErrorCode.GATEWAY_FAULT
    assert record.error.messages[0] == "The gateway sent an invalid request to the supplier"
    assert_documented(record.error)  # the supplier's own messages follow the documented one
    assert len(supplier_stub.requests) == 1


# --------------------------------------------------------------------------------------------- transient answers


def retry_until_failed(lifecycle, supplier_stub, cancellation_id: int) -> list[int]:
    """Drive the dispatcher through MAX_ATTEMPTS deliveries of one message; returns the visibility delays it set.

    Messages are received with VisibilityTimeout=0, so only the handler's ChangeMessageVisibility can
    hide a failed one; the test then lets the backoff elapse by making it visible again.
    """
    calls = AwsCallLog().watch(lifecycle.dispatcher.deps.sqs)
    delays: list[int] = []
    hidden_until: list[float] = []  # a lower bound of when each hidden message is visible again (its backoff is full jitter, >= 1 s)

    def hidden(params, **_):
        delays.append(params["VisibilityTimeout"])
        hidden_until.append(time.monotonic() + params["VisibilityTimeout"])

    lifecycle.dispatcher.deps.sqs.meta.events.register("provide-client-params.sqs.ChangeMessageVisibility", hidden)
    for attempt in range(1, MAX_ATTEMPTS):
        event, result = lifecycle.dispatch(visibility_timeout=0)
        assert len(event["Records"]) == 1
        assert failures(result) == [event["Records"][0]["messageId"]], f"attempt {attempt} should be retried"
        assert calls.take() == ["ChangeMessageVisibility"]
        visible, received = lifecycle.visible("SupplierRequestsQueue"), receive_event(lifecycle.queue("SupplierRequestsQueue"))["Records"]
        if time.monotonic() < hidden_until[-1]:  # still within its backoff (a busy machine can take longer than a 1 s one)
            assert visible == 0 and received == [], "a retried message must be hidden for its backoff"
        record = lifecycle.cancellation(cancellation_id)
        assert record.status is CancellationStatus.RECEIVED_BY_GATEWAY
        assert record.dispatchAttempts == attempt and record.dispatchLeaseUntil is None
        assert len(supplier_stub.requests) == attempt
        lifecycle.make_visible({"Records": event["Records"] + received})  # the backoff has elapsed

    event, result = lifecycle.dispatch(visibility_timeout=0)
    assert result == {"batchItemFailures": []}, "the last attempt records FAILED_TO_SEND and lets the message go"
    assert lifecycle.queued("SupplierRequestsQueue") == 0
    assert len(supplier_stub.requests) == MAX_ATTEMPTS
    assert lifecycle.cancellation(cancellation_id).dispatchAttempts == MAX_ATTEMPTS
    return delays


@pytest.mark.parametrize(
    "answer",
    [(500, "", 0), (503, "Service Unavailable", 0), (201, "<html>not json", 0), (201, "[1, 2]", 0)],
    ids=["500", "503", "garbage-201", "201-not-an-object"],
)
def test_transient_answers_are_retried_with_backoff_then_fail_to_send(lifecycle, supplier_stub, answer):
    cancellation_id = accepted_cancellation(lifecycle)
    supplier_stub.answers.extend([answer] * MAX_ATTEMPTS)

    delays = retry_until_failed(lifecycle, supplier_stub, cancellation_id)

    assert len(delays) == MAX_ATTEMPTS - 1 and all(delay >= 1 for delay in delays)
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.FAILED_TO_SEND
    assert record.error.code is ErrorCode.SUPPLIER_FAULT
    assert record.error.messages == ["An invalid response was received from the supplier"]
    assert_documented(record.error)
    assert lifecycle.order(ORDER_ID).status == "PENDING_CANCELLATION"  # FAILED_TO_SEND is still open (redrivable)


def test_a_transient_failure_then_a_201_completes(lifecycle, supplier_stub):
    cancellation_id = accepted_cancellation(lifecycle)
    supplier_stub.answers.extend([(503, "", 0), (201, json.dumps({"supplierReference": "R-2"}), 0)])

    event, result = lifecycle.dispatch(visibility_timeout=0)
    assert failures(result) == [event["Records"][0]["messageId"]]
    lifecycle.make_visible(event)
    _, result = lifecycle.dispatch()

    assert result == {"batchItemFailures": []}
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.COMPLETED and record.supplierReference == "R-2" and record.dispatchAttempts == 2
    # The supplier saw the same X-Request-ID both times, so it can recognise the retry.
    assert len({lower_keys(r["headers"])["x-request-id"] for r in supplier_stub.requests}) == 1


def test_a_supplier_that_does_not_answer_in_time_is_retried_then_timed_out(lifecycle, supplier_stub):
    cancellation_id = accepted_cancellation(lifecycle)
    point_dispatcher_at(lifecycle, supplier_stub.url, read_timeout=0.2)
    supplier_stub.answers.extend([(201, "", 3.0)] * MAX_ATTEMPTS)  # far beyond the read timeout, even on a busy machine

    retry_until_failed(lifecycle, supplier_stub, cancellation_id)

    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.FAILED_TO_SEND
    assert record.error.code is ErrorCode.SUPPLIER_TIMED_OUT
    assert record.error.messages == ["The gateway did not receive a timely response from the supplier"]
    assert_documented(record.error)


def test_the_supplier_api_client_has_explicit_connect_and_read_timeouts():
    api = SupplierApi(SupplierDirectory(loader=lambda: "{}"))
    connect, read = api.timeout
    assert 0 < connect <= 5 and 0 < read <= 15  # the dispatcher's Lambda timeout (30 s) leaves room for both


def test_connection_refused_is_retried_then_fails_to_send(lifecycle, supplier_stub):
    cancellation_id = accepted_cancellation(lifecycle)
    point_dispatcher_at(lifecycle, closed_port_url(), connect_timeout=0.5)

    event, result = lifecycle.dispatch(visibility_timeout=0)
    assert failures(result) == [event["Records"][0]["messageId"]]
    assert lifecycle.visible("SupplierRequestsQueue") == 0
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.RECEIVED_BY_GATEWAY and record.dispatchAttempts == 1

    for _ in range(MAX_ATTEMPTS - 1):
        lifecycle.make_visible(event)
        event, result = lifecycle.dispatch(visibility_timeout=0)
    assert result == {"batchItemFailures": []}
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.FAILED_TO_SEND
    assert record.error.code is ErrorCode.SUPPLIER_FAULT
    assert record.error.messages == ["The gateway could not connect to the supplier"]


# --------------------------------------------------------------------------------------------- the request


def test_the_supplier_request_carries_the_tenants_headers_and_the_documented_body(lifecycle, supplier_stub):
    request_id = f"tenant-req-{uuid.uuid4()}"
    cancellation_id = accepted_cancellation(lifecycle, headers={
        "X-Request-ID": request_id, "X-Conversation-ID": "journey-42",
        "X-Scenario": "CANCELLATION_PENDING", "X-Kci-Delay": "0", "X-Problem-Code": "CUSTOMER_REQUESTED",
        "X-Not-Passed": "secret",
    })
    supplier_stub.answers.append((202, "", 0))

    lifecycle.dispatch()

    assert len(supplier_stub.requests) == 1
    sent = supplier_stub.requests[0]
    assert sent["path"] == "/service-order-cancellations"
    headers = lower_keys(sent["headers"])
    assert headers["x-request-id"] == request_id
    assert headers["x-conversation-id"] == "journey-42"
    assert headers["tenant"] == "TENANT1"
    assert headers["x-scenario"] == "CANCELLATION_PENDING"
    assert headers["x-kci-delay"] == "0"
    assert headers["x-problem-code"] == "CUSTOMER_REQUESTED"
    assert headers["content-type"] == "application/json"
    assert "x-not-passed" not in headers and "authorization" not in headers
    assert sent["body"] == {"id": cancellation_id, "orderId": ORDER_ID, "reasonCode": "CUSTOMER_CHANGED_MIND",
                            "supplierOrderReference": "FC123"}
    documented = json.loads((DOCS_EXAMPLES / "supplier-cancel-request.json").read_text())
    assert set(documented) <= set(sent["body"])  # the documented request's fields, plus supplierOrderReference (domain.md 2)


def test_each_supplier_gets_its_own_configured_credentials(lifecycle, supplier_stub):
    """FIBRECO's configuration (SUPPLIERS_CONFIG) holds a bearer token: it is sent to FIBRECO only."""
    accepted_cancellation(lifecycle, 500, supplier="FIBRECO", supplier_order_reference="FIB-500")
    supplier_stub.answers.append((202, "", 0))

    lifecycle.dispatch()

    headers = lower_keys(supplier_stub.requests[0]["headers"])
    assert headers["authorization"] == "Bearer fibreco-secret"
    assert supplier_stub.requests[0]["body"]["supplierOrderReference"] == "FIB-500"


# --------------------------------------------------------------------------------------------- at most one answer


@pytest.mark.parametrize("first_answer", [(201, "", 0), (202, "", 0), (422, SUPPLIER_422_BODY, 0), (401, "", 0)],
                         ids=["completed", "pending", "rejected", "failed-to-send"])
def test_a_duplicate_message_for_an_answered_cancellation_does_not_call_the_supplier_again(lifecycle, supplier_stub, first_answer):
    cancellation_id = accepted_cancellation(lifecycle)
    message = lifecycle.sqs.receive_message(QueueUrl=lifecycle.queue("SupplierRequestsQueue"), VisibilityTimeout=0)["Messages"][0]
    supplier_stub.answers.append(first_answer)
    lifecycle.dispatch()
    answered = lifecycle.cancellation(cancellation_id)
    assert answered.status is not CancellationStatus.RECEIVED_BY_GATEWAY

    # The same message twice more (a producer retry, a sweeper resend).
    for _ in range(2):
        lifecycle.sqs.send_message(QueueUrl=lifecycle.queue("SupplierRequestsQueue"), MessageBody=message["Body"])
    event, result = lifecycle.dispatch()

    assert len(event["Records"]) == 2 and result == {"batchItemFailures": []}
    assert len(supplier_stub.requests) == 1
    after = lifecycle.cancellation(cancellation_id)
    assert after.status is answered.status and after.version == answered.version
    assert lifecycle.queued("SupplierRequestsQueue") == 0


def test_a_redelivered_message_whose_deletion_was_lost_does_not_call_the_supplier_again(lifecycle, supplier_stub):
    cancellation_id = accepted_cancellation(lifecycle)
    supplier_stub.answers.append((202, "", 0))
    url = lifecycle.queue("SupplierRequestsQueue")

    event = receive_event(url, visibility_timeout=0)
    assert lifecycle.dispatcher.lambda_handler(event, lambda_context()) == {"batchItemFailures": []}
    # The event source mapping never deleted it (crash after the handler returned): SQS delivers it again.
    event = receive_event(url, visibility_timeout=0)
    assert event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    result = lifecycle.dispatcher.lambda_handler(event, lambda_context())
    acknowledge(url, event, result)

    assert result == {"batchItemFailures": []}
    assert len(supplier_stub.requests) == 1
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.PENDING
    assert lifecycle.queued("SupplierRequestsQueue") == 0


def test_a_message_while_another_worker_holds_the_lease_is_retried_without_calling(lifecycle, supplier_stub):
    cancellation_id = accepted_cancellation(lifecycle)
    record = lifecycle.cancellation(cancellation_id)
    leased = lifecycle.cancellations.replace(
        record.model_copy(update={"dispatchLeaseUntil": iso(utc_now() + timedelta(seconds=60)), "dispatchAttempts": 1}), record.version)

    event, result = lifecycle.dispatch(visibility_timeout=0)

    assert failures(result) == [event["Records"][0]["messageId"]]
    assert supplier_stub.requests == []
    assert lifecycle.visible("SupplierRequestsQueue") == 0  # hidden for a backoff, not hammered
    after = lifecycle.cancellation(cancellation_id)
    assert after.version == leased.version and after.dispatchAttempts == 1


def test_two_workers_with_the_same_message_call_the_supplier_once(lifecycle, supplier_stub):
    """Concurrent deliveries (the use case from two threads): one claims the lease, the other is told to retry."""
    cancellation_id = accepted_cancellation(lifecycle)
    message = lifecycle.cancellation(cancellation_id).supplier_request_message()
    dispatch = lifecycle.dispatcher.deps.dispatch
    in_flight = threading.Event()
    release = threading.Event()
    supplier_stub.answers.append((202, "", 0))
    supplier_stub.before_answer = lambda _request: (in_flight.set(), release.wait(5))
    outcomes: list = []

    worker = threading.Thread(target=lambda: outcomes.append(dispatch(message)))
    worker.start()
    assert in_flight.wait(5)
    with pytest.raises(RetryLater):
        dispatch(message)
    release.set()
    worker.join(5)

    assert outcomes == [DispatchResult.PENDING]
    assert len(supplier_stub.requests) == 1
    # The retried delivery, later, finds the answer and does not call again.
    assert dispatch(message) is DispatchResult.ALREADY_ANSWERED
    assert len(supplier_stub.requests) == 1


def test_a_poison_record_fails_alone_while_the_rest_of_the_batch_is_dispatched(lifecycle, supplier_stub):
    first = accepted_cancellation(lifecycle, 123)
    url = lifecycle.queue("SupplierRequestsQueue")
    garbage = lifecycle.sqs.send_message(QueueUrl=url, MessageBody="{not json")["MessageId"]
    unknown_message = lifecycle.cancellation(first).supplier_request_message().model_copy(update={"cancellationId": 987654321})
    unknown = lifecycle.sqs.send_message(QueueUrl=url, MessageBody=unknown_message.model_dump_json())["MessageId"]
    second = accepted_cancellation(lifecycle, 124)
    supplier_stub.answers.extend([(201, "", 0), (201, "", 0)])

    event, result = lifecycle.dispatch()

    assert len(event["Records"]) == 4
    assert sorted(failures(result)) == sorted([garbage, unknown])
    assert lifecycle.cancellation(first).status is CancellationStatus.COMPLETED
    assert lifecycle.cancellation(second).status is CancellationStatus.COMPLETED
    assert len(supplier_stub.requests) == 2
    assert lifecycle.queued("SupplierRequestsQueue") == 2  # the poison records stay for redelivery, then the DLQ


def test_poison_records_end_in_the_dead_letter_queue_after_max_receive_count(lifecycle, supplier_stub):
    url = lifecycle.queue("SupplierRequestsQueue")
    lifecycle.sqs.send_message(QueueUrl=url, MessageBody="{not json")
    deliveries = 0
    while True:
        event, result = lifecycle.dispatch(visibility_timeout=0)
        if not event["Records"]:
            break
        deliveries += 1
        assert len(failures(result)) == 1
    assert deliveries == 5  # the template's maxReceiveCount
    assert lifecycle.queued("SupplierRequestsQueue") == 0
    assert lifecycle.queued("SupplierRequestsDeadLetterQueue") == 1


# --------------------------------------------------------------------------------------------- KCI during the call


def apply_kci_now(lifecycle, kci: dict) -> None:
    """Apply a KCI through the KCI processor's use case (thread-safe, unlike a handler)."""
    outcome = lifecycle.kci_processor.deps.apply_kci(
        KciEnvelope(supplier="DUMMY_SUPPLIER", receivedOn=iso(utc_now()), requestId="kci-req", kci=kci))
    assert not outcome.duplicate


def test_a_kci_that_rejects_the_cancellation_during_the_supplier_call_wins(lifecycle, supplier_stub):
    cancellation_id = accepted_cancellation(lifecycle)
    _ = lifecycle.kci_processor  # loaded before the call, in this thread
    kci = make_kci(ORDER_ID, 2, "CANCELLATION_REJECTED", status="IN_PROGRESS", cancellation_id=cancellation_id,
                   text="Engineer already on site")
    supplier_stub.before_answer = lambda _request: apply_kci_now(lifecycle, kci)
    supplier_stub.answers.append((201, json.dumps({"supplierReference": "TOO-LATE"}), 0))

    _, result = lifecycle.dispatch()

    assert result == {"batchItemFailures": []}
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.REJECTED and record.decidedBy == "KCI"
    assert record.supplierReference is None
    assert record.error.messages == ["The supplier API returned the following message: Engineer already on site"]
    order = lifecycle.order(ORDER_ID)
    assert order.status == "IN_PROGRESS" and order.openCancellationId is None
    assert lifecycle.queued("SupplierRequestsQueue") == 0


def test_a_kci_that_completes_the_cancellation_during_a_failing_supplier_call_wins(lifecycle, supplier_stub):
    cancellation_id = accepted_cancellation(lifecycle)
    _ = lifecycle.kci_processor  # loaded before the call, in this thread
    kci = make_kci(ORDER_ID, 2, "CANCELLED", cancellation_id=cancellation_id)
    supplier_stub.before_answer = lambda _request: apply_kci_now(lifecycle, kci)
    supplier_stub.answers.append((503, "", 0))

    _, result = lifecycle.dispatch()

    assert result == {"batchItemFailures": []}  # nothing left to retry: the cancellation is decided
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.COMPLETED and record.decidedBy == "KCI" and record.error is None
    assert lifecycle.order(ORDER_ID).status == "CANCELLED"
    assert len(supplier_stub.requests) == 1
