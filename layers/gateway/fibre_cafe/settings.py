"""Each function's settings: its environment variables as one pydantic model, validated once per container.

One model per function, its handler's ``Settings`` (next to its ``Dependencies``, so a function defines and
validates only its own), built from the shared groups of fields below on a common base, ``FunctionSettings``.
A field's alias is its variable's name (as template.yaml declares it); its description is the form the variable
must have. ``from_environ`` validates every field at once
and raises ``SettingsError``, whose message is one line naming each bad variable and the form it must have::

    ORDERS_TABLE_NAME is missing (expected a DynamoDB table name: 3-255 characters of A-Z a-z 0-9 _ . -)

An empty variable counts as unset (the template declares ``AWS_ENDPOINT_URL: ""``; the local stack blanks the
test seams). The dependencies are built from these settings by the one factory (fibre_cafe/wiring.py).

Test seams, never set by the template: ``CLIENT_PRINCIPALS`` (JSON, app client id -> ``tenant:<ID>`` or
``supplier:<ID>``) instead of the registry's CLIENT# items; ``SUPPLIERS_CONFIG`` / ``TENANTS_CONFIG`` (the JSON
itself) or ``..._CONFIG_FILE`` (a path) instead of the registry's partners (dal/partner_directory.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

S = TypeVar("S", bound="FunctionSettings")

# Field types shared by the functions' settings; a description is the form the variable must have.

TableName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$",
                                 description="a DynamoDB table name: 3-255 characters of A-Z a-z 0-9 _ . -")]
QueueUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+/\S+$", description="an SQS queue URL, http(s)://host/account/name")]
Seconds = Annotated[float, Field(gt=0, le=900, description="a number of seconds, more than 0 and at most 900")]

Attempts = Annotated[int, Field(ge=1, le=100, description="a whole number from 1 to 100")]
BackoffSeconds = Annotated[int, Field(ge=1, le=900, description="a whole number of seconds from 1 to 900")]


class SettingsError(Exception):
    """A function's environment is missing a variable or has one in the wrong form (one line, naming each)."""


class FunctionSettings(BaseModel):
    """The common base: immutable, read from variables by name, other variables ignored.

    ``defer_build``: a model's validator is built when it is first used, so a function builds only its own.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    @classmethod
    def from_environ(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
        """The settings from ``environ`` (``os.environ`` when None); SettingsError when a variable is missing or bad."""
        source = os.environ if environ is None else environ
        names = [field.alias or name for name, field in cls.model_fields.items()]
        values = {name: source[name] for name in names if source.get(name)}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(cls._describe(exc, values)) from None

    @classmethod
    def _describe(cls, exc: ValidationError, values: Mapping[str, str]) -> str:
        expected = {field.alias or name: field.description or "a value" for name, field in cls.model_fields.items()}
        problems = []
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else "?"
            if name not in values:
                problems.append(f"{name} is missing (expected {expected.get(name, 'a value')})")
            else:
                shown = values[name] if len(values[name]) <= 60 else values[name][:57] + "..."
                problems.append(f"{name}={shown!r} is not valid (expected {expected.get(name, 'a value')})")
        return f"{cls.__name__}: " + "; ".join(dict.fromkeys(problems))


# ---------------------------------------------------------------- groups of fields, shared by several functions


class GatewayTables(FunctionSettings):
    cancellations_table_name: TableName = Field(alias="CANCELLATIONS_TABLE_NAME")
    orders_table_name: TableName = Field(alias="ORDERS_TABLE_NAME")


class ApiSettings(GatewayTables):
    """An API function: who each app client is comes from the partner registry's CLIENT# items."""

    partner_registry_table_name: TableName = Field(alias="PARTNER_REGISTRY_TABLE_NAME")
    partner_registry_ttl_seconds: float = Field(60.0, alias="PARTNER_REGISTRY_TTL_SECONDS", ge=0, le=3600,
                                                description="seconds a registry entry is cached, from 0 to 3600")
    client_principals: dict[str, str] | None = Field(
        None, alias="CLIENT_PRINCIPALS",
        description='a JSON object, app client id -> "tenant:<ID>" or "supplier:<ID>" (tests only)')

    @field_validator("client_principals", mode="before")
    @classmethod
    def _json_principals(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value)  # a ValueError becomes a validation error
        if isinstance(value, dict):
            for principal in value.values():
                kind, _, ident = str(principal).partition(":")
                if kind not in ("tenant", "supplier") or not ident:
                    raise ValueError(f"not a principal: {principal!r}")
        return value


class PartnerSettings(FunctionSettings):
    """A function that reads partners: the partner registry (its table), or in tests the JSON form of
    dal/partner_directory.py (``SUPPLIERS_CONFIG``/``..._FILE`` in SupplierPartners, ``TENANTS_...`` in TenantPartners)."""

    partner_registry_table_name: TableName | None = Field(None, alias="PARTNER_REGISTRY_TABLE_NAME")
    partner_registry_ttl_seconds: float = Field(60.0, alias="PARTNER_REGISTRY_TTL_SECONDS", ge=0, le=3600,
                                                description="seconds a registry entry is cached, from 0 to 3600")


class SupplierPartners(PartnerSettings):
    suppliers_config: str | None = Field(None, alias="SUPPLIERS_CONFIG", description="the suppliers as JSON (tests only)")
    suppliers_config_file: str | None = Field(None, alias="SUPPLIERS_CONFIG_FILE", description="a path to the suppliers' JSON (tests only)")


class TenantPartners(PartnerSettings):
    tenants_config: str | None = Field(None, alias="TENANTS_CONFIG", description="the tenants as JSON (tests only)")
    tenants_config_file: str | None = Field(None, alias="TENANTS_CONFIG_FILE", description="a path to the tenants' JSON (tests only)")


class PartnerCallSettings(FunctionSettings):
    """A queue consumer that calls a partner, with an overall deadline per call and a time budget per invocation."""

    partner_call_deadline_seconds: Seconds = Field(12.0, alias="PARTNER_CALL_DEADLINE_SECONDS")
    record_overhead_seconds: Seconds = Field(3.0, alias="RECORD_OVERHEAD_SECONDS")

    @property
    def record_worst_case_seconds(self) -> float:
        """One record's worst case: the call's deadline plus its own AWS work (dal/partner_call.py)."""
        return self.partner_call_deadline_seconds + self.record_overhead_seconds
