"""Time limits for calling a partner (a supplier's Supplier API, a tenant's Tenant Updates API) from a batch consumer.

Two limits, because socket timeouts alone do not bound a call: a partner that sends a byte every few seconds
never trips a read timeout, and a tenant call may first fetch an OAuth2 token. The socket timeouts and the
deadline are defined here, once; the partner client (partner_client.py) applies them to every partner call.

- **An overall deadline per partner call** (``call_with_deadline``): the whole call (token fetch, connect, send,
  every read) runs in a worker thread and the consumer stops waiting after the deadline (the setting
  ``PARTNER_CALL_DEADLINE_SECONDS``, fibre_cafe/settings.py).
  The call is then a timeout like any other (the partner may or may not have acted on it, exactly as after a
  read timeout; the contract's X-Request-ID lets it recognise the retry). The abandoned worker ends by itself
  within its socket timeouts.
- **A time budget per invocation** (``TimeBudget``): before each record the consumer checks that the
  invocation has time left for the worst case of one record, the call deadline plus the record's own AWS work
  (the setting ``RECORD_OVERHEAD_SECONDS``). A record that does not fit is not started: it is reported as a batch item
  failure, so the queue delivers it again (to a later invocation), and the records already done are not.
  So a slow partner never makes Lambda stop the function halfway through a batch, which would send the whole
  batch again, calls that had succeeded included.

Worst case with the template's settings: 12 s per call + 3 s = 15 s per record; the dispatcher and the delivery
(timeout 30 s) always start their first record and start another only with 15 s left.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from fibre_cafe.dal.errors import NoAnswer, RetryLater

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 10.0
# The whole call, token fetch included; socket timeouts still apply inside it.
PARTNER_CALL_DEADLINE_SECONDS = 12.0
# A record's own AWS work around the call (reads, conditional writes, a visibility change).
RECORD_OVERHEAD_SECONDS = 3.0


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            # A few workers: an abandoned call (past its deadline) may still occupy one until its socket times out.
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="partner-call")
        return _executor


def call_with_deadline(call: Callable[[], T], deadline_seconds: float) -> T:
    """``call()``'s result or exception, or NoAnswer (timed out) once ``deadline_seconds`` have passed."""
    future = _pool().submit(call)
    try:
        return future.result(timeout=deadline_seconds)
    except FutureTimeout:
        future.cancel()
        raise NoAnswer(f"timeout: no answer within the {deadline_seconds:g} s deadline", timed_out=True) from None


class TimeBudget:
    """The invocation's remaining time (from the Lambda context) against the worst case of one record."""

    def __init__(self, context: Any, record_worst_case_seconds: float):
        self.context = context
        self.needed_ms = int(record_worst_case_seconds * 1000)
        self.started = 0
        self.deferred = 0

    def remaining_ms(self) -> int | None:
        remaining = getattr(self.context, "get_remaining_time_in_millis", None)
        return int(remaining()) if callable(remaining) else None

    def start_record(self) -> None:
        """Raise RetryLater (at once: ``delay_seconds`` 0) when the worst case of one more record does not fit in the
        time left: the record is handed back to the queue untouched, for the next invocation."""
        remaining = self.remaining_ms()
        if remaining is not None and remaining < self.needed_ms:
            self.deferred += 1
            raise RetryLater(f"{remaining} ms left, a record may need {self.needed_ms} ms: left for the next invocation", 0)
        self.started += 1
