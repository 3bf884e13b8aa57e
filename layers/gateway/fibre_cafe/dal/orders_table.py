"""The order registry: one snapshot item per order (``pk=ORDER#<id>``, ``sk=SNAPSHOT``).

Orders are created elsewhere in the gateway and kept current by supplier KCIs; this service
reads them to decide whether a cancellation is allowed and marks them PENDING_CANCELLATION.
Every write is conditional on ``version``: nothing is silently overwritten.
"""

from __future__ import annotations

from typing import Any

from fibre_cafe.dal.dynamodb_codec import from_item, to_item, to_value
from fibre_cafe.dal.keys import ORDER_SNAPSHOT_SK, order_key
from fibre_cafe.models.order import Order, OrderStatus


class OrderExists(Exception):
    pass


class OrdersTable:
    def __init__(self, client, table_name: str):
        self.client = client
        self.name = table_name

    @staticmethod
    def order_from_item(item: dict[str, Any]) -> Order:
        return Order.model_validate(from_item(item))

    def get(self, order_id: int) -> Order | None:
        answer = self.client.get_item(TableName=self.name, Key=order_key(order_id), ConsistentRead=True)
        item = answer.get("Item")
        return self.order_from_item(item) if item else None

    def create(self, order: Order) -> None:
        """Register a new order (seeding, and the KCI path for orders not yet known)."""
        item = to_item({"pk": order_key(order.id)["pk"]["S"], "sk": ORDER_SNAPSHOT_SK, **order.model_dump(mode="json")})
        try:
            self.client.put_item(TableName=self.name, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise OrderExists(f"order {order.id} already exists") from exc

    def open_cancellation_update(self, order: Order, cancellation_id: int, now: str) -> dict[str, Any]:
        """TransactWriteItems entry: mark the order PENDING_CANCELLATION, if unchanged since read."""
        return {
            "Update": {
                "TableName": self.name,
                "Key": order_key(order.id),
                "UpdateExpression": "SET #status = :pending, openCancellationId = :cid, #version = :next, updatedAt = :now",
                "ConditionExpression": "#version = :read AND tenant = :tenant AND attribute_not_exists(openCancellationId)",
                "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                "ExpressionAttributeValues": {
                    ":pending": to_value(OrderStatus.PENDING_CANCELLATION.value),
                    ":cid": to_value(cancellation_id),
                    ":next": to_value(order.version + 1),
                    ":read": to_value(order.version),
                    ":tenant": to_value(order.tenant),
                    ":now": to_value(now),
                },
            }
        }
