"""Partial batch responses for the queue and stream consumers: each record succeeds or fails alone.

The functions used Powertools' batch utility for this one job. Importing it costs a cold start more than all of
this layer's queue-consumer code (it imports asyncio and every Powertools event data class), so this module keeps
the small part they use, with the same names and behaviour:

- ``BatchProcessor(EventType.SQS | EventType.DynamoDBStreams, raise_on_entire_batch_failure=True)``: every
  record goes to the record handler; one that raises (any ``Exception``) is reported in ``batchItemFailures``
  by its SQS ``messageId`` or its stream record's ``SequenceNumber``; the others count as done.
- ``SqsFifoPartialProcessor(skip_group_on_error=...)``: for a FIFO queue. After a failure the rest of the batch
  fails without being handled, or with ``skip_group_on_error`` only the rest of that record's message group.
- When every record failed and ``raise_on_entire_batch_failure`` is set, ``BatchProcessingError`` is raised
  instead of answering (the event source then retries the whole batch, and the invocation counts as an error).
- ``process_partial_response(event=..., record_handler=..., processor=..., context=...)`` returns the answer
  Lambda expects with ``ReportBatchItemFailures``: ``{"batchItemFailures": [{"itemIdentifier": id}, ...]}``.

Record handlers receive ``SQSRecord`` or ``DynamoDBRecord``: read-only views of the raw record with the property
names Powertools' data classes use (``body``, ``message_id``, ``receipt_handle``, ``attributes``, ``raw_event``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

__all__ = ["BatchProcessingError", "BatchProcessor", "DynamoDBRecord", "EventType", "SQSRecord",
           "SqsFifoPartialProcessor", "process_partial_response"]


class EventType(Enum):
    SQS = "SQS"
    DynamoDBStreams = "DynamoDBStreams"


class BatchProcessingError(Exception):
    """Every record of the batch failed (raised only when the processor is asked to)."""

    def __init__(self, errors: list[Exception]):
        super().__init__(f"All records failed processing. {len(errors)} individual errors: "
                         + "; ".join(f"{type(error).__name__}: {error}" for error in errors))
        self.errors = errors


class _Record:
    """A read-only view of one raw record of the event."""

    __slots__ = ("raw_event",)

    def __init__(self, raw_event: Mapping[str, Any]):
        self.raw_event = raw_event

    def __getitem__(self, key: str) -> Any:
        return self.raw_event[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw_event.get(key, default)


class SQSRecordAttributes(_Record):
    __slots__ = ()

    @property
    def approximate_receive_count(self) -> str:
        return str(self.raw_event["ApproximateReceiveCount"])

    @property
    def message_group_id(self) -> str | None:
        value = self.raw_event.get("MessageGroupId")
        return None if value is None else str(value)


class SQSRecord(_Record):
    """An SQS message as the event source mapping hands it over."""

    __slots__ = ()

    @property
    def message_id(self) -> str:
        return str(self.raw_event["messageId"])

    @property
    def receipt_handle(self) -> str:
        return str(self.raw_event["receiptHandle"])

    @property
    def body(self) -> str:
        return str(self.raw_event["body"])

    @property
    def attributes(self) -> SQSRecordAttributes:
        return SQSRecordAttributes(self.raw_event.get("attributes") or {})


class DynamoDBRecord(_Record):
    """A DynamoDB stream record (``raw_event`` is the record as the event carries it)."""

    __slots__ = ()

    @property
    def sequence_number(self) -> str | None:
        value = (self.raw_event.get("dynamodb") or {}).get("SequenceNumber")
        return None if value is None else str(value)


RecordHandler = Callable[[Any], Any]


class BatchProcessor:
    """Hands each record of a batch to the record handler and collects the ones that failed."""

    def __init__(self, event_type: EventType, raise_on_entire_batch_failure: bool = True):
        self.event_type = event_type
        self.raise_on_entire_batch_failure = raise_on_entire_batch_failure

    def _view(self, raw: Mapping[str, Any]) -> _Record:
        return SQSRecord(raw) if self.event_type is EventType.SQS else DynamoDBRecord(raw)

    @staticmethod
    def _identifier(record: _Record) -> str | None:
        if isinstance(record, SQSRecord):
            return record.message_id
        return record.sequence_number if isinstance(record, DynamoDBRecord) else None

    def _skip(self, record: _Record, failed: bool) -> bool:
        """Whether to fail this record without handling it (the FIFO processor's rule)."""
        return False

    def _failed(self, record: _Record) -> None:
        """Called for each failed record, before the next one is looked at."""

    def process(self, records: list[Mapping[str, Any]], record_handler: RecordHandler) -> dict[str, Any]:
        failures: list[_Record] = []
        errors: list[Exception] = []
        for raw in records:
            record = self._view(raw)
            if self._skip(record, bool(failures)):
                failures.append(record)
                errors.append(RuntimeError("a previous record of this batch failed processing"))
                self._failed(record)
                continue
            try:
                record_handler(record)
            except Exception as exc:  # noqa: BLE001 - a record's failure is reported (batchItemFailures), not raised
                failures.append(record)
                errors.append(exc)
                self._failed(record)
        if failures and len(failures) == len(records) and self.raise_on_entire_batch_failure:
            raise BatchProcessingError(errors)
        return {"batchItemFailures": [{"itemIdentifier": self._identifier(record)} for record in failures]}


class SqsFifoPartialProcessor(BatchProcessor):
    """For a FIFO queue: once a record failed, the rest of the batch (or of its message group) fails unhandled."""

    def __init__(self, skip_group_on_error: bool = False, raise_on_entire_batch_failure: bool = True):
        super().__init__(EventType.SQS, raise_on_entire_batch_failure)
        self.skip_group_on_error = skip_group_on_error
        self._failed_groups: set[str] = set()

    @staticmethod
    def _group(record: _Record) -> str | None:
        return record.attributes.message_group_id if isinstance(record, SQSRecord) else None

    def _skip(self, record: _Record, failed: bool) -> bool:
        if not self.skip_group_on_error:
            return failed
        group = self._group(record)
        return group is not None and group in self._failed_groups

    def _failed(self, record: _Record) -> None:
        group = self._group(record)
        if self.skip_group_on_error and group is not None:
            self._failed_groups.add(group)

    def process(self, records: list[Mapping[str, Any]], record_handler: RecordHandler) -> dict[str, Any]:
        self._failed_groups.clear()
        try:
            return super().process(records, record_handler)
        finally:
            self._failed_groups.clear()


def process_partial_response(event: Mapping[str, Any], record_handler: RecordHandler, processor: BatchProcessor,
                             context: Any = None) -> dict[str, Any]:
    """The partial batch response for ``event``'s ``Records``. A batch event without records is refused
    (ValueError), as Powertools refuses it: Lambda never sends one, so it is a wrong event."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not records or not isinstance(records, list):
        raise ValueError(f"Invalid event format: expected a {processor.event_type.value} event with a non-empty Records list")
    return processor.process(records, record_handler)
