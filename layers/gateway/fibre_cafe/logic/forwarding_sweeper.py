"""The forwarding sweeper: the second half of the "no dual-write loss" guarantee.

The tenant API commits a cancellation and then sends it to the supplier-requests queue. If that
send fails or the process dies in between, the record stays RECEIVED_BY_GATEWAY. This sweep
(a scheduled function in AWS, a command locally) finds cancellations that have been
RECEIVED_BY_GATEWAY with no dispatch activity for ``quiet_period`` and sends them again,
recording each attempt on the record first. After ``max_attempts`` sends that led nowhere the
cancellation is marked FAILED_TO_SEND with a GATEWAY_FAULT error, so it is visible to the tenant
and to operators (who can redrive it) instead of stuck silently.

A resend may duplicate a message that is merely slow; the supplier dispatcher ignores messages
for cancellations that already have an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from aws_lambda_powertools import Logger

from fibre_cafe.clock import Clock, iso, utc_now
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.errors import RetryLater, StaleRecord
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
from fibre_cafe.domain import cancellation_state_machine
from fibre_cafe.logic.record_outcome import store_outcome
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorBody, ErrorCode

logger = Logger(child=True)

DEFAULT_QUIET_PERIOD = timedelta(minutes=2)
DEFAULT_MAX_ATTEMPTS = 5


@dataclass
class SweepReport:
    resent: list[int] = field(default_factory=list)
    failed_to_send: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def sweep(
    table: CancellationsTable,
    queue: SupplierRequestsQueue,
    quiet_period: timedelta = DEFAULT_QUIET_PERIOD,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    clock: Clock = utc_now,
    store: GatewayStore | None = None,
) -> SweepReport:
    """One sweep. With ``store``, a cancellation given up on is recorded with its order and the tenant's ERROR KCI."""
    report = SweepReport()
    now = clock()
    quiet_since = iso(now - quiet_period)
    for cancellation_id in table.ids_by_dispatch_status(CancellationStatus.RECEIVED_BY_GATEWAY, inactive_since=quiet_since):
        # The index is eventually consistent: trust only the table.
        record = table.get(cancellation_id)
        if record is None or record.status is not CancellationStatus.RECEIVED_BY_GATEWAY or record.updatedAt >= quiet_since:
            report.skipped.append(cancellation_id)
            continue
        try:
            if record.forwardAttempts >= max_attempts:
                cancellation_state_machine.transition(record.status, CancellationStatus.FAILED_TO_SEND)
                error = ErrorBody.new(
                    ErrorCode.GATEWAY_FAULT,
                    [f"The gateway could not forward the cancellation to the supplier after {record.forwardAttempts} attempts"],
                )
                failed = record.model_copy(update={"status": CancellationStatus.FAILED_TO_SEND, "error": error, "updatedAt": iso(now)})
                if store is not None:
                    store_outcome(store, failed, record.version, iso(now))  # with its order and the tenant's ERROR KCI
                else:
                    table.replace(failed, expected_version=record.version)
                logger.error(
                    "Cancellation marked FAILED_TO_SEND by the sweeper", extra={"cancellation_id": record.id, "error_uuid": error.uuid}
                )
                report.failed_to_send.append(record.id)
                continue
            record = table.record_forward_attempt(record, iso(now))
        except (StaleRecord, RetryLater):  # changed meanwhile, or its order kept changing: the next sweep looks again
            report.skipped.append(record.id)
            continue
        try:
            queue.send(record.supplier_request_message())
        except Exception:  # counted as an attempt; the next sweep tries again
            logger.exception("Sweeper could not queue cancellation", extra={"cancellation_id": record.id})
            continue
        logger.info("Sweeper re-queued cancellation", extra={"cancellation_id": record.id, "attempt": record.forwardAttempts})
        report.resent.append(record.id)
    return report
