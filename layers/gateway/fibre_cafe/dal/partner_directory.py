"""Where each partner's API lives (a supplier's Supplier API, a tenant's Tenant Updates API) and how to authenticate.

Configuration is one JSON object, partner id -> settings::

    {"DUMMY_SUPPLIER": {"baseUrl": "https://supplier.example/api", "auth": {"type": "basic", "username": "...", "password": "..."}},
     "TENANT1": {"baseUrl": "https://tenant.example/fibre-cafe",
                 "auth": {"type": "oauth2", "tokenUrl": "https://tenant.example/oauth2/token",
                          "clientId": "...", "clientSecret": "...", "scope": "kcis"}}}

A supplier's entry may also carry ``kciHoldWindowSeconds`` (see kci_hold_window.py).

``auth.type`` is ``none``, ``basic``, ``bearer`` (a fixed token) or ``oauth2`` (client credentials;
the token is fetched once and reused until shortly before it expires, see oauth2_tokens.py).

In AWS the JSON is an SSM SecureString parameter named by ``<PREFIX>_PARAMETER`` (read with
decryption, cached for ``ttl_seconds``); locally it comes from ``<PREFIX>_CONFIG`` (the JSON
itself) or ``<PREFIX>_CONFIG_FILE`` (a path). PREFIX is SUPPLIERS or TENANTS.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


class UnknownPartner(Exception):
    pass


@dataclass(frozen=True)
class PartnerEndpoint:
    partner: str
    base_url: str
    auth: dict[str, Any] = field(default_factory=dict)
    # The partner's whole entry (e.g. a supplier's kciHoldWindowSeconds, read by fibre_cafe/dal/kci_hold_window.py).
    settings: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def auth_type(self) -> str:
        return str((self.auth or {}).get("type", "none"))

    def static_auth_headers(self) -> dict[str, str]:
        if self.auth_type == "bearer":
            return {"Authorization": f"Bearer {self.auth['token']}"}
        return {}

    def basic_auth(self) -> tuple[str, str] | None:
        if self.auth_type == "basic":
            return self.auth["username"], self.auth["password"]
        return None


def environment_loader(prefix: str) -> Callable[[], str]:
    def load() -> str:
        if os.environ.get(f"{prefix}_CONFIG"):
            return os.environ[f"{prefix}_CONFIG"]
        path = os.environ.get(f"{prefix}_CONFIG_FILE")
        if path:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        name = os.environ.get(f"{prefix}_PARAMETER")
        if name:
            import boto3  # only this path needs SSM

            return boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        return "{}"

    return load


class PartnerDirectory:
    def __init__(self, loader: Callable[[], str], ttl_seconds: float = 300.0):
        self._loader = loader
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._entries: dict[str, PartnerEndpoint] = {}

    def _refresh(self) -> None:
        raw = json.loads(self._loader() or "{}")
        self._entries = {
            partner: PartnerEndpoint(partner=partner, base_url=str(cfg["baseUrl"]).rstrip("/"), auth=dict(cfg.get("auth") or {}),
                                     settings=dict(cfg))
            for partner, cfg in raw.items()
        }
        self._loaded_at = time.monotonic()

    def endpoint(self, partner: str) -> PartnerEndpoint:
        with self._lock:
            if time.monotonic() - self._loaded_at > self._ttl or partner not in self._entries:
                self._refresh()
            try:
                return self._entries[partner]
            except KeyError:
                raise UnknownPartner(f"no API configured for {partner}") from None
