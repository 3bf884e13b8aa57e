"""What the tenant was told is never reversed (issue 10, item 2; domain.md sections 3 and 4).

A cancellation's status moves only forward along the state model; COMPLETED and REJECTED never change.
A supplier KCI that would contradict a decided cancellation is kept in the order's history (marked
``contradicts``), counted (metric ``KciContradictions``), logged as a warning with the ids, and not applied:
no snapshot change and no tenant KCI. The same holds against the supplier's synchronous answer and across
redrives.
"""

from __future__ import annotations

import json

import pytest

from fibre_cafe.models.cancellation import CancellationStatus
from testing.events import make_kci
from testing.lambda_context import lambda_context
from tests.lifecycle.test_kci_processor import pending_cancellation

ORDER_ID = 123


def post_and_process(lifecycle, *kcis: dict) -> dict:
    for kci in kcis:
        status, body = lifecycle.post_kci(kci)
        assert status == 204, body
    return lifecycle.process_kcis()


def tenant_kcis(lifecycle, order_id: int = ORDER_ID) -> list[dict]:
    from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox

    return [item["kci"] for item in TenantKciOutbox(lifecycle.orders.client, lifecycle.orders.name).list(order_id)]


def test_why_scenario_a_late_rejection_never_reverses_a_completed_cancellation(lifecycle, supplier_stub):
    """The issue's "Why": seq 1 acknowledged, 202, CANCELLED seq 5 (its window passed: no hold), then a delayed
    CANCELLATION_REJECTED seq 2 naming the same cancellation."""
    lifecycle.hold_window(0)
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    post_and_process(lifecycle, make_kci(ORDER_ID, 5, "CANCELLED", cancellation_id=cancellation_id))
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED
    told = tenant_kcis(lifecycle)

    result = post_and_process(lifecycle, make_kci(ORDER_ID, 2, "CANCELLATION_REJECTED", cancellation_id=cancellation_id,
                                                  text="too late"))

    assert result == {"batchItemFailures": []}  # recorded, not retried
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.COMPLETED and record.error is None
    assert lifecycle.order(ORDER_ID).status == "CANCELLED"
    assert tenant_kcis(lifecycle) == told  # nothing new for the tenant, so no RESUBMIT
    assert not any((kci.get("information") or {}).get("type") == "RESUBMIT" for kci in tenant_kcis(lifecycle))
    late = [entry for entry in lifecycle.orders.history(ORDER_ID) if entry["sequenceNumber"] == 2]
    assert len(late) == 1 and late[0]["outcome"] in ("STALE", "CONTRADICTS")


@pytest.mark.parametrize(("deciding", "later"), [("CANCELLED", "CANCELLATION_REJECTED"), ("CANCELLATION_REJECTED", "CANCELLED")])
def test_a_kci_contradicting_a_decided_cancellation_is_recorded_counted_logged_and_not_applied(
        lifecycle, supplier_stub, deciding, later, caplog, capsys):
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    post_and_process(lifecycle, make_kci(ORDER_ID, 2, deciding, cancellation_id=cancellation_id, text="first answer"))
    decided, order_before, told = lifecycle.cancellation(cancellation_id), lifecycle.order(ORDER_ID), tenant_kcis(lifecycle)
    capsys.readouterr()

    contradicting = make_kci(ORDER_ID, 3, later, cancellation_id=cancellation_id, text="second answer", status="IN_PROGRESS")
    assert post_and_process(lifecycle, contradicting) == {"batchItemFailures": []}

    after = lifecycle.cancellation(cancellation_id)
    assert (after.status, after.decidedBySequence, after.error, after.version) == (decided.status, 2, decided.error, decided.version)
    order = lifecycle.order(ORDER_ID)
    assert order.lastSequenceNumber == 3  # its place is passed
    assert (order.status, order.entity, order.tenantKciSequence) == (
        order_before.status,
        order_before.entity,
        order_before.tenantKciSequence,
    )
    assert tenant_kcis(lifecycle) == told
    [entry] = [e for e in lifecycle.orders.history(ORDER_ID) if e["kciId"] == contradicting["id"]]
    assert entry["outcome"] == "CONTRADICTS" and entry["contradicts"] == {"cancellationId": cancellation_id, "status": decided.status.value}
    assert '"KciContradictions"' in capsys.readouterr().out  # the EMF metric line
    [warning] = [r for r in caplog.records if r.levelname == "WARNING" and "contradicts" in r.getMessage()]
    assert (warning.kci_id, warning.cancellation_id, warning.order_id) == (contradicting["id"], cancellation_id, ORDER_ID)


