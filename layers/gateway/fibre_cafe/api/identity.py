"""Who is calling, from the verified token's claims as API Gateway hands them to the Lambda.

API Gateway's Cognito authorizer verifies the token and passes its claims in
``requestContext.authorizer.claims``. Client-credentials tokens carry ``client_id`` and
``scope`` but no tenant, so the principal comes from the partner registry: the item
``CLIENT#<client_id>`` names ``tenant:<ID>`` or ``supplier:<ID>`` (fibre_cafe/dal/partner_registry.py).
The handler's dependencies hold the ``principals`` (built by fibre_cafe/wiring.py from the settings) and pass
them to ``require``. A client that is not registered, or whose entry is malformed, is refused with 403. The
tenant is never taken from a header or the body.

Test seam: the setting ``CLIENT_PRINCIPALS`` (a JSON object, client id -> principal, fibre_cafe/settings.py)
makes the principals a ``StaticPrincipals`` instead of the registry; the in-process test harnesses set it,
the template and the local stack never do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

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


class Principals(Protocol):
    """Who each app client is: the partner registry (dal/partner_registry.ClientRegistry) or ``StaticPrincipals``."""

    def principal(self, client_id: str) -> tuple[PrincipalType, str] | None:
        """(kind, id) of the app client, None if it is not registered; raises MisconfiguredPartner for a malformed entry."""
        ...


class StaticPrincipals:
    """The test seam: a fixed map, client id -> ``tenant:<ID>`` or ``supplier:<ID>`` (other entries are ignored)."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._principals: dict[str, tuple[PrincipalType, str]] = {}
        for client_id, principal in mapping.items():
            kind, _, ident = str(principal).partition(":")
            if kind in ("tenant", "supplier") and ident:
                self._principals[client_id] = (cast(PrincipalType, kind), ident)

    def principal(self, client_id: str) -> tuple[PrincipalType, str] | None:
        return self._principals.get(client_id)


def principal_of(principals: Principals | None, client_id: str) -> tuple[PrincipalType, str] | None:
    """(kind, id) of the app client, None if it is not registered. Raises Forbidden for a malformed registry entry."""
    if principals is None:
        return None  # no registry configured: nobody is anyone (fails closed)
    from fibre_cafe.dal.errors import MisconfiguredPartner

    try:
        return principals.principal(client_id)
    except MisconfiguredPartner as exc:
        raise Forbidden("This client's registration is incomplete - contact the Fibre Cafe") from exc


def claims_of(event: dict[str, Any]) -> dict[str, Any]:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims")
    return claims if isinstance(claims, dict) else {}


def caller_from_event(event: dict[str, Any], principals: Principals | None) -> Caller:
    claims = claims_of(event)
    client_id = claims.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise NotAuthenticated("No valid access token")
    principal = principal_of(principals, client_id)
    if principal is None:
        raise Forbidden("This client is not registered with the Fibre Cafe")
    kind, ident = principal
    return Caller(kind=kind, id=ident, client_id=client_id)


def require(event: dict[str, Any], kind: PrincipalType, principals: Principals | None) -> Caller:
    caller = caller_from_event(event, principals)
    if caller.kind != kind:
        raise Forbidden(f"A {caller.kind} token cannot use this API")
    return caller
