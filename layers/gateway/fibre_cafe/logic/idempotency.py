"""Idempotency on (tenant, X-Request-ID).

The response to an accepted request is written in the same DynamoDB transaction as the
cancellation itself, so there is no "in progress" state to wait on or to clean up after a crash:
a retry either finds the committed answer, or finds nothing and is processed afresh (when two
race, one transaction wins and the other reads the winner's answer). Only 201 answers are kept:
a rejected request wrote nothing, so its retry is simply evaluated again.
"""

from __future__ import annotations

import hashlib
import json
from typing import TypeGuard

from fibre_cafe.domain.errors import InvalidRequest
from fibre_cafe.models.cancellation import ServiceOrderCancellationRequest
from fibre_cafe.models.records import StoredResponse

# How long a tenant may retry with the same X-Request-ID and get the same answer.
IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600


def fingerprint(request: ServiceOrderCancellationRequest) -> str:
    canonical = json.dumps(request.fingerprint_payload(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(stored: StoredResponse, request_fingerprint: str) -> StoredResponse:
    """The stored answer for a retry of the same request; 422 if the X-Request-ID was reused for another body."""
    if stored.fingerprint != request_fingerprint:
        raise InvalidRequest(
            f"X-Request-ID {stored.requestId} was already used for a different request - "
            "use a new X-Request-ID for a new request"
        )
    return stored


def is_live(stored: StoredResponse | None, now_epoch: int) -> TypeGuard[StoredResponse]:
    return stored is not None and stored.expiresAt >= now_epoch
