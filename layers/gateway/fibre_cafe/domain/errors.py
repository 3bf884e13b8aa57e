"""Errors the use cases raise; the API layer maps each to a status code and the contract's error body."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of the errors a tenant is told about."""

    def __init__(self, *messages: str):
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class NotFound(GatewayError):
    """422 NOT_FOUND: unknown to this caller (another tenant's item answers the same)."""


class InvalidRequest(GatewayError):
    """422 INVALID_REQUEST: well-formed, but breaks a business rule."""


class DependencyUnavailable(GatewayError):
    """503: a dependency is throttled or unreachable; nothing was written, retry later."""

    def __init__(self, *messages: str, retry_after_seconds: int = 1):
        super().__init__(*messages)
        self.retry_after_seconds = retry_after_seconds


class IllegalTransition(Exception):
    """A cancellation was asked to move along an edge the state model does not have (a bug or a stale event)."""
