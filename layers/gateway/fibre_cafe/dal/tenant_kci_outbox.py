"""Tenant KCIs waiting for delivery, kept on their order in the orders table (the transactional outbox).

A tenant KCI is written in the same DynamoDB transaction as the change it reports
(``pk=ORDER#<id>``, ``sk=TENANT_KCI#<sequence>``), so a change is never stored without its
notification nor the reverse. The orders table's stream carries each new item to the
tenant-updates FIFO queue (functions/tenant_kci_relay), and the delivery function records the
outcome on the item: ``deliveryStatus`` PENDING, DELIVERED or FAILED, for operators to see.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fibre_cafe.dal.dynamodb_codec import from_item, to_item, to_value
from fibre_cafe.dal.keys import order_key
from fibre_cafe.models.tenant_kci import DeliveryStatus, TenantKci, TenantKciMessage

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBClient

SK_PREFIX = "TENANT_KCI#"
# Set while a tenant KCI's delivery is undecided (sparse key of the ByOutboxPending index, template.yaml).
OUTBOX_PENDING = "outboxPending"
OUTBOX_PENDING_INDEX = "ByOutboxPending"


def outbox_key(order_id: int, sequence: int) -> dict[str, Any]:
    return {"pk": order_key(order_id)["pk"], "sk": {"S": f"{SK_PREFIX}{sequence:012d}"}}


def is_outbox_key(sk: str) -> bool:
    return sk.startswith(SK_PREFIX)


class TenantKciOutbox:
    def __init__(self, client: DynamoDBClient, orders_table_name: str):
        self.client = client
        self.name = orders_table_name

    def put(self, message: TenantKciMessage, now: str) -> dict[str, Any]:
        """TransactWriteItems entry for a new tenant KCI (never overwrites one)."""
        key = outbox_key(message.orderId, message.kci.sequenceNumber)
        item = to_item({
            "pk": key["pk"]["S"], "sk": key["sk"]["S"],
            "tenant": message.tenant, "orderId": message.orderId, "conversationId": message.conversationId,
            "kci": message.kci.model_dump(mode="json", exclude_none=True),
            "deliveryStatus": DeliveryStatus.PENDING.value, "deliveryAttempts": 0, "createdAt": now,
            OUTBOX_PENDING: DeliveryStatus.PENDING.value,
        })
        return {"Put": {"TableName": self.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    @staticmethod
    def message_from_item(item: dict[str, Any]) -> TenantKciMessage:
        values = from_item(item)
        return TenantKciMessage(tenant=values["tenant"], orderId=values["orderId"],
                                conversationId=values.get("conversationId"), kci=TenantKci.model_validate(values["kci"]))

    def record_delivery(self, order_id: int, sequence: int, status: DeliveryStatus, now: str, http_status: int | None = None,
                        detail: str | None = None, delivered_on: str | None = None) -> None:
        values: dict[str, Any] = {":status": to_value(status.value), ":now": to_value(now), ":one": to_value(1)}
        set_clause = "deliveryStatus = :status, lastAttemptAt = :now, deliveryAttempts = if_not_exists(deliveryAttempts, :zero) + :one"
        values[":zero"] = to_value(0)
        removed = []
        for name, value in (("lastHttpStatus", http_status), ("lastDetail", detail), ("deliveredOn", delivered_on)):
            if value is not None:
                set_clause += f", {name} = :{name}"
                values[f":{name}"] = to_value(value)
            elif name != "deliveredOn":  # the last attempt's outcome, not an earlier attempt's
                removed.append(name)
        if status is not DeliveryStatus.PENDING:
            removed.append(OUTBOX_PENDING)  # decided: out of the outbox sweeper's index
        self.client.update_item(
            TableName=self.name,
            Key=outbox_key(order_id, sequence),
            UpdateExpression=f"SET {set_clause}" + (f" REMOVE {', '.join(removed)}" if removed else ""),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
        )

    def list(self, order_id: int) -> list[dict[str, Any]]:
        """The order's tenant KCIs with their delivery status, in sequence order (for operators and tests)."""
        answer = self.client.query(
            TableName=self.name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": order_key(order_id)["pk"], ":prefix": {"S": SK_PREFIX}},
            ConsistentRead=True,
        )
        return [from_item(item) for item in answer.get("Items", [])]

    def pending_before(self, created_before: str) -> Iterator[dict[str, Any]]:
        """Outbox items still PENDING that were written before ``created_before``, oldest first (the sweeper)."""
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.name, IndexName=OUTBOX_PENDING_INDEX,
            KeyConditionExpression="outboxPending = :pending AND createdAt < :before",
            ExpressionAttributeValues={":pending": {"S": DeliveryStatus.PENDING.value}, ":before": {"S": created_before}},
        ):
            yield from page.get("Items", [])
