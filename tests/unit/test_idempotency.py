"""Idempotency on (tenant, X-Request-ID), and what the POST path costs in AWS calls.

A retry with the same X-Request-ID and body gets the identical answer and creates nothing; the same
X-Request-ID with another body is 422 INVALID_REQUEST; another tenant's X-Request-ID is another
request. Concurrency goes through the use case from threads (the Powertools resolver is not
re-entrant; Lambda never runs two events in one process at once).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from fibre_cafe.clock import utc_now
from fibre_cafe.domain.errors import InvalidRequest
from fibre_cafe.models.cancellation import CancellationStatus
from testing.recorders import AwsCallLog
from tests.unit.tenant_api_checks import assert_created, assert_error
from tests.unit.tenant_api_harness import handler_clients

PATH = "/service-order-cancellations"
EXAMPLE = {"supplier": "DUMMY_SUPPLIER", "orderId": 123, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}
SAME = {"X-Request-ID": "retry-me", "X-Conversation-ID": "conv-1"}


def assert_one_cancellation(aws_view, cancellation_id: int) -> None:
    assert [item["id"] for item in aws_view.cancellation_items()] == [cancellation_id]
    assert [m["body"]["cancellationId"] for m in aws_view.messages()] == [cancellation_id]
    assert len(aws_view.request_items()) == 1


# ---------------------------------------------------------------------------------------------- sequential replays


def test_sequential_replay_gets_the_identical_answer_and_creates_nothing(api, orders, aws_view):
    orders(123)
    first = api("POST", PATH, body=EXAMPLE, headers=SAME)
    second = api("POST", PATH, body=EXAMPLE, headers=SAME)
    third = api("POST", PATH, body=EXAMPLE, headers=SAME)
    created = assert_created(first)
    assert second[:2] == first[:2] and third[:2] == first[:2]
    assert_one_cancellation(aws_view, created["id"])
    assert aws_view.order_item(123)["version"] == 2, "the order was written once"


@pytest.mark.parametrize(
    "raw",
    [
        '{"text": "Delivery too long", "reasonCode": "CUSTOMER_CHANGED_MIND", "orderId": 123, "supplier": "DUMMY_SUPPLIER"}',
        '{ "supplier" : "DUMMY_SUPPLIER" ,\n "orderId" : 123 , "reasonCode":"CUSTOMER_CHANGED_MIND","text":"Delivery too long" }',
        '{"supplier": "DUMMY_SUPPLIER", "orderId": 123, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}',
    ],
    ids=["key-order", "whitespace", "same-bytes"],
)
def test_replay_compares_the_request_not_its_formatting(api, orders, aws_view, raw):
    """Decision: a retry is the same request if it parses to the same values (key order, spacing)."""
    orders(123)
    first = api("POST", PATH, body=EXAMPLE, headers=SAME)
    again = api("POST", PATH, raw_body=raw, headers=SAME)
    assert again[:2] == first[:2]
    assert_one_cancellation(aws_view, first[1]["id"])


def test_null_optional_field_is_the_same_request_as_an_absent_one(api, orders, aws_view):
    orders(123)
    first = api("POST", PATH, body={"orderId": 123, "reasonCode": "OTHER"}, headers=SAME)
    again = api("POST", PATH, body={"orderId": 123, "reasonCode": "OTHER", "supplier": None, "text": None}, headers=SAME)
    assert again[:2] == first[:2]
    assert_one_cancellation(aws_view, first[1]["id"])


def test_replay_with_another_conversation_id_is_still_the_same_request(api, orders, aws_view):
    """X-Conversation-ID traces a journey; it is not part of what the tenant asks for."""
    orders(123)
    first = api("POST", PATH, body=EXAMPLE, headers=SAME)
    again = api("POST", PATH, body=EXAMPLE, headers={**SAME, "X-Conversation-ID": "conv-2"})
    assert again[:2] == first[:2]
    assert_one_cancellation(aws_view, first[1]["id"])


def test_replay_returns_the_original_answer_after_the_cancellation_moved_on(api, orders, tenant_api):
    """Decision: a replay repeats the answer the request got (201 RECEIVED_BY_GATEWAY); GET shows the current state."""
    orders(123)
    first = api("POST", PATH, body=EXAMPLE, headers=SAME)
    table = tenant_api.deps.cancellations
    record = table.get(first[1]["id"])
    table.replace(record.model_copy(update={"status": CancellationStatus.PENDING}), expected_version=record.version)
    assert api("POST", PATH, body=EXAMPLE, headers=SAME)[:2] == first[:2]
    assert api("GET", f"{PATH}/{first[1]['id']}")[1]["status"] == "PENDING"


@pytest.mark.parametrize(
    "changes",
    [{"reasonCode": "OTHER"}, {"text": "Changed my mind"}, {"text": None}, {"orderId": 124}],
    ids=["reason", "text", "text-removed", "order"],
)
def test_same_request_id_with_a_different_body_is_422_invalid_request(api, orders, aws_view, changes):
    orders(123)
    orders(124)
    first = assert_created(api("POST", PATH, body=EXAMPLE, headers=SAME))
    body = {key: value for key, value in {**EXAMPLE, **changes}.items() if value is not None}
    messages = assert_error(api("POST", PATH, body=body, headers=SAME), 422, "INVALID_REQUEST")
    assert any("X-Request-ID" in message for message in messages), messages
    assert_one_cancellation(aws_view, first["id"])
    assert aws_view.order_item(124)["status"] == "ACKNOWLEDGED"


def test_same_request_id_from_another_tenant_is_another_request(api, orders, aws_view):
    orders(1, tenant="TENANT1")
    orders(2, tenant="TENANT2")
    one = assert_created(api("POST", PATH, body={**EXAMPLE, "orderId": 1}, headers=SAME, client="TENANT1"))
    two = assert_created(api("POST", PATH, body={**EXAMPLE, "orderId": 2}, headers=SAME, client="TENANT2"))
    assert one["id"] != two["id"]
    assert sorted(item["id"] for item in aws_view.cancellation_items()) == sorted([one["id"], two["id"]])
    assert len(aws_view.messages()) == 2


def test_another_tenant_reusing_a_request_id_and_body_does_not_get_the_stored_answer(api, orders, aws_view):
    """TENANT2 replaying TENANT1's exact request learns nothing: NOT_FOUND, as for any unknown order."""
    orders(123, tenant="TENANT1")
    created = assert_created(api("POST", PATH, body=EXAMPLE, headers=SAME, client="TENANT1"))
    assert_error(api("POST", PATH, body=EXAMPLE, headers=SAME, client="TENANT2"), 422, "NOT_FOUND")
    assert_one_cancellation(aws_view, created["id"])


