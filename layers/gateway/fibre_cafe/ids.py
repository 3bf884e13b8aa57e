"""New identifiers (error uuids, tenant KCI ids), given to the pure domain by its callers, as the clock is."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A random UUID, as text."""
    return str(uuid.uuid4())
