"""The order registry's view of an order: the latest snapshot a supplier reported in a KCI."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class OrderType(StrEnum):
    PROVIDE = "PROVIDE"
    CEASE = "CEASE"
    MODIFY = "MODIFY"
    UNSOLICITED_CEASE = "UNSOLICITED_CEASE"


class OrderStatus(StrEnum):
    RECEIVED_BY_GATEWAY = "RECEIVED_BY_GATEWAY"
    SENT_TO_SUPPLIER = "SENT_TO_SUPPLIER"
    FAILED_TO_SEND = "FAILED_TO_SEND"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    IN_PROGRESS = "IN_PROGRESS"
    PENDING = "PENDING"
    HELD = "HELD"
    PENDING_AMENDMENT = "PENDING_AMENDMENT"
    PENDING_CANCELLATION = "PENDING_CANCELLATION"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


class Order(BaseModel):
    """One item of the order registry.

    ``supplierStatus`` is the status in the supplier's latest snapshot; ``status`` is what the
    gateway shows, which is PENDING_CANCELLATION while ``openCancellationId`` is set.
    ``version`` guards every write (optimistic concurrency: nothing is silently overwritten).
    """

    id: int
    tenant: str
    supplier: str
    orderType: OrderType
    status: str
    supplierStatus: str
    supplierOrderReference: str | None = None
    # The sequence number whose place was passed last (applied, stale, contradicting, or skipped past a gap):
    # the next KCI expected is lastSequenceNumber + 1.
    lastSequenceNumber: int = 0
    openCancellationId: int | None = None
    # The most recent cancellation of this order, open or decided (a late supplier-initiated
    # CANCELLED KCI may still decide it; see domain/kci_rules.py).
    lastCancellationId: int | None = None
    # A summary of that cancellation (tenant view + X-Conversation-ID) for the tenant KCIs about it.
    lastCancellation: dict[str, Any] | None = None
    # The sequence number of the last tenant KCI about this order (see domain/tenant_kci_rules.py).
    tenantKciSequence: int = 0
    # The order entity of the KCI with the highest sequence number, as the supplier sent it.
    entity: dict[str, Any] | None = None
    # KCIs held because they arrived ahead of a missing sequence number (items HELD#<seq>#<kci id> of this
    # order), and when the pending hold-expiry timer fires (see logic/apply_kci.py).
    heldKcis: int = 0
    holdTimerUntil: str | None = None
    version: int = 0

    def shown_status(self, supplier_status: str | None = None) -> str:
        """What the gateway shows: PENDING_CANCELLATION while a cancellation is open."""
        if self.openCancellationId is not None:
            return OrderStatus.PENDING_CANCELLATION.value
        return supplier_status if supplier_status is not None else self.supplierStatus
