"""How a partner-calling queue consumer carries out ``RetryLater`` (dal/errors.py) for one SQS record.

The supplier dispatcher and the tenant KCI delivery run each record through ``consume``:

- **Not started**: when the invocation's remaining time cannot fit one more partner call (dal/partner_call.py's
  TimeBudget raises ``RetryLater(..., 0)``), the record is made visible again at once (``RecordsDeferred``), so
  the next invocation takes it without waiting for the queue's visibility timeout.
- **Retried later**: when the use case raises ``RetryLater`` (a transient partner answer, a lease held by
  another worker), the message is hidden for its ``delay_seconds`` (the backoff); ``None`` leaves the queue's
  own visibility timeout in charge.

Either way the exception goes on, so the batch reports the record failed and the queue delivers it again. If
the visibility change fails, the queue's visibility timeout applies instead: late, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from fibre_cafe.dal.errors import RetryLater
from fibre_cafe.dal.partner_call import TimeBudget
from fibre_cafe.observability import count

T = TypeVar("T")


class QueueRecord(Protocol):
    @property
    def message_id(self) -> str: ...

    @property
    def receipt_handle(self) -> str: ...


def consume(sqs: Any, queue_url: str, record: QueueRecord, budget: TimeBudget, work: Callable[[], T],
            logger: logging.Logger | Any, on_retry: Callable[[RetryLater], None] = lambda _retry: None) -> T:
    """``work()``'s result, if the budget lets the record start; a RetryLater is carried out (module docstring)
    and raised again. ``on_retry`` is told of a RetryLater that ``work`` raised (e.g. to count it)."""
    try:
        budget.start_record()
    except RetryLater as not_started:
        logger.info("Record left for the next invocation", extra={"message_id": record.message_id, "reason": str(not_started)})
        count("RecordsDeferred")
        _hide(sqs, queue_url, record, not_started, logger)
        raise
    try:
        return work()
    except RetryLater as retry:
        on_retry(retry)
        logger.warning("Record to be retried", extra={"message_id": record.message_id, "reason": str(retry),
                                                      "delay_seconds": retry.delay_seconds})
        _hide(sqs, queue_url, record, retry, logger)
        raise


def _hide(sqs: Any, queue_url: str, record: QueueRecord, retry: RetryLater, logger: logging.Logger | Any) -> None:
    if retry.delay_seconds is None:  # the queue's own visibility timeout
        return
    try:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=retry.delay_seconds)
    except Exception:  # logged; the queue's own visibility timeout still applies
        logger.exception("Could not set the record's visibility", extra={"message_id": record.message_id})
