"""What the stores, the queues and the partners did, as exceptions: every error class of the DAL, in one place.

Each says what happened, never what a caller is told: the use cases (logic/) turn them into domain errors
(domain/errors.py) or retry, and api/http.py alone maps what reaches an API to a status code and error body.

- A write that expected something the table no longer holds: ``StaleRecord`` (the cancellation changed: its
  answer stands, do not retry blindly) and ``LostRace`` (the order changed, a concurrent transaction, or a call
  with the same X-Request-ID committed first: read again and retry, ``transactions.retry_conflicts``).
- A write refused because it was done before: ``DuplicateKci``, ``KciIdTaken``, ``OrderExists``; one the state
  does not allow: ``CancellationNotMovable``; ``IdSpaceExhausted``.
- ``Throttled``: DynamoDB kept answering "not now" (unprocessed keys) after its retries; nothing was written.
- Partners: ``UnknownPartner`` (none configured) and ``MisconfiguredPartner`` (registered, but its entry or
  credentials are not usable, for an API partner or an app client alike); ``NoAnswer`` is the partner client's
  own (no token, or the call's overall deadline passed: it reports it as a reply's failure).
- ``RetryLater``: the queue consumers' one retry signal (below).
"""

from __future__ import annotations


class StaleRecord(Exception):
    """The cancellation changed since it was read (its optimistic version check failed)."""


class LostRace(Exception):
    """Another writer changed what this write expected (the order, a concurrent transaction, the same request
    committed first): read again and retry."""


class DuplicateKci(Exception):
    """This KCI id is already in the order's history (or already held): it was processed before."""


class KciIdTaken(Exception):
    """The KCI id was already claimed by a different KCI."""


class OrderExists(Exception):
    """An order with this id is already registered."""


class CancellationNotMovable(Exception):
    """The KCI's cancellation update was refused (unknown, another order's, or already decided)."""


class IdSpaceExhausted(Exception):
    """The cancellation id counter passed the largest id a client can hold exactly (2**53 - 1)."""


class Throttled(Exception):
    """DynamoDB left part of a request unprocessed after every retry; nothing was written."""


class UnknownPartner(Exception):
    """No API is configured for this partner."""


class MisconfiguredPartner(UnknownPartner):
    """The partner (or app client) is registered, but its entry or credentials are not usable: treated as not
    configured (a partner API) or refused (an app client)."""


class NoAnswer(Exception):
    """A partner call got no answer: ``timed_out`` when its overall deadline passed (the partner may have acted on
    it, as after a read timeout), else the partner's token endpoint gave no token (the partner saw nothing)."""

    def __init__(self, detail: str, *, timed_out: bool):
        super().__init__(detail)
        self.timed_out = timed_out


class RetryLater(Exception):
    """Not now: the queue (or stream) should deliver this record again. The queue consumers' one retry signal.

    ``delay_seconds``: how long the queue hides the message first (a backoff; 0 hands it back at once);
    None leaves the queue's own visibility timeout (or the stream's retry) in charge. Raised by use cases and
    by the time budget; a handler reports the record failed, and never answers a tenant with it.
    """

    def __init__(self, reason: str, delay_seconds: int | None = None):
        super().__init__(reason)
        self.delay_seconds = delay_seconds
