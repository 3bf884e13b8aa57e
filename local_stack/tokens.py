"""The local token endpoint and token check: what Cognito and API Gateway's authorizer do in AWS.

``TokenAuthority`` holds an RSA key generated when the stack starts (never written anywhere), issues
client-credentials access tokens at ``POST /auth/tenant/access-token`` and
``POST /auth/supplier/access-token`` (RFC 6749 section 4.4: form body or HTTP Basic client
authentication; errors as RFC 6749 section 5.2 JSON), publishes the public key as JWKS, and verifies
Bearer tokens the way the API's authorizer would, strictly (``TokenAuthority.verify``, one rule each):

- the token is three canonical base64url segments (no padding, no characters outside the alphabet,
  no non-zero spare bits: ``sig==`` or a changed last character that decodes to the same bytes is refused);
- RS256 only (so ``alg: none`` and HS256 tokens are refused), the ``kid`` of this key, the signature;
- ``exp`` and ``iat`` are JSON numbers (not strings, not booleans); the token is not expired, not issued in
  the future, and lives at most ``MAX_TOKEN_LIFETIME_SECONDS`` (``exp - iat``, and ``exp`` from now);
- ``iss`` is exactly this issuer and ``aud`` exactly the audience string (not a list holding it);
- ``token_use == "access"``, ``sub`` and ``client_id`` are strings.

Nothing here logs a token or a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, unquote_plus

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS, SUPPLIER_SCOPE, TENANT_SCOPE

ClientKind = Literal["tenant", "supplier"]

AUDIENCE = "fibre-cafe-api"
TOKEN_LIFETIME_SECONDS = 3600
# The longest lifetime a token may claim (Cognito's access tokens live at most a day); tokens issued here live an hour.
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600
CLOCK_SKEW_SECONDS = 30
# The development clients' shared secret (README, "Try it"). Local only: nothing real is behind it.
DEV_CLIENT_SECRET = "local-dev-secret"
# Each token endpoint issues only to its kind of client, and only its scope.
SCOPES_BY_KIND: dict[ClientKind, tuple[str, ...]] = {"tenant": (TENANT_SCOPE,), "supplier": (SUPPLIER_SCOPE,)}
TOKEN_PATHS: dict[str, ClientKind] = {"/auth/tenant/access-token": "tenant", "/auth/supplier/access-token": "supplier"}
JWKS_PATH = "/auth/.well-known/jwks.json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class DevClient:
    client_id: str
    kind: ClientKind
    principal: str  # the tenant or supplier id the client acts for


def dev_clients(principals: Mapping[str, str] = DEV_CLIENT_PRINCIPALS) -> tuple[DevClient, ...]:
    clients = []
    for client_id, principal in principals.items():
        kind, _, ident = principal.partition(":")
        if kind in SCOPES_BY_KIND:
            clients.append(DevClient(client_id, kind, ident))  # type: ignore[arg-type]  # kind is a key of SCOPES_BY_KIND
    return tuple(clients)


DEV_CLIENTS = dev_clients()


class OAuthError(Exception):
    """An RFC 6749 error answer of the token endpoint."""

    def __init__(self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidAccessToken(Exception):
    """The request carries no usable access token (401). The message is safe to show the caller."""


@dataclass(frozen=True)
class TokenAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class TokenAuthority:
    def __init__(self, issuer: str, clients: tuple[DevClient, ...] = DEV_CLIENTS, client_secret: str = DEV_CLIENT_SECRET,
                 audience: str = AUDIENCE, lifetime_seconds: int = TOKEN_LIFETIME_SECONDS):
        self.issuer = issuer
        self.audience = audience
        self.lifetime_seconds = lifetime_seconds
        self.clients = {client.client_id: client for client in clients}
        self._client_secret = client_secret
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._private_key.public_key()
        public_jwk = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        # RFC 7638 thumbprint as the key id.
        canonical = json.dumps({k: public_jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
        self._jwk = {**public_jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    # ---------------------------------------------------------------- issuing

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._jwk)]}

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """Sign any claims with the stack's key (tests use it for expired or mis-addressed tokens)."""
        return jwt.encode(dict(claims), self._private_key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})})

    def claims_for(self, client_id: str, scopes: tuple[str, ...], now: int | None = None) -> dict[str, Any]:
        issued_at = int(time.time()) if now is None else now
        return {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id,
            "client_id": client_id,
            "token_use": "access",
            "scope": " ".join(scopes),
            "iat": issued_at,
            "exp": issued_at + self.lifetime_seconds,
            "jti": str(uuid.uuid4()),
        }

    def issue(self, client_id: str, scopes: tuple[str, ...] | None = None) -> str:
        """An access token for a development client (its kind's scope unless ``scopes`` is given)."""
        client = self.clients[client_id]
        return self.sign(self.claims_for(client_id, scopes or SCOPES_BY_KIND[client.kind]))

    def token_endpoint(self, kind: ClientKind, content_type: str | None, body: bytes, authorization: str | None) -> TokenAnswer:
        """Answer a POST to the ``kind`` token endpoint (RFC 6749 4.4 client credentials grant)."""
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            params = _form(content_type, body)
            client = self._authenticate(kind, params, authorization)
            grant_type = params.get("grant_type")
            if not grant_type:
                raise OAuthError(400, "invalid_request", "grant_type is required")
            if grant_type != "client_credentials":
                raise OAuthError(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported")
            scopes = _scopes(params.get("scope"), SCOPES_BY_KIND[client.kind])
        except OAuthError as exc:
            return TokenAnswer(exc.status, exc.body(), {**headers, **exc.headers})
        token = self.sign(self.claims_for(client.client_id, scopes))
        return TokenAnswer(200, {"access_token": token, "expires_in": self.lifetime_seconds, "token_type": "Bearer"}, headers)

    def _authenticate(self, kind: ClientKind, params: dict[str, str], authorization: str | None) -> DevClient:
        basic = _basic_credentials(authorization) if authorization else None
        if basic is not None and ("client_id" in params or "client_secret" in params):
            if params.get("client_id", basic[0]) != basic[0] or "client_secret" in params:
                raise OAuthError(
                    400, "invalid_request", "Use one client authentication method: HTTP Basic or client_id/client_secret in the body"
                )
        if basic is not None:
            client_id, secret = basic
            challenge = {"WWW-Authenticate": 'Basic realm="fibre-cafe"'}
        else:
            client_id, secret = params.get("client_id"), params.get("client_secret")
            challenge = {}
            if not client_id:
                raise OAuthError(400, "invalid_request", "client_id is required (in the body or with HTTP Basic)")
        client = self.clients.get(client_id or "")
        # Compare the secret even for an unknown client, so the answer's timing does not tell which ids exist.
        secret_ok = hmac.compare_digest((secret or "").encode(), self._client_secret.encode())
        if client is None or not secret or not secret_ok or client.kind != kind:
            raise OAuthError(401, "invalid_client", "Client authentication failed", challenge)
        return client

    # ---------------------------------------------------------------- verifying

    def verify(self, authorization: str | None, now: float | None = None) -> dict[str, Any]:
        """The claims of the request's Bearer access token, or InvalidAccessToken (the rules: module docstring)."""
        if not authorization:
            raise InvalidAccessToken("No access token - send Authorization: Bearer <token>")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise InvalidAccessToken("The Authorization header must be Bearer <token>")
        invalid = InvalidAccessToken("The access token is not valid")
        segments = token.split(".")
        if len(segments) != 3 or not all(_canonical_base64url(segment) for segment in segments):
            raise invalid
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid or header.get("alg") != "RS256":
                raise invalid
            # PyJWT checks the signature; the claims are checked below, strictly (PyJWT's checks take "exp": "123"
            # and an audience list).
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False, "verify_iss": False},
            )
        except jwt.PyJWTError as exc:
            raise invalid from exc
        if not isinstance(claims, dict):
            raise invalid
        _check_claims(claims, self.issuer, self.audience, time.time() if now is None else now)
        return claims


