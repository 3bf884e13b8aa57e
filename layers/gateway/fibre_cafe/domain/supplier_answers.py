"""What the supplier's answer to ``POST /service-order-cancellations`` means (domain.md section 2).

| supplier answer                              | cancellation                                        |
|----------------------------------------------|-----------------------------------------------------|
| 201 (body may carry supplierReference)        | COMPLETED                                           |
| 202                                          | PENDING (a KCI will confirm or reject)              |
| 422 (error body)                             | REJECTED, keeping the supplier's messages            |
| timeout, connection error, 5xx, 408, 429,    | transient: retried with backoff; once the attempts  |
| unreadable answer                            | are spent FAILED_TO_SEND (SUPPLIER_TIMED_OUT/FAULT) |
| 401 / 403                                    | FAILED_TO_SEND at once, SUPPLIER_FAULT              |
| 400 / other 4xx                              | FAILED_TO_SEND at once: GATEWAY_FAULT for 400 (we   |
|                                              | sent something invalid), SUPPLIER_FAULT otherwise   |
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

from fibre_cafe.domain.partner_answers import is_transient_status
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorCode

SUPPLIER_MESSAGE_PREFIX = "The supplier API returned the following message: "


class AnswerKind(str, Enum):
    DECIDED = "DECIDED"  # the supplier gave a definite answer (COMPLETED, PENDING, REJECTED)
    FAILED = "FAILED"  # not retryable: FAILED_TO_SEND now
    TRANSIENT = "TRANSIENT"  # retry with backoff, FAILED_TO_SEND when the attempts are spent


@dataclass(frozen=True)
class SupplierAnswer:
    kind: AnswerKind
    status: CancellationStatus | None = None
    supplier_reference: str | None = None
    error_code: ErrorCode | None = None
    messages: list[str] = field(default_factory=list)
    http_status: int | None = None


def timed_out(detail: str = "") -> SupplierAnswer:
    return SupplierAnswer(
        AnswerKind.TRANSIENT, error_code=ErrorCode.SUPPLIER_TIMED_OUT,
        messages=["The gateway did not receive a timely response from the supplier"], http_status=None,
    )


def unreachable(detail: str = "") -> SupplierAnswer:
    return SupplierAnswer(
        AnswerKind.TRANSIENT, error_code=ErrorCode.SUPPLIER_FAULT,
        messages=["The gateway could not connect to the supplier"], http_status=None,
    )


def not_configured(supplier: str) -> SupplierAnswer:
    return SupplierAnswer(
        AnswerKind.FAILED, error_code=ErrorCode.GATEWAY_FAULT,
        messages=[f"The gateway has no Supplier API configured for {supplier}"], http_status=None,
    )


def _json_object(body: str) -> dict | None:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _supplier_messages(body: str) -> list[str]:
    parsed = _json_object(body)
    raw = parsed.get("messages") if parsed else None
    if isinstance(raw, list) and raw and all(isinstance(m, str) for m in raw):
        return [SUPPLIER_MESSAGE_PREFIX + message for message in raw]
    return []


def classify(http_status: int, body: str) -> SupplierAnswer:
    """Map an HTTP answer from the supplier to what happens to the cancellation."""
    if http_status in (201, 202):
        parsed = _json_object(body) if body.strip() else {}
        if parsed is None:
            if http_status == 201:
                return SupplierAnswer(AnswerKind.TRANSIENT, error_code=ErrorCode.SUPPLIER_FAULT,
                                      messages=["An invalid response was received from the supplier"], http_status=http_status)
            parsed = {}
        reference = parsed.get("supplierReference")
        reference = reference if isinstance(reference, str) and reference else None
        status = CancellationStatus.COMPLETED if http_status == 201 else CancellationStatus.PENDING
        return SupplierAnswer(AnswerKind.DECIDED, status=status, supplier_reference=reference, http_status=http_status)
    if http_status == 422:
        messages = _supplier_messages(body) or [SUPPLIER_MESSAGE_PREFIX + "cancellation rejected"]
        return SupplierAnswer(AnswerKind.DECIDED, status=CancellationStatus.REJECTED, error_code=ErrorCode.INVALID_REQUEST,
                              messages=messages, http_status=http_status)
    if http_status in (401, 403):
        return SupplierAnswer(AnswerKind.FAILED, error_code=ErrorCode.SUPPLIER_FAULT,
                              messages=[SUPPLIER_MESSAGE_PREFIX + "Not authorised"], http_status=http_status)
    if is_transient_status(http_status):
        return SupplierAnswer(AnswerKind.TRANSIENT, error_code=ErrorCode.SUPPLIER_FAULT,
                              messages=["An invalid response was received from the supplier"], http_status=http_status)
    if http_status == 400:
        return SupplierAnswer(AnswerKind.FAILED, error_code=ErrorCode.GATEWAY_FAULT,
                              messages=["The gateway sent an invalid request to the supplier"] + _supplier_messages(body), http_status=http_status)
    # Other 2xx/3xx/4xx: the supplier answered something the contract does not allow.
    return SupplierAnswer(AnswerKind.FAILED if 400 <= http_status < 500 else AnswerKind.TRANSIENT, error_code=ErrorCode.SUPPLIER_FAULT,
                          messages=["An invalid response was received from the supplier"], http_status=http_status)
