"""What operators see of tenant KCI delivery (issue 7, item 3: "delivery status of every tenant KCI recorded (PENDING,
DELIVERED, FAILED) and visible to operators"): ``TenantKciOutbox.list(order_id)``, one row per tenant KCI of the
order in sequence order, with its deliveryStatus, deliveryAttempts and the outcome of the last attempt.

Decision: ``lastHttpStatus`` and ``lastDetail`` describe the *last* attempt only. After a 503 then a timeout the
row shows no HTTP status and "timeout", not the 503 of the attempt before; a delivered row shows the 2xx and no
leftover failure detail. That is what an on-call engineer reading one row needs.
"""

from __future__ import annotations

from testing.events import make_kci
from testing.lifecycle import MAX_DELIVERY_ATTEMPTS, SLOW_SECONDS

A, B = 101, 202


def supplier_kcis(world, *order_sequences: tuple[int, int]) -> None:
    for order_id, sequence in order_sequences:
        status, body = world.post_kci(make_kci(order_id, sequence, "COMMITTED", status="IN_PROGRESS"))
        assert status == 204, body
        assert world.process_kcis() == {"batchItemFailures": []}
    world.relay()


def rows(world, order_id: int) -> list[dict]:
    """The operator's view, reduced to the delivery fields."""
    keys = ("deliveryStatus", "deliveryAttempts", "lastHttpStatus", "lastDetail")
    return [{key: row[key] for key in keys if key in row} for row in world.outbox.list(order_id)]


def test_every_tenant_kci_shows_its_delivery_status_attempts_and_last_http_status(world, tenant_stub):
    supplier_kcis(world, (A, 1), (A, 2), (A, 3), (B, 1))
    listed = world.outbox.list(A)
    assert [row["kci"]["sequenceNumber"] for row in listed] == [1, 2, 3], "the order's own tenant KCIs, in sequence order"
    assert {row["orderId"] for row in listed} == {A} and all(row["tenant"] == "TENANT1" for row in listed)
    assert all(row["createdAt"] for row in listed)
    assert rows(world, A) == [{"deliveryStatus": "PENDING", "deliveryAttempts": 0}] * 3
    tenant_stub.answer_for = lambda body: {(A, 2): (400, 0.0), (A, 3): (503, 0.0)}.get((body["entity"]["id"], body["sequenceNumber"]))

    event, result = world.deliver()

    assert rows(world, A) == [
        {"deliveryStatus": "DELIVERED", "deliveryAttempts": 1, "lastHttpStatus": 204},
        {"deliveryStatus": "FAILED", "deliveryAttempts": 1, "lastHttpStatus": 400, "lastDetail": "HTTP 400"},
        {"deliveryStatus": "PENDING", "deliveryAttempts": 1, "lastHttpStatus": 503, "lastDetail": "HTTP 503"},
    ]
    listed = world.outbox.list(A)
    assert [("deliveredOn" in row) for row in listed] == [True, False, False]
    assert all(row["lastAttemptAt"] >= row["createdAt"] for row in listed)
    assert rows(world, B) == [{"deliveryStatus": "DELIVERED", "deliveryAttempts": 1, "lastHttpStatus": 204}]

    world.let_backoff_elapse(event, result)
    world.deliver_until_empty()

    assert rows(world, A)[2] == {"deliveryStatus": "FAILED", "deliveryAttempts": MAX_DELIVERY_ATTEMPTS, "lastHttpStatus": 503,
                                 "lastDetail": "HTTP 503"}
    assert [row["deliveryStatus"] for row in world.outbox.list(A)] == ["DELIVERED", "FAILED", "FAILED"]


def test_a_row_describes_the_last_attempt_not_an_earlier_one(world, tenant_stub):
    supplier_kcis(world, (A, 1))
    tenant_stub.answers.extend([(503, 0.0), (204, SLOW_SECONDS)])

    event, result = world.deliver()
    assert rows(world, A) == [{"deliveryStatus": "PENDING", "deliveryAttempts": 1, "lastHttpStatus": 503, "lastDetail": "HTTP 503"}]
    world.let_backoff_elapse(event, result)
    world.impatient()
    event, result = world.deliver()
    world.impatient(False)
    assert rows(world, A) == [{"deliveryStatus": "PENDING", "deliveryAttempts": 2, "lastDetail": "timeout"}]
    world.let_backoff_elapse(event, result)
    world.deliver()

    assert rows(world, A) == [{"deliveryStatus": "DELIVERED", "deliveryAttempts": 3, "lastHttpStatus": 204}]
    [row] = world.outbox.list(A)
    assert row["deliveredOn"] == tenant_stub.requests[-1]["body"]["deliveredOn"]
