"""What the supplier's answer to a cancellation means (domain.md section 2), in the domain's terms.

The DAL reads the HTTP answer (dal/supplier_api.py: which status and body is which answer) and builds one of
these; the dispatcher (logic/dispatch_cancellation.py) acts on it:

- DECIDED: the supplier decided (COMPLETED with its reference, PENDING until a KCI, REJECTED with its messages);
- TRANSIENT: no usable answer (timed out, unreachable, an answer it may not give): retried with backoff, and
  FAILED_TO_SEND (SUPPLIER_TIMED_OUT or SUPPLIER_FAULT) once the attempts are spent;
- FAILED: trying again cannot help (credentials refused, the gateway's own request refused, no supplier
  configured): FAILED_TO_SEND at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorCode

SUPPLIER_MESSAGE_PREFIX = "The supplier API returned the following message: "


class AnswerKind(StrEnum):
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
    http_status: int | None = None  # the answer's own status, for the logs (set by the DAL; None: no answer)


def decided(status: CancellationStatus, supplier_reference: str | None = None) -> SupplierAnswer:
    """COMPLETED or PENDING, with the supplier's reference if it gave one."""
    return SupplierAnswer(AnswerKind.DECIDED, status=status, supplier_reference=supplier_reference)


def rejected(supplier_messages: list[str]) -> SupplierAnswer:
    """The supplier refused the cancellation; its own messages are kept (quoted) for the tenant."""
    messages = [SUPPLIER_MESSAGE_PREFIX + message for message in supplier_messages] or [SUPPLIER_MESSAGE_PREFIX + "cancellation rejected"]
    return SupplierAnswer(AnswerKind.DECIDED, status=CancellationStatus.REJECTED, error_code=ErrorCode.INVALID_REQUEST, messages=messages)


def timed_out() -> SupplierAnswer:
    return SupplierAnswer(AnswerKind.TRANSIENT, error_code=ErrorCode.SUPPLIER_TIMED_OUT,
                          messages=["The gateway did not receive a timely response from the supplier"])


def unreachable() -> SupplierAnswer:
    return SupplierAnswer(AnswerKind.TRANSIENT, error_code=ErrorCode.SUPPLIER_FAULT,
                          messages=["The gateway could not connect to the supplier"])


def invalid_answer(retryable: bool) -> SupplierAnswer:
    """An answer the contract does not allow (or an unreadable one); ``retryable``: it may be better next time."""
    return SupplierAnswer(AnswerKind.TRANSIENT if retryable else AnswerKind.FAILED, error_code=ErrorCode.SUPPLIER_FAULT,
                          messages=["An invalid response was received from the supplier"])


def credentials_refused() -> SupplierAnswer:
    return SupplierAnswer(AnswerKind.FAILED, error_code=ErrorCode.SUPPLIER_FAULT, messages=[SUPPLIER_MESSAGE_PREFIX + "Not authorised"])


def request_refused(supplier_messages: list[str]) -> SupplierAnswer:
    """The supplier says the gateway's request was invalid: the gateway's fault, not retried."""
    return SupplierAnswer(AnswerKind.FAILED, error_code=ErrorCode.GATEWAY_FAULT,
                          messages=["The gateway sent an invalid request to the supplier"]
                          + [SUPPLIER_MESSAGE_PREFIX + message for message in supplier_messages])


def not_configured(supplier: str) -> SupplierAnswer:
    return SupplierAnswer(AnswerKind.FAILED, error_code=ErrorCode.GATEWAY_FAULT,
                          messages=[f"The gateway has no Supplier API configured for {supplier}"])
