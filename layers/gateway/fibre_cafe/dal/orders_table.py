"""The order registry: one snapshot item per order (``pk=ORDER#<id>``, ``sk=SNAPSHOT``).

Orders are created elsewhere in the gateway and kept current by supplier KCIs; this service
reads them to decide whether a cancellation is allowed and marks them PENDING_CANCELLATION.
Every write is conditional on ``version``: nothing is silently overwritten.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fibre_cafe.dal.dynamodb_codec import from_item, to_item, to_value
from fibre_cafe.dal.errors import OrderExists
from fibre_cafe.dal.keys import ORDER_SNAPSHOT_SK, held_kci_key, kci_history_key, order_key
from fibre_cafe.models.order import Order, OrderStatus

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBClient


class OrdersTable:
    def __init__(self, client: DynamoDBClient, table_name: str):
        self.client = client
        self.name = table_name

    @staticmethod
    def order_from_item(item: dict[str, Any]) -> Order:
        return Order.model_validate(from_item(item))

    def get(self, order_id: int) -> Order | None:
        answer = self.client.get_item(TableName=self.name, Key=order_key(order_id), ConsistentRead=True)
        item = answer.get("Item")
        return self.order_from_item(item) if item else None

    def snapshot_item(self, order: Order) -> dict[str, Any]:
        return to_item({"pk": order_key(order.id)["pk"]["S"], "sk": ORDER_SNAPSHOT_SK, **order.model_dump(mode="json")})

    def snapshot_put(self, order: Order, expected_version: int | None) -> dict[str, Any]:
        """TransactWriteItems entry: write the snapshot if it is new (None) or still at ``expected_version``."""
        put: dict[str, Any] = {"TableName": self.name, "Item": self.snapshot_item(order)}
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#version = :read"
            put["ExpressionAttributeNames"] = {"#version": "version"}
            put["ExpressionAttributeValues"] = {":read": to_value(expected_version)}
        return {"Put": put}

    def history_put(self, order_id: int, entry: dict[str, Any]) -> dict[str, Any]:
        """TransactWriteItems entry: keep a KCI in the order's history; refused if that KCI id is already there."""
        key = kci_history_key(order_id, str(entry["kciId"]))
        item = to_item({"pk": key["pk"]["S"], "sk": key["sk"]["S"], **entry})
        return {"Put": {"TableName": self.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def put_history(self, order_id: int, entry: dict[str, Any]) -> None:
        """Keep a KCI in the order's history alone (a stale KCI); ConditionalCheckFailed if that KCI id is there."""
        self.client.put_item(**self.history_put(order_id, entry)["Put"])

    def held_put(self, order_id: int, entry: dict[str, Any]) -> dict[str, Any]:
        """TransactWriteItems entry: hold a KCI (refused if that KCI is already held)."""
        key = held_kci_key(order_id, int(entry["sequenceNumber"]), str(entry["kciId"]))
        item = to_item({"pk": key["pk"]["S"], "sk": key["sk"]["S"], **entry})
        return {"Put": {"TableName": self.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def held_delete(self, order_id: int, sequence_number: int, kci_id: str) -> dict[str, Any]:
        """TransactWriteItems entry: release a held KCI (it must still be held: one drainer wins)."""
        return {"Delete": {"TableName": self.name, "Key": held_kci_key(order_id, sequence_number, kci_id),
                           "ConditionExpression": "attribute_exists(pk)"}}

    def held(self, order_id: int) -> list[dict[str, Any]]:
        """The order's held KCIs, in sequence order (what operators see waiting; see README runbook)."""
        return self._kci_entries(order_id, "HELD#")

    def history(self, order_id: int) -> list[dict[str, Any]]:
        """The order's KCI history (audit), in sequence order."""
        return self._kci_entries(order_id, "KCI#")

    def _kci_entries(self, order_id: int, sk_prefix: str) -> list[dict[str, Any]]:
        """The order's items whose sort key starts with ``sk_prefix``, by (sequenceNumber, kciId)."""
        paginator = self.client.get_paginator("query")
        entries: list[dict[str, Any]] = []
        for page in paginator.paginate(
            TableName=self.name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": order_key(order_id)["pk"], ":prefix": {"S": sk_prefix}},
            ConsistentRead=True,
        ):
            entries.extend(from_item(item) for item in page.get("Items", []))
        return sorted(entries, key=lambda entry: (entry["sequenceNumber"], entry["kciId"]))

    def create(self, order: Order) -> None:
        """Register a new order (seeding, and the KCI path for orders not yet known)."""
        item = self.snapshot_item(order)
        try:
            self.client.put_item(TableName=self.name, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise OrderExists(f"order {order.id} already exists") from exc

    def open_cancellation_update(self, order: Order, cancellation_id: int, summary: dict[str, Any], now: str) -> dict[str, Any]:
        """TransactWriteItems entry: mark the order PENDING_CANCELLATION, if unchanged since read."""
        return {
            "Update": {
                "TableName": self.name,
                "Key": order_key(order.id),
                "UpdateExpression": "SET #status = :pending, openCancellationId = :cid, lastCancellationId = :cid, "
                                    "lastCancellation = :summary, #version = :next, updatedAt = :now",
                "ConditionExpression": "#version = :read AND tenant = :tenant AND attribute_not_exists(openCancellationId)",
                "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                "ExpressionAttributeValues": {
                    ":pending": to_value(OrderStatus.PENDING_CANCELLATION.value),
                    ":cid": to_value(cancellation_id),
                    ":summary": to_value(summary),
                    ":next": to_value(order.version + 1),
                    ":read": to_value(order.version),
                    ":tenant": to_value(order.tenant),
                    ":now": to_value(now),
                },
            }
        }
