"""The cancellations table: cancellation records, idempotency records and the id counter.

A cancellation item carries ``dispatchStatus`` (sparse, indexed by the ``ByDispatchStatus`` GSI)
only while it waits for the supplier (RECEIVED_BY_GATEWAY) or for an operator (FAILED_TO_SEND),
with ``lastDispatchActivityAt`` as the index's sort key: the forwarding sweeper and operators
find stuck cancellations through it without scanning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fibre_cafe.dal.dynamodb_codec import from_item, to_item, to_value
from fibre_cafe.dal.errors import StaleRecord
from fibre_cafe.dal.keys import cancellation_key, request_key
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorBody
from fibre_cafe.models.records import CancellationRecord, StoredResponse

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBClient

DISPATCH_INDEX = "ByDispatchStatus"
DISPATCH_TRACKED_STATES = frozenset({CancellationStatus.RECEIVED_BY_GATEWAY, CancellationStatus.FAILED_TO_SEND})


class CancellationsTable:
    def __init__(self, client: DynamoDBClient, table_name: str):
        self.client = client
        self.name = table_name

    # -- items -------------------------------------------------------------------------------
    def cancellation_item(self, record: CancellationRecord) -> dict[str, Any]:
        values = {"pk": cancellation_key(record.id)["pk"]["S"], **record.model_dump(mode="json")}
        if record.status in DISPATCH_TRACKED_STATES:
            values["dispatchStatus"] = record.status.value
            values["lastDispatchActivityAt"] = record.updatedAt
        return to_item(values)

    def request_item(self, stored: StoredResponse) -> dict[str, Any]:
        values = stored.model_dump(mode="json")
        values["pk"] = request_key(stored.tenant, stored.requestId)["pk"]["S"]
        return to_item(values)

    @staticmethod
    def record_from_item(item: dict[str, Any]) -> CancellationRecord:
        return CancellationRecord.model_validate(from_item(item))

    @staticmethod
    def stored_response_from_item(item: dict[str, Any]) -> StoredResponse:
        return StoredResponse.model_validate(from_item(item))

    # -- reads -------------------------------------------------------------------------------
    def get(self, cancellation_id: int) -> CancellationRecord | None:
        answer = self.client.get_item(TableName=self.name, Key=cancellation_key(cancellation_id), ConsistentRead=True)
        item = answer.get("Item")
        return self.record_from_item(item) if item else None

    def get_request(self, tenant: str, request_id: str) -> StoredResponse | None:
        answer = self.client.get_item(TableName=self.name, Key=request_key(tenant, request_id), ConsistentRead=True)
        item = answer.get("Item")
        return self.stored_response_from_item(item) if item else None

    def ids_by_dispatch_status(self, status: CancellationStatus, inactive_since: str | None = None) -> Iterator[int]:
        """Ids of cancellations in ``status`` (RECEIVED_BY_GATEWAY or FAILED_TO_SEND), oldest activity first.

        The index holds keys only and is eventually consistent: callers read each record back
        and change it with a conditional write.
        """
        condition = "dispatchStatus = :status"
        values: dict[str, Any] = {":status": {"S": status.value}}
        if inactive_since is not None:
            condition += " AND lastDispatchActivityAt < :since"
            values[":since"] = {"S": inactive_since}
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.name,
            IndexName=DISPATCH_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
        ):
            for item in page.get("Items", []):
                yield int(item["pk"]["S"].removeprefix("CANCELLATION#"))

    # -- writes ------------------------------------------------------------------------------
    def replace(self, record: CancellationRecord, expected_version: int) -> CancellationRecord:
        """Write ``record`` (its version bumped) only if the stored version is ``expected_version``."""
        updated = record.model_copy(update={"version": expected_version + 1})
        try:
            self.client.put_item(
                TableName=self.name,
                Item=self.cancellation_item(updated),
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":expected": to_value(expected_version)},
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise StaleRecord(f"cancellation {record.id} changed since version {expected_version}") from exc
        return updated

    def record_forward_attempt(self, record: CancellationRecord, now: str) -> CancellationRecord:
        return self.replace(
            record.model_copy(update={"forwardAttempts": record.forwardAttempts + 1, "updatedAt": now}),
            expected_version=record.version,
        )

    def kci_decision_update(self, *, cancellation_id: int, order_id: int, status: CancellationStatus, sequence_number: int,
                            kci_id: str, error: ErrorBody | None, now: str) -> dict[str, Any]:
        """TransactWriteItems entry: a KCI decides a cancellation (see domain/kci_rules.py).

        Allowed only while the cancellation is open (RECEIVED_BY_GATEWAY, PENDING, FAILED_TO_SEND):
        COMPLETED and REJECTED never change, whoever decided them (domain.md section 4).
        """
        values: dict[str, Any] = {
            ":status": to_value(status.value),
            ":kci": to_value("KCI"),
            ":seq": to_value(sequence_number),
            ":kci_id": to_value(kci_id),
            ":now": to_value(now),
            ":one": to_value(1),
            ":order_id": to_value(order_id),
            ":received": to_value(CancellationStatus.RECEIVED_BY_GATEWAY.value),
            ":pending": to_value(CancellationStatus.PENDING.value),
            ":failed": to_value(CancellationStatus.FAILED_TO_SEND.value),
        }
        set_clause = ("#status = :status, decidedBy = :kci, decidedBySequence = :seq, decidedByKciId = :kci_id, updatedAt = :now, "
                      "#version = #version + :one")
        remove_clause = "dispatchStatus, lastDispatchActivityAt, dispatchLeaseUntil"
        if error is not None:
            set_clause += ", #error = :error"
            values[":error"] = to_value(error.model_dump(mode="json"))
        else:
            remove_clause += ", #error"
        return {
            "Update": {
                "TableName": self.name,
                "Key": cancellation_key(cancellation_id),
                "UpdateExpression": f"SET {set_clause} REMOVE {remove_clause}",
                "ConditionExpression": (
                    "attribute_exists(pk) AND orderId = :order_id AND #status IN (:received, :pending, :failed)"
                ),
                "ExpressionAttributeNames": {"#status": "status", "#version": "version", "#error": "error"},
                "ExpressionAttributeValues": values,
            }
        }
