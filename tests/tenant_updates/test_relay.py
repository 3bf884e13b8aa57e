"""The relay (TenantKciRelayFunction) on the orders table's real stream records (moto's DynamoDB Streams API, in
Lambda's event shape): only INSERTs of tenant-KCI outbox items become FIFO messages, grouped by tenant#order and
deduplicated on the tenant KCI id, and a replayed stream record does not reach the tenant twice.
"""

from __future__ import annotations

import json

import boto3

from local_stack.template import load_template
from testing.events import failures, make_kci
from testing.faults import fail_calls, fail_next

ORDER_ID = 123


def record_kinds(event: dict) -> set[tuple[str, str]]:
    """(eventName, item kind) of each stream record: the kind is the sort key up to its '#'."""
    return {(record["eventName"], record["dynamodb"]["Keys"]["sk"]["S"].split("#")[0]) for record in event["Records"]}


def outbox_inserts(event: dict) -> list[dict]:
    return [record for record in event["Records"]
            if record["eventName"] == "INSERT" and record["dynamodb"]["Keys"]["sk"]["S"].startswith("TENANT_KCI#")]


def supplier_kci(world, order_id: int = ORDER_ID, sequence: int = 1, tenant: str = "TENANT1") -> None:
    status, body = world.post_kci(make_kci(order_id, sequence, "COMMITTED", status="IN_PROGRESS", tenant=tenant))
    assert status == 204, body
    assert world.process_kcis() == {"batchItemFailures": []}


