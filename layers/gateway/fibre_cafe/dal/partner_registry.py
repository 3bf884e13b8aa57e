"""The partner registry: who each app client is, and where and how to call each tenant and supplier.

One DynamoDB table (``PartnerRegistryTable``, ``PARTNER_REGISTRY_TABLE_NAME``) with two kinds of item, and one
Secrets Manager secret per partner for its credentials (README, onboarding):

- ``{"pk": "CLIENT#<app client id>", "principal": "tenant:<ID>" | "supplier:<ID>"}``: the Cognito app client's
  principal. The Tenant API and the Supplier Updates API read it for every caller (``ClientRegistry``).
- ``{"pk": "PARTNER#<ID>", "kind": "tenant" | "supplier", "baseUrl": "https://...", "auth": {"type": ...,
  "tokenUrl": ..., "scope": ...}, "credentialsSecret": "<secret name>", ...settings}``: where the dispatcher
  calls a supplier and the delivery calls a tenant (``RegistryDirectory``). The secret holds the credentials
  of ``auth.type``: basic ``{"username", "password"}``, bearer ``{"token"}``, oauth2 ``{"clientId",
  "clientSecret"}``. ``fibre_cafe.models.partner.PartnerEntry`` is the typed shape of the item; per-partner
  settings are fields of it. (The API functions check ``CLIENT#`` items with a pattern and never import that
  model: it would only add to their cold start.)

Each item and each secret is read on its own and cached for the setting ``PARTNER_REGISTRY_TTL_SECONDS`` (60 s): onboarding,
offboarding and credential rotation take effect within that time, with no deploy. Each entry is validated on its
own, so a malformed one affects only its partner: its callers get 403, calls to it are refused as "not configured"
(MisconfiguredPartner). A registry that cannot be read (throttling, outage) is an AWS error like any other (503 for
an API caller, a retried record for a queue consumer).

Test seam: when the settings ``CLIENT_PRINCIPALS`` / ``SUPPLIERS_CONFIG`` / ``TENANTS_CONFIG`` are set (the in-process test
harnesses do; the template and the local stack never do), they replace the registry (partner_directory.py).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from fibre_cafe.dal.dynamodb_codec import from_item
from fibre_cafe.dal.errors import MisconfiguredPartner, UnknownPartner
from fibre_cafe.dal.partner_directory import PartnerEndpoint

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBClient

PartnerKind = Literal["tenant", "supplier"]
DEFAULT_TTL_SECONDS = 60.0
PARTNER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# The secret's fields each auth type needs.
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {"none": (), "basic": ("username", "password"), "bearer": ("token",),
                                                 "oauth2": ("clientId", "clientSecret")}


def client_key(client_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CLIENT#{client_id}"}}


def partner_key(partner: str) -> dict[str, Any]:
    return {"pk": {"S": f"PARTNER#{partner}"}}


CLIENT_PRINCIPAL_PATTERN = re.compile(r"^(tenant|supplier):([A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")
CLIENT_ATTRIBUTES = frozenset({"pk", "principal", "description"})


V = TypeVar("V")


class _TtlCache(Generic[V]):
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, V]] = {}

    def get(self, key: str, load: Callable[[], V]) -> V:
        with self._lock:
            cached = self._values.get(key)
            if cached is not None and cached[0] > self.clock():
                return cached[1]
        value = load()  # outside the lock: one slow read does not hold up other keys
        with self._lock:
            self._values[key] = (self.clock() + self.ttl, value)
        return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)


class ClientRegistry:
    """app client id -> (kind, partner id), from ``CLIENT#`` items, cached per client (absent and malformed too)."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str, ttl_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.dynamodb = dynamodb
        self.table_name = table_name
        self._cache: _TtlCache[tuple[PartnerKind, str] | MisconfiguredPartner | None] = _TtlCache(
            DEFAULT_TTL_SECONDS if ttl_seconds is None else ttl_seconds, clock
        )

    def _load(self, client_id: str) -> tuple[PartnerKind, str] | MisconfiguredPartner | None:
        answer = self.dynamodb.get_item(TableName=self.table_name, Key=client_key(client_id))
        if "Item" not in answer:
            return None
        item = from_item(answer["Item"])
        unknown = sorted(set(item) - CLIENT_ATTRIBUTES)
        principal = item.get("principal")
        matched = CLIENT_PRINCIPAL_PATTERN.fullmatch(principal) if isinstance(principal, str) else None
        if unknown or matched is None:
            wrong = ", ".join(unknown or ["principal"])
            return MisconfiguredPartner(f"registry entry of client {client_id} is malformed: {wrong}")
        kind: PartnerKind = "tenant" if matched.group(1) == "tenant" else "supplier"  # the pattern allows only these two
        return kind, matched.group(2)

    def principal(self, client_id: str) -> tuple[PartnerKind, str] | None:
        """The client's principal, None when it is not registered; MisconfiguredPartner when its entry is invalid."""
        found = self._cache.get(client_id, lambda: self._load(client_id))
        if isinstance(found, MisconfiguredPartner):
            raise found
        return found


