"""A supplier's KCI hold window: how long a KCI that arrives ahead of a missing sequence number waits for it.

The setting is ``kciHoldWindowSeconds`` in the supplier's partner-registry entry (``PARTNER#<supplier>`` in
PartnerRegistryTable, models/partner.py), or in its SUPPLIERS_CONFIG(_FILE) entry in tests, e.g.::

    {"FIBRECO": {"baseUrl": "...", "auth": {...}, "kciHoldWindowSeconds": 45}}

Absent (or the supplier not configured): ``DEFAULT_SECONDS``. 0 turns holding off (an early KCI is applied at
once, past the gap). At most ``MAX_SECONDS``: a held KCI's deadline is an SQS delayed message
(logic/apply_kci.py), and SQS delays a message by at most 15 minutes.

This one function is the only reader of the setting.
"""

from __future__ import annotations

from fibre_cafe.dal.errors import UnknownPartner
from fibre_cafe.dal.partner_directory import PartnerEndpoints

DEFAULT_SECONDS = 30
MAX_SECONDS = 900


def kci_hold_window_seconds(directory: PartnerEndpoints, supplier: str) -> int:
    try:
        value = directory.endpoint(supplier).settings.get("kciHoldWindowSeconds", DEFAULT_SECONDS)
    except UnknownPartner:
        return DEFAULT_SECONDS
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return DEFAULT_SECONDS
    return max(0, min(MAX_SECONDS, seconds))
