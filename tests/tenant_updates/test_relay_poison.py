"""A poison record in the tenant-KCI relay never holds back other orders or tenants (issue 10, item 4), and the
redrive tool's "relay-failures" action replays what the relay's stream mapping gave up on."""

from __future__ import annotations

import json

import boto3

from testing.events import make_kci
from testing.lambda_context import lambda_context

POISON_ORDER, OTHER_ORDER = 901, 902


def put_poison_outbox_item(world, order_id: int = POISON_ORDER) -> None:
    """An outbox item no relay can read (its tenant KCI is not a tenant KCI)."""
    boto3.client("dynamodb").put_item(TableName=world.aws.tables["OrdersTable"], Item={
        "pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "TENANT_KCI#000000000001"}, "tenant": {"S": "TENANT1"},
        "orderId": {"N": str(order_id)}, "kci": {"M": {"garbage": {"S": "x"}}}, "deliveryStatus": {"S": "PENDING"}})


def test_a_poison_record_fails_alone_other_orders_records_in_the_same_batch_are_relayed(world):
    put_poison_outbox_item(world)
    world.register_order_by_kci(OTHER_ORDER)
    assert world.post_kci(make_kci(OTHER_ORDER, 2, "COMMITTED"))[0] == 204
    world.process_kcis()

    event, result = world.relay()

    poison = [r["dynamodb"]["SequenceNumber"] for r in event["Records"] if r["dynamodb"]["Keys"]["pk"]["S"] == f"ORDER#{POISON_ORDER}"]
    assert [item["itemIdentifier"] for item in result["batchItemFailures"]] == poison
    queued = world.queued_tenant_kcis()
    assert [(m["body"]["orderId"], m["body"]["kci"]["sequenceNumber"]) for m in queued] == [(OTHER_ORDER, 1), (OTHER_ORDER, 2)]


def test_redrive_relay_failures_replays_the_described_stream_records(world):
    world.register_order_by_kci(OTHER_ORDER)
    records = [r for r in world.stream.new_records() if r["dynamodb"]["Keys"]["sk"]["S"].startswith("TENANT_KCI#")]
    shard = world.stream.client.describe_stream(StreamArn=world.stream.arn)["StreamDescription"]["Shards"][0]["ShardId"]
    described = {"requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": {
        "shardId": shard, "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
        "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"], "batchSize": len(records), "streamArn": world.stream.arn}}
    failures = world.queue("TenantKciRelayFailureQueue")
    world.sqs.send_message(QueueUrl=failures, MessageBody=json.dumps(described))

    report = world.redrive.lambda_handler({"action": "relay-failures"}, lambda_context())

    assert [entry["relayed"] for entry in report["redriven"]] == [1] and report["skipped"] == []
    assert [m["body"]["orderId"] for m in world.queued_tenant_kcis()] == [OTHER_ORDER]
    assert world.queued("TenantKciRelayFailureQueue") == 0