def _fields(exc: Any) -> str:
    """Which fields are wrong, never their values (they may hold secrets)."""
    return ", ".join(sorted({".".join(str(part) for part in error["loc"]) or "(item)" for error in exc.errors()}))


def secrets_manager_reader(client_factory: Callable[[], Any], ttl_seconds: float | None = None,
                           clock: Callable[[], float] = time.monotonic) -> Callable[[str], dict[str, Any]]:
    """A secret's JSON by name, each secret cached for the TTL (rotation needs no deploy).

    The Secrets Manager client is built on the first read: a container whose partners need no credentials
    never builds it. (Powertools' parameters utility did this before; importing it imports boto3, which the first
    request of a partner-calling function then paid for.)
    """
    cache: _TtlCache[Any] = _TtlCache(DEFAULT_TTL_SECONDS if ttl_seconds is None else ttl_seconds, clock)
    clients: list[Any] = []
    client_lock = threading.Lock()

    def fetch(name: str) -> Any:
        with client_lock:
            if not clients:
                clients.append(client_factory())
        answer = clients[0].get_secret_value(SecretId=name)
        return answer["SecretString"] if "SecretString" in answer else answer.get("SecretBinary")

    def read(name: str) -> dict[str, Any]:
        value = cache.get(name, lambda: fetch(name))
        parsed = json.loads(value) if isinstance(value, (str, bytes)) else value
        if not isinstance(parsed, dict):
            raise ValueError("the secret is not a JSON object")
        return parsed

    return read


class RegistryDirectory:
    """Partner endpoints of one kind (``supplier`` or ``tenant``) from ``PARTNER#`` items and their secrets.

    Same interface as PartnerDirectory: ``endpoint(partner)`` -> PartnerEndpoint, UnknownPartner when the partner
    is not registered, MisconfiguredPartner (an UnknownPartner) when its entry or its secret is not usable.
    ``read_secret`` None: settings only (``endpoint(...).settings``), the credentials are not read.
    """

    def __init__(self, kind: PartnerKind, dynamodb: DynamoDBClient, table_name: str, read_secret: Callable[[str], dict[str, Any]] | None,
                 ttl_seconds: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.kind = kind
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.read_secret = read_secret
        self._cache: _TtlCache[PartnerEndpoint | UnknownPartner] = _TtlCache(
            DEFAULT_TTL_SECONDS if ttl_seconds is None else ttl_seconds, clock
        )

    def _load(self, partner: str) -> PartnerEndpoint | UnknownPartner:
        from pydantic import ValidationError

        from fibre_cafe.models.partner import PartnerEntry

        answer = self.dynamodb.get_item(TableName=self.table_name, Key=partner_key(partner))
        if "Item" not in answer:
            return UnknownPartner(f"no API configured for {partner}")
        try:
            entry = PartnerEntry.model_validate(from_item(answer["Item"]))
        except ValidationError as exc:
            return MisconfiguredPartner(f"registry entry of {partner} is malformed: {_fields(exc)}")
        if entry.kind != self.kind:
            return MisconfiguredPartner(f"registry entry of {partner} is a {entry.kind}, not a {self.kind}")
        credentials: dict[str, Any] = {}
        needed = CREDENTIAL_FIELDS[entry.auth.type] if self.read_secret is not None else ()
        if needed and self.read_secret is not None:  # (needed is empty without a reader: the test narrows the type)
            if not entry.credentialsSecret:
                return MisconfiguredPartner(f"registry entry of {partner} names no credentialsSecret for {entry.auth.type} auth")
            try:
                credentials = self.read_secret(entry.credentialsSecret)
            except Exception as exc:  # noqa: BLE001 - a missing or unreadable secret: this partner only
                return MisconfiguredPartner(f"credentials secret of {partner} is not usable: {type(exc).__name__}")
            missing = [name for name in needed if not isinstance(credentials.get(name), str) or not credentials[name]]
            if missing:
                return MisconfiguredPartner(f"credentials secret of {partner} lacks {', '.join(missing)}")
        if entry.auth.type == "oauth2" and not entry.auth.tokenUrl:
            return MisconfiguredPartner(f"registry entry of {partner} has oauth2 auth without auth.tokenUrl")
        auth = {"type": entry.auth.type, **{name: credentials[name] for name in needed}}
        if entry.auth.tokenUrl:
            auth["tokenUrl"] = entry.auth.tokenUrl
        if entry.auth.scope:
            auth["scope"] = entry.auth.scope
        return PartnerEndpoint(partner=partner, base_url=entry.baseUrl.rstrip("/"), auth=auth, entry=entry,
                               settings=entry.model_dump(exclude_none=True))

    def endpoint(self, partner: str) -> PartnerEndpoint:
        found = self._cache.get(partner, lambda: self._load(partner))
        if isinstance(found, UnknownPartner):
            raise found
        return found

    def forget(self, partner: str) -> None:
        """Read the partner's entry again on next use (e.g. after it refused our credentials)."""
        self._cache.forget(partner)