def _canonical_base64url(segment: str) -> bool:
    """RFC 7515's base64url without padding, in its one canonical spelling."""
    if not segment or any(c not in _BASE64URL for c in segment) or len(segment) % 4 == 1:
        return False
    decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() == segment


_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) != float("inf")


def _check_claims(claims: dict[str, Any], issuer: str, audience: str, now: float) -> None:
    invalid = InvalidAccessToken("The access token is not valid")
    for name in ("exp", "iat", "iss", "aud", "sub", "client_id", "token_use"):
        if name not in claims:
            raise invalid
    exp, iat = claims["exp"], claims["iat"]
    if not _is_number(exp) or not _is_number(iat):
        raise invalid
    if claims["iss"] != issuer or not isinstance(claims["iss"], str):
        raise invalid
    if not isinstance(claims["aud"], str) or claims["aud"] != audience:
        raise invalid
    if not isinstance(claims["sub"], str) or not isinstance(claims["client_id"], str):
        raise invalid
    if claims["token_use"] != "access":
        raise InvalidAccessToken("The token is not an access token")
    if iat > now + CLOCK_SKEW_SECONDS or exp <= iat:
        raise invalid
    if exp - iat > MAX_TOKEN_LIFETIME_SECONDS or exp > now + MAX_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
        raise invalid
    if exp <= now:
        raise InvalidAccessToken("The access token has expired")


def claims_as_strings(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as API Gateway's Cognito authorizer passes them to the Lambda: every value a string."""
    strings = {}
    for key, value in claims.items():
        if isinstance(value, str):
            strings[key] = value
        elif isinstance(value, bool):
            strings[key] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            strings[key] = " ".join(str(item) for item in value)
        elif isinstance(value, dict):
            strings[key] = json.dumps(value, separators=(",", ":"))
        else:
            strings[key] = str(value)
    return strings


def granted_scopes(claims: Mapping[str, Any]) -> set[str]:
    scope = claims.get("scope")
    return set(scope.split()) if isinstance(scope, str) else set()


def _form(content_type: str | None, body: bytes) -> dict[str, str]:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_CONTENT_TYPE:
        raise OAuthError(400, "invalid_request", f"Send the parameters as {FORM_CONTENT_TYPE}")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=32)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError(400, "invalid_request", "The request body is not a readable form") from exc
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise OAuthError(400, "invalid_request", f"Parameters must not be repeated: {', '.join(repeated)}")
    return {name: values[0] for name, values in parsed.items()}


def _basic_credentials(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.strip().partition(" ")
    failed = OAuthError(401, "invalid_client", "Client authentication failed", {"WWW-Authenticate": 'Basic realm="fibre-cafe"'})
    if scheme.lower() != "basic":
        raise failed
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise failed from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise failed
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def _scopes(requested: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if requested is None or not requested.strip():
        return allowed
    scopes = tuple(dict.fromkeys(requested.split()))
    unknown = [scope for scope in scopes if scope not in allowed]
    if unknown:
        raise OAuthError(400, "invalid_scope", f"This client may request only: {' '.join(allowed)}")
    return scopes
