"""Faults, end to end: the supplier fails until the cancellation is FAILED_TO_SEND, then recovers; the operator's
redrive (logic/redrive.py, the RedriveFunction) gets the cancellation through. Nothing lost, nothing duplicated,
and at each step the status the tenant reads (GET) tells the truth.

What tests/unit/test_faults.py and tests/lifecycle/ already cover is not repeated here: DynamoDB throttling and
timeouts on the POST (503, nothing half-written), SQS failing after the write and a crash between write and send
(the forwarding sweeper sends it; it gives up visibly and the redrive gets it through), supplier 401 then redrive,
dead letters moved back after a DynamoDB outage, a synchronous 422 (REJECTED). Added: supplier timeouts, 5xx and
refused connections exhausting the dispatcher's attempts, then recovery by redrive (redriven twice, so two
messages: one supplier call); a 422 is final (a redrive skips it, a late KCI cannot reopen it).
"""

from __future__ import annotations

import json

import pytest

from fibre_cafe.logic.redrive import redrive_failed_to_send
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorCode
from testing.events import make_kci
from tests.lifecycle.test_supplier_dispatcher import (
    MAX_ATTEMPTS,
    ORDER_ID,
    SUPPLIER_422_BODY,
    accepted_cancellation,
    closed_port_url,
    point_dispatcher_at,
    retry_until_failed,
)

FAULTS = {
    "timeout": ((201, "", 3.0), ErrorCode.SUPPLIER_TIMED_OUT),  # answers long after the 0.2 s read timeout
    "500": ((500, "", 0), ErrorCode.SUPPLIER_FAULT),
    "503": ((503, "Service Unavailable", 0), ErrorCode.SUPPLIER_FAULT),
    "connection refused": (None, None),
}


def tenant_sees(lifecycle, cancellation_id: int) -> dict:
    status, body = lifecycle.get(cancellation_id)
    assert status == 200, body
    return body


def redrive(lifecycle) -> list[int]:
    deps = lifecycle.redrive.deps
    return redrive_failed_to_send(deps.table, deps.queue).redriven


@pytest.mark.parametrize("fault", list(FAULTS))
def test_supplier_down_until_failed_to_send_then_a_redrive_completes_it_exactly_once(lifecycle, supplier_stub, fault):
    cancellation_id = accepted_cancellation(lifecycle)
    answer, code = FAULTS[fault]
    if answer is None:
        point_dispatcher_at(lifecycle, closed_port_url())
    else:
        point_dispatcher_at(lifecycle, supplier_stub.url, read_timeout=0.2)
        supplier_stub.answers.extend([answer] * MAX_ATTEMPTS)
    assert tenant_sees(lifecycle, cancellation_id)["status"] == "RECEIVED_BY_GATEWAY"

    if answer is None:
        for _attempt in range(MAX_ATTEMPTS):
            event, result = lifecycle.dispatch(visibility_timeout=0)
            if result["batchItemFailures"]:
                lifecycle.make_visible(event)  # the backoff has elapsed
        assert lifecycle.queued("SupplierRequestsQueue") == 0
    else:
        retry_until_failed(lifecycle, supplier_stub, cancellation_id)
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.FAILED_TO_SEND
    if code is not None:
        assert record.error.code is code
    seen = tenant_sees(lifecycle, cancellation_id)
    assert seen["status"] == "FAILED_TO_SEND", "the tenant is told the truth"
    assert lifecycle.order(ORDER_ID).status == "PENDING_CANCELLATION", "still open: a redrive may deliver it"

    # The supplier is back; the operator redrives.
    point_dispatcher_at(lifecycle, supplier_stub.url)
    before = len(supplier_stub.requests)
    supplier_stub.answers.append((201, json.dumps({"supplierReference": "R-OK"}), 0))
    assert redrive(lifecycle) == [cancellation_id]
    # An impatient second redrive before the dispatcher ran queues it again (it is still FAILED_TO_SEND until the
    # supplier answers): the duplicate message must not make a second supplier call.
    assert redrive(lifecycle) == [cancellation_id]
    _, result = lifecycle.dispatch()
    assert result == {"batchItemFailures": []}
    assert lifecycle.queued("SupplierRequestsQueue") == 0

    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.COMPLETED and record.supplierReference == "R-OK" and record.error is None
    seen = tenant_sees(lifecycle, cancellation_id)
    assert seen["status"] == "COMPLETED" and seen["supplierReference"] == "R-OK"
    assert lifecycle.order(ORDER_ID).status == "CANCELLED"
    assert len(supplier_stub.requests) == before + 1, "exactly one call after the recovery"
    assert redrive(lifecycle) == [], "a completed cancellation is never re-sent"
    assert lifecycle.dispatch()[1] == {"batchItemFailures": []} and len(supplier_stub.requests) == before + 1


def test_a_supplier_422_is_final_and_a_redrive_leaves_it_alone(lifecycle, supplier_stub):
    cancellation_id = accepted_cancellation(lifecycle)
    supplier_stub.answers.append((422, SUPPLIER_422_BODY, 0))
    lifecycle.dispatch()
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.REJECTED
    assert tenant_sees(lifecycle, cancellation_id)["status"] == "REJECTED"
    assert redrive(lifecycle) == []
    assert lifecycle.queued("SupplierRequestsQueue") == 0 and len(supplier_stub.requests) == 1
    # A late duplicate of the KCI path cannot reopen it either: a CANCELLED KCI naming it changes nothing.
    lifecycle.post_kci(make_kci(ORDER_ID, 2, "CANCELLED", cancellation_id=cancellation_id))
    lifecycle.process_kcis()
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.REJECTED
