"""Property (domain.md section 3): whatever order the KCIs arrive in and however often each arrives, the final
state equals the state reached by applying the same KCIs once each, in sequence order.

KCIs go through ``ApplyKci`` (the KCI processor's use case) in-process against moto. One moto world serves
the module; every example gets two fresh pairs of the template's tables (the reference, applied once each
in sequence order, and the shuffled one), so no state leaks between examples. Compared: each order's
snapshot (status, supplierStatus, lastSequenceNumber, entity, supplierOrderReference, openCancellationId),
its history (KCI ids), and each cancellation (status, who decided it, with which KCI, the error shown).

Generated KCI sets: one or two orders, each with 1-6 KCIs of distinct sequence numbers (1..9) drawn from
ACKNOWLEDGED, COMMITTED, UPDATE, DELAY, CANCELLED with and without serviceOrderCancellationId and
CANCELLATION_REJECTED (which must name the cancellation it answers; for an order without one it becomes an
UPDATE). The first order always has an open cancellation (received by the gateway or pending at the
supplier), the second may. A KCI only names its own order's cancellation (naming an unknown one is a retry
case, tested in test_kci_processor.py).

Cost: each example is ~100 moto calls (~0.8 CPU s), so 30 derandomized examples (the same ones on every
run, no example database) plus the explicit regression example; raise ``max_examples`` locally to search harder.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from dataclasses import dataclass

import boto3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fibre_cafe.clock import iso, utc_now
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.domain import supplier_answers
from fibre_cafe.logic.apply_kci import ApplyKci
from fibre_cafe.logic.create_cancellation import CreateCancellation, RequestContext
from fibre_cafe.logic.dispatch_cancellation import DispatchCancellation
from fibre_cafe.models.cancellation import ReasonCode, ServiceOrderCancellationRequest
from fibre_cafe.models.kci import KciEnvelope
from fibre_cafe.models.order import Order, OrderType
from local_stack.template import create_resources
from tests.lifecycle.conftest import AwsCallCounter, make_kci, moto_world, tables_only_template

KINDS = ("ACKNOWLEDGED", "COMMITTED", "UPDATE", "DELAY", "CANCELLED_NAMED", "CANCELLED_BY_SUPPLIER", "CANCELLATION_REJECTED")
STATUSES = ("ACKNOWLEDGED", "IN_PROGRESS", "HELD", "PENDING")
FIRST_ORDER = 100
FIRST_CANCELLATION = 5000


@dataclass(frozen=True)
class OrderSetup:
    order_id: int
    cancellation: str | None  # None, RECEIVED_BY_GATEWAY or PENDING

    @property
    def cancellation_id(self) -> int:
        return FIRST_CANCELLATION + self.order_id


def kci_body(order: OrderSetup, sequence_number: int, kind: str, status: str) -> dict:
    kci_id = str(uuid.UUID(int=order.order_id * 1_000_000 + sequence_number))
    extra = {"note": f"seq {sequence_number}"}  # so every snapshot's entity differs
    if kind.startswith("CANCELLED"):
        named = kind == "CANCELLED_NAMED" and order.cancellation is not None
        return make_kci(order.order_id, sequence_number, "CANCELLED", status="CANCELLED", kci_id=kci_id,
                        cancellation_id=order.cancellation_id if named else None, problem_code=f"P{sequence_number}", **extra)
    if kind == "CANCELLATION_REJECTED" and order.cancellation is not None:  # always names the cancellation it answers
        return make_kci(order.order_id, sequence_number, "CANCELLATION_REJECTED", status=status, kci_id=kci_id,
                        cancellation_id=order.cancellation_id, text=f"rejected at {sequence_number}", **extra)
    if kind == "CANCELLATION_REJECTED":
        kind = "UPDATE"
    return make_kci(order.order_id, sequence_number, kind, status=status, kci_id=kci_id, **extra)


@st.composite
def kci_sets(draw) -> tuple[list[OrderSetup], list[dict]]:
    orders: list[OrderSetup] = []
    kcis: list[dict] = []
    for index in range(draw(st.integers(1, 2))):
        choices = ["RECEIVED_BY_GATEWAY", "PENDING"] + ([] if index == 0 else [None])
        order = OrderSetup(FIRST_ORDER + index, draw(st.sampled_from(choices)))
        orders.append(order)
        for sequence_number in draw(st.lists(st.integers(1, 9), min_size=1, max_size=6, unique=True)):
            kcis.append(kci_body(order, sequence_number, draw(st.sampled_from(KINDS)), draw(st.sampled_from(STATUSES))))
    return orders, kcis


@st.composite
def scenarios(draw):
    orders, kcis = draw(kci_sets())
    duplicates = draw(st.lists(st.sampled_from(kcis), max_size=len(kcis)))
    arrival = kcis + duplicates
    # A uniformly random order (st.permutations starts near the identity, i.e. mostly in sequence order).
    draw(st.randoms(use_true_random=False)).shuffle(arrival)
    return orders, kcis, arrival


# --------------------------------------------------------------------------------------------- one world


SNAPSHOT_FIELDS = ("status", "supplierStatus", "lastSequenceNumber", "entity", "supplierOrderReference", "openCancellationId",
                   "lastCancellationId")
CANCELLATION_FIELDS = ("status", "decidedBy", "decidedBySequence", "decidedByKciId", "error")


class _FixedIds:
    """Id allocator stand-in: the id the test chose (no background block refill outliving a moto world)."""

    next = 0

    def prefetch(self) -> None:
        pass

    def next_id(self) -> int:
        return self.next


class _Outbox:
    """Supplier-requests queue stand-in (the tables-only worlds have no queues)."""

    def __init__(self):
        self.sent: list = []

    def send(self, message) -> str:
        self.sent.append(message)
        return "message-id"


class _Supplier202:
    """A supplier that accepts every cancellation for processing (202): the cancellation becomes PENDING."""

    def request_cancellation(self, _message):
        return supplier_answers.classify(202, "")


class World:
    def __init__(self, resources):
        client = boto3.client("dynamodb")
        self.cancellations = CancellationsTable(client, resources.tables["CancellationsTable"])
        self.orders = OrdersTable(client, resources.tables["OrdersTable"])
        self.store = GatewayStore(client, self.cancellations, self.orders)
        self.apply = ApplyKci(self.store)

    def seed(self, orders: list[OrderSetup]) -> None:
        """Orders as the rest of the gateway created them (no KCI yet), each cancelled by its tenant through the
        real use cases (CreateCancellation, then DispatchCancellation with a supplier answering 202 for PENDING),
        so the order carries exactly what production writes; only the queue, id allocator and HTTP are stand-ins."""
        create = CreateCancellation(self.store, ids=_FixedIds(), queue=_Outbox())
        dispatch = DispatchCancellation(self.store, supplier_api=_Supplier202())
        for setup in orders:
            self.orders.create(Order(id=setup.order_id, tenant="TENANT1", supplier="DUMMY_SUPPLIER", orderType=OrderType.PROVIDE,
                                     status="ACKNOWLEDGED", supplierStatus="ACKNOWLEDGED", supplierOrderReference="FC123",
                                     lastSequenceNumber=0, version=1))
            if setup.cancellation is None:
                continue
            create.ids.next = setup.cancellation_id
            request = ServiceOrderCancellationRequest(orderId=setup.order_id, reasonCode=ReasonCode.CUSTOMER_CHANGED_MIND)
            create(request, RequestContext(tenant="TENANT1", request_id=f"req-{setup.order_id}", conversation_id="conv",
                                           pass_through_headers={}))
            if setup.cancellation == "PENDING":
                dispatch(create.queue.sent.pop())
            assert self.cancellations.get(setup.cancellation_id).status.value == setup.cancellation

    def deliver(self, kci: dict) -> None:
        self.apply(KciEnvelope(supplier="DUMMY_SUPPLIER", receivedOn=iso(utc_now()), requestId=f"req-{kci['id']}", kci=kci))

    def state(self, orders: list[OrderSetup]) -> dict:
        """Everything the KCIs can change: each order's snapshot and history, its cancellation."""
        state: dict = {}
        for setup in orders:
            order = self.orders.get(setup.order_id).model_dump()
            state[f"order {setup.order_id}"] = {name: order[name] for name in SNAPSHOT_FIELDS}
            state[f"history {setup.order_id}"] = sorted(entry["kciId"] for entry in self.orders.history(setup.order_id))
            if setup.cancellation is not None:
                record = self.cancellations.get(setup.cancellation_id)
                cancellation = record.model_dump(mode="json", include=set(CANCELLATION_FIELDS))
                if record.error:  # its uuid is new each time: compare what the tenant reads
                    cancellation["error"] = (record.error.code.value, record.error.messages)
                state[f"cancellation {record.id}"] = cancellation
        return state


