"""Where each partner's API lives (a supplier's Supplier API, a tenant's Tenant Updates API) and how to authenticate.

In AWS this comes from the partner registry (partner_registry.py: a DynamoDB item per partner, a Secrets Manager
secret per partner's credentials); ``partner_directory()`` picks it. This module also keeps the JSON form below,
which the in-process test harnesses give through ``SUPPLIERS_CONFIG`` / ``TENANTS_CONFIG`` (never set in the
template nor by the local stack, which seeds the registry). One JSON object, partner id -> settings::

    {"DUMMY_SUPPLIER": {"baseUrl": "https://supplier.example/api", "auth": {"type": "basic", "username": "...", "password": "..."}},
     "TENANT1": {"baseUrl": "https://tenant.example/fibre-cafe",
                 "auth": {"type": "oauth2", "tokenUrl": "https://tenant.example/oauth2/token",
                          "clientId": "...", "clientSecret": "...", "scope": "kcis"}}}

A supplier's entry may also carry ``kciHoldWindowSeconds`` (see kci_hold_window.py).

``auth.type`` is ``none``, ``basic``, ``bearer`` (a fixed token) or ``oauth2`` (client credentials;
the token is fetched once and reused until shortly before it expires, see oauth2_tokens.py).

The JSON comes from the settings ``<PREFIX>_CONFIG`` (the JSON itself) or ``<PREFIX>_CONFIG_FILE`` (a path); PREFIX
is SUPPLIERS or TENANTS (fibre_cafe/settings.py). Each entry is checked on its own: a malformed one makes only that
partner MisconfiguredPartner.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fibre_cafe.dal.errors import MisconfiguredPartner, UnknownPartner

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBClient
    from fibre_cafe.dal.partner_registry import PartnerKind


@dataclass(frozen=True)
class PartnerEndpoint:
    partner: str
    base_url: str
    auth: dict[str, Any] = field(default_factory=dict)
    # The registry entry (fibre_cafe.models.partner.PartnerEntry); None in the JSON form.
    entry: Any = None
    # The partner's settings by name (e.g. a supplier's kciHoldWindowSeconds): the entry's fields, or the JSON entry.
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


def json_loader(config: str | None, config_file: str | None) -> Callable[[], str]:
    """The JSON form from the settings: the JSON itself, or a file read on each refresh."""

    def load() -> str:
        if config:
            return config
        if config_file:
            with open(config_file, encoding="utf-8") as handle:
                return handle.read()
        return "{}"

    return load


def partner_directory(kind: PartnerKind, dynamodb: DynamoDBClient, table_name: str | None,
                      secrets_client_factory: Callable[[], Any] | None, *, config: str | None = None, config_file: str | None = None,
                      ttl_seconds: float | None = None) -> PartnerEndpoints:
    """The partners of one kind: the JSON form when the settings give it (``config``/``config_file``: tests) or no
    registry table is named, else the registry (entries and secrets cached ``ttl_seconds``).

    ``secrets_client_factory`` None: settings only, credentials are never read (a function that does not call
    the partner, e.g. one that only needs a supplier's kciHoldWindowSeconds, needs no Secrets Manager access).
    """
    if config or config_file or not table_name:
        return PartnerDirectory(json_loader(config, config_file))
    from fibre_cafe.dal.partner_registry import RegistryDirectory, secrets_manager_reader

    reader = secrets_manager_reader(secrets_client_factory, ttl_seconds) if secrets_client_factory is not None else None
    return RegistryDirectory(kind, dynamodb, table_name, reader, ttl_seconds=ttl_seconds)


class PartnerEndpoints(Protocol):
    """Where each partner is: PartnerDirectory (the JSON form) or partner_registry.RegistryDirectory."""

    def endpoint(self, partner: str) -> PartnerEndpoint: ...


class PartnerDirectory:
    def __init__(self, loader: Callable[[], str], ttl_seconds: float = 300.0):
        self._loader = loader
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._entries: dict[str, PartnerEndpoint | MisconfiguredPartner] = {}

    def _refresh(self) -> None:
        raw = json.loads(self._loader() or "{}")
        entries: dict[str, PartnerEndpoint | MisconfiguredPartner] = {}
        for partner, cfg in raw.items():
            if isinstance(cfg, dict) and isinstance(cfg.get("baseUrl"), str) and isinstance(cfg.get("auth") or {}, dict):
                entries[partner] = PartnerEndpoint(partner=partner, base_url=cfg["baseUrl"].rstrip("/"), auth=dict(cfg.get("auth") or {}),
                                                   settings=dict(cfg))
            else:
                entries[partner] = MisconfiguredPartner(f"configuration of {partner} is malformed")
        self._entries = entries
        self._loaded_at = time.monotonic()

    def endpoint(self, partner: str) -> PartnerEndpoint:
        with self._lock:
            if time.monotonic() - self._loaded_at > self._ttl or partner not in self._entries:
                self._refresh()
            try:
                found = self._entries[partner]
            except KeyError:
                raise UnknownPartner(f"no API configured for {partner}") from None
            if isinstance(found, UnknownPartner):
                raise found
            return found
