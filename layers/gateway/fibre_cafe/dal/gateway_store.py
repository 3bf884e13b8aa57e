"""Operations that span both tables, each in one DynamoDB round trip.

- ``read_order_and_request``: one BatchGetItem for the order snapshot and the idempotency record.
- ``create_cancellation``: one TransactWriteItems that stores the cancellation, the idempotency
  record (the response the tenant gets) and marks the order PENDING_CANCELLATION, all or nothing.
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from fibre_cafe.dal.aws_errors import cancellation_reason_codes, error_code
from fibre_cafe.dal.cancellations_table import CancellationsTable, StaleRecord
from fibre_cafe.dal.keys import order_key, request_key
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.domain.cancellation_summary import cancellation_summary
from fibre_cafe.domain.errors import DependencyUnavailable
from fibre_cafe.models.order import Order
from fibre_cafe.models.records import CancellationRecord, StoredResponse

if TYPE_CHECKING:  # the KCI and tenant-KCI models: the Tenant API, which never uses them, does not import them
    from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox
    from fibre_cafe.domain.kci_rules import KciPlan
    from fibre_cafe.models.tenant_kci import TenantKciMessage


class RequestAlreadyRecorded(Exception):
    """Another call with the same (tenant, X-Request-ID) committed first."""


class OrderChanged(Exception):
    """The order changed between our read and our write (another cancellation, a KCI)."""


class WriteConflict(Exception):
    """DynamoDB cancelled the transaction because of a concurrent transaction: retry."""


class DuplicateKci(Exception):
    """This KCI id is already in the order's history: it was processed before."""


class CancellationNotMovable(Exception):
    """The KCI's cancellation update was refused (unknown, another order's, or already decided)."""


class GatewayStore:
    def __init__(self, client, cancellations: CancellationsTable, orders: OrdersTable):
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
        raise DependencyUnavailable("The gateway is busy - please retry", retry_after_seconds=1)

    def create_cancellation(self, record: CancellationRecord, order: Order, stored: StoredResponse, now_epoch: int) -> None:
        items = [
            {
                "Put": {
                    "TableName": self.cancellations.name,
                    "Item": self.cancellations.cancellation_item(record),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self.cancellations.name,
                    "Item": self.cancellations.request_item(stored),
                    # An expired record (TTL not yet swept) no longer counts.
                    "ConditionExpression": "attribute_not_exists(pk) OR expiresAt < :now",
                    "ExpressionAttributeValues": {":now": {"N": str(now_epoch)}},
                }
            },
            self.orders.open_cancellation_update(order, record.id, cancellation_summary(record), record.createdAt),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = cancellation_reason_codes(exc)
            if len(reasons) == 3:
                if reasons[1] == "ConditionalCheckFailed":
                    raise RequestAlreadyRecorded() from exc
                if reasons[2] == "ConditionalCheckFailed":
                    raise OrderChanged() from exc
                if "TransactionConflict" in reasons:
                    raise WriteConflict() from exc
            raise


    def hold_kci(self, order_after: Order, expected_version: int, held_put: dict) -> None:
        """One TransactWriteItems: the held KCI's item and the snapshot counting it. DuplicateKci if already held."""
        items = [held_put, self.orders.snapshot_put(order_after, expected_version)]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = cancellation_reason_codes(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise DuplicateKci() from exc
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise OrderChanged() from exc
            if "TransactionConflict" in reasons:
                raise WriteConflict() from exc
            raise

    def update_snapshot(self, order_after: Order, expected_version: int, extra_items: list[dict] | None = None) -> None:
        """The snapshot alone (e.g. a new hold-expiry timer), with ``extra_items`` (e.g. releasing a held duplicate)."""
        items = [self.orders.snapshot_put(order_after, expected_version), *(extra_items or [])]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = cancellation_reason_codes(exc)
            if "TransactionConflict" in reasons:
                raise WriteConflict() from exc
            raise OrderChanged() from exc

    def apply_kci(self, plan: KciPlan, history_entry: dict, now: str, tenant_update: TenantKciMessage | None = None,
                  extra_items: list[dict] | None = None) -> None:
        """One TransactWriteItems: the KCI's history item, the order snapshot, the cancellation (if the KCI
        decides one), the tenant KCI reporting it (the outbox item) and ``extra_items`` (releasing a held KCI)."""
        items = [
            self.orders.history_put(plan.order_after.id, history_entry),
            self.orders.snapshot_put(plan.order_after, plan.order_before.version if plan.order_before else None),
        ]
        effect = plan.effect
        if effect is not None:
            items.append(
                self.cancellations.kci_decision_update(
                    cancellation_id=effect.cancellation_id, order_id=effect.order_id, status=effect.status,
                    sequence_number=effect.sequence_number, kci_id=effect.kci_id, error=effect.error, now=now,
                )
            )
        if tenant_update is not None:
            items.append(self.outbox.put(tenant_update, now))
        items.extend(extra_items or [])
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = cancellation_reason_codes(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise DuplicateKci() from exc
            if extra_items and "ConditionalCheckFailed" in reasons[len(items) - len(extra_items):]:
                raise OrderChanged() from exc  # the held KCI was released by another worker: read again
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise OrderChanged() from exc
            if effect is not None and len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
                raise CancellationNotMovable() from exc
            if "TransactionConflict" in reasons:
                raise WriteConflict() from exc
            raise

    def record_outcome(self, record: CancellationRecord, expected_version: int, order_after: Order | None,
                       tenant_update: TenantKciMessage | None, now: str) -> CancellationRecord:
        """Store a cancellation's new state with its order and the tenant KCI reporting it, in one transaction.

        ``order_after`` must come from the order as read (its ``version`` is one more than the stored one).
        Raises StaleRecord if the cancellation changed, OrderChanged if the order did (read it again).
        """
        updated = record.model_copy(update={"version": expected_version + 1})
        items: list[dict] = [{
            "Put": {
                "TableName": self.cancellations.name,
                "Item": self.cancellations.cancellation_item(updated),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        }]
        if order_after is not None:
            items.append(self.orders.snapshot_put(order_after, order_after.version - 1))
            if tenant_update is not None:
                items.append(self.outbox.put(tenant_update, now))
        try:
            self.client.transact_write_items(TransactItems=items)
            return updated
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = cancellation_reason_codes(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise StaleRecord(f"cancellation {record.id} changed since version {expected_version}") from exc
            if "ConditionalCheckFailed" in reasons[1:]:
                raise OrderChanged() from exc
            if "TransactionConflict" in reasons:
                raise WriteConflict() from exc
            raise
