"""The local stack's event source pollers (local_stack/pollers.py) against moto, driven one poll at a time.

What Lambda's event source mappings do, checked on the template's own queues, stream and settings:
the event's shape, which messages are deleted after a partial batch failure or a raise, redrive to
the dead-letter queue after maxReceiveCount, FIFO order within a message group, stream retries
from the first failed record, and FilterCriteria.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from local_stack.moto_patches import fifo_redelivery_order
from local_stack.pollers import SqsPoller, StreamPoller, failed_identifiers, matches, passes_filters
from local_stack.template import create_resources, load_template, sqs_event_sources, stream_event_sources

REGION = "eu-west-2"
# What these tests need of template.yaml: the KCI queue, the tenant-updates FIFO queue, their DLQs, the orders table.
NEEDED = {
    "KciQueue",
    "KciDeadLetterQueue",
    "TenantUpdatesQueue",
    "TenantUpdatesDeadLetterQueue",
    "OrdersTable",
    "TenantKciRelayFailureQueue",
}
RELAY_FILTER = stream_event_sources()[0].filters


class FakeFunction:
    """Stands in for a LocalFunction: records each event, answers from ``answer(event)``."""

    def __init__(self, answer: Callable[[dict], Any] = lambda event: {"batchItemFailures": []}):
        self.logical_id = "FakeFunction"
        self.answer = answer
        self.events: list[dict] = []

    def invoke(self, event: dict) -> Any:
        self.events.append(event)
        return self.answer(event)


class World:
    """The template's queues and orders table on a moto server (as the local stack runs it: in-process
    moto cannot route DynamoDB Streams calls), with the stack's moto patch."""

    endpoint = ""

    def __init__(self, resources):
        self.resources = resources
        self.tables, self.queue_urls, self.queue_arns, self.stream_arns = (
            resources.tables, resources.queue_urls, resources.queue_arns, resources.stream_arns)


def client(service: str):
    return boto3.client(service, endpoint_url=World.endpoint, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing", aws_session_token="testing")


@pytest.fixture(scope="module")
def moto_server():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    World.endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    yield
    server.stop()
    server._server.server_close()


@pytest.fixture
def world(moto_server):
    urllib.request.urlopen(urllib.request.Request(f"{World.endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    template = load_template()
    small = {**template, "Resources": {name: res for name, res in template["Resources"].items() if name in NEEDED}}
    with fifo_redelivery_order():  # as the local stack runs moto (local_stack/moto_patches.py)
        yield World(create_resources(client("dynamodb"), client("sqs"), prefix="poll", template=small, visibility_timeout=1))


def source(function: str):
    return next(found for found in sqs_event_sources() if found.function == function)


def sqs_poller(world, function: FakeFunction, logical_id: str = "KciProcessorFunction", **changes) -> SqsPoller:
    event_source = replace(source(logical_id), **changes)
    return SqsPoller(function, event_source, client("sqs"), world.queue_urls[event_source.queue],
                     world.queue_arns[event_source.queue], REGION)


def send(world, queue: str, bodies: list[str], **extra) -> None:
    sqs = client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=world.queue_urls[queue], MessageBody=body, **extra)


def queued(world, queue: str) -> int:
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=world.queue_urls[queue], AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def fail(*bodies: str) -> Callable[[dict], dict]:
    def answer(event: dict) -> dict:
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]} for record in event["Records"] if record["body"] in bodies]}

    return answer


# ---------------------------------------------------------------- the SQS event


