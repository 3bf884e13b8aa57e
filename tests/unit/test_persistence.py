"""Persistence and forwarding against moto: what is stored, what is queued, and the id scheme.

The table and the queue are read with boto3 directly, not through the code under test.
"""

from __future__ import annotations

import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from fibre_cafe.dal.id_allocator import COUNTER_KEY, BlockIdAllocator, IdSpaceExhausted
from fibre_cafe.logic.create_cancellation import RequestContext
from fibre_cafe.models.order import OrderType
from testing.faults import fail_next
from testing.recorders import AwsCallLog
from tests.unit.tenant_api_checks import MAX_SAFE_INTEGER, assert_created
from tests.unit.tenant_api_harness import cancellation_request

PATH = "/service-order-cancellations"
EXAMPLE = {"supplier": "DUMMY_SUPPLIER", "orderId": 123, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}
ISO_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# ---------------------------------------------------------------------------------------------- the record and the message


def test_stored_record_holds_the_request_the_order_and_the_trace(api, orders, aws_view):
    orders(123, supplier="DUMMY_SUPPLIER", supplier_order_reference="FC123")
    created = assert_created(api("POST", PATH, body=EXAMPLE, headers={"X-Request-ID": "req-42", "X-Conversation-ID": "conv-42"}))
    (item,) = aws_view.cancellation_items()
    assert item["pk"] == f"CANCELLATION#{created['id']}"
    assert {key: item.get(key) for key in ("id", "tenant", "supplier", "orderId", "orderType", "reasonCode", "text", "status",
                                            "supplierOrderReference", "requestId", "conversationId")} == {
        "id": created["id"], "tenant": "TENANT1", "supplier": "DUMMY_SUPPLIER", "orderId": 123, "orderType": "PROVIDE",
        "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long", "status": "RECEIVED_BY_GATEWAY",
        "supplierOrderReference": "FC123", "requestId": "req-42", "conversationId": "conv-42",
    }
    assert ISO_UTC_MS.match(item["createdAt"]) and item["updatedAt"] == item["createdAt"]
    assert "supplierReference" not in item and "error" not in item
    # Waiting for the supplier: findable by the forwarding sweeper through the sparse index.
    assert item["dispatchStatus"] == "RECEIVED_BY_GATEWAY" and item["lastDispatchActivityAt"] == item["createdAt"]


def test_idempotency_record_holds_the_answer_and_expires(api, orders, aws_view):
    orders(123)
    before = int(time.time())
    status, body, _ = api("POST", PATH, body=EXAMPLE, headers={"X-Request-ID": "req-42"})
    (item,) = aws_view.request_items()
    assert item["pk"] == "REQUEST#TENANT1#req-42"
    assert item["statusCode"] == status == 201
    assert item["body"] == body
    assert item["cancellationId"] == body["id"]
    # TTL attribute of template.yaml: epoch seconds; a tenant may retry for days, not forever.
    assert before + 24 * 3600 <= item["expiresAt"] <= before + 31 * 24 * 3600


def test_queued_message_carries_everything_the_supplier_call_needs(api, orders, aws_view):
    orders(123, supplier="DUMMY_SUPPLIER", supplier_order_reference="FC123")
    created = assert_created(api("POST", PATH, body=EXAMPLE, headers={"X-Request-ID": "req-42", "X-Conversation-ID": "conv-42"}))
    (message,) = aws_view.messages()
    expected = {
        "cancellationId": created["id"], "orderId": 123, "reasonCode": "CUSTOMER_CHANGED_MIND", "supplier": "DUMMY_SUPPLIER",
        "supplierOrderReference": "FC123", "tenant": "TENANT1", "requestId": "req-42", "conversationId": "conv-42",
        "passThroughHeaders": {},
    }
    assert {key: message["body"].get(key) for key in expected} == expected, message["body"]
    assert message["attributes"] == {"cancellationId": str(created["id"]), "supplier": "DUMMY_SUPPLIER"}


def test_message_uses_the_orders_supplier_when_the_request_omits_it(api, orders, aws_view):
    orders(123, supplier="FIBRECO", supplier_order_reference=None, order_type=OrderType.CEASE)
    assert_created(api("POST", PATH, body={"orderId": 123, "reasonCode": "OTHER"}), supplier="FIBRECO")
    (message,) = aws_view.messages()
    assert message["body"]["supplier"] == "FIBRECO" and message["attributes"]["supplier"] == "FIBRECO"
    assert message["body"].get("supplierOrderReference") is None
    (item,) = aws_view.cancellation_items()
    assert item["orderType"] == "CEASE" and "text" not in item


