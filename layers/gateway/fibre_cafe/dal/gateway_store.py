"""Operations that span both tables, each in one DynamoDB round trip.

- ``read_order_and_request``: one BatchGetItem for the order snapshot and the idempotency record.
- ``create_cancellation``: one TransactWriteItems that stores the cancellation, the idempotency
  record (the response the tenant gets) and marks the order PENDING_CANCELLATION, all or nothing.
- The KCI and outcome writes (``hold_kci``, ``update_snapshot``, ``apply_kci``, ``record_outcome``): one
  TransactWriteItems each.

Every transaction names its items (dal/transactions.py): a failed condition is read by the item's name and
turned into dal/errors.py's exceptions: ``LostRace`` when the order (or the request's idempotency record) changed
under the write or a concurrent transaction met it (read again and retry), ``StaleRecord`` when the cancellation
changed, ``DuplicateKci`` and ``CancellationNotMovable`` for the KCI writes.
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.errors import CancellationNotMovable, DuplicateKci, LostRace, StaleRecord, Throttled
from fibre_cafe.dal.keys import order_key, request_key
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.dal.transactions import transact_write
from fibre_cafe.domain.cancellation_summary import cancellation_summary
from fibre_cafe.models.order import Order
from fibre_cafe.models.records import CancellationRecord, StoredResponse

if TYPE_CHECKING:  # the KCI and tenant-KCI models: the Tenant API, which never uses them, does not import them
    from fibre_cafe.dal.aws_clients import DynamoDBClient
    from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox
    from fibre_cafe.domain.kci_rules import KciPlan
    from fibre_cafe.models.tenant_kci import TenantKciMessage


class GatewayStore:
    def __init__(self, client: DynamoDBClient, cancellations: CancellationsTable, orders: OrdersTable):
        self.client = client
        self.cancellations = cancellations
        self.orders = orders

    @cached_property
    def outbox(self) -> TenantKciOutbox:
        """The tenant-KCI outbox (KCIs and supplier outcomes write to it; the Tenant API never does)."""
        from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox

        return TenantKciOutbox(self.client, self.orders.name)

    def read_order_and_request(self, order_id: int, tenant: str, request_id: str) -> tuple[Order | None, StoredResponse | None]:
        request_items = {
            self.orders.name: {"Keys": [order_key(order_id)], "ConsistentRead": True},
            self.cancellations.name: {"Keys": [request_key(tenant, request_id)], "ConsistentRead": True},
        }
        order = stored = None
        for attempt in range(3):
            if attempt:
                time.sleep(0.05 * 2**attempt)  # unprocessed keys mean throttling: back off before asking again
            answer = self.client.batch_get_item(RequestItems=request_items)
            responses = answer.get("Responses", {})
            for item in responses.get(self.orders.name, []):
                order = self.orders.order_from_item(item)
            for item in responses.get(self.cancellations.name, []):
                stored = self.cancellations.stored_response_from_item(item)
            request_items = answer.get("UnprocessedKeys") or {}
            if not request_items:
                return order, stored
        raise Throttled(f"order {order_id} and request {request_id} still unprocessed after 3 BatchGetItem calls")

    def create_cancellation(self, record: CancellationRecord, order: Order, stored: StoredResponse, now_epoch: int) -> None:
        transact_write(self.client, {
            "cancellation": {
                "Put": {
                    "TableName": self.cancellations.name,
                    "Item": self.cancellations.cancellation_item(record),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            "request": {
                "Put": {
                    "TableName": self.cancellations.name,
                    "Item": self.cancellations.request_item(stored),
                    # An expired record (TTL not yet swept) no longer counts.
                    "ConditionExpression": "attribute_not_exists(pk) OR expiresAt < :now",
                    "ExpressionAttributeValues": {":now": {"N": str(now_epoch)}},
                }
            },
            "order": self.orders.open_cancellation_update(order, record.id, cancellation_summary(record), record.createdAt),
        }, {"request": LostRace, "order": LostRace})  # a call with the same X-Request-ID, or the order, got there first

    def hold_kci(self, order_after: Order, expected_version: int, held_put: dict[str, Any]) -> None:
        """One TransactWriteItems: the held KCI's item and the snapshot counting it. DuplicateKci if already held."""
        transact_write(self.client, {"held": held_put, "snapshot": self.orders.snapshot_put(order_after, expected_version)},
                       {"held": DuplicateKci, "snapshot": LostRace})

    def update_snapshot(self, order_after: Order, expected_version: int, extra_items: list[dict[str, Any]] | None = None) -> None:
        """The snapshot alone (e.g. a new hold-expiry timer), with ``extra_items`` (e.g. releasing a held duplicate).
        LostRace when any item's condition failed (the snapshot's version, a held KCI already released)."""
        items = {"snapshot": self.orders.snapshot_put(order_after, expected_version), **_extras(extra_items)}
        transact_write(self.client, items, dict.fromkeys(items, LostRace))

    def apply_kci(self, plan: KciPlan, history_entry: dict[str, Any], now: str, tenant_update: TenantKciMessage | None = None,
                  extra_items: list[dict[str, Any]] | None = None) -> None:
        """One TransactWriteItems: the KCI's history item, the order snapshot, the cancellation (if the KCI
        decides one), the tenant KCI reporting it (the outbox item) and ``extra_items`` (releasing a held KCI)."""
        items = {
            "history": self.orders.history_put(plan.order_after.id, history_entry),
            "snapshot": self.orders.snapshot_put(plan.order_after, plan.order_before.version if plan.order_before else None),
        }
        effect = plan.effect
        if effect is not None:
            items["cancellation"] = self.cancellations.kci_decision_update(
                cancellation_id=effect.cancellation_id, order_id=effect.order_id, status=effect.status,
                sequence_number=effect.sequence_number, kci_id=effect.kci_id, error=effect.error, now=now,
            )
        if tenant_update is not None:
            items["outbox"] = self.outbox.put(tenant_update, now)
        extras = _extras(extra_items)
        items.update(extras)
        transact_write(self.client, items, {
            "history": DuplicateKci,
            **dict.fromkeys(extras, LostRace),  # the held KCI was released by another worker: read again
            "snapshot": LostRace,
            "cancellation": CancellationNotMovable,
        })

    def record_outcome(self, record: CancellationRecord, expected_version: int, order_after: Order | None,
                       tenant_update: TenantKciMessage | None, now: str) -> CancellationRecord:
        """Store a cancellation's new state with its order and the tenant KCI reporting it, in one transaction.

        ``order_after`` must come from the order as read (its ``version`` is one more than the stored one).
        Raises StaleRecord if the cancellation changed, LostRace if the order did (read it again).
        """
        updated = record.model_copy(update={"version": expected_version + 1})
        items: dict[str, dict[str, Any]] = {"cancellation": {
            "Put": {
                "TableName": self.cancellations.name,
                "Item": self.cancellations.cancellation_item(updated),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        }}
        if order_after is not None:
            items["snapshot"] = self.orders.snapshot_put(order_after, order_after.version - 1)
            if tenant_update is not None:
                items["outbox"] = self.outbox.put(tenant_update, now)
        transact_write(self.client, items, {
            "cancellation": lambda: StaleRecord(f"cancellation {record.id} changed since version {expected_version}"),
            "snapshot": LostRace,
            "outbox": LostRace,
        })
        return updated


def _extras(extra_items: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Callers' extra items, named by position among the extras (their meaning is the same for all of them)."""
    return {f"extra{index}": item for index, item in enumerate(extra_items or [])}
