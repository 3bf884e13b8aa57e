"""What the order snapshot keeps of its latest cancellation, to tell the tenant about it later.

Its own module so the Tenant API, which writes the summary when it accepts a cancellation, does not
import the tenant-KCI and supplier-KCI models (domain/tenant_kci_rules.py) it never uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fibre_cafe.models.records import CancellationRecord

CANCELLATION_SUMMARY_FIELDS = ("id", "orderId", "supplier", "reasonCode", "text", "status", "supplierReference", "conversationId")


def cancellation_summary(record: CancellationRecord) -> dict[str, Any]:
    """What the order snapshot keeps of its latest cancellation, to tell the tenant about it later."""
    values = record.model_dump(mode="json")
    return {key: values[key] for key in CANCELLATION_SUMMARY_FIELDS if values.get(key) is not None}
