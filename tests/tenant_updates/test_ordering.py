"""Per-order ordering of tenant KCIs on the FIFO queue (issue 7, item 3): with an order's first delivery failing, its
later KCIs wait and are delivered after it, in order, once the tenant recovers; other orders are not blocked.

Real FIFO messages through moto (MessageGroupId = tenant#order, as the relay sends them). moto's FIFO semantics
are close enough for what is asserted here - a group with a message in flight yields nothing more, a group whose
messages are all visible again yields them oldest first - and the assertions are about what the handler does with
each batch (delivered, or reported failed) and the order in which the tenant stub receives the KCIs. "Time
passes" is modelled by making the failed messages visible again.
"""

from __future__ import annotations

import json
import random

import pytest

from testing.events import failures, make_kci
from testing.lifecycle import TENANT

A, B, C = 101, 202, 303


def supplier_kcis(world, *order_sequences: tuple[int, int]) -> None:
    """Supplier KCIs applied in this order (one tenant KCI each), then relayed to the FIFO queue."""
    for order_id, sequence in order_sequences:
        status, body = world.post_kci(make_kci(order_id, sequence, "COMMITTED", status="IN_PROGRESS"))
        assert status == 204, body
        assert world.process_kcis() == {"batchItemFailures": []}
    _, result = world.relay()
    assert result == {"batchItemFailures": []}


def labels(event: dict) -> dict[str, tuple[int, int]]:
    """messageId -> (orderId, sequenceNumber) of each record of an SQS event."""
    found = {}
    for record in event["Records"]:
        body = json.loads(record["body"])
        assert record["attributes"]["MessageGroupId"] == f"{TENANT}#{body['orderId']}"
        found[record["messageId"]] = (body["orderId"], body["kci"]["sequenceNumber"])
    return found


def records_of(event: dict, wanted) -> dict:
    """The event restricted to the records whose (orderId, sequenceNumber) is ``wanted``."""
    by_id = labels(event)
    return {"Records": [record for record in event["Records"] if wanted(by_id[record["messageId"]])]}


def failed_labels(event: dict, result: dict) -> list[tuple[int, int]]:
    by_id = labels(event)
    return [by_id[message_id] for message_id in failures(result)]


def fail_once(world, which, status: int = 503) -> None:
    """The tenant answers ``status`` to the first KCI it receives for which ``which(body)`` holds, 204 otherwise."""
    done = []

    def answer(body):
        if which(body) and not done:
            done.append(body["sequenceNumber"])
            return status, 0.0
        return None

    world.tenant.answer_for = answer


def fail_first_delivery_of(world, order_id: int, status: int = 503) -> None:
    fail_once(world, lambda body: body["entity"]["id"] == order_id, status)


def test_a_failed_first_delivery_holds_back_its_orders_later_kcis_but_not_other_orders(world, tenant_stub):
    supplier_kcis(world, (A, 1), (B, 1), (A, 2), (B, 2), (A, 3))
    fail_first_delivery_of(world, A)

    event, result = world.deliver()

    assert sorted(labels(event).values()) == [(A, 1), (A, 2), (A, 3), (B, 1), (B, 2)], "one batch, both orders"
    assert failed_labels(event, result) == [(A, 1), (A, 2), (A, 3)], "A1 failed, so A2 and A3 fail unsent"
    assert tenant_stub.seen() == [(A, 1, 503), (B, 1, 204), (B, 2, 204)]
    assert world.statuses(A) == [(1, "PENDING", 1), (2, "PENDING", 0), (3, "PENDING", 0)]
    assert world.statuses(B) == [(1, "DELIVERED", 1), (2, "DELIVERED", 1)]

    # A1's backoff passes first, A2 and A3 are still in flight: the group yields nothing; B's new KCI is not blocked.
    supplier_kcis(world, (B, 3))
    world.make_visible(records_of(event, lambda label: label == (A, 1)), "TenantUpdatesQueue")
    second, result = world.deliver()
    assert list(labels(second).values()) == [(B, 3)] and result == {"batchItemFailures": []}

    # Then the rest of A's messages are visible again too, and the tenant has recovered.
    world.make_visible(records_of(event, lambda label: label in ((A, 2), (A, 3))), "TenantUpdatesQueue")
    third, result = world.deliver()

    assert list(labels(third).values()) == [(A, 1), (A, 2), (A, 3)] and result == {"batchItemFailures": []}
    assert tenant_stub.seen() == [(A, 1, 503), (B, 1, 204), (B, 2, 204), (B, 3, 204), (A, 1, 204), (A, 2, 204), (A, 3, 204)]
    assert [kci["sequenceNumber"] for kci in tenant_stub.accepted if kci["entity"]["id"] == A] == [1, 2, 3]
    assert world.statuses(A) == [(1, "DELIVERED", 2), (2, "DELIVERED", 1), (3, "DELIVERED", 1)]
    assert world.queued("TenantUpdatesQueue") == 0


