"""Concurrency through the local stack over HTTP (the front, its authorizer, the real handler, moto server).

- 50 concurrent identical POSTs (one X-Request-ID): one record, one queued message, 50 identical answers.
- LOAD_POSTS POSTs (300 in make test, 2,000 in make soak) at concurrency LOAD_CONCURRENCY (32) across
  distinct orders: no errors, every id unique, every cancellation stored and queued once.

The front runs one handler invocation at a time (local_stack/functions.py: one process-wide lock), as
one warm Lambda container would; concurrency here is the front's threads, moto's, and the id-block
refill beside the request. Pollers and schedules are off: what the POSTs stored and queued stays put.
"""

from __future__ import annotations

import json

import pytest

from bench.loadgen import run_load
from bench.local_stack_load import post_request, seed_orders, token
from local_stack.stack import LocalStack
from tests.reliability.sizes import size

pytestmark = pytest.mark.http

FIRST_ORDER = 300_000


@pytest.fixture(scope="module")
def stack():
    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False, seed=False) as running:
        yield running


@pytest.fixture(scope="module")
def bearer(stack) -> str:
    return token(stack.base_url)


def cancellation_items(stack) -> list[dict]:
    from fibre_cafe.dal.dynamodb_codec import from_item

    dynamodb = stack.client("dynamodb")
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=stack.resources.tables["CancellationsTable"], ConsistentRead=True):
        items.extend(from_item(item) for item in page["Items"] if item["pk"]["S"].startswith("CANCELLATION#"))
    return items


def queued_messages(stack) -> list[dict]:
    """Everything on the supplier-requests queue, taken off it (hidden for an hour, so each is seen once)."""
    sqs = stack.client("sqs")
    url = stack.resources.queue_urls["SupplierRequestsQueue"]
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=3600, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return messages
        messages.extend(json.loads(message["Body"]) for message in batch)


def test_50_concurrent_identical_posts_store_one_cancellation_and_queue_one_message(stack, bearer):
    order_id = FIRST_ORDER
    seed_orders(stack, range(order_id, order_id + 1))
    request = post_request(bearer, order_id, request_id="same-request-50")
    results, _elapsed = run_load(stack.base_url, [request] * 50, concurrency=50, timeout=120)

    assert [r.status for r in results] == [201] * 50, [(r.status, r.error, r.body[:200]) for r in results if r.status != 201][:3]
    bodies = {r.body for r in results}
    assert len(bodies) == 1, bodies
    answer = json.loads(bodies.pop())
    assert answer["orderId"] == order_id and answer["status"] == "RECEIVED_BY_GATEWAY"
    stored = [item for item in cancellation_items(stack) if item["orderId"] == order_id]
    assert [item["id"] for item in stored] == [answer["id"]]
    queued = [message for message in queued_messages(stack) if message["orderId"] == order_id]
    assert [message["cancellationId"] for message in queued] == [answer["id"]]


def test_many_posts_at_concurrency_32_all_succeed_with_unique_ids_each_stored_and_queued_once(stack, bearer):
    count, concurrency = size("LOAD_POSTS"), size("LOAD_CONCURRENCY")
    first = FIRST_ORDER + 1000
    seed_orders(stack, range(first, first + count))
    queued_messages(stack)  # whatever an earlier test left
    requests = [post_request(bearer, first + n) for n in range(count)]
    results, elapsed = run_load(stack.base_url, requests, concurrency=concurrency, timeout=120, deadline_seconds=1800)

    failures = [(r.status, r.error, r.body[:200]) for r in results if r.status != 201]
    assert not failures, f"{len(failures)} of {count} failed, e.g. {failures[:3]}"
    answers = [json.loads(r.body) for r in results]
    ids = [answer["id"] for answer in answers]
    assert len(set(ids)) == count, "duplicate ids"
    assert all(1 <= i <= 2**53 - 1 for i in ids)
    assert sorted(answer["orderId"] for answer in answers) == list(range(first, first + count))
    stored = {item["id"]: item for item in cancellation_items(stack) if first <= item["orderId"] < first + count}
    assert set(stored) == set(ids)
    assert all(stored[a["id"]]["orderId"] == a["orderId"] and stored[a["id"]]["status"] == "RECEIVED_BY_GATEWAY" for a in answers)
    queued = [message["cancellationId"] for message in queued_messages(stack) if first <= message["orderId"] < first + count]
    assert sorted(queued) == sorted(ids)
    print(f"{count} POSTs at concurrency {concurrency}: {elapsed:.1f} s, {count / elapsed:.1f}/s")
