"""AWS round trips on the POST path and per KCI record, counted from botocore's before-call events.

The real handlers run in-process against moto. A call made on the handler's own thread is sequential
(the request waits for it); the id-block refill runs on a background thread beside the first read
(id_allocator.py), so it is listed as parallel. Cases:

- POST, first request of a fresh container (its id block is reserved in parallel);
- POST, a later first request (the block has ids left);
- POST, a replay of the same X-Request-ID and body;
- KCI record: a new KCI (first for its order, and a later one), and a duplicate.

    python -m bench.round_trips
"""

from __future__ import annotations

import json
import sys
import threading

from bench.common import main_of, table, verdict
from bench.moto_world import CallLog, load_handler, moto_world
from testing.events import EXAMPLE_REQUEST as BODY
from testing.events import kci_envelope, make_kci, sqs_event_from_bodies
from testing.lambda_context import lambda_context
from testing.recorders import summarise

POST_TARGET = 3
KCI_TARGET = 2


def post_event(request_id: str, order_id: int) -> dict:
    from local_stack.proxy_events import claims_for, proxy_event

    return proxy_event("POST", "/service-order-cancellations", resource="/service-order-cancellations", claims=claims_for("TENANT1"),
                       headers={"Content-Type": "application/json", "X-Request-ID": request_id, "X-Conversation-ID": "bench"},
                       body=json.dumps({**BODY, "orderId": order_id}))


def kci_event(kcis: list[dict]) -> dict:
    return sqs_event_from_bodies([kci_envelope(kci, conversation_id="bench") for kci in kcis], "KciQueue")


def kci(order_id: int, sequence_number: int, reason: str = "ACKNOWLEDGED", status: str = "ACKNOWLEDGED") -> dict:
    return make_kci(order_id, sequence_number, reason, status=status, supplier_order_reference=f"FC{order_id}")


def register_order(orders, order_id: int) -> None:
    from fibre_cafe.models.order import Order, OrderType

    orders.create(Order(id=order_id, tenant="TENANT1", supplier="DUMMY_SUPPLIER", orderType=OrderType.PROVIDE, status="ACKNOWLEDGED",
                        supplierStatus="ACKNOWLEDGED", supplierOrderReference="FC123", lastSequenceNumber=1, version=1))


def measure() -> dict:
    results: dict[str, dict] = {}
    caller = threading.current_thread().name
    with moto_world() as resources:
        api = load_handler("TenantApiFunction", resources)
        log = CallLog().watch(api.deps.orders.client).watch(api.deps.create_cancellation.queue.client)
        for order_id in (123, 124):
            register_order(api.deps.orders, order_id)
        log.take()
        cases = [("POST first request, fresh container", "req-1", 123, 201),
                 ("POST replay (same X-Request-ID and body)", "req-1", 123, 201),
                 ("POST first request, id block in hand", "req-2", 124, 201)]
        answers = {}
        for name, request_id, order_id, expected in cases:
            answer = api.lambda_handler(post_event(request_id, order_id), lambda_context("bench"))
            assert answer["statusCode"] == expected, answer
            api.deps.ids.settle()  # let a background refill finish before counting
            results[name] = {**summarise(log.take_calls(), caller), "target": POST_TARGET}
            answers.setdefault(request_id, []).append(answer["body"])
        assert answers["req-1"][0] == answers["req-1"][1], "the replay answered differently"

        processor = load_handler("KciProcessorFunction", resources)
        log = CallLog().watch(processor.deps.apply_kci.store.client)
        first = kci(500, 1)
        later = kci(500, 2, "COMMITTED", "IN_PROGRESS")
        for name, batch in [("KCI record, new order", [first]), ("KCI record, known order", [later]), ("KCI record, duplicate", [later])]:
            result = processor.lambda_handler(kci_event(batch), lambda_context("bench"))
            assert not result.get("batchItemFailures"), result
            results[name] = {**summarise(log.take_calls(), caller), "target": KCI_TARGET}
        # A batch of 10 new KCIs for 10 orders: calls per record.
        batch = [kci(600 + i, 1) for i in range(10)]
        result = processor.lambda_handler(kci_event(batch), lambda_context("bench"))
        assert not result.get("batchItemFailures"), result
        summary = summarise(log.take_calls(), caller)
        results["KCI batch of 10 new records (per record)"] = {**summary, "sequential": summary["sequential"] / 10, "target": KCI_TARGET}
    return {"cases": results, "met": all(case["sequential"] <= case["target"] for case in results.values())}


def render(result: dict) -> str:
    rows = []
    for name, case in result["cases"].items():
        calls = ", ".join(case["sequential_calls"]) if len(case["sequential_calls"]) <= 4 else f"{len(case['sequential_calls'])} calls"
        rows.append([name, case["sequential"], calls, ", ".join(case["parallel_calls"]) or "-", f"<= {case['target']}",
                     verdict(case["sequential"], case["target"])])
    return ("AWS round trips (botocore before-call events; in-process against moto)\n"
            + table(rows, ["case", "sequential", "calls", "in parallel", "target", ""]))


def main(argv: list[str] | None = None) -> int:
    return main_of(__doc__, measure, render, argv)


if __name__ == "__main__":
    sys.exit(main())
