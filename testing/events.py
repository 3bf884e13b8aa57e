"""Events as Lambda delivers them, and the bodies the partners send.

- SQS: ``sqs_event_from_bodies(bodies)`` (hand-built records), ``receive_event(url)`` (what an event source
  mapping would deliver from a real moto queue) and ``acknowledge(url, event, result)`` (delete what did not fail),
  ``failures(result)``. Records are built by the local stack's pollers' ``sqs_record`` (one shape everywhere).
- DynamoDB streams: ``StreamReader`` (a table's stream, from moto's Streams API, in Lambda's record shape).
- API Gateway: ``api_request(module, method, path, client=...)`` invokes a handler with the REST proxy event
  ``local_stack.proxy_events.proxy_event`` builds (claims of ``client``'s token); ``headers_of(answer)``.
- Bodies: ``make_kci(...)`` (a Supplier Updates API KCI), ``kci_envelope(kci)`` (the KCI queue message),
  ``cancellation_body(...)`` (POST /service-order-cancellations).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from local_stack.pollers import sqs_record, stream_record
from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS, claims_for, proxy_event
from testing.aws import ACCOUNT, REGION
from testing.lambda_context import lambda_context

__all__ = [
    "DEV_CLIENT_PRINCIPALS", "ENTITY_FIELDS", "EXAMPLE_REQUEST", "StreamReader", "acknowledge", "api_request", "claims_for",
    "failures", "headers_of", "kci_envelope", "lower_keys", "make_kci", "proxy_event", "queue_arn", "receive_event",
    "sqs_event_from_bodies", "sqs_record", "stream_record",
]

# ------------------------------------------------------------------------------------------------
# SQS
# ------------------------------------------------------------------------------------------------


def queue_arn(queue_url_or_name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:" + queue_url_or_name.rsplit("/", 1)[-1]


def sqs_event_from_bodies(bodies: Iterable[str | dict], queue: str = "KciQueue", *, receive_count: int = 1,
                          message_ids: Iterable[str] | None = None) -> dict:
    """An SQS event of hand-made messages (dict bodies are JSON-encoded), as if received from ``queue``."""
    ids = iter(message_ids) if message_ids is not None else None
    messages = [{"MessageId": next(ids) if ids is not None else str(uuid.uuid4()), "ReceiptHandle": f"r-{uuid.uuid4().hex}",
                 "Body": body if isinstance(body, str) else json.dumps(body), "MD5OfBody": "",
                 "Attributes": {"ApproximateReceiveCount": str(receive_count)}} for body in bodies]
    return {"Records": [sqs_record(message, queue_arn(queue), REGION) for message in messages]}


def receive_event(queue_url: str, max_messages: int = 10, visibility_timeout: int = 30, *, sqs: Any = None) -> dict:
    """Receive what is on a queue as the SQS event a Lambda event source mapping would deliver.

    ``visibility_timeout=0`` leaves the messages visible (a redelivery can be driven at once).
    """
    if sqs is None:
        import boto3

        sqs = boto3.client("sqs")
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=max_messages, AttributeNames=["All"],
                                 MessageAttributeNames=["All"], VisibilityTimeout=visibility_timeout)
    return {"Records": [sqs_record(message, queue_arn(queue_url), REGION) for message in answer.get("Messages", [])]}


def acknowledge(queue_url: str, event: dict, result: dict, *, sqs: Any = None) -> None:
    """Delete the records the handler did not report as failed (what the event source mapping does)."""
    if sqs is None:
        import boto3

        sqs = boto3.client("sqs")
    failed = set(failures(result))
    for record in event["Records"]:
        if record["messageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])


def failures(result: dict) -> list[str]:
    """The message ids a batch handler reported failed."""
    return [item["itemIdentifier"] for item in result.get("batchItemFailures", [])]


# ------------------------------------------------------------------------------------------------
# DynamoDB streams
# ------------------------------------------------------------------------------------------------


class StreamReader:
    """Reads a table's stream (moto's DynamoDB Streams API) from its start, remembering where it got to."""

    def __init__(self, dynamodb: Any, table_name: str):
        import boto3
        from botocore.config import Config

        description = dynamodb.describe_table(TableName=table_name)["Table"]
        self.arn = description["LatestStreamArn"]
        self.view_type = description["StreamSpecification"]["StreamViewType"]
        # botocore would send DescribeStream to an account-id endpoint moto does not intercept.
        self.client = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
        shards = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        self._iterators = [
            self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            for shard in shards
        ]

    def new_records(self) -> list[dict]:
        """The stream records written since the last call, as a Lambda DynamoDB event source delivers them."""
        records = []
        for index, iterator in enumerate(self._iterators):
            answer = self.client.get_records(ShardIterator=iterator)
            self._iterators[index] = answer["NextShardIterator"]
            records.extend(stream_record(record, self.arn, REGION) for record in answer["Records"])
        return records


# ------------------------------------------------------------------------------------------------
# API Gateway
# ------------------------------------------------------------------------------------------------


def headers_of(answer: dict) -> dict[str, str]:
    """A proxy answer's headers, single- and multi-value (Powertools fills multiValueHeaders)."""
    merged = {k: v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
    merged.update(answer.get("headers") or {})
    return merged


def lower_keys(headers: dict[str, Any]) -> dict[str, Any]:
    """Header names in lower case (HTTP's are case-insensitive)."""
    return {key.lower(): value for key, value in headers.items()}


def api_request(module: Any, method: str, path: str, *, client: str | None = "TENANT1", body: Any = None, headers: dict | None = None,
                resource: str | None = None, raw_body: Any = None, request_id: str | None = None,
                event_overrides: dict | None = None) -> tuple[int, Any, dict[str, str]]:
    """Invoke ``module.lambda_handler`` as API Gateway would, as ``client`` (None: no token); (status, body, headers).

    The body is JSON-encoded unless ``raw_body`` (str, or bytes sent base64-encoded) is given; a header given as
    None is left out; the answer's body is parsed as JSON where it is JSON. The resource defaults to the item's
    (``/service-order-cancellations/{id}``) for a path of two segments.
    """
    all_headers = {"Content-Type": "application/json", "X-Request-ID": request_id or f"req-{uuid.uuid4()}", "X-Conversation-ID": "conv-1",
                   **(headers or {})}
    all_headers = {k: v for k, v in all_headers.items() if v is not None}
    payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if resource is None:
        resource = "/service-order-cancellations/{id}" if path.count("/") == 2 else path
    event = proxy_event(method, path, resource=resource, headers=all_headers, body=payload, claims=claims_for(client) if client else None)
    event.update(event_overrides or {})
    answer = module.lambda_handler(event, lambda_context(module.__name__))
    text = answer.get("body")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return answer["statusCode"], parsed, headers_of(answer)


# ------------------------------------------------------------------------------------------------
# Bodies
# ------------------------------------------------------------------------------------------------

EXAMPLE_REQUEST = {"supplier": "DUMMY_SUPPLIER", "orderId": 123, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}

ENTITY_FIELDS = {
    "PROVIDE": "provideServiceOrder",
    "CEASE": "ceaseServiceOrder",
    "MODIFY": "modifyServiceOrder",
    "UNSOLICITED_CEASE": "unsolicitedCeaseServiceOrder",
}


def make_kci(order_id: int, sequence_number: int = 1, reason_code: str = "ACKNOWLEDGED", *, status: str | None = None,
             tenant: str = "TENANT1", order_type: str = "PROVIDE", cancellation_id: int | None = None,
             problem_code: str | None = None, text: str | None = None, kci_id: str | None = None,
             supplier_order_reference: str | None = "FC123", **entity_extra: Any) -> dict:
    """A supplier KCI body as POST /kcis takes it (Supplier Updates API 1.8)."""
    if status is None:
        status = {"CANCELLED": "CANCELLED", "ACKNOWLEDGED": "ACKNOWLEDGED"}.get(reason_code, "IN_PROGRESS")
    if reason_code == "CANCELLED" and problem_code is None:
        problem_code = "CUSTOMER_REQUESTED"
    entity = {"id": order_id, "tenant": tenant, "status": status, **entity_extra}
    if supplier_order_reference is not None:
        entity["supplierOrderReference"] = supplier_order_reference
    body: dict[str, Any] = {
        "id": kci_id or str(uuid.uuid4()),
        "sequenceNumber": sequence_number,
        "issuedOn": "2024-04-10T09:53:39.144Z",
        "reasonCode": reason_code,
        ENTITY_FIELDS[order_type]: entity,
    }
    if cancellation_id is not None:
        body["serviceOrderCancellationId"] = cancellation_id
    if problem_code is not None:
        body["problemCode"] = problem_code
    if text is not None:
        body["text"] = text
    return body


def kci_envelope(kci: dict, supplier: str = "DUMMY_SUPPLIER", request_id: str | None = None, conversation_id: str = "conv-1") -> str:
    """The KCI queue message POST /kcis would have sent (built by hand, bypassing the ingest checks)."""
    from fibre_cafe.models.kci import KciEnvelope

    return KciEnvelope(supplier=supplier, receivedOn="2024-04-10T09:53:40.000Z", requestId=request_id or str(uuid.uuid4()),
                       conversationId=conversation_id, kci=kci).model_dump_json()
