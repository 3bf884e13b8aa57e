"""Record a cancellation's new state (from the supplier's answer or the sweeper) with its order and the tenant KCI."""

from __future__ import annotations

from fibre_cafe.dal.errors import RetryLater
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.transactions import retry_conflicts
from fibre_cafe.domain import cancellation_outcomes
from fibre_cafe.ids import new_id
from fibre_cafe.models.records import CancellationRecord


def store_outcome(
    store: GatewayStore, record: CancellationRecord, expected_version: int, now: str, attempts: int = 5
) -> CancellationRecord:
    """Write a cancellation's new state with its order and the tenant KCI reporting it (domain/cancellation_outcomes.py).

    Re-reads the order when it changed in between (a KCI, another cancellation's answer); when it keeps changing,
    RetryLater (its callers are the supplier dispatcher's queue and the forwarding sweeper's next run).
    """
    def attempt(_: int) -> CancellationRecord:
        order = store.orders.get(record.orderId)
        order_after = cancellation_outcomes.order_after_outcome(order, record) if order else None
        tenant_update = cancellation_outcomes.tenant_update_for_outcome(order_after, record, new_id()) if order_after else None
        return store.record_outcome(record, expected_version, order_after, tenant_update, now)

    return retry_conflicts(attempt, attempts, give_up=lambda: RetryLater(
        f"order {record.orderId} kept changing while recording cancellation {record.id}"))
