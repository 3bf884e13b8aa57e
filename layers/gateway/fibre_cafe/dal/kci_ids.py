"""Global KCI-id uniqueness, and what POST /kcis reads before it accepts a KCI.

A KCI id is unique per KCI across every order (Supplier Updates API: ``id`` is "unique per KCI"). The
order's history item (``pk=ORDER#<id>, sk=KCI#<kci id>``) only catches a repeat on the same order, so
POST /kcis claims the id first: one conditional PutItem of ``pk=KCIID#<kci id>, sk=CLAIM`` in the orders
table holding a fingerprint of the KCI (sha256 of its canonical JSON) and its order. The same KCI sent
again finds its own fingerprint and passes (a 204 that changes nothing: the processor sees the duplicate);
a different KCI with that id is refused (422). A claim is written only once every other check passed, so
a refused KCI stores nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fibre_cafe.dal.aws_errors import error_code
from fibre_cafe.dal.dynamodb_codec import to_item, to_value
from fibre_cafe.dal.errors import KciIdTaken, Throttled
from fibre_cafe.dal.keys import cancellation_key, order_key

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBClient

CLAIM_SK = "CLAIM"


def kci_claim_key(kci_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"KCIID#{kci_id}"}, "sk": {"S": CLAIM_SK}}


def kci_fingerprint(kci_json: dict[str, Any]) -> str:
    canonical = json.dumps(kci_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class KciIngestStore:
    def __init__(self, client: DynamoDBClient, orders_table_name: str, cancellations_table_name: str):
        self.client = client
        self.orders = orders_table_name
        self.cancellations = cancellations_table_name

    def read(self, order_id: int, cancellation_id: int | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The order's snapshot item and (if named) the cancellation's item: one GetItem, or one BatchGetItem."""
        if cancellation_id is None:
            answer = self.client.get_item(TableName=self.orders, Key=order_key(order_id), ConsistentRead=True)
            return answer.get("Item"), None
        request = {
            self.orders: {"Keys": [order_key(order_id)], "ConsistentRead": True},
            self.cancellations: {"Keys": [cancellation_key(cancellation_id)], "ConsistentRead": True},
        }
        order = cancellation = None
        for _attempt in range(3):
            answer = self.client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self.orders, []):
                order = item
            for item in answer.get("Responses", {}).get(self.cancellations, []):
                cancellation = item
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return order, cancellation
        raise Throttled(f"order {order_id} and cancellation {cancellation_id} still unprocessed after 3 BatchGetItem calls")

    def claim(self, kci_id: str, fingerprint: str, order_id: int, now: str) -> None:
        """Claim ``kci_id`` for this KCI (idempotent for the same KCI); KciIdTaken if a different KCI holds it."""
        key = kci_claim_key(kci_id)
        item = to_item({"pk": key["pk"]["S"], "sk": CLAIM_SK, "fingerprint": fingerprint, "orderId": order_id, "claimedAt": now})
        try:
            self.client.put_item(
                TableName=self.orders, Item=item,
                ConditionExpression="attribute_not_exists(pk) OR fingerprint = :fingerprint",
                ExpressionAttributeValues={":fingerprint": to_value(fingerprint)},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise KciIdTaken(kci_id) from exc
            raise
