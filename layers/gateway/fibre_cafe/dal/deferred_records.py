"""Handing back the SQS records a batch consumer has no time left for (dal/partner_call.py's TimeBudget).

The supplier dispatcher and the tenant KCI delivery both stop starting records when the invocation's remaining
time cannot fit one more partner call. Such a record is reported as a batch item failure, and made visible again
at once here, so the next invocation takes it without waiting for the queue's visibility timeout.
"""

from __future__ import annotations

import logging
from typing import Any

from fibre_cafe.observability import count


def hand_back(sqs: Any, queue_url: str, message_id: str, receipt_handle: str, reason: Exception,
              logger: logging.Logger | Any) -> None:
    """A record this invocation has no time for: visible again at once for the next invocation (``RecordsDeferred``).

    The caller still reports it as a batch item failure. If the visibility change fails, the record comes back
    after the queue's visibility timeout instead: late, never lost."""
    logger.info("Record left for the next invocation", extra={"message_id": message_id, "reason": str(reason)})
    count("RecordsDeferred")
    try:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0)
    except Exception:  # noqa: BLE001 - it comes back after the queue's visibility timeout instead
        logger.exception("Could not hand the record back early")
