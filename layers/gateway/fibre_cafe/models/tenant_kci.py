"""Tenant Updates API 1.14: the KCIs the gateway delivers to a tenant's own ``POST /kcis``.

The envelope: ``id`` (new UUID per tenant KCI), ``supplier``, ``sequenceNumber`` (per order,
strictly increasing, shared by supplier-originated and gateway-originated KCIs), ``issuedOn`` and
``receivedOn`` (when the KCI came from a supplier), ``deliveredOn`` (set at delivery),
``updateType``, ``information``, ``entityType`` and ``entity`` (the latest order, including the
cancellation request in question under ``serviceOrderCancellation``); ``error`` for ERROR updates.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from fibre_cafe.models.errors import ErrorBody
from fibre_cafe.models.order import OrderType


class UpdateType(StrEnum):
    INFORMATIONAL = "INFORMATIONAL"
    ACTION_REQUIRED = "ACTION_REQUIRED"
    ERROR = "ERROR"


class EntityType(StrEnum):
    PROVIDE_ORDER = "PROVIDE_ORDER"
    MODIFY_ORDER = "MODIFY_ORDER"
    CEASE_ORDER = "CEASE_ORDER"
    UNSOLICITED_CEASE_ORDER = "UNSOLICITED_CEASE_ORDER"


ENTITY_TYPES: dict[OrderType, EntityType] = {
    OrderType.PROVIDE: EntityType.PROVIDE_ORDER,
    OrderType.MODIFY: EntityType.MODIFY_ORDER,
    OrderType.CEASE: EntityType.CEASE_ORDER,
    OrderType.UNSOLICITED_CEASE: EntityType.UNSOLICITED_CEASE_ORDER,
}


class Information(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class TenantKci(BaseModel):
    """One update for a tenant, as delivered to the tenant's ``POST /kcis``."""

    model_config = ConfigDict(extra="allow")

    id: str
    supplier: str
    sequenceNumber: int
    issuedOn: str | None = None
    receivedOn: str | None = None
    deliveredOn: str | None = None
    updateType: UpdateType
    entityType: EntityType
    entity: dict[str, Any]
    information: Information | None = None
    error: ErrorBody | None = None
    text: str | None = None

    def body(self, delivered_on: str) -> dict[str, Any]:
        return self.model_copy(update={"deliveredOn": delivered_on}).model_dump(mode="json", exclude_none=True)


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class TenantKciMessage(BaseModel):
    """A tenant KCI on its way: what the delivery function needs besides the KCI itself."""

    tenant: str
    orderId: int
    conversationId: str | None = None
    kci: TenantKci
