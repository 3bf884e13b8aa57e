"""Who is calling, from the verified token's claims as API Gateway hands them to the Lambda.

API Gateway's Cognito authorizer verifies the token and passes its claims in
``requestContext.authorizer.claims``. Client-credentials tokens carry ``client_id`` and
``scope`` but no tenant, so the principal comes from the partner registry: the item
``CLIENT#<client_id>`` names ``tenant:<ID>`` or ``supplier:<ID>`` (fibre_cafe/dal/partner_registry.py;
the handler hands its ClientRegistry to ``use_client_registry``). A client that is not registered,
or whose entry is malformed, is refused with 403. The tenant is never taken from a header or the body.

Test seam: a non-empty ``CLIENT_PRINCIPALS`` (a JSON object, client id -> principal) replaces the
registry; the in-process test harnesses set it, the template and the local stack never do.
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


_client_registry: Any = None


def use_client_registry(registry: Any) -> None:
    """The ClientRegistry the handler built with its own DynamoDB client (one client per container)."""
    global _client_registry
    _client_registry = registry


def principal_of(client_id: str) -> tuple[PrincipalType, str] | None:
    """(kind, id) of the app client, None if it is not registered. Raises Forbidden for a malformed registry entry."""
    if os.environ.get("CLIENT_PRINCIPALS"):
        return client_principals().get(client_id)
    if _client_registry is None:
        return None  # no registry configured: nobody is anyone (fails closed)
    from fibre_cafe.dal.errors import MisconfiguredPartner

    try:
        return _client_registry.principal(client_id)
    except MisconfiguredPartner as exc:
        raise Forbidden("This client's registration is incomplete - contact the Fibre Cafe") from exc


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
    principal = principal_of(client_id)
    if principal is None:
        raise Forbidden("This client is not registered with the Fibre Cafe")
    kind, ident = principal
    return Caller(kind=kind, id=ident, client_id=client_id)


def require(event: dict[str, Any], kind: PrincipalType) -> Caller:
    caller = caller_from_event(event)
    if caller.kind != kind:
        raise Forbidden(f"A {caller.kind} token cannot use this API")
    return caller