@pytest.fixture(scope="module")
def new_world():
    """``new_world()``: a World on a fresh pair of tables, all in one moto world for the module."""
    template = tables_only_template()
    counter = iter(range(1_000_000))
    with moto_world("unused", template=template):
        dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")

        def make() -> World:
            world = World(create_resources(dynamodb, sqs, prefix=f"w{next(counter)}", template=template))
            return world

        yield make


def in_sequence_order(world: "World", orders: list[OrderSetup], kcis: list[dict]) -> dict:
    world.seed(orders)
    for kci in sorted(kcis, key=lambda k: k["sequenceNumber"]):
        world.deliver(kci)
    return world.state(orders)


# --------------------------------------------------------------------------------------------- the properties


def _late_cancelled() -> tuple:
    """Regression: a late, lower CANCELLED used to mark the order CANCELLED over a newer IN_PROGRESS snapshot."""
    order = OrderSetup(FIRST_ORDER, "PENDING")
    newer = kci_body(order, 3, "UPDATE", "IN_PROGRESS")
    late = kci_body(order, 2, "CANCELLED_BY_SUPPLIER", "CANCELLED")
    return [order], [late, newer], [newer, late]


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@example(scenario=_late_cancelled())
@given(scenario=scenarios())
def test_any_arrival_order_with_duplicates_reaches_the_in_sequence_state(new_world, scenario):
    orders, kcis, arrival = scenario
    expected = in_sequence_order(new_world(), orders, kcis)

    world = new_world()
    world.seed(orders)
    for kci in arrival:
        world.deliver(kci)

    assert world.state(orders) == expected