def test_a_kci_agreeing_with_a_decided_cancellation_is_no_contradiction(lifecycle, supplier_stub):
    """A 201 completed it; the supplier's CANCELLED KCI about the same cancellation repeats it (relayed, no change)."""
    lifecycle.register_order(ORDER_ID)
    cancellation_id = lifecycle.cancel_ok(ORDER_ID)["id"]
    supplier_stub.answers.append((201, "", 0))
    lifecycle.dispatch()
    post_and_process(lifecycle, make_kci(ORDER_ID, 2, "CANCELLED", cancellation_id=cancellation_id))
    [entry] = [e for e in lifecycle.orders.history(ORDER_ID) if e["sequenceNumber"] == 2]
    assert entry["outcome"] == "APPLIED"
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED


@pytest.mark.parametrize(("kci_reason", "supplier_answer"), [
    ("CANCELLED", (422, json.dumps({"messages": ["no"]}), 0)),
    ("CANCELLATION_REJECTED", (201, "", 0)),
])
def test_the_suppliers_synchronous_answer_never_reverses_a_kci_decision(
    lifecycle, supplier_stub, kci_reason, supplier_answer, capsys, caplog
):
    """The KCI decides the cancellation while the supplier call is in flight; the later contradicting 201/422 is
    counted and logged, and the cancellation keeps the KCI's decision."""
    lifecycle.register_order(ORDER_ID)
    cancellation_id = lifecycle.cancel_ok(ORDER_ID)["id"]

    def kci_meanwhile(_request):
        post_and_process(lifecycle, make_kci(ORDER_ID, 2, kci_reason, cancellation_id=cancellation_id, text="by KCI"))

    supplier_stub.before_answer = kci_meanwhile
    supplier_stub.answers.append(supplier_answer)
    lifecycle.dispatch()
    decided = lifecycle.cancellation(cancellation_id)
    assert decided.decidedBy == "KCI"
    assert decided.status is (CancellationStatus.COMPLETED if kci_reason == "CANCELLED" else CancellationStatus.REJECTED)
    assert '"SupplierAnswerContradictions"' in capsys.readouterr().out
    [warning] = [r for r in caplog.records if r.levelname == "WARNING" and "contradicts" in r.getMessage()]
    assert warning.cancellation_id == cancellation_id


def test_a_redriven_kci_never_reverses_a_decision(lifecycle, supplier_stub):
    """A dead-lettered rejection redriven after the cancellation completed: recorded, not applied."""
    from testing.events import kci_envelope

    lifecycle.hold_window(0)
    cancellation_id = pending_cancellation(lifecycle, supplier_stub)
    post_and_process(lifecycle, make_kci(ORDER_ID, 3, "CANCELLED", cancellation_id=cancellation_id))
    late = make_kci(ORDER_ID, 4, "CANCELLATION_REJECTED", cancellation_id=cancellation_id, text="redriven")
    lifecycle.sqs.send_message(QueueUrl=lifecycle.queue("KciDeadLetterQueue"), MessageBody=kci_envelope(late))
    result = lifecycle.redrive.lambda_handler({"action": "dead-letters", "queue": "kcis"}, lambda_context())
    assert len(result["redriven"]) == 1
    assert lifecycle.process_kcis() == {"batchItemFailures": []}
    assert lifecycle.cancellation(cancellation_id).status is CancellationStatus.COMPLETED
