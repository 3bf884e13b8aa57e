"""What a change to a cancellation does to its order, and the tenant KCI that reports it. Pure.

Two sources of change:

- a supplier KCI applied by the KCI processor (``with_tenant_update``): every applied KCI is
  reported (a cancellation outcome, or a relay of the supplier's update);
- the supplier's answer to the dispatcher, or the forwarding sweeper giving up
  (``order_after_outcome`` + ``tenant_update_for_outcome``): COMPLETED, REJECTED and
  FAILED_TO_SEND are reported, PENDING is not (nothing for the tenant to act on).

Either way the order takes its next ``tenantKciSequence`` in the same write as the change. The tenant KCI's id
(``kci_id``) is the caller's: the domain makes no ids.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fibre_cafe.domain import tenant_kci_rules
from fibre_cafe.domain.cancellation_summary import cancellation_summary
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.order import Order, OrderStatus
from fibre_cafe.models.records import CancellationRecord
from fibre_cafe.models.tenant_kci import TenantKciMessage

if TYPE_CHECKING:  # annotations only: the dispatcher and the sweeper never import the supplier-KCI rules and models
    from fibre_cafe.domain.kci_rules import KciPlan

REPORTED_OUTCOMES = frozenset({CancellationStatus.COMPLETED, CancellationStatus.REJECTED, CancellationStatus.FAILED_TO_SEND})


def with_tenant_update(plan: KciPlan, received_on: str, conversation_id: str | None, kci_id: str) -> tuple[KciPlan, TenantKciMessage]:
    """The plan with the order's next tenant KCI sequence taken, and the tenant KCI reporting it."""
    order = plan.order_after
    sequence = order.tenantKciSequence + 1
    effect = plan.effect
    summary = dict(order.lastCancellation or {})
    if effect is not None:
        if summary.get("id") != effect.cancellation_id:
            summary = {"id": effect.cancellation_id, "orderId": order.id, "supplier": order.supplier}
        summary["status"] = effect.status.value
    updates: dict[str, Any] = {"tenantKciSequence": sequence}
    if effect is not None and order.lastCancellation and order.lastCancellation.get("id") == effect.cancellation_id:
        updates["lastCancellation"] = summary
    order = order.model_copy(update=updates)
    if effect is not None:
        kci = tenant_kci_rules.for_cancellation_outcome(order, sequence, kci_id, summary, effect.status, effect.error, plan.kci,
                                                       received_on)
        conversation = summary.get("conversationId") or conversation_id
    else:
        kci = tenant_kci_rules.for_supplier_kci(order, sequence, kci_id, plan.kci, received_on)
        conversation = (tenant_kci_rules.cancellation_in_question(order, plan.kci) or {}).get("conversationId") or conversation_id
    assert kci is not None
    message = TenantKciMessage(tenant=order.tenant, orderId=order.id, conversationId=conversation, kci=kci)
    return replace(plan, order_after=order), message


def order_after_outcome(order: Order, record: CancellationRecord) -> Order:
    """The order once the supplier's answer (or the sweeper) moved ``record`` to its new status."""
    updates: dict[str, Any] = {"version": order.version + 1}
    if order.lastCancellationId == record.id:
        updates["lastCancellation"] = cancellation_summary(record)
    if order.openCancellationId == record.id and record.status is CancellationStatus.COMPLETED:
        updates.update(openCancellationId=None, supplierStatus=OrderStatus.CANCELLED.value)
    elif order.openCancellationId == record.id and record.status is CancellationStatus.REJECTED:
        updates["openCancellationId"] = None
    if record.status in REPORTED_OUTCOMES:
        updates["tenantKciSequence"] = order.tenantKciSequence + 1
    after = order.model_copy(update=updates)
    return after.model_copy(update={"status": after.shown_status()})


def tenant_update_for_outcome(order_after: Order, record: CancellationRecord, kci_id: str) -> TenantKciMessage | None:
    """The tenant KCI for ``record``'s new status, using the sequence ``order_after_outcome`` took."""
    if record.status not in REPORTED_OUTCOMES:
        return None
    summary = cancellation_summary(record)
    kci = tenant_kci_rules.for_cancellation_outcome(order_after, order_after.tenantKciSequence, kci_id, summary, record.status,
                                              record.error)
    assert kci is not None
    return TenantKciMessage(tenant=order_after.tenant, orderId=order_after.id, conversationId=record.conversationId, kci=kci)
