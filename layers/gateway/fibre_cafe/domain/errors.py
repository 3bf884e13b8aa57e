"""What went wrong, in the domain's words: every domain error class, in one place.

Each carries human ``messages`` (what was wrong, naming the field or the rule) and nothing else: no status
code, no error body, no uuid. api/http.py alone maps them to status codes, Retry-After and the contract's
error body; a queue consumer never raises them to ask for a retry (it raises dal/errors.py's RetryLater).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of the domain's errors: one message per problem found."""

    def __init__(self, *messages: str):
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class NotFound(DomainError):
    """Unknown to this caller (another tenant's item answers the same)."""


class InvalidRequest(DomainError):
    """Well-formed, but breaks a business rule (every broken rule is listed)."""


class ConcurrentUpdate(DomainError):
    """What the request needs kept changing under it (other writers won every try); nothing was written: the
    caller may try again shortly."""


class IllegalTransition(DomainError):
    """A cancellation was asked to move along an edge the state model does not have (a bug or a stale event)."""


class KciRejected(DomainError):
    """The KCI can never be applied (it contradicts the registry)."""


class KciNotApplicableYet(DomainError):
    """The KCI refers to something the gateway does not have yet (a cancellation): it may apply later."""
