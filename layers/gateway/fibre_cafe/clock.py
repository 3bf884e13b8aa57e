"""Time in one format everywhere: ISO 8601, UTC, milliseconds, 'Z'."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

# What the use cases take as their clock (utc_now, or a test's fixed or advancing time).
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
