"""Supplier Updates API 1.8: the KCIs ("Keep Customer Informed") a supplier posts to ``POST /kcis``.

A KCI carries metadata and exactly one order entity holding the latest version of the order.
The order entities are open models: the gateway needs ``id``, ``tenant``, ``status`` and
``supplierOrderReference`` and keeps the rest (address, contacts, dates...) as the supplier sent it.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from fibre_cafe.models.cancellation import MAX_SAFE_INTEGER, _no_control_characters, _whole_number
from fibre_cafe.models.order import OrderType


class KciReasonCode(StrEnum):
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

# What the gateway keeps of an order entity's extra fields (address, contacts, ...): it stores them in DynamoDB
# (the order snapshot, the KCI history) and sends them on to the tenant, so POST /kcis refuses (400) what
# DynamoDB cannot hold or what would not fit, instead of accepting it and failing later (issue 10).
EXTRA_MAX_JSON_BYTES = 32 * 1024  # all extra fields of the entity together, as compact JSON
EXTRA_MAX_DEPTH = 8  # objects/arrays nested below the entity
EXTRA_KEY_MAX_LENGTH = 100  # map keys: 1..100 characters, no control characters
DYNAMODB_MAX_DIGITS = 38
DYNAMODB_MIN_MAGNITUDE = Decimal("1e-130")
DYNAMODB_MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999e125")
EXTRA_RULES = (
    f"order entity extra fields: at most {EXTRA_MAX_JSON_BYTES} bytes of JSON and {EXTRA_MAX_DEPTH} levels of nesting; "
    f"keys of 1 to {EXTRA_KEY_MAX_LENGTH} characters without control characters; numbers of at most "
    f"{DYNAMODB_MAX_DIGITS} significant digits and magnitude from 1e-130 to 9.99e125 (or 0)"
)


def storable_number_problem(value: int | float) -> str | None:
    """Why DynamoDB cannot hold ``value`` (None if it can)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    try:
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    except (InvalidOperation, ValueError):
        return "is not a number"
    if number == 0:
        return None
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")  # not normalize(): it rounds to 28 digits
    digits = len(significant)
    if digits > DYNAMODB_MAX_DIGITS:
        return f"has {digits} significant digits (at most {DYNAMODB_MAX_DIGITS})"
    if not DYNAMODB_MIN_MAGNITUDE <= abs(number) <= DYNAMODB_MAX_MAGNITUDE:
        return "is outside the storable magnitude 1e-130 to 9.99e125"
    return None


def _extra_problems(value: Any, path: str, depth: int, problems: list[str]) -> None:
    if len(problems) >= 10:
        return
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        problem = storable_number_problem(value)
        if problem:
            problems.append(f"Invalid value for field {path} - the number {problem}")
        return
    if isinstance(value, (dict, list)):
        if depth > EXTRA_MAX_DEPTH:
            problems.append(f"Invalid value for field {path} - nested more than {EXTRA_MAX_DEPTH} levels below the order entity")
            return
        if isinstance(value, list):
            for index, item in enumerate(value):
                _extra_problems(item, f"{path}[{index}]", depth + 1, problems)
            return
        for key, item in value.items():
            _key_problem(key, path, problems)
            _extra_problems(item, f"{path}.{key}", depth + 1, problems)


def _key_problem(key: str, path: str, problems: list[str]) -> None:
    if not key:
        problems.append(f"Invalid field name in {path} - an empty key cannot be stored")
    elif len(key) > EXTRA_KEY_MAX_LENGTH:
        problems.append(f"Invalid field name in {path} - {key[:20]!r}... is longer than {EXTRA_KEY_MAX_LENGTH} characters")
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        problems.append(f"Invalid field name in {path} - {key!r} holds a control character")
ShortText = Annotated[str, Field(min_length=1, max_length=1000), BeforeValidator(_no_control_characters)]


class KciOrderEntity(BaseModel):
    """The latest version of the order, as the supplier sends it (unknown fields are kept)."""

    model_config = ConfigDict(extra="allow")

    id: WholeNumber = Field(description="The gateway's order id")
    tenant: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,20}$")]
    supplierOrderReference: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    status: Annotated[str, Field(pattern=r"^[A-Z_]{1,40}$", description="Order status, e.g. ACKNOWLEDGED, IN_PROGRESS, CANCELLED")]
    supplier: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,20}$")] | None = None

    def extra_problems(self, path: str) -> list[str]:
        """What the gateway could not store or send on among the extra fields (``EXTRA_RULES``), naming each field."""
        extra = self.model_extra or {}
        problems: list[str] = []
        for key, value in extra.items():
            _key_problem(key, path, problems)
            _extra_problems(value, f"{path}.{key}", 1, problems)
        if not problems and extra:
            size = len(json.dumps(extra, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
            if size > EXTRA_MAX_JSON_BYTES:
                problems.append(f"Invalid value for field {path} - its extra fields take {size} bytes of JSON "
                                f"(at most {EXTRA_MAX_JSON_BYTES})")
        return problems


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
    serviceOrderCancellationId: WholeNumber | None = Field(
        default=None, description="The gateway's cancellation id, when the KCI answers a tenant's cancellation"
    )
    provideServiceOrder: KciOrderEntity | None = None
    ceaseServiceOrder: KciOrderEntity | None = None
    modifyServiceOrder: KciOrderEntity | None = None
    unsolicitedCeaseServiceOrder: KciOrderEntity | None = None

    @model_validator(mode="after")
    def _exactly_one_order_and_rules(self) -> SupplierKci:
        present = [name for name in ORDER_ENTITY_FIELDS if getattr(self, name) is not None]
        if len(present) != 1:
            raise ValueError(
                "exactly one order entity is required: one of " + ", ".join(ORDER_ENTITY_FIELDS)
                + (f" (got {', '.join(present)})" if present else "")
            )
        if self.issuedOn.tzinfo is None:
            raise ValueError("issuedOn must carry a time zone (e.g. 2024-04-10T09:53:39.144Z)")
        try:
            self.issuedOn.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("issuedOn is out of range once converted to UTC (years 1 to 9999)") from None
        problems = self.order.extra_problems(self.order_field)
        if problems:
            raise ValueError("; ".join(problems))
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
        entity: KciOrderEntity = getattr(self, self.order_field)
        return entity

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
