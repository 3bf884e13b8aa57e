"""Send one queued cancellation to its supplier and record the answer (domain/supplier_answers.py).

Exactly-once toward the supplier, as far as a queue allows:

- A message for a cancellation that already has an answer (PENDING, COMPLETED, REJECTED, or
  FAILED_TO_SEND without a redrive) is acknowledged without calling the supplier.
- Before calling, the dispatcher claims the cancellation with a lease (a version-checked write);
  a duplicate message delivered meanwhile sees the lease and is retried later, when it finds
  the answer. The lease outlives the Lambda timeout, so a crashed call is retried after it.
- The supplier gets the tenant's X-Request-ID on every attempt, so it can recognise a retry.

Transient failures (timeouts, connection errors, 5xx, unreadable answers) release the lease and
raise ``RetryLater`` (dal/partner_client.py: exponential backoff with full jitter): the handler hides
the message for that backoff and reports it failed, so the queue redelivers it. After ``max_attempts`` the
cancellation becomes FAILED_TO_SEND with SUPPLIER_TIMED_OUT or SUPPLIER_FAULT, which operators can redrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from aws_lambda_powertools import Logger

from fibre_cafe.clock import Clock, iso, utc_now
from fibre_cafe.dal.errors import RetryLater, StaleRecord
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.partner_client import RetryPolicy
from fibre_cafe.dal.supplier_api import SupplierApi
from fibre_cafe.domain import cancellation_state_machine
from fibre_cafe.domain.supplier_answers import AnswerKind, SupplierAnswer
from fibre_cafe.logic.record_outcome import store_outcome
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorBody
from fibre_cafe.models.records import CancellationRecord, SupplierRequestMessage
from fibre_cafe.observability import count

logger = Logger(child=True)

DISPATCHABLE = frozenset({CancellationStatus.RECEIVED_BY_GATEWAY, CancellationStatus.FAILED_TO_SEND})


class DispatchResult(StrEnum):
    ALREADY_ANSWERED = "ALREADY_ANSWERED"
    COMPLETED = "COMPLETED"
    PENDING = "PENDING"
    REJECTED = "REJECTED"
    FAILED_TO_SEND = "FAILED_TO_SEND"


@dataclass
class DispatchSettings(RetryPolicy):
    """Attempts and backoff (the partner client's RetryPolicy: full jitter), and the lease of a claimed cancellation."""

    max_attempts: int = 4
    backoff_base_seconds: int = 10
    backoff_cap_seconds: int = 600
    lease: timedelta = timedelta(seconds=90)


class DispatchCancellation:
    def __init__(self, store: GatewayStore, supplier_api: SupplierApi, settings: DispatchSettings | None = None, clock: Clock = utc_now):
        self.store = store
        self.supplier_api = supplier_api
        self.settings = settings or DispatchSettings()
        self.clock = clock

    def __call__(self, message: SupplierRequestMessage) -> DispatchResult:
        table = self.store.cancellations
        record = table.get(message.cancellationId)
        if record is None:
            # Should never happen (the record is written before the message is sent): retried, then dead-lettered.
            raise RetryLater(f"cancellation {message.cancellationId} is not stored", self.settings.backoff_base_seconds)
        if not self._dispatchable(record, message):
            logger.info(
                "Cancellation already answered; supplier not called", extra={"cancellation_id": record.id, "status": record.status.value}
            )
            return DispatchResult.ALREADY_ANSWERED
        now = self.clock()
        if record.dispatchLeaseUntil and record.dispatchLeaseUntil > iso(now):
            raise RetryLater(f"cancellation {record.id} is being sent by another worker", self.settings.backoff_base_seconds)

        try:
            record = table.replace(
                record.model_copy(update={
                    "dispatchLeaseUntil": iso(now + self.settings.lease),
                    "dispatchAttempts": record.dispatchAttempts + 1,
                    "updatedAt": iso(now),
                }),
                expected_version=record.version,
            )
        except StaleRecord:
            raise RetryLater(f"cancellation {record.id} changed while claiming it", 1) from None

        answer = self.supplier_api.request_cancellation(message)
        logger.info(
            "Supplier answered",
            extra={"cancellation_id": record.id, "supplier_http_status": answer.http_status, "answer": answer.kind.value},
        )
        return self._record(record, answer)

    @staticmethod
    def _dispatchable(record: CancellationRecord, message: SupplierRequestMessage) -> bool:
        if record.status is CancellationStatus.RECEIVED_BY_GATEWAY:
            return True
        return record.status is CancellationStatus.FAILED_TO_SEND and message.redrive

    def _record(self, record: CancellationRecord, answer: SupplierAnswer) -> DispatchResult:
        now = iso(self.clock())
        base = {"dispatchLeaseUntil": None, "updatedAt": now}
        try:
            if answer.kind is AnswerKind.DECIDED:
                assert answer.status is not None
                target = cancellation_state_machine.transition(record.status, answer.status)
                error = ErrorBody.new(answer.error_code, answer.messages) if answer.error_code else None
                decided = record.model_copy(update={
                    **base, "status": target, "error": error,
                    "supplierReference": answer.supplier_reference or record.supplierReference,
                    "decidedBy": None if target is CancellationStatus.PENDING else "SUPPLIER_RESPONSE",
                })
                self._store_outcome(decided, record.version, now)
                return DispatchResult(target.value)

            if answer.kind is AnswerKind.TRANSIENT and self.settings.may_retry(record.dispatchAttempts):
                self.store.cancellations.replace(record.model_copy(update=base), record.version)
                raise self.settings.retry_later(
                    f"supplier answer was transient ({answer.error_code}); attempt {record.dispatchAttempts}", record.dispatchAttempts)

            # Not retryable, or the attempts are spent.
            assert answer.error_code is not None  # every TRANSIENT or FAILED answer names its error (domain/supplier_answers.py)
            error = ErrorBody.new(answer.error_code, answer.messages)
            failed = record.model_copy(update={**base, "status": CancellationStatus.FAILED_TO_SEND, "error": error})
            if record.status is not CancellationStatus.FAILED_TO_SEND:
                cancellation_state_machine.transition(record.status, CancellationStatus.FAILED_TO_SEND)
            self._store_outcome(failed, record.version, now)
            logger.error(
                "Cancellation FAILED_TO_SEND",
                extra={"cancellation_id": record.id, "error_uuid": error.uuid, "error_code": error.code.value},
            )
            return DispatchResult.FAILED_TO_SEND
        except StaleRecord:
            # A KCI decided the cancellation while we were calling the supplier: that answer stands.
            # Never reversed (domain.md section 4): a synchronous answer contradicting that decision is counted and
            # logged with the ids, and not stored.
            current = self.store.cancellations.get(record.id)
            contradicts = (current is not None and answer.kind is AnswerKind.DECIDED and answer.status is not None
                           and current.status in cancellation_state_machine.TERMINAL
                           and answer.status in cancellation_state_machine.TERMINAL and answer.status is not current.status)
            if contradicts and current is not None and answer.status is not None:  # (the same test, narrowed for mypy)
                count("SupplierAnswerContradictions")
                logger.warning("The supplier's answer contradicts the cancellation's decided status; not applied",
                               extra={"cancellation_id": record.id, "order_id": record.orderId, "status": current.status.value,
                                      "answer_status": answer.status.value, "supplier_http_status": answer.http_status,
                                      "decided_by": current.decidedBy, "decided_by_kci_id": current.decidedByKciId})
            else:
                logger.info("Cancellation changed during the supplier call; keeping the stored answer",
                            extra={"cancellation_id": record.id, "status": current.status.value if current else None})
            return DispatchResult.ALREADY_ANSWERED

    def _store_outcome(self, record: CancellationRecord, expected_version: int, now: str) -> None:
        store_outcome(self.store, record, expected_version, now)
