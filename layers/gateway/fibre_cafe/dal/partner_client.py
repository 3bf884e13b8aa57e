"""One client for calling partners: a supplier's Supplier API (dal/supplier_api.py) and a tenant's Tenant
Updates API (logic/deliver_tenant_kci.py). Both sides use it for:

- **Time limits**: connect and read socket timeouts and the overall deadline of a call (token fetch included),
  whose values are defined once, in dal/partner_call.py. ``timeout`` and ``deadline`` are per client (the
  dispatcher's read timeout is configurable; tests shorten them).
- **Authentication**: the partner endpoint's static headers and basic auth, or an OAuth2 client-credentials
  token from the client's token cache (dal/oauth2_tokens.py). A 401 forgets the cached token, so the next
  attempt fetches a fresh one.
- **The answer, classified**: ``PartnerReply`` is either the partner's HTTP status and body, or a call that got
  no answer: ``TIMED_OUT`` (a socket timeout, or the overall deadline) or ``UNREACHABLE`` (connection error, or
  no token from the partner's token endpoint). Both are transient, as are 408 (the partner timed out reading
  us), 429 (slow down) and every 5xx (``is_transient_status``); ``accepted`` is any 2xx. Each side reads a reply
  its own way: the supplier's table in supplier_api.py (to a domain/supplier_answers.py answer), the tenant's
  in logic/deliver_tenant_kci.py (from these properties).
- **Retrying later**: ``RetryPolicy`` (attempts, and the backoff before the queue delivers the message again)
  and the ``RetryLater`` (dal/errors.py: the queue consumers' retry signal) it builds, so the handler hides the
  message for that backoff and reports it failed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import requests

from fibre_cafe.dal.errors import NoAnswer, RetryLater
from fibre_cafe.dal.oauth2_tokens import TokenCache
from fibre_cafe.dal.partner_call import (
    CONNECT_TIMEOUT_SECONDS,
    PARTNER_CALL_DEADLINE_SECONDS,
    READ_TIMEOUT_SECONDS,
    call_with_deadline,
)
from fibre_cafe.dal.partner_directory import PartnerEndpoint

__all__ = ["CONNECT_TIMEOUT_SECONDS", "READ_TIMEOUT_SECONDS", "PARTNER_CALL_DEADLINE_SECONDS", "CallFailure",
           "PartnerClient", "PartnerReply", "RetryPolicy", "is_transient_status"]

RETRYABLE_4XX = frozenset({408, 429})


def is_transient_status(http_status: int) -> bool:
    """An HTTP answer worth trying again later: 408, 429 and every 5xx (other answers are the partner's decision)."""
    return http_status in RETRYABLE_4XX or http_status >= 500


class CallFailure(StrEnum):
    TIMED_OUT = "TIMED_OUT"  # socket timeout or the overall deadline: the partner may or may not have acted
    UNREACHABLE = "UNREACHABLE"  # no connection, or no OAuth2 token: the partner saw nothing


@dataclass(frozen=True)
class PartnerReply:
    """The partner's HTTP answer (``status``, ``text``), or ``failure`` when there was none."""

    status: int | None = None
    text: str = ""
    failure: CallFailure | None = None
    detail: str = ""  # for the logs and the operator view

    @property
    def transient(self) -> bool:
        """No answer, or one worth trying again later (408, 429, 5xx)."""
        return self.failure is not None or (self.status is not None and is_transient_status(self.status))

    @property
    def accepted(self) -> bool:
        """The partner took it (any 2xx)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def unauthorised(self) -> bool:
        """401: the token was refused (the client already forgot it: the next attempt fetches a fresh one)."""
        return self.status == 401


class PartnerClient:
    def __init__(self, session: requests.Session | None = None, connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
                 read_timeout: float = READ_TIMEOUT_SECONDS, deadline: float = PARTNER_CALL_DEADLINE_SECONDS,
                 tokens: TokenCache | None = None):
        self.session = session or requests.Session()
        self.tokens = tokens or TokenCache(self.session)
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) socket timeouts, for the partner's API and its token endpoint alike."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: tuple[float, float]) -> None:
        self._timeout = value
        self.tokens.timeout = value

    def post(self, endpoint: PartnerEndpoint, path: str, body: dict[str, Any], headers: dict[str, str]) -> PartnerReply:
        """POST ``body`` as JSON to ``{baseUrl}{path}`` with the partner's authentication, within the deadline."""
        try:
            return call_with_deadline(lambda: self._post(endpoint, path, body, headers), self.deadline)
        except NoAnswer as exc:  # the deadline passed, or no token
            return PartnerReply(failure=CallFailure.TIMED_OUT if exc.timed_out else CallFailure.UNREACHABLE, detail=str(exc))

    def _post(self, endpoint: PartnerEndpoint, path: str, body: dict[str, Any], headers: dict[str, str]) -> PartnerReply:
        auth_headers = self.tokens.headers(endpoint)  # NoAnswer when the token endpoint gives none
        try:
            answer = self.session.post(f"{endpoint.base_url}{path}", json=body, headers={**headers, **auth_headers},
                                       auth=endpoint.basic_auth(), timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            return PartnerReply(failure=CallFailure.TIMED_OUT, detail="timeout")
        except requests.RequestException as exc:
            return PartnerReply(failure=CallFailure.UNREACHABLE, detail=f"connection error: {type(exc).__name__}")
        if answer.status_code == 401:
            self.tokens.forget(endpoint)  # it may have been revoked: the next attempt fetches a fresh one
        return PartnerReply(status=answer.status_code, text=answer.text or "", detail=f"HTTP {answer.status_code}")


@dataclass
class RetryPolicy:
    """How often a partner call is tried, and how long the queue hides the message before the next attempt."""

    max_attempts: int = 4
    backoff_base_seconds: int = 10
    backoff_cap_seconds: int = 600
    jitter: Callable[[float, float], float] = random.uniform

    def may_retry(self, attempt: int) -> bool:
        """Whether attempt number ``attempt`` (1-based, just failed) leaves another one."""
        return attempt < self.max_attempts

    def backoff_seconds(self, attempt: int) -> int:
        """Exponential backoff with full jitter after attempt number ``attempt`` (1-based): a delay drawn uniformly
        between 0 and ``min(cap, base * 2 ** (attempt - 1))`` seconds, rounded to whole seconds (an SQS
        visibility timeout) and at least 1 (0 would hand the message back at once)."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** max(0, attempt - 1))
        return max(1, round(self.jitter(0, ceiling)))

    def retry_later(self, reason: str, attempt: int) -> RetryLater:
        """The signal to try again after the backoff of attempt number ``attempt``."""
        return RetryLater(reason, self.backoff_seconds(attempt))
