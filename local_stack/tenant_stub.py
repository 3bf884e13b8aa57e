"""A local tenant: the Tenant Updates API ``POST /kcis`` of TENANT1 and TENANT2, with its own OAuth2 token endpoint.

Each tenant has its own base URL, ``<stub>/<TENANT>``, as the seeded partner registry gives it to the delivery
function (TenantKciDeliveryFunction):

- ``POST /<TENANT>/oauth2/token``: client credentials (HTTP Basic or form body; client id
  ``fibre-cafe-gateway``, secret ``local-dev-secret``), answering an opaque access token valid
  ``token_lifetime_seconds``. The delivery caches it, so a person (or a test) sees one token fetch
  per tenant, not one per KCI: ``GET /stats``.
- ``POST /<TENANT>/kcis``: needs a Bearer token this endpoint issued for that tenant (401
  otherwise), answers 204, and records the KCI with its headers (Authorization redacted).
- ``GET /received?tenant=TENANT1`` (optional ``orderId=``, ``all=1``): what was received, oldest
  first, as JSON ``[{tenant, receivedAt, status, headers, body}]``; by default only the accepted
  ones (2xx), with ``all=1`` every attempt, refused ones included.
- ``POST /control`` with a JSON body, to make the tenant misbehave:
  ``{"tenant": "TENANT1", "failNext": 2, "status": 503}`` answers the next 2 KCIs with 503 (any
  status from 400 to 599; default 503); ``{"tenant": "TENANT1", "revokeTokens": true}`` forgets
  the tenant's tokens (the next KCI gets 401, and the delivery fetches a new token);
  ``{"reset": true}`` forgets everything received and every instruction.
- ``GET /stats``: per tenant, tokens issued, KCIs accepted, attempts refused.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from testing.stub_servers import StubReply, StubRequest, StubServer, basic_credentials, error_body

log = logging.getLogger("local_stack")

TENANTS = ("TENANT1", "TENANT2")
GATEWAY_CLIENT_ID = "fibre-cafe-gateway"
TOKEN_SCOPE = "kcis"
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600
DEFAULT_FAILURE_STATUS = 503


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TenantStub(StubServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tenants: tuple[str, ...] = TENANTS,
                 client_id: str = GATEWAY_CLIENT_ID, client_secret: str | None = None,
                 token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS):
        if client_secret is None:
            from local_stack.tokens import DEV_CLIENT_SECRET

            client_secret = DEV_CLIENT_SECRET
        self.tenants = tuple(tenants)
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_lifetime_seconds = token_lifetime_seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (tenant, expiry on the monotonic clock)
        self._fail_next: dict[str, tuple[int, int]] = {}  # tenant -> (count, status)
        self.tokens_issued: dict[str, int] = {tenant: 0 for tenant in self.tenants}
        self.received: list[dict[str, Any]] = []
        super().__init__(self._route, "tenant-stub", host, port)

    # ---------------------------------------------------------------- wiring

    def base_url(self, tenant: str) -> str:
        return f"{self.url}/{tenant}"

    def tenants_config(self) -> dict[str, dict[str, Any]]:
        """The tenants in partner_directory.py's JSON form: seeded into the registry (seed.py), or TENANTS_CONFIG in tests."""
        return {
            tenant: {"baseUrl": self.base_url(tenant),
                     "auth": {"type": "oauth2", "tokenUrl": f"{self.base_url(tenant)}/oauth2/token", "clientId": self.client_id,
                              "clientSecret": self._client_secret, "scope": TOKEN_SCOPE}}
            for tenant in self.tenants
        }

    # ---------------------------------------------------------------- for tests (the same as over HTTP)

    def received_by(self, tenant: str, *, order_id: int | None = None, accepted_only: bool = True) -> list[dict[str, Any]]:
        with self._lock:
            entries = [dict(entry) for entry in self.received if entry["tenant"] == tenant]
        if accepted_only:
            entries = [entry for entry in entries if 200 <= entry["status"] < 300]
        if order_id is not None:
            entries = [entry for entry in entries if ((entry.get("body") or {}).get("entity") or {}).get("id") == order_id]
        return entries

    def reset(self) -> None:
        """Forget what was received and any failures asked for (tokens issued stay valid)."""
        with self._lock:
            self.received.clear()
            self._fail_next.clear()

    def fail_next(self, tenant: str, count: int, status: int = DEFAULT_FAILURE_STATUS) -> None:
        with self._lock:
            self._fail_next[tenant] = (count, status)

    # ---------------------------------------------------------------- HTTP

    def _route(self, request: StubRequest) -> StubReply:
        parts = [part for part in request.path.split("/") if part]
        if parts == ["received"] and request.method == "GET":
            return self._received(request.query)
        if parts == ["stats"] and request.method == "GET":
            return StubReply(200, self._stats())
        if parts == ["control"] and request.method == "POST":
            return self._control(request)
        if len(parts) >= 2 and parts[0] in self.tenants and request.method == "POST":
            if parts[1:] == ["oauth2", "token"]:
                return self._token(parts[0], request)
            if parts[1:] == ["kcis"]:
                return self._kci(parts[0], request)
        return StubReply(404, error_body("NOT_FOUND", f"No such resource; tenants here: {', '.join(self.tenants)}"))

    def _received(self, query: dict[str, str]) -> StubReply:
        tenant = query.get("tenant")
        if tenant is None:
            return StubReply(400, error_body("MALFORMED_REQUEST", f"Give ?tenant= (one of {', '.join(self.tenants)})"))
        order_id = query.get("orderId")
        if order_id is not None and not order_id.isdigit():
            return StubReply(400, error_body("MALFORMED_REQUEST", "orderId must be a whole number"))
        return StubReply(200, self.received_by(tenant, order_id=int(order_id) if order_id else None,
                                               accepted_only=query.get("all") not in ("1", "true")))

    def _stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                tenant: {
                    "tokensIssued": self.tokens_issued[tenant],
                    "kcisAccepted": sum(1 for entry in self.received if entry["tenant"] == tenant and 200 <= entry["status"] < 300),
                    "attemptsRefused": sum(1 for entry in self.received if entry["tenant"] == tenant and entry["status"] >= 300),
                    "failNext": self._fail_next.get(tenant, (0, DEFAULT_FAILURE_STATUS))[0],
                }
                for tenant in self.tenants
            }

    def _control(self, request: StubRequest) -> StubReply:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return StubReply(400, error_body("MALFORMED_REQUEST", "Send a JSON object"))
        if body.get("reset") is True:
            with self._lock:
                self.received.clear()
                self._fail_next.clear()
                self._tokens.clear()
            return StubReply(200, self._stats())
        tenant = body.get("tenant")
        if tenant not in self.tenants:
            return StubReply(400, error_body("MALFORMED_REQUEST", f"tenant must be one of {', '.join(self.tenants)}"))
        if "failNext" in body:
            count, status = body.get("failNext"), body.get("status", DEFAULT_FAILURE_STATUS)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                return StubReply(400, error_body("MALFORMED_REQUEST", "failNext must be a whole number >= 0"))
            if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
                return StubReply(400, error_body("MALFORMED_REQUEST", "status must be an HTTP status from 400 to 599"))
            self.fail_next(tenant, count, status)
        if body.get("revokeTokens") is True:
            with self._lock:
                self._tokens = {token: value for token, value in self._tokens.items() if value[0] != tenant}
        return StubReply(200, self._stats()[tenant])

    def _token(self, tenant: str, request: StubRequest) -> StubReply:
        form = {key: values[-1] for key, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        authorization = request.header("Authorization") or ""
        if authorization.lower().startswith("basic "):
            user, password = basic_credentials(authorization) or ("", "")
            client_id, secret = unquote_plus(user), unquote_plus(password)
        if form.get("grant_type") != "client_credentials":
            return StubReply(400, {"error": "unsupported_grant_type", "error_description": "grant_type=client_credentials only"})
        if client_id != self.client_id or not hmac.compare_digest((secret or "").encode(), self._client_secret.encode()):
            return StubReply(401, {"error": "invalid_client", "error_description": "Client authentication failed"},
                             {"WWW-Authenticate": 'Basic realm="tenant"'})
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (tenant, time.monotonic() + self.token_lifetime_seconds)
            self.tokens_issued[tenant] += 1
        log.info("tenant stub %s: issued an access token", tenant)
        return StubReply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_seconds},
                         {"Cache-Control": "no-store"})

    def _kci(self, tenant: str, request: StubRequest) -> StubReply:
        try:
            body = request.json()
        except ValueError:
            body = None
        entry = {"tenant": tenant, "receivedAt": _now_iso(), "status": 0, "headers": request.recorded_headers(), "body": body}
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        with self._lock:
            holder = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            valid = holder is not None and holder[0] == tenant and holder[1] > time.monotonic()
            count, fail_status = self._fail_next.get(tenant, (0, DEFAULT_FAILURE_STATUS))
            if valid and count > 0:
                self._fail_next[tenant] = (count - 1, fail_status)
        if not valid:
            reply = StubReply(401, error_body("NOT_AUTHORISED", "No valid access token"), {"WWW-Authenticate": 'Bearer realm="tenant"'})
        elif count > 0:
            reply = StubReply(fail_status, error_body("GATEWAY_FAULT" if fail_status >= 500 else "INVALID_REQUEST",
                                                      f"Told to fail (POST /control): {count - 1} more to fail"))
        elif not isinstance(body, dict):
            reply = StubReply(400, error_body("MALFORMED_REQUEST", "The body must be a JSON object"))
        else:
            reply = StubReply(204)
        entry["status"] = reply.status
        with self._lock:
            self.received.append(entry)
        summary = body if isinstance(body, dict) else {}
        log.info("tenant stub %s: KCI %s %s (order %s, sequence %s) -> %d", tenant, summary.get("updateType"),
                 (summary.get("information") or {}).get("type"), (summary.get("entity") or {}).get("id"), summary.get("sequenceNumber"),
                 reply.status)
        return reply
