"""KCI rules (domain.md section 3): what one supplier KCI does to the order registry and to a cancellation.

Pure: ``plan_kci`` takes the KCI, the order as stored and a source of new ids (for a rejection's error
uuid), and returns what to write. The store
applies the plan atomically and conditionally (logic/apply_kci.py), so the rules hold whatever
order the KCIs arrive in and however often each arrives:

- A KCI id already processed changes nothing (its history item already exists: the write is refused).
- The order snapshot is the entity of the highest sequenceNumber seen; a lower one never overwrites it
  (it is still kept in the order's history, for audit).
- CANCELLED with ``serviceOrderCancellationId`` completes that cancellation; CANCELLED without one
  (supplier-initiated) completes the order's open cancellation. Either way the order shows CANCELLED,
  unless a KCI with a higher sequence number has reported a newer status.
- CANCELLATION_REJECTED rejects the named cancellation, keeping the supplier's reason.
- Terminal is final: no KCI moves a cancellation that is COMPLETED or REJECTED, whoever decided it
  (another KCI, the supplier's synchronous answer) and whatever its sequence number (the store
  enforces it with a condition on the cancellation's status). A KCI naming a decided cancellation
  with the *other* outcome contradicts what the tenant was told: it is kept in the order's history
  (outcome CONTRADICTS), counted and logged, and changes nothing (logic/apply_kci.py). One that
  agrees (CANCELLED for a COMPLETED cancellation) is applied without touching the cancellation.
- A KCI for an order not yet known creates its snapshot (orders are created elsewhere in the gateway).
- A KCI that names another supplier's or tenant's order, or the wrong order type, can never apply
  (KciRejected); one whose cancellation does not exist yet cannot apply now (KciNotApplicableYet; both in
  domain/errors.py). Both are retried by the queue and end in the dead-letter queue, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fibre_cafe.domain.errors import KciRejected
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorBody, ErrorCode
from fibre_cafe.models.kci import KciReasonCode, SupplierKci
from fibre_cafe.models.order import Order, OrderStatus


@dataclass(frozen=True)
class CancellationEffect:
    """Move cancellation ``cancellation_id`` (of order ``order_id``) to ``status`` because of KCI ``kci_id``."""

    cancellation_id: int
    order_id: int
    status: CancellationStatus
    sequence_number: int
    kci_id: str
    error: ErrorBody | None
    named: bool  # named in the KCI (serviceOrderCancellationId) rather than inferred


class KciOutcomeKind:
    """What became of a KCI (kept as ``outcome`` on its history item)."""

    APPLIED = "APPLIED"  # applied in its place (the tenant is told)
    STALE = "STALE"  # arrived after its place was passed: kept, changes nothing
    CONTRADICTS = "CONTRADICTS"  # would reverse a decided cancellation: kept, changes nothing


@dataclass(frozen=True)
class KciPlan:
    kci: SupplierKci
    supplier: str
    order_before: Order | None
    order_after: Order
    effect: CancellationEffect | None
    outcome: str = KciOutcomeKind.APPLIED
    # For CONTRADICTS: the decided cancellation it contradicts ({"cancellationId", "status"}).
    contradicts: dict[str, Any] | None = None

    @property
    def applied(self) -> bool:
        return self.outcome == KciOutcomeKind.APPLIED

    def without_effect(self) -> KciPlan:
        """The plan when the cancellation turned out not to be movable (already decided the same way)."""
        if self.effect is None:
            return self
        return replace(self, effect=None, order_after=_order_after(self.kci, self.supplier, self.order_before, None))

    def recorded_only(self, outcome: str, contradicts: dict[str, Any] | None = None) -> KciPlan:
        """The KCI is kept in the order's history and changes nothing else; its place in the sequence is passed."""
        before = self.order_before
        if before is None:  # cannot happen for a contradiction (a decided cancellation has its order)
            return replace(self, outcome=outcome, contradicts=contradicts, effect=None)
        after = before.model_copy(update={"version": before.version + 1,
                                          "lastSequenceNumber": max(before.lastSequenceNumber, self.kci.sequenceNumber)})
        return replace(self, effect=None, order_after=after, outcome=outcome, contradicts=contradicts)


