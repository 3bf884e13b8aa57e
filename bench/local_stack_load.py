"""The local stack under load: POST /service-order-cancellations over HTTP at concurrency 1, 8 and 32.

A ``LocalStack`` (moto server, HTTP front, real handlers; pollers and schedules off, so only the API
works) is started in this process on free ports. Its floor is the same front's static
``GET /auth/.well-known/jwks.json`` (no token check, no handler, no AWS), run at the same concurrency
just before each POST level. Each POST cancels a different order (seeded with OrdersTable.create),
so every one is a first request: 201, three AWS calls to moto. Bounded: ``--requests`` per level
(default 300), every request with a timeout. The front runs one handler invocation at a time
(local_stack/functions.py: one process-wide lock), so POST throughput does not grow with concurrency;
latency grows with the queue. moto's TransactWriteItems deep-copies whole tables to roll back, so each POST
would cost in proportion to everything stored before it; unless ``--moto-as-is``, the benchmark runs with
item-level backups instead (``bench.moto_world.item_level_transaction_backups``, moto runs in this process).

    python -m bench.local_stack_load [--requests 300] [--levels 1 8 32]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from pathlib import Path

from bench.common import median, percentile, ratio, table
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


def measure(requests_per_level: int = 300, levels: tuple[int, ...] = (1, 8, 32), progress=None, moto_as_is: bool = False) -> dict:
    if moto_as_is:
        return {**_measure(requests_per_level, levels, progress), "moto": "as is (whole-table copies per transaction)"}
    from bench.moto_world import item_level_transaction_backups

    with item_level_transaction_backups():
        return {**_measure(requests_per_level, levels, progress), "moto": "item-level transaction backups (bench.moto_world)"}


def _measure(requests_per_level: int, levels: tuple[int, ...], progress=None) -> dict:
    from local_stack.stack import LocalStack

    logging.getLogger("local_stack").setLevel(logging.WARNING)
    warmup = 20
    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False, seed=False) as stack:
        base = stack.base_url
        seed_orders(stack, range(FIRST_ORDER, FIRST_ORDER + warmup + requests_per_level * len(levels)))
        bearer = token(base)
        api = stack.functions["TenantApiFunction"].module
        from bench.moto_world import CallLog

        aws_calls = CallLog().watch(api.deps.orders.client).watch(api.deps.create_cancellation.queue.client)
        next_order = FIRST_ORDER
        warm = [post_request(bearer, next_order + i) for i in range(warmup)]
        next_order += warmup
        run_load(base, warm, 4)
        run_load(base, [Request("GET", JWKS_PATH)] * warmup, 4)
        results = {}
        for level in levels:
            floor_results, floor_elapsed = run_load(base, [Request("GET", JWKS_PATH)] * requests_per_level, level)
            posts = [post_request(bearer, next_order + i) for i in range(requests_per_level)]
            next_order += requests_per_level
            aws_calls.take()
            post_results, post_elapsed = run_load(base, posts, level)
            floor, post = summary(floor_results, floor_elapsed, 200), summary(post_results, post_elapsed, 201)
            calls = aws_calls.take()
            post["aws_calls_per_post"] = len(calls) / requests_per_level
            post["ms_in_aws_calls_per_post"] = sum((c.finished or c.started) - c.started for c in calls) / requests_per_level * 1000
            results[str(level)] = {
                "post": post,
                "floor": floor,
                "p50_ratio": ratio(post["p50_ms"], floor["p50_ms"]) if post["p50_ms"] and floor["p50_ms"] else None,
                "throughput_ratio": ratio(floor["throughput_rps"], post["throughput_rps"]) if post["throughput_rps"] else None,
            }
            if progress:
                progress(f"local stack: concurrency {level} done")
    return {"requests_per_level": requests_per_level, "floor": f"GET {JWKS_PATH} (static, same front)", "levels": results}


def render(result: dict) -> str:
    rows = []
    for level, row in result["levels"].items():
        for name in ("floor", "post"):
            data = row[name]
            rows.append([level, "GET jwks (floor)" if name == "floor" else "POST cancellation", data["p50_ms"], data["p95_ms"], data["p99_ms"],
                         data["throughput_rps"], data["errors"],
                         "" if name == "floor" else f"p50 x{row['p50_ratio']:.1f}, 1/throughput x{row['throughput_ratio']:.1f}",
                         "" if name == "floor" else data["ms_in_aws_calls_per_post"]])
    return (f"Local stack over HTTP ({result['requests_per_level']} requests per level and endpoint; floor = {result['floor']}; "
            f"moto: {result.get('moto', 'as is')})\n"
            + table(rows, ["conc.", "endpoint", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors", "vs floor", "ms in moto/POST"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--levels", type=int, nargs="*", default=[1, 8, 32])
    parser.add_argument("--moto-as-is", action="store_true",
                        help="keep moto's whole-table copies on every TransactWriteItems (POST latency then grows with the tables)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.requests, tuple(args.levels), progress=lambda text: print(text, file=sys.stderr), moto_as_is=args.moto_as_is)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
