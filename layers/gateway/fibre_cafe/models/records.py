"""What the gateway stores and queues for a cancellation (internal, not part of the tenant contract)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from fibre_cafe.models.cancellation import CancellationStatus, ReasonCode, ServiceOrderCancellation
from fibre_cafe.models.errors import ErrorBody
from fibre_cafe.models.order import OrderType


class CancellationRecord(BaseModel):
    """A cancellation as stored in the cancellations table."""

    id: int
    tenant: str
    supplier: str
    orderId: int
    orderType: OrderType
    reasonCode: ReasonCode
    text: str | None = None
    status: CancellationStatus
    supplierOrderReference: str | None = None
    supplierReference: str | None = None
    requestId: str
    conversationId: str
    # Test-environment headers (X-Scenario, X-Kci-Delay, X-Problem-Code) passed through to the supplier.
    passThroughHeaders: dict[str, str] = {}
    createdAt: str
    updatedAt: str
    # Set when the cancellation failed to send or was rejected: the error the tenant is told.
    error: ErrorBody | None = None
    forwardAttempts: int = 0
    # Who moved the cancellation to a terminal state: the supplier's synchronous answer, a KCI
    # (with its sequence number: a late KCI with a lower number takes precedence), or an operator.
    decidedBy: Literal["SUPPLIER_RESPONSE", "KCI", "OPERATOR"] | None = None
    decidedBySequence: int | None = None
    decidedByKciId: str | None = None
    # Supplier dispatch bookkeeping (functions/supplier_dispatcher).
    dispatchAttempts: int = 0
    dispatchLeaseUntil: str | None = None
    version: int = 1

    def tenant_view(self) -> ServiceOrderCancellation:
        return ServiceOrderCancellation(
            id=self.id,
            supplierReference=self.supplierReference,
            status=self.status,
            supplier=self.supplier,
            orderId=self.orderId,
            reasonCode=self.reasonCode,
            text=self.text,
            error=self.error if self.status in (CancellationStatus.REJECTED, CancellationStatus.FAILED_TO_SEND) else None,
        )

    def supplier_request_message(self) -> SupplierRequestMessage:
        return SupplierRequestMessage(
            cancellationId=self.id,
            orderId=self.orderId,
            reasonCode=self.reasonCode,
            supplier=self.supplier,
            supplierOrderReference=self.supplierOrderReference,
            tenant=self.tenant,
            requestId=self.requestId,
            conversationId=self.conversationId,
            passThroughHeaders=self.passThroughHeaders,
        )


class SupplierRequestMessage(BaseModel):
    """Body of a message on the supplier-requests queue: everything the supplier call needs."""

    cancellationId: int
    orderId: int
    reasonCode: ReasonCode
    supplier: str
    supplierOrderReference: str | None = None
    tenant: str
    requestId: str
    conversationId: str
    passThroughHeaders: dict[str, str] = {}
    # Set by an operator's redrive: a FAILED_TO_SEND cancellation may be sent again.
    redrive: bool = False


class StoredResponse(BaseModel):
    """The answer given to a tenant's request, kept under (tenant, X-Request-ID) for idempotent replays."""

    tenant: str
    requestId: str
    fingerprint: str
    statusCode: int
    body: dict[str, Any]
    cancellationId: int
    createdAt: str
    expiresAt: int