def rejection_error(kci: SupplierKci, error_id: str) -> ErrorBody:
    reason = kci.text or kci.problemCode or "cancellation rejected"
    return ErrorBody(uuid=error_id, code=ErrorCode.INVALID_REQUEST, messages=[f"The supplier API returned the following message: {reason}"])


def _target(kci: SupplierKci, order: Order | None) -> tuple[int | None, bool]:
    if kci.reasonCode not in (KciReasonCode.CANCELLED, KciReasonCode.CANCELLATION_REJECTED):
        return None, False
    if kci.serviceOrderCancellationId is not None:
        return kci.serviceOrderCancellationId, True
    if kci.reasonCode is KciReasonCode.CANCELLED and order is not None:
        # Supplier-initiated: the open cancellation, or the last one if a later KCI decided it.
        return order.openCancellationId or order.lastCancellationId, False
    return None, False


def _effect(kci: SupplierKci, order: Order | None, new_id: Callable[[], str]) -> CancellationEffect | None:
    target, named = _target(kci, order)
    if target is None:
        return None
    if kci.reasonCode is KciReasonCode.CANCELLED:
        status, error = CancellationStatus.COMPLETED, None
    else:
        status, error = CancellationStatus.REJECTED, rejection_error(kci, new_id())
    return CancellationEffect(
        cancellation_id=target,
        order_id=kci.order.id,
        status=status,
        sequence_number=kci.sequenceNumber,
        kci_id=str(kci.id),
        error=error,
        named=named,
    )


def _order_after(kci: SupplierKci, supplier: str, before: Order | None, effect: CancellationEffect | None) -> Order:
    entity = kci.order
    base = before or Order(
        id=entity.id,
        tenant=entity.tenant,
        supplier=supplier,
        orderType=kci.order_type,
        status=entity.status,
        supplierStatus=entity.status,
        supplierOrderReference=entity.supplierOrderReference,
        lastSequenceNumber=0,
        version=0,
    )
    updates: dict[str, Any] = {"version": base.version + 1}
    if kci.sequenceNumber > base.lastSequenceNumber:
        supplier_status = OrderStatus.CANCELLED.value if kci.reasonCode is KciReasonCode.CANCELLED else entity.status
        updates.update(
            lastSequenceNumber=kci.sequenceNumber,
            supplierStatus=supplier_status,
            supplierOrderReference=entity.supplierOrderReference or base.supplierOrderReference,
            entity=entity.model_dump(mode="json", exclude_none=True),
        )
    open_id = base.openCancellationId
    if effect is not None and open_id == effect.cancellation_id:
        open_id = None
    updates["openCancellationId"] = open_id
    after = base.model_copy(update=updates)
    # The shown status derives from the newest snapshot alone: a CANCELLED KCI that is the newest has already
    # set supplierStatus to CANCELLED; a late one with a lower sequence number must not put CANCELLED over a
    # newer snapshot (applied in sequence order, the newer KCI would have replaced it).
    return after.model_copy(update={"status": after.shown_status()})


def plan_kci(kci: SupplierKci, supplier: str, order: Order | None, new_id: Callable[[], str]) -> KciPlan:
    """What ``kci`` from ``supplier`` does, given the order as stored (None if not yet known); ``new_id`` names the
    error of a rejection (fibre_cafe.ids.new_id)."""
    entity = kci.order
    if entity.supplier is not None and entity.supplier != supplier:
        raise KciRejected(f"The order entity names supplier {entity.supplier}, not {supplier}")
    if order is not None:
        if order.supplier != supplier:
            raise KciRejected(f"Order {order.id} is not an order of supplier {supplier}")
        if order.tenant != entity.tenant:
            raise KciRejected(f"Order {order.id} does not belong to tenant {entity.tenant}")
        if order.orderType is not kci.order_type:
            raise KciRejected(f"Order {order.id} is a {order.orderType.value} order, not {kci.order_type.value}")
    effect = _effect(kci, order, new_id)
    if (
        effect is not None
        and not effect.named
        and order is not None
        and order.openCancellationId is None
        and order.lastCancellationId is None
    ):
        effect = None
    return KciPlan(kci=kci, supplier=supplier, order_before=order, order_after=_order_after(kci, supplier, order, effect), effect=effect)
