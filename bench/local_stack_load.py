"""The local stack under load: POST /service-order-cancellations over HTTP at concurrency 1, 8 and 32, and as the tables grow.

A ``LocalStack`` (moto server, HTTP front, real handlers in their worker processes; pollers and schedules
off, so only the API works) is started in this process on free ports, exactly as ``make run`` starts it:
the same moto fixes (local_stack/moto_patches.py: item-level transaction backups, atomic DynamoDB
requests) and the same per-function concurrency (local_stack/functions.py; ``--concurrency`` sets the
Tenant API's, default the stack's). Its floor is the same front's static ``GET /auth/.well-known/jwks.json``
(no token check, no handler, no AWS), run at the same concurrency just before each POST level. Each POST
cancels a different order (seeded with OrdersTable.create), so every one is a first request: 201, three
AWS calls to moto. "ms in moto/POST" is the time moto's server spent on the POSTs' requests (measured
in moto's WSGI app, this process).

Growth: POST p50 at concurrency 1 after 100, 1,000 and 5,000 stored cancellations (``--growth``), the
stored ones made by POSTs at concurrency 8 in between; the last should be within 1.5x of the first. The supplier-
requests queue is emptied before each measurement, as the dispatcher empties it in ``make run`` (``drain_supplier_requests``).
``--moto-as-is`` runs moto without the fixes (whole-table deep copies per TransactWriteItems), to show
what they are worth. Bounded: ``--requests`` per level (default 300), every request with a timeout.

    python -m bench.local_stack_load [--requests 300] [--levels 1 8 32] [--growth 100 1000 5000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import percentile, ratio, table
from bench.loadgen import Request, Result, run_load

TOKEN_PATH = "/auth/tenant/access-token"
JWKS_PATH = "/auth/.well-known/jwks.json"
FIRST_ORDER = 700_000


def token(base_url: str, client_id: str = "TENANT1", kind: str = "tenant") -> str:
    import requests

    from local_stack.tokens import DEV_CLIENT_SECRET

    answer = requests.post(f"{base_url}/auth/{kind}/access-token", timeout=30,
                           data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": DEV_CLIENT_SECRET})
    answer.raise_for_status()
    return answer.json()["access_token"]


def seed_orders(stack, order_ids: range, tenant: str = "TENANT1", supplier: str = "DUMMY_SUPPLIER") -> None:
    from fibre_cafe.dal.orders_table import OrdersTable
    from fibre_cafe.models.order import Order, OrderType

    orders = OrdersTable(stack.client("dynamodb"), stack.resources.tables["OrdersTable"])
    for order_id in order_ids:
        orders.create(Order(id=order_id, tenant=tenant, supplier=supplier, orderType=OrderType.PROVIDE, status="ACKNOWLEDGED",
                            supplierStatus="ACKNOWLEDGED", supplierOrderReference=f"FC{order_id}", lastSequenceNumber=1, version=1))


def post_request(bearer: str, order_id: int, request_id: str | None = None) -> Request:
    body = {"supplier": "DUMMY_SUPPLIER", "orderId": order_id, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}
    return Request("POST", "/service-order-cancellations",
                   {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json",
                    "X-Request-ID": request_id or f"load-{uuid.uuid4()}", "X-Conversation-ID": "load"},
                   json.dumps(body).encode())


def summary(results: list[Result], elapsed: float, expected: int) -> dict:
    latencies = [r.seconds for r in results if r.status == expected]
    errors = [r for r in results if r.status != expected]
    return {
        "requests": len(results),
        "errors": len(errors),
        "error_statuses": sorted({r.status for r in errors}),
        "p50_ms": percentile(latencies, 0.50) * 1000 if latencies else None,
        "p95_ms": percentile(latencies, 0.95) * 1000 if latencies else None,
        "p99_ms": percentile(latencies, 0.99) * 1000 if latencies else None,
        "throughput_rps": len(latencies) / elapsed if elapsed else None,
        "elapsed_s": elapsed,
        "first_errors": [f"{r.status} {r.error or r.body[:200].decode(errors='replace')}" for r in errors[:3]],
    }


class MotoTime:
    """Requests moto's server answered, and the time it spent on them (wraps moto's WSGI app in this process)."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.calls: list[float] = []

    def __enter__(self) -> MotoTime:
        import time

        from moto.server import DomainDispatcherApplication

        self._original = DomainDispatcherApplication.__call__
        original, calls, lock = self._original, self.calls, self.lock

        def timed(app, environ, start_response):
            started = time.perf_counter()
            try:
                return original(app, environ, start_response)
            finally:
                with lock:
                    calls.append(time.perf_counter() - started)

        DomainDispatcherApplication.__call__ = timed
        return self

    def __exit__(self, *exc_info) -> None:
        from moto.server import DomainDispatcherApplication

        DomainDispatcherApplication.__call__ = self._original

    def take(self) -> list[float]:
        with self.lock:
            taken = list(self.calls)
            self.calls.clear()
        return taken


