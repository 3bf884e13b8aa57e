"""Helpers of the tenant API suites: a direct view of moto's tables and queue, the handler's clients, a request body.

Call recorders and fault injectors are testing.recorders and testing.faults; proxy events are testing.events.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from fibre_cafe.dal.dynamodb_codec import from_item
from fibre_cafe.models.cancellation import ServiceOrderCancellationRequest
from testing.events import EXAMPLE_REQUEST


class AwsView:
    """The tables and queues as boto3 sees them, read directly (not through the code under test)."""

    def __init__(self, resources):
        self.dynamodb = boto3.client("dynamodb")
        self.sqs = boto3.client("sqs")
        self.cancellations_table = resources.tables["CancellationsTable"]
        self.orders_table = resources.tables["OrdersTable"]
        self.queue_url = resources.queue_urls["SupplierRequestsQueue"]
        self._received: list[dict] = []

    def _scan(self, table: str) -> list[dict]:
        items = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(from_item(item) for item in page["Items"])
        return items

    def cancellation_items(self) -> list[dict]:
        return [item for item in self._scan(self.cancellations_table) if item["pk"].startswith("CANCELLATION#")]

    def request_items(self) -> list[dict]:
        return [item for item in self._scan(self.cancellations_table) if item["pk"].startswith("REQUEST#")]

    def counter_items(self) -> list[dict]:
        return [item for item in self._scan(self.cancellations_table) if item["pk"].startswith("COUNTER#")]

    def order_item(self, order_id: int) -> dict | None:
        answer = self.dynamodb.get_item(TableName=self.orders_table, Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "SNAPSHOT"}},
                                        ConsistentRead=True)
        item = answer.get("Item")
        return from_item(item) if item else None

    def messages(self) -> list[dict]:
        """Every message put on the supplier-requests queue so far: ``{"body": ..., "attributes": ...}``."""
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=3600,
                                              MessageAttributeNames=["All"], WaitTimeSeconds=0)
            batch = answer.get("Messages", [])
            if not batch:
                return list(self._received)
            for message in batch:
                attributes = {k: v.get("StringValue") for k, v in (message.get("MessageAttributes") or {}).items()}
                self._received.append({"body": json.loads(message["Body"]), "attributes": attributes})


def handler_clients(tenant_api) -> tuple[Any, Any]:
    """The (dynamodb, sqs) clients the tenant API's dependencies use."""
    deps = tenant_api.deps
    return deps.orders.client, deps.create_cancellation.queue.client


def cancellation_request(**fields: Any) -> ServiceOrderCancellationRequest:
    return ServiceOrderCancellationRequest.model_validate({**EXAMPLE_REQUEST, **fields})