@pytest.mark.parametrize("spelling", ["canonical", "lower"])
def test_test_environment_headers_are_passed_through(api, orders, aws_view, spelling):
    orders(123)
    sent = {"X-Scenario": "CANCELLATION_REJECTED", "X-Kci-Delay": "5", "X-Problem-Code": "CUSTOMER_REQUESTED"}
    headers = sent if spelling == "canonical" else {name.lower(): value for name, value in sent.items()}
    assert_created(api("POST", PATH, body=EXAMPLE, headers={**headers, "X-Other": "not-forwarded", "Authorization": "Bearer secret"}))
    (message,) = aws_view.messages()
    assert message["body"]["passThroughHeaders"] == sent
    (item,) = aws_view.cancellation_items()
    assert item["passThroughHeaders"] == sent


def test_only_the_pass_through_headers_that_were_sent_are_passed(api, orders, aws_view):
    orders(123)
    assert_created(api("POST", PATH, body=EXAMPLE, headers={"X-Scenario": "CANCELLATION_PENDING"}))
    (message,) = aws_view.messages()
    assert message["body"]["passThroughHeaders"] == {"X-Scenario": "CANCELLATION_PENDING"}


def test_unusable_pass_through_header_values_are_dropped_not_refused(api, orders, aws_view):
    """Decision: the test-environment headers are best-effort hints; an over-long or control-character value is
    dropped (never forwarded to a supplier) instead of failing the tenant's cancellation."""
    orders(123)
    assert_created(api("POST", PATH, body=EXAMPLE, headers={"X-Scenario": "x" * 65, "X-Kci-Delay": "1\x07", "X-Problem-Code": "OK_CODE"}))
    (message,) = aws_view.messages()
    assert message["body"]["passThroughHeaders"] == {"X-Problem-Code": "OK_CODE"}


def test_one_record_and_one_message_per_accepted_cancellation(api, orders, aws_view):
    for order_id in (1, 2, 3):
        orders(order_id)
    ids = [assert_created(api("POST", PATH, body={**EXAMPLE, "orderId": order_id}))["id"] for order_id in (1, 2, 3)]
    assert sorted(item["id"] for item in aws_view.cancellation_items()) == sorted(ids)
    assert sorted(m["body"]["cancellationId"] for m in aws_view.messages()) == sorted(ids)
    assert sorted((m["body"]["cancellationId"], m["body"]["orderId"]) for m in aws_view.messages()) == sorted(
        zip(ids, (1, 2, 3), strict=True)
    )


def test_concurrent_creations_on_different_orders_get_distinct_ids(tenant_api, orders, create, aws_view):
    count = 20
    for order_id in range(1, count + 1):
        orders(order_id)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda i: create(f"parallel-{i}", orderId=i), range(1, count + 1)))
    ids = [answer.cancellationId for answer in answers]
    assert len(set(ids)) == count
    items = aws_view.cancellation_items()
    assert sorted(item["id"] for item in items) == sorted(ids)
    assert {item["id"]: item["orderId"] for item in items} == {a.cancellationId: a.body["orderId"] for a in answers}
    assert sorted(m["body"]["cancellationId"] for m in aws_view.messages()) == sorted(ids)


def test_two_containers_never_hand_out_the_same_id(tenant_api, orders, create, aws_view):
    """A second handler container (its own clients and id block) shares the table's counter."""
    other = tenant_api.Dependencies(tenant_api.deps.settings)
    for order_id in (1, 2, 3):
        orders(order_id)
    first = create("c1-a", orderId=1)
    second = other.create_cancellation(cancellation_request(orderId=2), RequestContext("TENANT1", "c2-a", "conv", {}))
    third = create("c1-b", orderId=3)
    ids = [first.cancellationId, second.cancellationId, third.cancellationId]
    assert len(set(ids)) == 3
    assert third.cancellationId == first.cancellationId + 1, "a container uses its own block"
    assert second.cancellationId > first.cancellationId + 1, "the other container reserved the next block"


# ---------------------------------------------------------------------------------------------- id allocation


@pytest.fixture
def counter_table(aws):
    return aws.tables["CancellationsTable"]


def new_allocator(table: str, block_size: int, log: AwsCallLog | None = None) -> BlockIdAllocator:
    client = boto3.client("dynamodb")  # one client per "container"
    if log is not None:
        log.watch(client)
    return BlockIdAllocator(client, table, block_size=block_size)