def test_concurrent_workers_reach_the_in_sequence_state(new_world):
    """Several workers (threads, as concurrent Lambda invocations) apply a shuffled, duplicated KCI set at once."""
    rng = random.Random(20240410)
    for _round in range(2):
        orders = [OrderSetup(FIRST_ORDER, "PENDING"), OrderSetup(FIRST_ORDER + 1, "RECEIVED_BY_GATEWAY")]
        kcis = [kci_body(order, n, rng.choice(KINDS), rng.choice(STATUSES)) for order in orders for n in rng.sample(range(1, 10), 6)]
        expected = in_sequence_order(new_world(), orders, kcis)
        arrival = kcis + rng.sample(kcis, len(kcis) // 2)
        rng.shuffle(arrival)

        world = new_world()
        world.seed(orders)
        errors: list[BaseException] = []

        def work(share: list[dict]) -> None:
            try:
                for kci in share:
                    world.deliver(kci)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(arrival[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert world.state(orders) == expected


def test_throughput_of_apply_kci_in_process(new_world, record_property):
    """Records per second through ApplyKci against moto: 10 KCIs per order, shuffled, no cancellations.

    5 orders in the suite; ``KCI_BENCH_ORDERS=50`` measures the 500-KCI case. moto copies a whole table
    on every TransactWriteItems (to roll back a failed condition), so its cost per record grows with the
    table (every KCI adds a history item): the rate falls as the run goes on, which DynamoDB's does not.
    """
    rng = random.Random(7)
    orders = [OrderSetup(FIRST_ORDER + i, None) for i in range(int(os.environ.get("KCI_BENCH_ORDERS", "5")))]
    kcis = [kci_body(order, n, rng.choice(KINDS[:4]), rng.choice(STATUSES)) for order in orders for n in range(1, 11)]
    rng.shuffle(kcis)
    world = new_world()
    world.seed(orders)
    calls = AwsCallCounter(world.store.client)

    started, cpu_started = time.perf_counter(), time.process_time()
    for kci in kcis:
        world.deliver(kci)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    assert len(calls.take()) == 2 * len(kcis)  # GetItem + TransactWriteItems per record, no contention here
    assert all(world.orders.get(order.order_id).lastSequenceNumber == 10 for order in orders)
    rate, cpu_rate = len(kcis) / elapsed, len(kcis) / cpu
    record_property("apply_kci_records_per_second", round(rate, 1))
    record_property("apply_kci_records_per_cpu_second", round(cpu_rate, 1))
    print(f"\nApplyKci in-process against moto: {len(kcis)} KCIs across {len(orders)} orders in {elapsed:.2f} s "
          f"= {rate:.1f} records/s ({cpu_rate:.1f} per CPU second)")