def measure(requests_per_level: int = 300, levels: tuple[int, ...] = (1, 8, 32), progress=None, moto_as_is: bool = False,
            growth: tuple[int, ...] = (100, 1000, 5000), concurrency: int | None = None) -> dict:
    if not moto_as_is:
        return {**_measure(requests_per_level, levels, progress, growth, concurrency),
                "moto": "as make run runs it: item-level transaction backups, atomic requests (local_stack/moto_patches.py)"}
    import local_stack.stack
    from local_stack.moto_patches import fifo_redelivery_order

    fixes, local_stack.stack.moto_fixes = local_stack.stack.moto_fixes, fifo_redelivery_order
    try:
        return {**_measure(requests_per_level, levels, progress, growth, concurrency),
                "moto": "as is (whole-table copies per transaction; not what make run runs)"}
    finally:
        local_stack.stack.moto_fixes = fixes


def _moto_floor(stack, level: int, count: int) -> dict:
    """moto alone: GetItem on the orders table from ``level`` threads, no front, no function. A POST makes three
    moto calls, so a third of this rate is the most POSTs/s moto could serve at this concurrency."""
    import threading
    import time

    table = stack.resources.tables["OrdersTable"]
    clients = [stack.client("dynamodb") for _ in range(level)]  # made on this thread (client creation is not thread-safe)
    cursor = iter(range(count))
    lock = threading.Lock()
    latencies: list[float] = []

    def run(client) -> None:
        while True:
            with lock:
                if next(cursor, None) is None:
                    return
            started = time.perf_counter()
            client.get_item(TableName=table, Key={"pk": {"S": f"ORDER#{FIRST_ORDER}"}, "sk": {"S": "SNAPSHOT"}})
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    elapsed = time.perf_counter() - started
    return {"calls": len(latencies), "p50_ms": percentile(latencies, 0.5) * 1000, "calls_per_s": len(latencies) / elapsed,
            "post_ceiling_rps": len(latencies) / elapsed / 3}


def drain_supplier_requests(stack) -> None:
    """Empty the supplier-requests queue, as the dispatcher does in ``make run`` (pollers are off here).

    moto's SQS computes every attribute of a FIFO queue on each SendMessage (ApproximateNumberOfMessages walks all
    its messages), so a send costs in proportion to the queue's depth: left to pile up, the POSTs' queued
    messages would be timed, not the tables. In ``make run`` the dispatcher keeps the queue near empty."""
    sqs, url = stack.client("sqs"), stack.resources.queue_urls["SupplierRequestsQueue"]
    while True:  # (moto allows one PurgeQueue a minute)
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not messages:
            return
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )


