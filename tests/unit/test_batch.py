"""fibre_cafe/batch.py: partial batch responses, answered exactly as Powertools' batch utility answers them."""

from __future__ import annotations

import functools
import itertools

import pytest
from aws_lambda_powertools.utilities import batch as powertools_batch

from fibre_cafe import batch


def sqs_event(*records: tuple[str, str | None]) -> dict:
    """SQS records (body, message group or None); the message id is "m<position>"."""
    return {"Records": [
        {"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body,
         "attributes": {"ApproximateReceiveCount": "2", **({"MessageGroupId": group} if group else {})},
         "eventSource": "aws:sqs"}
        for i, (body, group) in enumerate(records)]}


def stream_event(*bodies: str) -> dict:
    return {"Records": [{"eventID": f"e{i}", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                         "dynamodb": {"Keys": {"pk": {"S": body}}, "SequenceNumber": f"{100 + i}"}}
                        for i, body in enumerate(bodies)]}


def failing_on_bad_body(record) -> str:
    if record.body.startswith("bad"):
        raise ValueError(record.body)
    return record.body


def test_failed_sqs_records_are_reported_by_message_id_and_the_others_are_done():
    handled = []

    def handler(record):
        handled.append((record.message_id, record.receipt_handle, record.attributes.approximate_receive_count))
        return failing_on_bad_body(record)

    processor = batch.BatchProcessor(batch.EventType.SQS, raise_on_entire_batch_failure=False)
    answer = batch.process_partial_response(event=sqs_event(("ok", None), ("bad", None), ("ok", None)),
                                            record_handler=handler, processor=processor)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert handled == [("m0", "r0", "2"), ("m1", "r1", "2"), ("m2", "r2", "2")]


def test_failed_stream_records_are_reported_by_sequence_number():
    def handler(record):
        if record.raw_event["dynamodb"]["Keys"]["pk"]["S"].startswith("bad"):
            raise RuntimeError("no")

    processor = batch.BatchProcessor(event_type=batch.EventType.DynamoDBStreams)
    answer = batch.process_partial_response(event=stream_event("ok", "bad", "bad2", "ok"), record_handler=handler, processor=processor)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "101"}, {"itemIdentifier": "102"}]}


def test_a_wholly_failed_batch_raises_only_when_asked_to():
    event = sqs_event(("bad1", None), ("bad2", None))
    with pytest.raises(batch.BatchProcessingError, match="All records failed processing. 2 individual errors"):
        batch.process_partial_response(event=event, record_handler=failing_on_bad_body,
                                       processor=batch.BatchProcessor(batch.EventType.SQS))
    answer = batch.process_partial_response(event=event, record_handler=failing_on_bad_body,
                                            processor=batch.BatchProcessor(batch.EventType.SQS, raise_on_entire_batch_failure=False))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}


def test_fifo_skips_the_rest_of_a_failed_group_and_goes_on_with_the_others():
    handled = []

    def handler(record):
        handled.append(record.message_id)
        return failing_on_bad_body(record)

    processor = batch.SqsFifoPartialProcessor(skip_group_on_error=True, raise_on_entire_batch_failure=False)
    event = sqs_event(("ok", "a"), ("bad", "a"), ("ok", "b"), ("ok", "a"), ("ok", "b"))
    answer = batch.process_partial_response(event=event, record_handler=handler, processor=processor)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}
    assert handled == ["m0", "m1", "m2", "m4"]
    # The failed groups are forgotten between invocations.
    assert batch.process_partial_response(event=sqs_event(("ok", "a")), record_handler=handler, processor=processor) == {
        "batchItemFailures": []
    }


def test_fifo_without_group_skipping_fails_the_rest_of_the_batch():
    processor = batch.SqsFifoPartialProcessor(raise_on_entire_batch_failure=False)
    answer = batch.process_partial_response(event=sqs_event(("ok", "a"), ("bad", "a"), ("ok", "b")),
                                            record_handler=failing_on_bad_body, processor=processor)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": {}}, {"records": [{}]}])
def test_an_event_without_records_is_refused(event):
    with pytest.raises(ValueError, match="non-empty Records"):
        batch.process_partial_response(event=event, record_handler=failing_on_bad_body,
                                       processor=batch.BatchProcessor(batch.EventType.SQS))


def _outcome(process, event):
    try:
        return process(event)
    except Exception as exc:  # noqa: BLE001 - the exception's kind is the answer compared
        return type(exc).__name__.replace("UnexpectedBatchTypeError", "refused").replace("BatchProcessingError", "all failed")


@pytest.mark.parametrize("kind", ["sqs", "sqs-raise", "fifo", "fifo-skip", "stream"])
def test_answers_match_powertools_for_every_mix_of_good_and_bad_records(kind):
    """Every batch of up to four records, good or bad, in up to two groups: the same answer as Powertools'."""
    for size in range(1, 5):
        for bodies in itertools.product(["ok", "bad"], repeat=size):
            for groups in itertools.product(["a", "b"], repeat=size) if kind.startswith("fifo") else [(None,) * size]:
                if kind == "stream":
                    event = stream_event(*bodies)

                    def handler(record):
                        if record.raw_event["dynamodb"]["Keys"]["pk"]["S"] == "bad":
                            raise ValueError("bad")
                else:
                    event = sqs_event(*zip(bodies, groups, strict=True))
                    handler = failing_on_bad_body
                ours, theirs = {
                    "sqs": (
                        batch.BatchProcessor(batch.EventType.SQS, raise_on_entire_batch_failure=False),
                        powertools_batch.BatchProcessor(powertools_batch.EventType.SQS, raise_on_entire_batch_failure=False),
                    ),
                    "sqs-raise": (
                        batch.BatchProcessor(batch.EventType.SQS),
                        powertools_batch.BatchProcessor(powertools_batch.EventType.SQS),
                    ),
                    "fifo": (
                        batch.SqsFifoPartialProcessor(raise_on_entire_batch_failure=False),
                        powertools_batch.SqsFifoPartialProcessor(),
                    ),
                    "fifo-skip": (
                        batch.SqsFifoPartialProcessor(skip_group_on_error=True, raise_on_entire_batch_failure=False),
                        powertools_batch.SqsFifoPartialProcessor(skip_group_on_error=True),
                    ),
                    "stream": (
                        batch.BatchProcessor(batch.EventType.DynamoDBStreams),
                        powertools_batch.BatchProcessor(powertools_batch.EventType.DynamoDBStreams),
                    ),
                }[kind]
                if kind.startswith("fifo"):
                    theirs.raise_on_entire_batch_failure = False
                mine = _outcome(functools.partial(batch.process_partial_response, record_handler=handler, processor=ours), event)
                expected = _outcome(functools.partial(powertools_batch.process_partial_response, record_handler=handler, processor=theirs),
                                    event)
                assert mine == expected, (kind, bodies, groups)