def test_a_refused_request_is_evaluated_again_on_retry(api, orders, aws_view):
    """Only accepted answers are kept: a 422 wrote nothing, so the retry (after the order became known) is accepted."""
    assert_error(api("POST", PATH, body=EXAMPLE, headers=SAME), 422, "NOT_FOUND")
    orders(123)
    created = assert_created(api("POST", PATH, body=EXAMPLE, headers=SAME))
    assert_one_cancellation(aws_view, created["id"])


def test_a_request_id_is_free_again_once_its_record_expired(tenant_api, orders, create, aws_view):
    """After the retention window (TTL not yet swept by DynamoDB), the X-Request-ID names a new request."""
    orders(1)
    orders(2)
    first = create("reused", orderId=1)
    tenant_api.deps.create_cancellation.clock = lambda: utc_now() + timedelta(days=8)
    second = create("reused", orderId=2, reasonCode="OTHER")
    assert second.cancellationId != first.cancellationId
    (item,) = aws_view.request_items()
    assert item["cancellationId"] == second.cancellationId
    assert len(aws_view.cancellation_items()) == 2


# ---------------------------------------------------------------------------------------------- concurrent replays


def race(count: int, action) -> list:
    """Run ``action(index)`` in ``count`` threads released together; return results or exceptions."""
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = action(index)
        except Exception as exc:  # noqa: BLE001 - asserted by the caller
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def test_concurrent_replays_create_one_record_and_one_message_and_agree(tenant_api, orders, create, aws_view):
    orders(123)
    outcomes = race(20, lambda _i: create("same-request"))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    answers = {o.model_dump_json() for o in outcomes}
    assert len(answers) == 1, "every caller got the identical answer"
    assert outcomes[0].statusCode == 201
    assert_one_cancellation(aws_view, outcomes[0].cancellationId)


def test_concurrent_replays_that_all_read_before_anyone_writes_wait_for_the_winner(tenant_api, orders, create, aws_view, faults):
    """The worst interleaving: all 20 read 'no record' first, then all try to write. Losers answer the winner's
    201 (they re-read it), never an error."""
    orders(123)
    everyone_read = threading.Barrier(20)
    faults.before("BatchGetItem", lambda: everyone_read.wait(10), times=20)
    outcomes = race(20, lambda _i: create("same-request"))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len({o.model_dump_json() for o in outcomes}) == 1
    assert_one_cancellation(aws_view, outcomes[0].cancellationId)
    assert faults.injected["BatchGetItem"] == 20