def _post_level(base: str, bearer: str, first_order: int, count: int, level: int, moto: MotoTime) -> dict:
    posts = [post_request(bearer, first_order + i) for i in range(count)]
    moto.take()
    post_results, post_elapsed = run_load(base, posts, level)
    post = summary(post_results, post_elapsed, 201)
    calls = moto.take()
    post["aws_calls_per_post"] = len(calls) / count
    post["ms_in_aws_calls_per_post"] = sum(calls) / count * 1000
    return post


@contextlib.contextmanager
def _load_stack(settings: dict | None, orders: int) -> Iterator[tuple[MotoTime, Any, str]]:
    """A local stack for load (no pollers, schedules or demo orders; workers prewarmed) with ``orders`` orders from
    FIRST_ORDER on; yields (moto's timer, the stack, a TENANT1 token)."""
    from local_stack.stack import LocalStack

    with MotoTime() as moto, LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False, seed=False,
                                        function_concurrency=settings, prewarm=True) as stack:
        seed_orders(stack, range(FIRST_ORDER, FIRST_ORDER + orders))
        yield moto, stack, token(stack.base_url)


def _measure(requests_per_level: int, levels: tuple[int, ...], progress=None, growth: tuple[int, ...] = (),
             concurrency: int | None = None) -> dict:
    logging.getLogger("local_stack").setLevel(logging.WARNING)
    warmup = 20
    sample = min(100, requests_per_level)
    needed = warmup + requests_per_level * len(levels)
    settings = {"TenantApiFunction": concurrency} if concurrency else None
    with _load_stack(settings, needed) as (moto, stack, bearer):
        base = stack.base_url
        next_order = FIRST_ORDER
        # Warm: the API function's workers up to the highest level's concurrency, and the front.
        warm = [post_request(bearer, next_order + i) for i in range(warmup)]
        next_order += warmup
        run_load(base, warm, max(levels))
        run_load(base, [Request("GET", JWKS_PATH)] * warmup, 4)
        results = {}
        for level in levels:
            drain_supplier_requests(stack)
            floor_results, floor_elapsed = run_load(base, [Request("GET", JWKS_PATH)] * requests_per_level, level)
            post = _post_level(base, bearer, next_order, requests_per_level, level, moto)
            next_order += requests_per_level
            floor = summary(floor_results, floor_elapsed, 200)
            results[str(level)] = {
                "post": post,
                "floor": floor,
                "moto_floor": _moto_floor(stack, level, requests_per_level * 3),
                "p50_ratio": ratio(post["p50_ms"], floor["p50_ms"]) if post["p50_ms"] and floor["p50_ms"] else None,
                "throughput_ratio": ratio(floor["throughput_rps"], post["throughput_rps"]) if post["throughput_rps"] else None,
            }
            if progress:
                progress(f"local stack: concurrency {level} done")
        api_concurrency = stack.functions["TenantApiFunction"].runner.concurrency
    growth_rows = _measure_growth(growth, sample, settings, progress) if growth else []
    return {"requests_per_level": requests_per_level, "floor": f"GET {JWKS_PATH} (static, same front)", "levels": results,
            "growth": growth_rows, "growth_sample": sample, "tenant_api_concurrency": api_concurrency}


def _measure_growth(growth: tuple[int, ...], sample: int, settings: dict | None, progress=None) -> list[dict]:
    """A fresh stack: POST p50 at concurrency 1 (``sample`` POSTs) once each ``growth`` number of cancellations is
    stored (the stored ones made by POSTs at concurrency 8 in between)."""
    warmup = 20
    needed = warmup + max(growth) + sample * len(growth)
    rows = []
    with _load_stack(settings, needed) as (moto, stack, bearer):
        base = stack.base_url
        next_order = FIRST_ORDER
        warmed, _ = run_load(base, [post_request(bearer, next_order + i) for i in range(warmup)], 4)
        next_order += warmup
        stored = sum(1 for r in warmed if r.status == 201)
        for goal in sorted(growth):
            if goal > stored:
                while stored < goal:  # in chunks, the queue emptied after each (as the dispatcher would)
                    fill = [post_request(bearer, next_order + i) for i in range(min(500, goal - stored))]
                    next_order += len(fill)
                    filled, _ = run_load(base, fill, 8, deadline_seconds=1800)
                    stored += sum(1 for r in filled if r.status == 201)
                    drain_supplier_requests(stack)
                    if not any(r.status == 201 for r in filled):
                        break
            drain_supplier_requests(stack)
            row = _post_level(base, bearer, next_order, sample, 1, moto)
            next_order += sample
            rows.append({"stored_before": stored, **row})
            stored += sample - row["errors"]
            if progress:
                progress(f"local stack: p50 after {goal} stored cancellations done")
    return rows