def test_sqs_event_is_lambdas_shape(world):
    function = FakeFunction()
    send(world, "KciQueue", ['{"n": 1}'], MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}})
    sqs_poller(world, function, batching_window_seconds=0).poll_once()

    (record,) = function.events[0]["Records"]
    assert set(record) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody", "eventSource",
                           "eventSourceARN", "awsRegion"}
    assert record["body"] == '{"n": 1}' and record["eventSource"] == "aws:sqs" and record["awsRegion"] == REGION
    assert record["eventSourceARN"] == world.queue_arns["KciQueue"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "origin": {"stringValue": "test", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert len(record["md5OfBody"]) == 32
    json.dumps(function.events[0])  # what the handler gets is plain JSON


def test_batching_window_gathers_up_to_the_batch_size(world):
    function = FakeFunction()
    # Longer than the window: a message received early must not come back while the batch is gathered.
    client("sqs").set_queue_attributes(QueueUrl=world.queue_urls["KciQueue"], Attributes={"VisibilityTimeout": "30"})
    send(world, "KciQueue", [str(n) for n in range(12)])
    poller = sqs_poller(world, function)  # the template: BatchSize 10, MaximumBatchingWindowInSeconds 1
    poller.poll_once()
    poller.poll_once()
    assert [len(event["Records"]) for event in function.events] == [10, 2]
    assert sorted(record["body"] for event in function.events for record in event["Records"]) == sorted(str(n) for n in range(12))


def test_a_message_back_during_the_window_is_in_the_batch_once_with_its_latest_receipt(world):
    """Visibility 1 s, window 1.5 s (only possible locally): the message comes back while the batch is gathered."""
    function = FakeFunction()
    send(world, "KciQueue", ["only"])
    sqs_poller(world, function, batching_window_seconds=1.5).poll_once()
    (record,) = function.events[0]["Records"]
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert queued(world, "KciQueue") == 0  # deleted with the receipt handle that is still valid


# ---------------------------------------------------------------- what is deleted


def test_partial_batch_failure_deletes_only_the_successes(world):
    function = FakeFunction(fail("poison"))
    send(world, "KciQueue", ["good-1", "poison", "good-2"])
    sqs_poller(world, function, batching_window_seconds=0).poll_once()
    assert queued(world, "KciQueue") == 1
    time.sleep(1.1)  # the queue's visibility timeout (1 s here)
    again = FakeFunction()
    sqs_poller(world, again, batching_window_seconds=0).poll_once()
    (record,) = again.events[0]["Records"]
    assert record["body"] == "poison" and record["attributes"]["ApproximateReceiveCount"] == "2"
    assert queued(world, "KciQueue") == 0


def test_a_raising_handler_deletes_nothing(world):
    def boom(event):
        raise RuntimeError("handler failed")

    send(world, "KciQueue", ["a", "b"])
    sqs_poller(world, FakeFunction(boom), batching_window_seconds=0).poll_once()
    assert queued(world, "KciQueue") == 2


@pytest.mark.parametrize("answer", [
    {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]},
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": "all"},
    "garbage",
], ids=["unknown-id", "empty-id", "not-a-list", "not-a-dict"])
def test_an_unreadable_answer_fails_the_whole_batch(world, answer):
    send(world, "KciQueue", ["a", "b"])
    sqs_poller(world, FakeFunction(lambda event: answer), batching_window_seconds=0).poll_once()
    assert queued(world, "KciQueue") == 2


def test_without_report_batch_item_failures_a_return_deletes_everything(world):
    send(world, "KciQueue", ["a", "b"])
    sqs_poller(world, FakeFunction(fail("a")), report_batch_item_failures=False, batching_window_seconds=0).poll_once()
    assert queued(world, "KciQueue") == 0


def test_a_message_failing_every_time_reaches_the_dead_letter_queue_after_max_receive_count(world):
    send(world, "KciQueue", ["poison"])
    function = FakeFunction(fail("poison"))
    poller = sqs_poller(world, function, batching_window_seconds=0)
    max_receive_count = load_template()["Resources"]["KciQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    deadline = time.monotonic() + 20
    while queued(world, "KciDeadLetterQueue") == 0 and time.monotonic() < deadline:
        poller.poll_once()
    assert len(function.events) == max_receive_count
    assert queued(world, "KciQueue") == 0 and queued(world, "KciDeadLetterQueue") == 1


# ---------------------------------------------------------------- FIFO


def test_fifo_keeps_a_groups_order_across_a_failure(world):
    """The first message of group A fails: A's later messages are not delivered before it; group B goes on."""
    sqs = client("sqs")
    url = world.queue_urls["TenantUpdatesQueue"]
    for group, n in [("A", 1), ("A", 2), ("B", 1), ("A", 3), ("B", 2)]:
        sqs.send_message(QueueUrl=url, MessageBody=f"{group}{n}", MessageGroupId=group, MessageDeduplicationId=f"{group}{n}")

    delivered: list[str] = []
    first_try = {"A1": True}

    def answer(event: dict) -> dict:
        # As Powertools' SqsFifoPartialProcessor(skip_group_on_error=True): a failure fails the rest of its group.
        failed_groups, failures = set(), []
        for record in event["Records"]:
            group = record["attributes"]["MessageGroupId"]
            if group in failed_groups or first_try.pop(record["body"], False):
                failed_groups.add(group)
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                delivered.append(record["body"])
        return {"batchItemFailures": failures}

    poller = sqs_poller(world, FakeFunction(answer), "TenantKciDeliveryFunction")
    deadline = time.monotonic() + 15
    while len(delivered) < 5 and time.monotonic() < deadline:
        poller.poll_once()
    assert [body for body in delivered if body.startswith("A")] == ["A1", "A2", "A3"]
    assert [body for body in delivered if body.startswith("B")] == ["B1", "B2"]
    assert delivered.index("B1") < delivered.index("A1")  # B was not held up by A's failure
    first = poller.function.events[0]["Records"][0]
    assert first["attributes"]["MessageGroupId"] == "A" and "SequenceNumber" in first["attributes"]


# ---------------------------------------------------------------- DynamoDB streams


def put(world, pk: str, sk: str, **values: str) -> None:
    item = {"pk": {"S": pk}, "sk": {"S": sk}, **{key: {"S": value} for key, value in values.items()}}
    client("dynamodb").put_item(TableName=world.tables["OrdersTable"], Item=item)


def stream_poller(world, function: FakeFunction, **changes) -> StreamPoller:
    event_source = replace(stream_event_sources()[0], batching_window_seconds=0, **changes)
    return StreamPoller(function, event_source, client("dynamodbstreams"), world.stream_arns["OrdersTable"], REGION)


def test_stream_event_is_lambdas_shape_and_the_template_filter_applies(world):
    function = FakeFunction()
    poller = stream_poller(world, function)  # TRIM_HORIZON, the template's filter: INSERTs of TENANT_KCI# items only
    put(world, "ORDER#1", "SNAPSHOT", status="ACKNOWLEDGED")
    put(world, "ORDER#1", "TENANT_KCI#000000000001", tenant="TENANT1")
    put(world, "ORDER#1", "TENANT_KCI#000000000001", tenant="TENANT1", deliveryStatus="DELIVERED")  # a MODIFY
    poller.poll_once()

    (record,) = function.events[0]["Records"]
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb" and record["awsRegion"] == REGION
    assert record["eventSourceARN"] == world.stream_arns["OrdersTable"]
    change = record["dynamodb"]
    assert change["Keys"] == {"pk": {"S": "ORDER#1"}, "sk": {"S": "TENANT_KCI#000000000001"}}
    assert change["NewImage"]["tenant"] == {"S": "TENANT1"}
    assert change["StreamViewType"] == "NEW_IMAGE" and isinstance(change["SequenceNumber"], str)
    assert isinstance(change["ApproximateCreationDateTime"], int)
    json.dumps(function.events[0])


def test_stream_retries_from_the_first_failed_record_then_goes_on(world):
    sequence_of: dict[str, str] = {}
    attempts: list[list[str]] = []

    def answer(event: dict) -> dict:
        keys = [record["dynamodb"]["Keys"]["sk"]["S"] for record in event["Records"]]
        for record in event["Records"]:
            sequence_of[record["dynamodb"]["Keys"]["sk"]["S"]] = record["dynamodb"]["SequenceNumber"]
        attempts.append(keys)
        if len(attempts) == 1:  # the second record fails once
            return {"batchItemFailures": [{"itemIdentifier": sequence_of["TENANT_KCI#2"]}]}
        return {"batchItemFailures": []}

    function = FakeFunction(answer)
    poller = stream_poller(world, function)
    for n in (1, 2, 3):
        put(world, "ORDER#1", f"TENANT_KCI#{n}")
    poller.poll_once()
    poller._stop.set()  # skip the pause before the retry
    poller.poll_once()
    assert attempts == [["TENANT_KCI#1", "TENANT_KCI#2", "TENANT_KCI#3"], ["TENANT_KCI#2", "TENANT_KCI#3"]]
    poller.poll_once()
    assert len(attempts) == 2  # nothing left


def test_stream_drops_a_batch_after_maximum_retry_attempts(world):
    def boom(event):
        raise RuntimeError("always")

    function = FakeFunction(boom)
    poller = stream_poller(world, function, maximum_retry_attempts=2, bisect_batch_on_function_error=False)
    put(world, "ORDER#1", "TENANT_KCI#1")
    poller._stop.set()  # no pauses between retries
    for _ in range(4):
        poller.poll_once()
    assert len(function.events) == 3  # the first try and 2 retries, then dropped
    function.answer = lambda event: None
    put(world, "ORDER#1", "TENANT_KCI#2")
    poller.poll_once()
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in function.events[-1]["Records"]] == ["TENANT_KCI#2"]


def test_a_poison_record_is_isolated_described_on_the_on_failure_queue_and_skipped(world):
    """As Lambda with the template's mapping: bisected down to the poison record, retried MaximumRetryAttempts
    times, described on DestinationConfig.OnFailure (shard and sequence numbers, not the record), then skipped."""
    source_ = stream_event_sources()[0]
    assert source_.on_failure_queue == "TenantKciRelayFailureQueue" and source_.maximum_record_age_seconds == 3600

    def answer(event: dict):
        if any(record["dynamodb"]["Keys"]["sk"]["S"] == "TENANT_KCI#2" for record in event["Records"]):
            raise RuntimeError("poison")
        return None

    function = FakeFunction(answer)
    url = world.queue_urls["TenantKciRelayFailureQueue"]
    poller = StreamPoller(function, replace(source_, batching_window_seconds=0, maximum_retry_attempts=3), client("dynamodbstreams"),
                          world.stream_arns["OrdersTable"], REGION, sqs=client("sqs"), on_failure_url=url)
    for n in (1, 2, 3, 4):
        put(world, "ORDER#1", f"TENANT_KCI#{n}")
    poller._stop.set()  # no pauses between retries
    for _ in range(12):
        poller.poll_once()

    batches = [[r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]] for event in function.events]
    assert batches[0] == ["TENANT_KCI#1", "TENANT_KCI#2", "TENANT_KCI#3", "TENANT_KCI#4"]
    assert batches[-1] == ["TENANT_KCI#3", "TENANT_KCI#4"]  # the records after it flowed again
    assert batches.count(["TENANT_KCI#2"]) >= 2
    [message] = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    described = json.loads(message["Body"])
    info = described["DDBStreamBatchInfo"]
    assert described["requestContext"]["condition"] == "RetryAttemptsExhausted" and info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] and info["shardId"] and info["streamArn"]
    assert poller.records_sent_on_failure == 1