def matches(pattern, event) -> bool:
    """An EventBridge-style filter pattern (what Lambda's FilterCriteria use) against an event: the subset used here
    (nested objects, lists of accepted values, {"prefix": ...})."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(key in event and matches(value, event[key]) for key, value in pattern.items())
    return any(event == accepted if not isinstance(accepted, dict) else isinstance(event, str) and event.startswith(accepted["prefix"])
               for accepted in pattern)


def template_filter() -> dict:
    props = load_template()["Resources"]["TenantKciRelayFunction"]["Properties"]["Events"]["OrdersStream"]["Properties"]
    [entry] = props["FilterCriteria"]["Filters"]
    return json.loads(entry["Pattern"])


# ---------------------------------------------------------------------------------------------


def test_only_inserts_of_tenant_kci_items_become_messages(world, supplier_stub):
    world.register_order_by_kci(ORDER_ID)                      # history INSERT, snapshot INSERT, outbox INSERT
    cancellation_id = world.cancel_ok(ORDER_ID)["id"]          # snapshot MODIFY (PENDING_CANCELLATION)
    supplier_stub.answers.append((201, "", 0))
    world.dispatch()                                           # snapshot MODIFY, outbox INSERT

    event, result = world.relay()

    assert result == {"batchItemFailures": []}
    assert record_kinds(event) == {("INSERT", "CLAIM"), ("INSERT", "KCI"), ("INSERT", "SNAPSHOT"), ("MODIFY", "SNAPSHOT"),
                                   ("INSERT", "TENANT_KCI")}  # CLAIM: the KCI-id claim POST /kcis writes
    delivery, _ = world.deliver()
    assert [json.loads(record["body"])["kci"]["id"] for record in delivery["Records"]] == [
        record["dynamodb"]["NewImage"]["kci"]["M"]["id"]["S"] for record in outbox_inserts(event)]
    assert len(delivery["Records"]) == 2

    # Delivering updated the outbox items (MODIFY), and an item may be removed: neither is sent again.
    boto3.client("dynamodb").delete_item(TableName=world.aws.tables["OrdersTable"], Key={
        "pk": {"S": f"ORDER#{ORDER_ID}"}, "sk": {"S": world.orders.history(ORDER_ID)[0]["kciId"].join(("KCI#", ""))}})
    event, result = world.relay()

    assert record_kinds(event) == {("MODIFY", "TENANT_KCI"), ("REMOVE", "KCI")}
    assert result == {"batchItemFailures": []}
    assert world.queued_tenant_kcis() == []
    assert len(world.tenant.accepted) == 2 and world.cancellation(cancellation_id).status.value == "COMPLETED"


def test_the_templates_event_filter_selects_exactly_what_the_relay_relays(world, supplier_stub):
    """Lambda drops what the FilterCriteria do not match before the relay runs; the relay checks again (the local
    stack's poller does not filter). Both must agree on the real records."""
    world.register_order_by_kci(ORDER_ID)
    world.cancel_ok(ORDER_ID)
    supplier_stub.answers.append((422, json.dumps({"uuid": "u", "code": "INVALID_REQUEST", "messages": ["no"]}), 0))
    world.dispatch()
    records = world.stream.new_records()
    pattern = template_filter()

    selected = [record for record in records if matches(pattern, record)]

    assert selected == outbox_inserts({"Records": records}) and len(selected) == 2
    assert len(records) > len(selected)
    _, result = world.relay(selected)
    assert result == {"batchItemFailures": []}
    assert len(world.queued_tenant_kcis()) == 2


def test_messages_are_grouped_by_tenant_and_order_and_deduplicated_on_the_tenant_kci_id(world):
    supplier_kci(world, 1, tenant="TENANT1")
    supplier_kci(world, 1, 2, tenant="TENANT1")
    supplier_kci(world, 2, tenant="TENANT2")

    world.relay()

    queued = world.queued_tenant_kcis()
    assert [(m["group"], m["body"]["kci"]["sequenceNumber"]) for m in queued] == [("TENANT1#1", 1), ("TENANT1#1", 2), ("TENANT2#2", 1)]
    assert [m["dedup"] for m in queued] == [m["body"]["kci"]["id"] for m in queued]
    assert len({m["dedup"] for m in queued}) == 3


def test_a_replayed_stream_record_does_not_reach_the_tenant_twice(world):
    """Lambda retries stream batches (a timeout, a failed record, bisecting): the same record relayed again is
    deduplicated by the FIFO queue, and a copy that gets past it (after the 5-minute deduplication window) finds
    the KCI already DELIVERED."""
    supplier_kci(world)
    event, _ = world.relay()

    world.relay(event["Records"])  # replayed before delivery
    world.deliver()
    world.relay(event["Records"])  # replayed after delivery (moto forgets the deduplication id of a deleted message)
    world.deliver()

    assert len(world.tenant.requests) == 1
    assert world.statuses(ORDER_ID) == [(1, "DELIVERED", 1)]
    assert world.queued("TenantUpdatesQueue") == 0


def test_a_record_the_relay_could_not_send_is_reported_failed_and_sent_on_the_retry(world):
    supplier_kci(world)
    records = world.stream.new_records()
    queue_down = fail_calls(world.relay_function.deps.queue.client, "SendMessage", "InternalFailure", 500)

    _, result = world.relay(records)

    queue_down()
    [outbox_record] = outbox_inserts({"Records": records})
    assert failures(result) == [outbox_record["dynamodb"]["SequenceNumber"]], "only the outbox record; the others are done"
    assert world.queued("TenantUpdatesQueue") == 0
    _, result = world.relay([outbox_record])  # Lambda retries from the failed record
    assert result == {"batchItemFailures": []}
    world.deliver()
    assert world.statuses(ORDER_ID) == [(1, "DELIVERED", 1)]


def fail_next_send(client, times: int = 1) -> None:
    """The next ``times`` SendMessage calls of ``client`` fail with a 500 (a real ClientError, no retry)."""
    fail_next(client, "SendMessage", "InternalFailure", 500, times=times)


def lambda_retry(records: list[dict], result: dict) -> list[dict]:
    """What a DynamoDB stream event source retries after a partial failure: the batch from its lowest failed
    sequence number on (records after it are sent again, even those that succeeded)."""
    first = min(int(identifier) for identifier in failures(result))
    return [record for record in records if int(record["dynamodb"]["SequenceNumber"]) >= first]


def test_an_order_s_kcis_reach_the_queue_in_order_even_when_a_send_fails_midway(world):
    """Two tenant KCIs of one order in one stream batch; sending the first fails once. Had the relay gone on and
    sent the second, the retry would put the first behind it on the FIFO queue (the second's resend being
    deduplicated), and the tenant would get KCI 2 before KCI 1. After a failure the rest of the batch waits."""
    supplier_kci(world, ORDER_ID, 1)
    supplier_kci(world, ORDER_ID, 2)
    records = world.stream.new_records()
    assert len(outbox_inserts({"Records": records})) == 2
    fail_next_send(world.relay_function.deps.queue.client)

    _, result = world.relay(records)

    assert failures(result)
    assert world.queued("TenantUpdatesQueue") == 0, "KCI 2 was not sent ahead of KCI 1"
    _, retried = world.relay(lambda_retry(records, result))
    assert retried == {"batchItemFailures": []}
    world.deliver_until_empty()
    assert [kci["sequenceNumber"] for kci in world.tenant.accepted] == [1, 2]

