"""Lambda's event source mappings, locally: SQS queues and DynamoDB streams on moto that invoke a function.

Driven by template.yaml (``template.sqs_event_sources`` / ``stream_event_sources``): no second
definition of a queue, a batch size or a filter.

**SQS** (``SqsPoller``), as Lambda's poller does: long-poll the queue (``ReceiveMessage``, up to
BatchSize messages, all system and message attributes), gather up to
``MaximumBatchingWindowInSeconds``, invoke with Lambda's SQS event, then

- the handler returned: delete every record not named in ``batchItemFailures`` (with
  ``ReportBatchItemFailures``; without it, every record). An unreadable answer, or a failure
  naming a message that was not in the batch, fails the whole batch, as in Lambda;
- the handler raised: delete nothing.

What is not deleted comes back after its visibility timeout (the queue's, or what the handler set
with ``ChangeMessageVisibility``), and moto moves it to the dead-letter queue after the
RedrivePolicy's ``maxReceiveCount``, as SQS does. A FIFO queue keeps each message group in order:
one batch at a time per queue, and SQS itself hands out no message of a group while another of that
group is in flight. The visibility timeout is the queue's (LOCAL_VISIBILITY_TIMEOUT shortens it at
creation, see stack.py).

**DynamoDB streams** (``StreamPoller``): read each shard of the table's stream from TRIM_HORIZON or
LATEST (as of start), and invoke with Lambda's DynamoDB stream event. A failed batch is retried
from the first failed record (``batchItemFailures``' lowest sequence number, or the whole batch if
the handler raised or answered garbage), halved before each retry after a function error with
``BisectBatchOnFunctionError`` (so a poison record ends up alone in its batch), up to ``MaximumRetryAttempts`` or until its first
record is older than ``MaximumRecordAgeInSeconds``. Then, as Lambda does, the batch being retried is
described on the ``DestinationConfig.OnFailure`` queue (Lambda's message: ``requestContext``,
``responseContext``, ``DDBStreamBatchInfo`` with the shard and the first and last sequence numbers, not the
records) and skipped, so the records after it flow again; without a destination it is dropped with an
error in the log. Retries come quickly (``STREAM_RETRY_PAUSE_SECONDS``, doubling, at most
``STREAM_RETRY_PAUSE_CAP_SECONDS``), as Lambda retries a stream batch without a long backoff.
moto's records differ from Lambda's in three ways that are fixed here:
``awsRegion`` (moto says us-east-1), ``ApproximateCreationDateTime`` (Lambda: epoch seconds) and
the missing ``eventSourceARN``.

**Filters** (``FilterCriteria``): records that match no pattern are dropped without an invocation,
as Lambda drops them. Patterns use EventBridge syntax; this supports exact values, ``prefix``,
``exists`` and ``anything-but`` (what this template uses and a bit more). A pattern using anything
else matches every record (with a warning at start), which only costs the function an invocation.

Each poller is one thread; invocations go through ``LocalFunction.invoke`` (one at a time in the
process). ``stop()`` ends the loop after the current receive (at most ~1 s) and invocation.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

from local_stack.functions import LocalFunction
from local_stack.template import SqsEventSource, StreamEventSource

log = logging.getLogger("local_stack")

LONG_POLL_SECONDS = 1  # ReceiveMessage WaitTimeSeconds: how long a stop may wait for a receive
STREAM_POLL_SECONDS = 0.25  # GetRecords interval when the stream is idle (Lambda: 4 per second per shard)
ERROR_PAUSE_SECONDS = 1.0
STREAM_RETRY_PAUSE_SECONDS = 0.2  # the first retry of a failed stream batch; doubles per retry
STREAM_RETRY_PAUSE_CAP_SECONDS = 5.0


# ------------------------------------------------------------------------------------------------
# Events as Lambda builds them
# ------------------------------------------------------------------------------------------------


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """An SQS message attribute in the Lambda event's casing (the SQS API's is StringValue, DataType...)."""
    converted: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": [_b64(item) for item in value.get("BinaryListValues") or []],
        "dataType": value.get("DataType"),
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = _b64(value["BinaryValue"])
    return converted


def _b64(value: Any) -> str:
    return base64.b64encode(value).decode("ascii") if isinstance(value, (bytes, bytearray)) else str(value)


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, from one message of ``ReceiveMessage`` (boto3's shape)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {name: _lambda_message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [sqs_record(message, queue_arn, region) for message in messages]}


def _json_safe(value: Any) -> Any:
    """boto3's parsed DynamoDB attribute values back to the wire's JSON (bytes -> base64)."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set):
        return [_json_safe(item) for item in sorted(value)]
    return value


def stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's DynamoDB stream event, from one record of moto's ``GetRecords``."""
    change = dict(record.get("dynamodb") or {})
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, dt.datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    elif created is not None:
        change["ApproximateCreationDateTime"] = int(float(created))
    converted = {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": _json_safe(change),
        "eventSourceARN": stream_arn,
    }
    if record.get("userIdentity"):
        converted["userIdentity"] = record["userIdentity"]
    return converted


def stream_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


# ------------------------------------------------------------------------------------------------
# FilterCriteria (EventBridge pattern syntax, the subset described in the module docstring)
# ------------------------------------------------------------------------------------------------

_SUPPORTED_OPERATORS = {"prefix", "exists", "anything-but"}


def pattern_is_supported(pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return all(pattern_is_supported(value) for value in pattern.values())
    if isinstance(pattern, list):
        return all(set(item) <= _SUPPORTED_OPERATORS if isinstance(item, dict) else not isinstance(item, list) for item in pattern)
    return False  # a pattern's leaves must be arrays


def _leaf_matches(rules: list[Any], present: bool, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, dict):
            if "exists" in rule:
                if bool(rule["exists"]) == present:
                    return True
                continue
            if not present:
                continue
            if "prefix" in rule and any(isinstance(item, str) and item.startswith(rule["prefix"]) for item in values):
                return True
            if "anything-but" in rule:
                excluded = rule["anything-but"] if isinstance(rule["anything-but"], list) else [rule["anything-but"]]
                if all(item not in excluded for item in values):
                    return True
        elif present and rule in values:
            return True
    return False


def matches(pattern: dict[str, Any], data: Any) -> bool:
    """Whether ``data`` (a record, or an SQS record with its JSON body parsed) matches one filter pattern."""
    if not pattern_is_supported(pattern):
        return True
    for key, rule in pattern.items():
        present = isinstance(data, dict) and key in data
        value = data.get(key) if present else None
        if isinstance(rule, dict):
            if not present or not matches(rule, value):
                return False
        elif not _leaf_matches(rule, present, value):
            return False
    return True


def passes_filters(filters: tuple[dict[str, Any], ...], data: Any) -> bool:
    return not filters or any(matches(pattern, data) for pattern in filters)


def _sqs_filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """What Lambda matches an SQS record against: the record, with ``body`` parsed when it is JSON."""
    view = dict(record)
    try:
        view["body"] = json.loads(record["body"])
    except (TypeError, ValueError):
        pass
    return view


# ------------------------------------------------------------------------------------------------
# What the handler answered
# ------------------------------------------------------------------------------------------------


def failed_identifiers(result: Any, identifiers: list[str]) -> set[str] | None:
    """The ``itemIdentifier``s a partial-batch answer names, or None if the answer fails the whole batch.

    Lambda treats the whole batch as failed when the answer cannot be read, or names an identifier
    that is empty or not in the batch.
    """
    if result is None:
        return set()
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    found = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in identifiers:
            return None
        found.add(identifier)
    return found


# ------------------------------------------------------------------------------------------------
# Pollers
# ------------------------------------------------------------------------------------------------


class _Poller:
    def __init__(self, function: LocalFunction, source: SqsEventSource | StreamEventSource, region: str):
        self.function = function
        self.source = source
        self.region = region
        self.name = name = f"poller-{source.function}-{source.name}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.invocations = 0
        self.records_in = 0
        self.records_failed = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.prepare()
                self.poll_once()
            except Exception:  # a poller keeps going, as Lambda's does
                if self._stop.is_set():
                    break
                log.exception("%s: poll failed; retrying", self.name)
                self._stop.wait(ERROR_PAUSE_SECONDS)

    def prepare(self) -> None:
        pass

    def poll_once(self) -> None:
        raise NotImplementedError

    def _invoke(self, event: dict[str, Any]) -> tuple[bool, Any]:
        """(raised?, answer) of one invocation."""
        self.invocations += 1
        try:
            return False, self.function.invoke(event)
        except Exception:  # a failed invocation is the event source's business
            log.exception("%s raised on a batch of %d record(s)", self.function.logical_id, len(event["Records"]))
            return True, None


def _latest_receipts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per message, the latest receipt of it: a visibility timeout shorter than the batching window
    (possible with LOCAL_VISIBILITY_TIMEOUT; AWS refuses a queue whose timeout is below the function's) lets a
    message come back while its batch is gathered, and only the newest receipt handle can delete it."""
    latest: dict[str, dict[str, Any]] = {}
    for message in messages:
        latest[message["MessageId"]] = message  # a dict keeps the first position, with the last value
    return list(latest.values())