def test_concurrent_reuse_of_a_request_id_with_different_bodies(tenant_api, orders, create, aws_view):
    """One body wins; every other body is told the X-Request-ID was already used (422), not a 5xx."""
    codes = ["CUSTOMER_CHANGED_MIND", "INSTALL_FAILED", "NETWORK_ISSUE", "NO_LONGER_REQUIRED", "OTHER"] * 2
    orders(123)
    outcomes = race(len(codes), lambda i: create("shared-id", reasonCode=codes[i], text=f"variant {i}"))
    accepted = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(accepted) == 1
    assert all(isinstance(exc, InvalidRequest) and "X-Request-ID" in str(exc) for exc in refused), refused
    assert_one_cancellation(aws_view, accepted[0].cancellationId)


# ---------------------------------------------------------------------------------------------- cost in AWS calls


def main_thread_calls(aws_calls) -> list[str]:
    return [f"{c.service}:{c.operation}" for c in aws_calls.calls if not c.thread.startswith("id-block")]


def test_replay_costs_exactly_one_dynamodb_call(api, orders, aws_calls):
    orders(123)
    assert_created(api("POST", PATH, body=EXAMPLE, headers=SAME))
    aws_calls.clear()
    assert api("POST", PATH, body=EXAMPLE, headers=SAME)[0] == 201
    assert [f"{c.service}:{c.operation}" for c in aws_calls.calls] == ["dynamodb:BatchGetItem"]


def test_refused_reuse_costs_exactly_one_dynamodb_call(api, orders, aws_calls):
    orders(123)
    assert_created(api("POST", PATH, body=EXAMPLE, headers=SAME))
    aws_calls.clear()
    assert_error(api("POST", PATH, body={**EXAMPLE, "reasonCode": "OTHER"}, headers=SAME), 422, "INVALID_REQUEST")
    assert [f"{c.service}:{c.operation}" for c in aws_calls.calls] == ["dynamodb:BatchGetItem"]


def test_replay_on_a_cold_container_costs_one_sequential_call(tenant_api, api, orders, monkeypatch):
    """A new container's first request may also reserve its id block, but in the background, off the request's path."""
    orders(123)
    assert_created(api("POST", PATH, body=EXAMPLE, headers=SAME))
    tenant_api.deps.reset()  # a cold container
    log = AwsCallLog()
    for client in handler_clients(tenant_api):
        log.watch(client)
    assert api("POST", PATH, body=EXAMPLE, headers=SAME)[0] == 201
    assert tenant_api.deps.ids.settle(5) is None
    assert main_thread_calls(log) == ["dynamodb:BatchGetItem"]
    assert all(c.thread.startswith("id-block") for c in log.calls if c.operation == "UpdateItem")


def test_first_post_costs_three_sequential_calls_with_the_id_block_in_parallel(api, orders, aws_calls, faults, tenant_api):
    """BatchGetItem -> TransactWriteItems -> SendMessage on the request's thread; the id block's UpdateItem runs
    on a background thread while the read is in flight. The read is held until the block is reserved: were the
    reservation sequential (after the read, on the request's thread), the read would wait in vain and fail the test."""
    orders(123)
    aws_calls.clear()
    reserved = threading.Event()
    tenant_api.deps.orders.client.meta.events.register("after-call.dynamodb.UpdateItem", lambda **_kwargs: reserved.set())
    faults.before("BatchGetItem", lambda: reserved.wait(5), times=1)
    assert_created(api("POST", PATH, body=EXAMPLE))
    assert reserved.is_set()
    assert main_thread_calls(aws_calls) == ["dynamodb:BatchGetItem", "dynamodb:TransactWriteItems", "sqs:SendMessage"]
    (block,) = [c for c in aws_calls.calls if c.operation == "UpdateItem"]
    (read,) = [c for c in aws_calls.calls if c.operation == "BatchGetItem"]
    assert block.thread.startswith("id-block")
    assert block.started < read.finished and block.finished < read.finished, "the id block was reserved while the read was in flight"


def test_warm_post_costs_exactly_three_calls(api, orders, aws_calls):
    orders(1)
    orders(2)
    assert_created(api("POST", PATH, body={**EXAMPLE, "orderId": 1}))
    aws_calls.clear()
    assert_created(api("POST", PATH, body={**EXAMPLE, "orderId": 2}))
    assert [f"{c.service}:{c.operation}" for c in aws_calls.calls] == [
        "dynamodb:BatchGetItem", "dynamodb:TransactWriteItems", "sqs:SendMessage"]


def test_refused_post_costs_one_call_and_writes_nothing(api, orders, aws_calls, aws_view):
    orders(123, status="COMPLETED")
    aws_calls.clear()
    assert_error(api("POST", PATH, body=EXAMPLE), 422, "INVALID_REQUEST")
    assert main_thread_calls(aws_calls) == ["dynamodb:BatchGetItem"]
    assert aws_view.cancellation_items() == [] and aws_view.request_items() == []