def test_a_head_kci_given_up_on_no_longer_holds_back_the_rest(world, tenant_stub):
    """A KCI the tenant refuses (4xx) is FAILED for good: the order's next KCIs go on in the same batch, in order."""
    supplier_kcis(world, (A, 1), (A, 2), (A, 3))
    fail_first_delivery_of(world, A, status=400)

    event, result = world.deliver()

    assert result == {"batchItemFailures": []}
    assert tenant_stub.seen() == [(A, 1, 400), (A, 2, 204), (A, 3, 204)]
    assert world.statuses(A) == [(1, "FAILED", 1), (2, "DELIVERED", 1), (3, "DELIVERED", 1)]


def test_a_failure_in_the_middle_of_an_order_holds_back_only_what_follows_it(world, tenant_stub):
    supplier_kcis(world, (A, 1), (A, 2), (A, 3), (A, 4))
    fail_once(world, lambda body: body["sequenceNumber"] == 2)

    event, result = world.deliver()

    assert failed_labels(event, result) == [(A, 2), (A, 3), (A, 4)]
    assert tenant_stub.seen() == [(A, 1, 204), (A, 2, 503)]
    world.let_backoff_elapse(event, result)
    world.deliver_until_empty()
    assert tenant_stub.seen() == [(A, 1, 204), (A, 2, 503), (A, 2, 204), (A, 3, 204), (A, 4, 204)]


@pytest.mark.parametrize("seed", [1, 2])
def test_under_random_tenant_failures_each_order_is_received_in_order_exactly_once(world, tenant_stub, seed):
    """Three orders' KCIs interleaved on the queue, the tenant failing a third of the requests at random, the
    delivery polled until the queue is empty (attempts are not limited here). The tenant accepts each KCI once,
    each order's in sequence, and is never sent an order's KCI before the previous one was accepted."""
    world.delivery_env["MAX_DELIVERY_ATTEMPTS"] = "100"
    chance = random.Random(seed)
    tenant_stub.answer_for = lambda body: (chance.choice([503, 429, 500]), 0.0) if chance.random() < 0.35 else None
    supplier_kcis(world, *[(order_id, sequence) for sequence in range(1, 4) for order_id in (A, B, C)])
    supplier_kcis(world, (B, 4), (A, 4))

    rounds = world.deliver_until_empty(max_rounds=60)

    expected = {A: [1, 2, 3, 4], B: [1, 2, 3, 4], C: [1, 2, 3]}
    for order_id, sequences in expected.items():
        assert [kci["sequenceNumber"] for kci in tenant_stub.accepted if kci["entity"]["id"] == order_id] == sequences
        sent = [sequence for order, sequence, _ in tenant_stub.seen() if order == order_id]
        assert sent == sorted(sent), f"order {order_id}: sent out of order: {sent}"
        assert all(status == "DELIVERED" for _, status, _ in world.statuses(order_id))
    assert any(failures(result) for result in rounds), "the tenant did fail some requests"
    assert len({kci["id"] for kci in tenant_stub.accepted}) == len(tenant_stub.accepted) == 11
