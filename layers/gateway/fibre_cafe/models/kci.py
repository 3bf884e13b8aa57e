"""Supplier Updates API 1.8: the KCIs ("Keep Customer Informed") a supplier posts to ``POST /kcis``.

A KCI carries metadata and exactly one order entity holding the latest version of the order.
The order entities are open models: the gateway needs ``id``, ``tenant``, ``status`` and
``supplierOrderReference`` and keeps the rest (address, contacts, dates...) as the supplier sent it.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from fibre_cafe.models.cancellation import MAX_SAFE_INTEGER, _no_control_characters, _whole_number
from fibre_cafe.models.order import OrderType


class KciReasonCode(str, Enum):
    CREATED = "CREATED"
    UPDATE = "UPDATE"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    COMMITTED = "COMMITTED"
    ADDITIONAL = "ADDITIONAL"
    WARNING = "WARNING"
    DELAY = "DELAY"
    INFORMATION_REQUIRED = "INFORMATION_REQUIRED"
    REAPPOINT = "REAPPOINT"
    REAPPOINTED = "REAPPOINTED"
    RESUMED = "RESUMED"
    AMENDED = "AMENDED"
    AMENDMENT_REJECTED = "AMENDMENT_REJECTED"
    CANCELLED = "CANCELLED"
    CANCELLATION_REJECTED = "CANCELLATION_REJECTED"
    ORDER_REJECTED = "ORDER_REJECTED"
    COMPLETED = "COMPLETED"


WholeNumber = Annotated[int, Field(strict=True, ge=1, le=MAX_SAFE_INTEGER), BeforeValidator(_whole_number)]
ShortText = Annotated[str, Field(min_length=1, max_length=1000), BeforeValidator(_no_control_characters)]


class KciOrderEntity(BaseModel):
    """The latest version of the order, as the supplier sends it (unknown fields are kept)."""

    model_config = ConfigDict(extra="allow")

    id: WholeNumber = Field(description="The gateway's order id")
    tenant: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,20}$")]
    supplierOrderReference: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    status: Annotated[str, Field(pattern=r"^[A-Z_]{1,40}$", description="Order status, e.g. ACKNOWLEDGED, IN_PROGRESS, CANCELLED")]
    supplier: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,20}$")] | None = None


# KCI field name -> the order type it describes.
ORDER_ENTITY_FIELDS: dict[str, OrderType] = {
    "provideServiceOrder": OrderType.PROVIDE,
    "ceaseServiceOrder": OrderType.CEASE,
    "modifyServiceOrder": OrderType.MODIFY,
    "unsolicitedCeaseServiceOrder": OrderType.UNSOLICITED_CEASE,
}


class SupplierKci(BaseModel):
    """Body of ``POST /kcis`` from a supplier."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "1150e313-3020-49f3-ace3-f8aacfeec4e3", "sequenceNumber": 1, "issuedOn": "2024-04-10T09:53:39.144Z",
        "reasonCode": "ACKNOWLEDGED",
        "provideServiceOrder": {"id": 12345, "tenant": "TENANT1", "supplierOrderReference": "FC123", "status": "ACKNOWLEDGED"},
    }]})

    id: UUID = Field(description="Unique per KCI; a KCI id already processed changes nothing")
    sequenceNumber: WholeNumber = Field(description="Orders the KCIs of one order")
    issuedOn: datetime
    reasonCode: KciReasonCode
    problemCode: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    text: ShortText | None = None
    supplierCodes: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(default=None, max_length=50)
    supplierCode: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(default=None, deprecated=True)
    serviceOrderCancellationId: WholeNumber | None = Field(default=None, description="The gateway's cancellation id, when the KCI answers a tenant's cancellation")
    provideServiceOrder: KciOrderEntity | None = None
    ceaseServiceOrder: KciOrderEntity | None = None
    modifyServiceOrder: KciOrderEntity | None = None
    unsolicitedCeaseServiceOrder: KciOrderEntity | None = None

    @model_validator(mode="after")
    def _exactly_one_order_and_rules(self) -> "SupplierKci":
        present = [name for name in ORDER_ENTITY_FIELDS if getattr(self, name) is not None]
        if len(present) != 1:
            raise ValueError(
                "exactly one order entity is required: one of " + ", ".join(ORDER_ENTITY_FIELDS)
                + (f" (got {', '.join(present)})" if present else "")
            )
        if self.issuedOn.tzinfo is None:
            raise ValueError("issuedOn must carry a time zone (e.g. 2024-04-10T09:53:39.144Z)")
        if self.reasonCode is KciReasonCode.CANCELLED and not self.problemCode:
            raise ValueError("problemCode is mandatory when reasonCode is CANCELLED")
        if self.reasonCode is KciReasonCode.CANCELLATION_REJECTED and self.serviceOrderCancellationId is None:
            # A rejection always answers a tenant's cancellation, for which the id is required (Supplier Updates API).
            raise ValueError("serviceOrderCancellationId is mandatory when reasonCode is CANCELLATION_REJECTED")
        return self

    @property
    def order_field(self) -> str:
        return next(name for name in ORDER_ENTITY_FIELDS if getattr(self, name) is not None)

    @property
    def order(self) -> KciOrderEntity:
        return getattr(self, self.order_field)

    @property
    def order_type(self) -> OrderType:
        return ORDER_ENTITY_FIELDS[self.order_field]


class KciEnvelope(BaseModel):
    """A KCI on the KCI queue: the body as received plus who sent it and when (set by the gateway)."""

    supplier: str
    receivedOn: str
    requestId: str
    conversationId: str | None = None
    kci: dict[str, Any]

    def parsed(self) -> SupplierKci:
        return SupplierKci.model_validate(self.kci)


KCI_ACCEPTED_VALUES: dict[str, str] = {
    "id": "a UUID",
    "sequenceNumber": f"a whole number from 1 to {MAX_SAFE_INTEGER}",
    "issuedOn": "an ISO 8601 date-time with a time zone",
    "reasonCode": ", ".join(code.value for code in KciReasonCode),
    "serviceOrderCancellationId": f"a whole number from 1 to {MAX_SAFE_INTEGER}",
}
