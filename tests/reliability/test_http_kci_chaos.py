"""KCI chaos through the local stack: a seeded random stream of supplier KCIs, with duplicates and in random
order, across many orders, posted to POST /kcis over HTTP; the pollers apply them (KCI queue -> KCI processor).
Once drained, every order is in the state reached by applying its KCIs once each in sequence order.

The expected state is a pure fold of ``fibre_cafe.domain.kci_rules.plan_kci`` over each order's KCIs in
sequence order (no AWS); compared: the snapshot's status, supplierStatus, lastSequenceNumber and entity.
Sizes: CHAOS_ORDERS x CHAOS_KCIS_PER_ORDER KCIs, CHAOS_DUPLICATES of them sent again, seed CHAOS_SEED
(20 x 6 with 30% duplicates in make test; 80 x 10 in make soak; see conftest.py).
"""

from __future__ import annotations

import json
import random
import time
import uuid

import pytest

from bench.loadgen import Request, run_load
from bench.local_stack_load import token
from local_stack.stack import LocalStack
from tests.reliability.sizes import size

pytestmark = pytest.mark.http

FIRST_ORDER = 800_000
SUPPLIER = "DUMMY_SUPPLIER"
# (reasonCode, order status) a supplier may report while the order runs its course.
STEPS = [("ACKNOWLEDGED", "ACKNOWLEDGED"), ("COMMITTED", "IN_PROGRESS"), ("UPDATE", "IN_PROGRESS"), ("DELAY", "HELD"),
         ("RESUMED", "IN_PROGRESS"), ("UPDATE", "PENDING"), ("CANCELLED", "CANCELLED"), ("COMPLETED", "COMPLETED")]


def chaos_stream(rng: random.Random, orders: int, per_order: int, duplicates: float) -> tuple[dict[int, list[dict]], list[dict]]:
    """(each order's distinct KCIs in sequence order, the arrival stream: every KCI once plus duplicates, shuffled)."""
    by_order: dict[int, list[dict]] = {}
    for index in range(orders):
        order_id = FIRST_ORDER + index
        kcis = []
        for sequence in sorted(rng.sample(range(1, per_order * 3), per_order)):
            reason, status = rng.choice(STEPS)
            kci = {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "sequenceNumber": sequence,
                   "issuedOn": f"2024-04-10T09:{sequence % 60:02d}:39.144Z", "reasonCode": reason,
                   "provideServiceOrder": {"id": order_id, "tenant": "TENANT1", "supplierOrderReference": f"FC{order_id}",
                                           "status": status, "note": f"step {sequence}"}}
            if reason == "CANCELLED":
                kci["problemCode"] = "CUSTOMER_REQUESTED"
            kcis.append(kci)
        by_order[order_id] = kcis
    every = [kci for kcis in by_order.values() for kci in kcis]
    stream = every + [rng.choice(every) for _ in range(int(len(every) * duplicates))]
    rng.shuffle(stream)
    return by_order, stream


def in_order_state(kcis: list[dict]) -> dict:
    """The order after applying ``kcis`` once each in sequence order (the KCI rules, no AWS)."""
    from fibre_cafe.domain.kci_rules import plan_kci
    from fibre_cafe.ids import new_id
    from fibre_cafe.models.kci import SupplierKci

    order = None
    for kci in sorted(kcis, key=lambda k: k["sequenceNumber"]):
        order = plan_kci(SupplierKci.model_validate(kci), SUPPLIER, order, new_id).order_after
    assert order is not None
    return {"status": order.status, "supplierStatus": order.supplierStatus, "lastSequenceNumber": order.lastSequenceNumber,
            "entity": order.entity}


def stored_state(orders_table, order_id: int) -> dict | None:
    order = orders_table.get(order_id)
    if order is None:
        return None
    return {"status": order.status, "supplierStatus": order.supplierStatus, "lastSequenceNumber": order.lastSequenceNumber,
            "entity": order.entity}


def queue_depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                        "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_kcis_with_duplicates_in_random_order_end_in_the_in_sequence_state(tmp_path):
    from fibre_cafe.dal.orders_table import OrdersTable

    rng = random.Random(size("CHAOS_SEED"))
    by_order, stream = chaos_stream(rng, size("CHAOS_ORDERS"), size("CHAOS_KCIS_PER_ORDER"), size("CHAOS_DUPLICATES"))
    # Short visibility: a KCI that lost a race (the order changed under it) is retried in seconds, not minutes.
    with LocalStack(port=0, moto_port=0, run_schedules=False, seed=False, visibility_timeout=5) as stack:
        bearer = token(stack.base_url, SUPPLIER, "supplier")
        requests = [Request("POST", "/kcis", {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json",
                                              "X-Request-ID": f"chaos-{n}", "X-Conversation-ID": "chaos"}, json.dumps(kci).encode())
                    for n, kci in enumerate(stream)]
        results, _ = run_load(stack.base_url, requests, concurrency=8, timeout=60)
        refused = [(r.status, r.body[:200]) for r in results if r.status != 204]
        assert not refused, refused[:3]

        orders = OrdersTable(stack.client("dynamodb"), stack.resources.tables["OrdersTable"])
        sqs = stack.client("sqs")
        expected = {order_id: in_order_state(kcis) for order_id, kcis in by_order.items()}
        deadline = time.monotonic() + 60 + len(stream) * 0.5
        while True:
            drained = queue_depth(sqs, stack.resources.queue_urls["KciQueue"]) == 0
            actual = {order_id: stored_state(orders, order_id) for order_id in expected}
            if drained and actual == expected:
                break
            if time.monotonic() > deadline:
                wrong = {
                    order_id: (actual[order_id], expected[order_id]) for order_id in expected if actual[order_id] != expected[order_id]
                }
                pytest.fail(f"{len(wrong)} of {len(expected)} orders not in the in-sequence state (queue drained: {drained}); "
                            f"e.g. {list(wrong.items())[:2]}")
            time.sleep(1)
        assert queue_depth(sqs, stack.resources.queue_urls["KciDeadLetterQueue"]) == 0
        histories = {order_id: sorted(entry["kciId"] for entry in orders.history(order_id)) for order_id in expected}
        assert histories == {order_id: sorted(k["id"] for k in kcis) for order_id, kcis in by_order.items()}, "each KCI kept once"
