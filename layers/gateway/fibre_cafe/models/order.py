"""The order registry's view of an order: the latest snapshot a supplier reported in a KCI."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel


class OrderType(str, Enum):
    PROVIDE = "PROVIDE"
    CEASE = "CEASE"
    MODIFY = "MODIFY"
    UNSOLICITED_CEASE = "UNSOLICITED_CEASE"


class OrderStatus(str, Enum):
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
    lastSequenceNumber: int = 0
    openCancellationId: int | None = None
    version: int = 0
