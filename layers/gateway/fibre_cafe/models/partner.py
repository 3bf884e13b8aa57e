"""The partner registry's ``PARTNER#<ID>`` item as a typed model (fibre_cafe/dal/partner_registry.py, README onboarding).

Unknown attributes are refused, so a typo (``credentialSecret``, ``baseURL``) makes the entry malformed, and only
that partner is refused, instead of passing silently. Per-partner settings are typed fields here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PartnerKind = Literal["tenant", "supplier"]


class PartnerAuth(BaseModel):
    """How to authenticate to the partner; the credentials themselves live in the partner's secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["none", "basic", "bearer", "oauth2"] = "none"
    tokenUrl: str | None = Field(None, pattern=r"^https?://[^\s]+$", max_length=2048)  # oauth2: the partner's token endpoint
    scope: str | None = Field(None, max_length=1024)  # oauth2: the scope to request, if any


class PartnerEntry(BaseModel):
    """A ``PARTNER#<ID>`` item. Unknown attributes are refused: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pk: str = Field(pattern=r"^PARTNER#")
    kind: PartnerKind
    baseUrl: str = Field(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$", max_length=2048)
    auth: PartnerAuth = PartnerAuth()
    credentialsSecret: str | None = Field(None, pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$")
    description: str | None = Field(None, max_length=1024)  # free text for operators
    # Per-partner settings, typed. A supplier's KCI hold window: how long a KCI that arrives ahead of a missing
    # sequence number waits for it (seconds, 0 = no holding, at most SQS's 15-minute delay); absent: the default.
    kciHoldWindowSeconds: int | None = Field(None, ge=0, le=900)
