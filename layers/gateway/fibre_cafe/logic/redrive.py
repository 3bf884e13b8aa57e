"""Operator redrives: re-send FAILED_TO_SEND cancellations, and move dead-lettered messages back.

Both run in AWS as the RedriveFunction (invoked by an operator, see README's runbook) and
locally through ``python -m local_stack.redrive`` against the local stack's moto server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from fibre_cafe.clock import Clock, iso, utc_now
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.errors import StaleRecord
from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
from fibre_cafe.models.cancellation import CancellationStatus

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBStreamsClient, SqsClient
    from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue

logger = Logger(child=True)


@dataclass
class RedriveReport:
    # Cancellation ids (FAILED_TO_SEND), message ids (dead letters), or {"messageId", ...} notes (relay failures).
    redriven: list[Any] = field(default_factory=list)
    skipped: list[Any] = field(default_factory=list)


def redrive_failed_to_send(
    table: CancellationsTable, queue: SupplierRequestsQueue, ids: list[int] | None = None, clock: Clock = utc_now
) -> RedriveReport:
    """Give FAILED_TO_SEND cancellations (all, or ``ids``) a fresh set of dispatch attempts and queue them again.

    The cancellation stays FAILED_TO_SEND until the supplier answers (state model: FAILED_TO_SEND ->
    PENDING | COMPLETED | REJECTED).
    """
    report = RedriveReport()
    candidates = ids if ids is not None else list(table.ids_by_dispatch_status(CancellationStatus.FAILED_TO_SEND))
    for cancellation_id in candidates:
        record = table.get(cancellation_id)
        if record is None or record.status is not CancellationStatus.FAILED_TO_SEND:
            report.skipped.append(cancellation_id)
            continue
        try:
            record = table.replace(
                record.model_copy(
                    update={"dispatchAttempts": 0, "forwardAttempts": 0, "dispatchLeaseUntil": None, "updatedAt": iso(clock())}
                ),
                expected_version=record.version,
            )
        except StaleRecord:
            report.skipped.append(cancellation_id)
            continue
        queue.send(record.supplier_request_message().model_copy(update={"redrive": True}))
        logger.info("FAILED_TO_SEND cancellation redriven", extra={"cancellation_id": cancellation_id})
        report.redriven.append(cancellation_id)
    return report


def redrive_dead_letters(sqs: SqsClient, dead_letter_queue_url: str, target_queue_url: str, max_messages: int = 1000) -> RedriveReport:
    """Move messages from a dead-letter queue back to its source queue (body and attributes unchanged)."""
    report = RedriveReport()
    while len(report.redriven) < max_messages:
        answer = sqs.receive_message(QueueUrl=dead_letter_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                     MessageAttributeNames=["All"], AttributeNames=["MessageGroupId", "MessageDeduplicationId"],
                                     VisibilityTimeout=60)
        messages = answer.get("Messages", [])
        if not messages:
            break
        for message in messages:
            fifo = {}
            attributes = message.get("Attributes") or {}
            if "MessageGroupId" in attributes:  # FIFO queues keep their group (and so the order's ordering)
                fifo = {"MessageGroupId": attributes["MessageGroupId"],
                        "MessageDeduplicationId": f"redrive-{attributes.get('MessageDeduplicationId', message['MessageId'])}"[:128]}
            sqs.send_message(QueueUrl=target_queue_url, MessageBody=message["Body"],
                             MessageAttributes=message.get("MessageAttributes") or {}, **fifo)
            sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.redriven.append(message["MessageId"])
    return report


def redrive_relay_failures(
    sqs: SqsClient,
    failures_url: str,
    streams: DynamoDBStreamsClient,
    queue: TenantUpdatesQueue,
    max_messages: int = 1000,
    orders_table: str | None = None,
) -> RedriveReport:
    """Replay the stream records the tenant-KCI relay gave up on (its stream mapping's on-failure queue).

    Each message describes a batch (Lambda's ``DDBStreamBatchInfo``: stream, shard, first and last sequence
    numbers), not the records: they are read back from the orders stream and relayed again (duplicates are
    harmless: FIFO deduplication on the tenant KCI id, delivery skips what is decided). A record that still
    fails keeps its message for another try. Records the stream no longer holds (past its 24 h) are skipped
    with a note: the outbox sweeper relays any outbox item still PENDING, whatever the stream kept.
    """
    import json

    from fibre_cafe.logic.relay_tenant_kcis import relay

    report = RedriveReport()
    while len(report.redriven) + len(report.skipped) < max_messages:
        messages = sqs.receive_message(QueueUrl=failures_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=60).get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                info = json.loads(message["Body"])["DDBStreamBatchInfo"]
                if orders_table is not None and f":table/{orders_table}/stream/" not in info["streamArn"]:
                    raise ValueError(f"not the orders table's stream: {info['streamArn']}")
                first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
                iterator = streams.get_shard_iterator(StreamArn=info["streamArn"], ShardId=info["shardId"],
                                                      ShardIteratorType="AT_SEQUENCE_NUMBER",
                                                      SequenceNumber=info["startSequenceNumber"])["ShardIterator"]
            except Exception as exc:  # noqa: BLE001 - unreadable, or the records are gone from the stream
                report.skipped.append({"messageId": message["MessageId"], "reason": f"records not readable from the stream ({exc}); "
                                       "the outbox sweeper relays outbox items still PENDING"})
                sqs.delete_message(QueueUrl=failures_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            relayed, failed, done = 0, None, False
            while iterator and not done:
                answer = streams.get_records(ShardIterator=iterator, Limit=1000)
                records = answer.get("Records", [])
                for record in records:
                    sequence = int(record["dynamodb"]["SequenceNumber"])
                    if sequence > last:
                        done = True
                        break
                    if sequence < first:
                        continue
                    try:
                        if relay(record, queue) is not None:
                            relayed += 1
                    except Exception as exc:  # noqa: BLE001 - keep the message; report why
                        failed = f"record {sequence}: {exc}"
                        done = True
                        break
                iterator = answer.get("NextShardIterator") if records else None
            if failed is not None:
                report.skipped.append({"messageId": message["MessageId"], "reason": f"still failing: {failed}"})
                continue  # the message comes back after its visibility timeout
            sqs.delete_message(QueueUrl=failures_url, ReceiptHandle=message["ReceiptHandle"])
            report.redriven.append({"messageId": message["MessageId"], "relayed": relayed})
    return report