def test_bisect_halves_a_failing_batch(world):
    sizes: list[int] = []

    def answer(event: dict):
        sizes.append(len(event["Records"]))
        if len(sizes) == 1:
            raise RuntimeError("first try fails")
        return None

    poller = stream_poller(world, FakeFunction(answer))
    for n in range(4):
        put(world, "ORDER#1", f"TENANT_KCI#{n}")
    poller._stop.set()
    for _ in range(3):
        poller.poll_once()
    assert sizes == [4, 2, 2]


# ---------------------------------------------------------------- filters and answers


def test_filter_patterns():
    insert = {"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "TENANT_KCI#1"}}}}
    assert passes_filters(RELAY_FILTER, insert)
    assert not passes_filters(RELAY_FILTER, {**insert, "eventName": "MODIFY"})
    assert not passes_filters(RELAY_FILTER, {"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "SNAPSHOT"}}}})
    assert not passes_filters(RELAY_FILTER, {"eventName": "REMOVE", "dynamodb": {"Keys": {}}})
    assert passes_filters((), {"anything": 1})
    assert matches({"a": [{"exists": False}]}, {}) and not matches({"a": [{"exists": True}]}, {})
    assert matches({"a": [{"anything-but": ["x"]}]}, {"a": "y"}) and not matches({"a": [{"anything-but": "x"}]}, {"a": "x"})
    assert matches({"a": [{"numeric": [">", 1]}]}, {"a": 0})  # unsupported: matches everything (a wasted invocation, never a lost record)


def test_failed_identifiers():
    ids = ["m1", "m2"]
    assert failed_identifiers(None, ids) == set()
    assert failed_identifiers({}, ids) == set()
    assert failed_identifiers({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ids) == {"m2"}
    assert failed_identifiers({"batchItemFailures": [{"itemIdentifier": "m3"}]}, ids) is None
    assert failed_identifiers([], ids) is None


def test_without_the_patch_moto_redelivers_a_fifo_group_last_message_first():
    """Why local_stack/moto_patches.py exists: if this fails, moto has fixed it and the patch can go."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="plain.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "1"})["QueueUrl"]
        for body in ("A1", "A2", "A3"):
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="A", MessageDeduplicationId=body)
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["A1", "A2", "A3"]
        time.sleep(1.1)
        again = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
        assert again == ["A3"]  # SQS: A1 first
        with fifo_redelivery_order():
            time.sleep(1.1)
            assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]][0] == "A1"
