"""OAuth2 client-credentials tokens for calling partners, fetched once and reused until they expire.

Owned by the partner client (dal/partner_client.py), which keeps ``timeout`` equal to its own socket timeouts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests

from fibre_cafe.dal.errors import NoAnswer
from fibre_cafe.dal.partner_call import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS
from fibre_cafe.dal.partner_directory import PartnerEndpoint

# Refresh this long before the token's own expiry, so a token never expires in flight; for a token
# that lives less than four times as long, a quarter of its lifetime (else it would never be reused).
EXPIRY_MARGIN_SECONDS = 60


class TokenCache:
    def __init__(self, session: requests.Session, timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
                 clock: Callable[[], float] = time.monotonic):
        self.session = session
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}
        self.fetches = 0

    def token(self, endpoint: PartnerEndpoint) -> str:
        with self._lock:
            cached = self._tokens.get(endpoint.partner)
            if cached and cached[1] > self.clock():
                return cached[0]
            token, lifetime = self._fetch(endpoint)
            self._tokens[endpoint.partner] = (token, self.clock() + lifetime - min(EXPIRY_MARGIN_SECONDS, lifetime / 4))
            return token

    def forget(self, endpoint: PartnerEndpoint) -> None:
        """Drop the cached token (the partner answered 401: it may have been revoked)."""
        with self._lock:
            self._tokens.pop(endpoint.partner, None)

    def _fetch(self, endpoint: PartnerEndpoint) -> tuple[str, float]:
        auth = endpoint.auth
        form = {"grant_type": "client_credentials"}
        if auth.get("scope"):
            form["scope"] = auth["scope"]
        self.fetches += 1
        try:
            answer = self.session.post(auth["tokenUrl"], data=form, auth=(auth["clientId"], auth["clientSecret"]), timeout=self.timeout)
            answer.raise_for_status()
            body = answer.json()
            return str(body["access_token"]), float(body.get("expires_in", 3600))
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise NoAnswer(f"no token from {endpoint.partner}'s token endpoint: {type(exc).__name__}", timed_out=False) from exc

    def headers(self, endpoint: PartnerEndpoint) -> dict[str, str]:
        if endpoint.auth_type == "oauth2":
            return {"Authorization": f"Bearer {self.token(endpoint)}"}
        return endpoint.static_auth_headers()