class SqsPoller(_Poller):
    def __init__(self, function: LocalFunction, source: SqsEventSource, sqs, queue_url: str, queue_arn: str, region: str):
        super().__init__(function, source, region)
        self.source: SqsEventSource = source
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.queue_name = queue_url.rsplit("/", 1)[-1]
        if not all(pattern_is_supported(pattern) for pattern in source.filters):
            log.warning("%s: a filter pattern uses operators the local stack does not support; it matches every record", self.name)

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=max(1, min(10, count)), WaitTimeSeconds=wait,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        )
        return answer.get("Messages", [])

    def poll_once(self) -> None:
        batch_size = max(1, self.source.batch_size)
        messages = self._receive(batch_size, LONG_POLL_SECONDS)
        if not messages:
            return
        # Without a batching window Lambda invokes with what one receive returned; with one, it keeps
        # gathering until the batch is full or the window has passed.
        deadline = time.monotonic() + self.source.batching_window_seconds
        while len(messages) < batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(batch_size - len(messages), 0)
            if more:
                messages = _latest_receipts(messages + more)
            else:
                self._stop.wait(min(0.1, remaining))
        self._handle(messages)

    def _handle(self, messages: list[dict[str, Any]]) -> None:
        event = sqs_event(messages, self.queue_arn, self.region)
        kept = [record for record in event["Records"] if passes_filters(self.source.filters, _sqs_filter_view(record))]
        if len(kept) < len(event["Records"]):
            dropped = [record for record in event["Records"] if record not in kept]
            self._delete(dropped)  # Lambda deletes messages that match no filter
            event = {"Records": kept}
        if not kept:
            return
        identifiers = [record["messageId"] for record in kept]
        raised, answer = self._invoke(event)
        if raised:
            failed = set(identifiers)
        elif self.source.report_batch_item_failures:
            named = failed_identifiers(answer, identifiers)
            if named is None:
                log.error("%s answered an unreadable batchItemFailures; the whole batch is retried", self.function.logical_id)
                failed = set(identifiers)
            else:
                failed = named
        else:
            failed = set()
        self.records_in += len(kept)
        self.records_failed += len(failed)
        self._delete([record for record in kept if record["messageId"] not in failed])
        log.info("%s <- %s: %d record(s), %d failed%s", self.function.logical_id, self.queue_name, len(kept), len(failed),
                 " (raised)" if raised else "")

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start:start + 10]
            answer = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(index), "ReceiptHandle": record["receiptHandle"]} for index, record in enumerate(chunk)],
            )
            for failure in answer.get("Failed", []):
                log.warning("%s: could not delete a message from %s: %s", self.name, self.queue_name, failure.get("Message"))


