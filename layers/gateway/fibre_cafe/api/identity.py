"""Who is calling, from the verified token's claims as API Gateway hands them to the Lambda.

API Gateway's Cognito authorizer verifies the token and passes its claims in
``requestContext.authorizer.claims``. Client-credentials tokens carry ``client_id`` and
``scope`` but no tenant, so the principal comes from configuration: ``CLIENT_PRINCIPALS``
maps each app client id to ``tenant:<ID>`` or ``supplier:<ID>`` (a JSON object). A client
that is not in the map is refused. The tenant is never taken from a header or the body.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

PrincipalType = Literal["tenant", "supplier"]


class NotAuthenticated(Exception):
    """No verified identity on the request (401)."""


class Forbidden(Exception):
    """A verified identity that may not use this API (403)."""


@dataclass(frozen=True)
class Caller:
    kind: PrincipalType
    id: str
    client_id: str


@cache
def client_principals(raw: str | None = None) -> dict[str, tuple[PrincipalType, str]]:
    raw = raw if raw is not None else os.environ.get("CLIENT_PRINCIPALS", "{}")
    mapping: dict[str, tuple[PrincipalType, str]] = {}
    for client_id, principal in json.loads(raw or "{}").items():
        kind, _, ident = str(principal).partition(":")
        if kind in ("tenant", "supplier") and ident:
            mapping[client_id] = (kind, ident)  # type: ignore[assignment]
    return mapping


def claims_of(event: dict[str, Any]) -> dict[str, Any]:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims")
    return claims if isinstance(claims, dict) else {}


def caller_from_event(event: dict[str, Any]) -> Caller:
    claims = claims_of(event)
    client_id = claims.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise NotAuthenticated("No valid access token")
    principal = client_principals().get(client_id)
    if principal is None:
        raise Forbidden("This client is not registered with the Fibre Cafe")
    kind, ident = principal
    return Caller(kind=kind, id=ident, client_id=client_id)


def require(event: dict[str, Any], kind: PrincipalType) -> Caller:
    caller = caller_from_event(event)
    if caller.kind != kind:
        raise Forbidden(f"A {caller.kind} token cannot use this API")
    return caller