def render(result: dict) -> str:
    rows = []
    for level, row in result["levels"].items():
        for name in ("floor", "post"):
            data = row[name]
            rows.append(
                [
                    level,
                    "GET jwks (floor)" if name == "floor" else "POST cancellation",
                    data["p50_ms"],
                    data["p95_ms"],
                    data["p99_ms"],
                    data["throughput_rps"],
                    data["errors"],
                    "" if name == "floor" else f"p50 x{row['p50_ratio']:.1f}, 1/throughput x{row['throughput_ratio']:.1f}",
                    "" if name == "floor" else data["ms_in_aws_calls_per_post"],
                ]
            )
    text = (f"Local stack over HTTP ({result['requests_per_level']} requests per level and endpoint; floor = {result['floor']}; "
            f"Tenant API concurrency {result.get('tenant_api_concurrency')}; moto: {result.get('moto', 'as is')})\n"
            + table(rows, ["conc.", "endpoint", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors", "vs floor", "ms in moto/POST"]))
    levels = result["levels"]
    moto_rows = [[level, row["moto_floor"]["p50_ms"], row["moto_floor"]["calls_per_s"], row["moto_floor"]["post_ceiling_rps"],
                  row["post"]["throughput_rps"]] for level, row in levels.items() if "moto_floor" in row]
    if moto_rows:
        text += ("\nmoto's floor: GetItem straight to moto's server (no front, no function); a POST makes 3 moto calls\n"
                 + table(moto_rows, ["conc.", "GetItem p50 ms", "moto calls/s", "POST ceiling/s (calls/3)", "POST req/s measured"]))
    if "1" in levels and levels["1"]["post"]["throughput_rps"]:
        first = levels["1"]["post"]["throughput_rps"]
        text += "\nPOST throughput vs concurrency 1: " + ", ".join(
            f"{level}: x{row['post']['throughput_rps'] / first:.2f}" for level, row in levels.items() if row["post"]["throughput_rps"])
    growth = result.get("growth") or []
    if growth:
        first = growth[0]["p50_ms"]
        rows = [[g["stored_before"], g["p50_ms"], g["p95_ms"], g["ms_in_aws_calls_per_post"], g["errors"],
                 f"x{g['p50_ms'] / first:.2f}" if first and g["p50_ms"] else ""] for g in growth]
        text += (
            f"\nPOST at concurrency 1 as the tables grow ({result.get('growth_sample')} POSTs each; target: last within 1.5x of first)\n"
            + table(rows, ["stored cancellations", "p50 ms", "p95 ms", "ms in moto/POST", "errors", "p50 vs first"])
        )
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--levels", type=int, nargs="*", default=[1, 8, 32])
    parser.add_argument("--moto-as-is", action="store_true",
                        help="keep moto's whole-table copies on every TransactWriteItems (POST latency then grows with the tables)")
    parser.add_argument("--growth", type=int, nargs="*", default=[100, 1000, 5000],
                        help="POST p50 at concurrency 1 after this many stored cancellations (none: skip)")
    parser.add_argument("--concurrency", type=int, help="the Tenant API function's concurrency (default: the stack's)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.requests, tuple(args.levels), progress=lambda text: print(text, file=sys.stderr), moto_as_is=args.moto_as_is,
                     growth=tuple(args.growth), concurrency=args.concurrency)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
