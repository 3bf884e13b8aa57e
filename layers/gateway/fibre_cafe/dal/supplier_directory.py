"""Where each supplier's Supplier API lives and how to authenticate to it.

Configuration is one JSON object, supplier id -> settings::

    {"DUMMY_SUPPLIER": {"baseUrl": "https://supplier.example/api", "auth": {"type": "basic", "username": "...", "password": "..."}},
     "FIBRECO": {"baseUrl": "...", "auth": {"type": "bearer", "token": "..."}}}

In AWS it is an SSM SecureString parameter named by ``SUPPLIERS_PARAMETER`` (read with
decryption, cached for ``ttl_seconds``); locally it comes from ``SUPPLIERS_CONFIG`` (the JSON
itself) or ``SUPPLIERS_CONFIG_FILE`` (a path). ``auth.type`` is ``none``, ``basic`` or ``bearer``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable


class UnknownSupplier(Exception):
    pass


@dataclass(frozen=True)
class SupplierEndpoint:
    supplier: str
    base_url: str
    auth: dict[str, Any]

    def auth_headers(self) -> dict[str, str]:
        kind = (self.auth or {}).get("type", "none")
        if kind == "bearer":
            return {"Authorization": f"Bearer {self.auth['token']}"}
        return {}

    def basic_auth(self) -> tuple[str, str] | None:
        if (self.auth or {}).get("type") == "basic":
            return self.auth["username"], self.auth["password"]
        return None


def _load_from_environment() -> str:
    if os.environ.get("SUPPLIERS_CONFIG"):
        return os.environ["SUPPLIERS_CONFIG"]
    path = os.environ.get("SUPPLIERS_CONFIG_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    name = os.environ.get("SUPPLIERS_PARAMETER")
    if name:
        import boto3  # only this path needs SSM

        return boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    return "{}"


class SupplierDirectory:
    def __init__(self, loader: Callable[[], str] = _load_from_environment, ttl_seconds: float = 300.0):
        self._loader = loader
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._entries: dict[str, SupplierEndpoint] = {}

    def _refresh(self) -> None:
        raw = json.loads(self._loader() or "{}")
        self._entries = {
            supplier: SupplierEndpoint(supplier=supplier, base_url=str(cfg["baseUrl"]).rstrip("/"), auth=dict(cfg.get("auth") or {}))
            for supplier, cfg in raw.items()
        }
        self._loaded_at = time.monotonic()

    def endpoint(self, supplier: str) -> SupplierEndpoint:
        with self._lock:
            if time.monotonic() - self._loaded_at > self._ttl or supplier not in self._entries:
                self._refresh()
            try:
                return self._entries[supplier]
            except KeyError:
                raise UnknownSupplier(f"no Supplier API configured for {supplier}") from None