def take(allocator: BlockIdAllocator, how_many: int, threads: int) -> list[int]:
    start = threading.Barrier(threads)

    def worker(count: int) -> list[int]:
        start.wait()
        return [allocator.next_id() for _ in range(count)]

    share = [how_many // threads + (1 if i < how_many % threads else 0) for i in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [i for chunk in pool.map(worker, share) for i in chunk]


def assert_valid_unique_ids(ids: list[int], expected: int) -> None:
    assert len(ids) == expected
    assert len(set(ids)) == expected, "duplicate ids"
    assert all(type(i) is int and 1 <= i <= MAX_SAFE_INTEGER for i in ids)


def test_1000_ids_from_one_allocator_used_by_many_threads_are_unique(counter_table):
    allocator = new_allocator(counter_table, block_size=100)
    assert_valid_unique_ids(take(allocator, 1000, threads=8), 1000)


def test_1000_ids_from_several_containers_sharing_the_table_are_unique(counter_table):
    allocators = [new_allocator(counter_table, block_size=25) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        chunks = list(pool.map(lambda allocator: take(allocator, 250, threads=3), allocators))
    ids = [i for chunk in chunks for i in chunk]
    assert_valid_unique_ids(ids, 1000)
    assert max(ids) <= 1000, "blocks are contiguous: 40 blocks of 25 cover exactly 1..1000"


def test_tiny_blocks_still_give_unique_ids(counter_table):
    allocators = [new_allocator(counter_table, block_size=1) for _ in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        chunks = list(pool.map(lambda allocator: take(allocator, 60, threads=2), allocators))
    assert_valid_unique_ids([i for chunk in chunks for i in chunk], 180)


def test_ids_within_a_container_increase(counter_table):
    allocator = new_allocator(counter_table, block_size=7)
    ids = [allocator.next_id() for _ in range(30)]
    assert ids == sorted(ids) and ids[0] == 1


@pytest.mark.parametrize("block_size, count", [(100, 250), (7, 50), (1, 12), (50, 50)])
def test_counter_is_written_once_per_block(counter_table, aws_view, block_size, count):
    log = AwsCallLog()
    allocator = new_allocator(counter_table, block_size, log)
    ids = [allocator.next_id() for _ in range(count)]
    assert_valid_unique_ids(ids, count)
    assert log.operations() == ["UpdateItem"] * math.ceil(count / block_size)
    (counter,) = aws_view.counter_items()
    assert counter["pk"] == COUNTER_KEY and counter["lastAllocatedId"] == math.ceil(count / block_size) * block_size


def test_prefetch_reserves_the_next_block_in_the_background_once(counter_table):
    log = AwsCallLog()
    allocator = new_allocator(counter_table, 10, log)
    allocator.prefetch()
    allocator.prefetch()  # already under way: no second reservation
    assert allocator.next_id() == 1
    allocator.prefetch()  # the block has ids left: nothing to do
    assert [allocator.next_id() for _ in range(9)] == list(range(2, 11))
    assert log.operations() == ["UpdateItem"]
    assert [c.thread for c in log.calls][0].startswith("id-block")


def test_id_space_ends_at_2_53_minus_1(counter_table, aws_view):
    client = boto3.client("dynamodb")
    client.put_item(TableName=counter_table, Item={"pk": {"S": COUNTER_KEY}, "lastAllocatedId": {"N": str(MAX_SAFE_INTEGER - 10)}})
    allocator = BlockIdAllocator(client, counter_table, block_size=10)
    assert [allocator.next_id() for _ in range(10)] == list(range(MAX_SAFE_INTEGER - 9, MAX_SAFE_INTEGER + 1))
    with pytest.raises(IdSpaceExhausted):
        allocator.next_id()
    with pytest.raises(IdSpaceExhausted):
        allocator.next_id()  # stays refused: never an id beyond 2**53-1


def test_failed_block_reservation_does_not_lose_or_repeat_ids(counter_table):
    client = boto3.client("dynamodb")
    allocator = BlockIdAllocator(client, counter_table, block_size=5)
    fail_next(client, "UpdateItem", raises=ConnectionError("injected"))
    with pytest.raises(ConnectionError):
        allocator.next_id()
    assert [allocator.next_id() for _ in range(6)] == [1, 2, 3, 4, 5, 6]


def test_block_size_must_be_positive(counter_table):
    with pytest.raises(ValueError):
        BlockIdAllocator(boto3.client("dynamodb"), counter_table, block_size=0)
