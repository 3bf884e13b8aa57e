"""Item keys. Cancellations table: ``pk`` only. Orders table (order registry): ``pk`` + ``sk``."""

from __future__ import annotations

# A DynamoDB key in the low-level client's shape: {"pk": {"S": ...}, "sk": {"S": ...}}.
Key = dict[str, dict[str, str]]

ORDER_SNAPSHOT_SK = "SNAPSHOT"


def cancellation_key(cancellation_id: int) -> Key:
    return {"pk": {"S": f"CANCELLATION#{cancellation_id}"}}


def request_key(tenant: str, request_id: str) -> Key:
    # Tenant ids have no '#', so the key is unambiguous whatever the X-Request-ID holds.
    return {"pk": {"S": f"REQUEST#{tenant}#{request_id}"}}


def order_key(order_id: int) -> Key:
    return {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": ORDER_SNAPSHOT_SK}}


def kci_history_key(order_id: int, kci_id: str) -> Key:
    """A KCI kept in its order's history; one item per KCI id, which is what makes duplicates harmless."""
    return {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"KCI#{kci_id}"}}


def held_kci_key(order_id: int, sequence_number: int, kci_id: str) -> Key:
    """A KCI held until its turn (it arrived ahead of a missing sequence number); sorted by sequence number."""
    return {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"HELD#{sequence_number:012d}#{kci_id}"}}