class StreamPoller(_Poller):
    def __init__(self, function: LocalFunction, source: StreamEventSource, streams, stream_arn: str, region: str,
                 sqs=None, on_failure_url: str | None = None):
        super().__init__(function, source, region)
        self.source: StreamEventSource = source
        self.streams = streams
        self.stream_arn = stream_arn
        self.sqs = sqs
        self.on_failure_url = on_failure_url
        self.records_sent_on_failure = 0
        self._shards: dict[str, str] = {}  # eventID -> shard id (for the on-failure description)
        self._iterators: dict[str, str | None] = {}
        self._pending: list[dict[str, Any]] = []  # read, not yet handled successfully (in stream order)
        self._pending_since: float | None = None
        self._retries = 0
        self._batch_limit = max(1, source.batch_size)
        if not all(pattern_is_supported(pattern) for pattern in source.filters):
            log.warning("%s: a filter pattern uses operators the local stack does not support; it matches every record", self.name)
        # The starting position is taken now (the stack is starting), not when the thread first runs.
        self.prepare()

    def prepare(self) -> None:
        if self._iterators:
            return
        kind = "TRIM_HORIZON" if self.source.starting_position == "TRIM_HORIZON" else "LATEST"
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=kind)["ShardIterator"]

    def _read(self) -> int:
        read = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            self._iterators[shard_id] = answer.get("NextShardIterator")
            for record in answer.get("Records", []):
                converted = stream_record(record, self.stream_arn, self.region)
                if passes_filters(self.source.filters, converted):
                    self._pending.append(converted)
                    self._shards[str(converted.get("eventID"))] = shard_id
                    read += 1
        if read and self._pending_since is None:
            self._pending_since = time.monotonic()
        return read

    def poll_once(self) -> None:
        self._read()
        if not self._pending:
            self._stop.wait(STREAM_POLL_SECONDS)
            return
        full = len(self._pending) >= self.source.batch_size
        waited = time.monotonic() - (self._pending_since or time.monotonic())
        if not full and waited < self.source.batching_window_seconds:
            self._stop.wait(min(STREAM_POLL_SECONDS, self.source.batching_window_seconds - waited))
            return
        self._handle(self._pending[: self._batch_limit])

    def _handle(self, batch: list[dict[str, Any]]) -> None:
        identifiers = [record["dynamodb"].get("SequenceNumber") for record in batch]
        raised, answer = self._invoke(stream_event(batch))
        if raised:
            first_failed = 0
        elif self.source.report_batch_item_failures:
            named = failed_identifiers(answer, identifiers)
            first_failed = 0 if named is None else min((identifiers.index(item) for item in named), default=None)
        else:
            first_failed = None
        self.records_in += len(batch)
        if first_failed is None:
            log.info("%s <- %s stream: %d record(s)", self.function.logical_id, self.source.table, len(batch))
            self._advance(len(batch))
            return
        # Checkpoint before the first failed record; retry from it.
        self._advance(first_failed)
        self._retries += 1
        failing = len(batch) - first_failed
        self.records_failed += failing
        limit, max_age = self.source.maximum_retry_attempts, self.source.maximum_record_age_seconds
        created = self._pending[0]["dynamodb"].get("ApproximateCreationDateTime") if self._pending else None
        too_old = max_age >= 0 and created is not None and time.time() - float(created) > max_age
        if (limit >= 0 and self._retries > limit) or too_old:
            self._give_up(self._pending[:failing], "RecordAgeExceeded" if too_old else "RetryAttemptsExhausted", raised)
            return
        if raised and self.source.bisect_batch_on_function_error and failing > 1:
            # A function error: Lambda halves the batch before retrying, so a poison record ends up alone. (With
            # batchItemFailures the batch is split at the reported record instead: the retry starts there.)
            self._batch_limit = max(1, failing // 2)
        log.warning("%s <- %s stream: %d record(s), retrying from record %d (retry %d)",
                    self.function.logical_id, self.source.table, len(batch), first_failed + 1, self._retries)
        self._stop.wait(min(STREAM_RETRY_PAUSE_SECONDS * 2 ** (self._retries - 1), STREAM_RETRY_PAUSE_CAP_SECONDS))

    def _give_up(self, records: list[dict[str, Any]], condition: str, raised: bool) -> None:
        """Lambda's end for a batch it stops retrying: its description on the on-failure destination, then skip it."""
        if self.sqs is not None and self.on_failure_url:
            first, last = records[0], records[-1]
            described = {
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": f"arn:aws:lambda:{self.region}:123456789012:function:{self.function.logical_id}",
                    "condition": condition,
                    "approximateInvokeCount": self._retries,
                },
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" if raised else None},
                "version": "1.0",
                "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "DDBStreamBatchInfo": {
                    "shardId": self._shards.get(str(first.get("eventID")), ""),
                    "startSequenceNumber": first["dynamodb"].get("SequenceNumber"),
                    "endSequenceNumber": last["dynamodb"].get("SequenceNumber"),
                    "approximateArrivalOfFirstRecord": _iso_epoch(first["dynamodb"].get("ApproximateCreationDateTime")),
                    "approximateArrivalOfLastRecord": _iso_epoch(last["dynamodb"].get("ApproximateCreationDateTime")),
                    "batchSize": len(records),
                    "streamArn": self.stream_arn,
                },
            }
            self.sqs.send_message(QueueUrl=self.on_failure_url, MessageBody=json.dumps(described))
            self.records_sent_on_failure += len(records)
            log.error("%s: gave up on %d stream record(s) (%s); described on the on-failure queue",
                      self.function.logical_id, len(records), condition)
        else:
            log.error("%s: %d stream record(s) dropped (%s; no on-failure destination)", self.function.logical_id, len(records), condition)
        self._advance(len(records))

    def _advance(self, count: int) -> None:
        if count <= 0:
            return
        for record in self._pending[:count]:
            self._shards.pop(str(record.get("eventID")), None)
        del self._pending[:count]
        self._retries = 0
        self._batch_limit = max(1, self.source.batch_size)
        self._pending_since = time.monotonic() if self._pending else None


def _iso_epoch(value: Any) -> str | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(float(value), dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
