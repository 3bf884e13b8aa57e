"""Warm path: CPU time per POST /service-order-cancellations through the real handler, next to a minimal one.

Both handlers run in one process, against the same AWS stub at the HTTP layer (bench/aws_stub.py, a
separate process, so its CPU is not counted): ``AWS_ENDPOINT_URL`` points the real handler's boto3
clients at it, exactly as the local stack points them at moto. Every request is a first request
(new X-Request-ID; the stub always returns the ACKNOWLEDGED order and no idempotency record), so each
costs BatchGetItem + TransactWriteItems + SendMessage, and UpdateItem once per id block.

The floor, ``minimal_handler`` below, does the same writes and send with plain boto3 clients, json
parsing and a few hand-written checks: no Powertools, no pydantic. Measured with
``time.process_time()`` (the whole process: the handler thread and the id-block refill thread) in
alternating rounds; the ratio is of the median per-request CPU times.

    python -m bench.warm_path [--rounds 7] [--requests 200]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import function_env, handler_paths, median, ratio, report, table, verdict
from testing.events import EXAMPLE_REQUEST as BODY
from testing.lambda_context import lambda_context

TARGET = 1.5


@contextlib.contextmanager
def aws_stub():
    """Start bench/aws_stub.py in its own process; yields its URL."""
    process = subprocess.Popen([sys.executable, "-m", "bench.aws_stub"], cwd=Path(__file__).resolve().parent.parent,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"aws stub did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ------------------------------------------------------------------------------------------------ the floor


class MinimalHandler:
    """The same AWS work as the real POST, hand-written: plain boto3, json, no Powertools, no pydantic."""

    REASONS = {"CUSTOMER_CHANGED_MIND", "INSTALL_FAILED", "NETWORK_ISSUE", "NO_LONGER_REQUIRED", "OTHER"}

    def __init__(self, block_size: int = 100):
        import boto3

        self.dynamodb = boto3.client("dynamodb")
        self.sqs = boto3.client("sqs")
        self.cancellations = os.environ["CANCELLATIONS_TABLE_NAME"]
        self.orders = os.environ["ORDERS_TABLE_NAME"]
        self.queue_url = os.environ["SUPPLIER_REQUESTS_QUEUE_URL"]
        self.block_size = block_size
        self.principals = json.loads(os.environ.get("CLIENT_PRINCIPALS") or "{}")
        self.next_id, self.last_id = 0, -1

    def _id(self) -> int:
        if self.next_id > self.last_id:
            answer = self.dynamodb.update_item(
                TableName=self.cancellations, Key={"pk": {"S": "COUNTER#serviceOrderCancellationId"}},
                UpdateExpression="ADD #last :size", ExpressionAttributeNames={"#last": "lastAllocatedId"},
                ExpressionAttributeValues={":size": {"N": str(self.block_size)}}, ReturnValues="UPDATED_NEW")
            self.last_id = int(answer["Attributes"]["lastAllocatedId"]["N"])
            self.next_id = self.last_id - self.block_size + 1
        self.next_id += 1
        return self.next_id - 1

    def __call__(self, event: dict, _context) -> dict:
        claims = event["requestContext"]["authorizer"]["claims"]
        tenant = self.principals[claims["client_id"]].split(":", 1)[1]
        headers = {key.lower(): value for key, value in event["headers"].items()}
        request_id, conversation_id = headers["x-request-id"], headers["x-conversation-id"]
        body = json.loads(event["body"])
        if not isinstance(body.get("orderId"), int) or body.get("reasonCode") not in self.REASONS:
            return {"statusCode": 400, "body": "{}"}
        order_key = {"pk": {"S": f"ORDER#{body['orderId']}"}, "sk": {"S": "SNAPSHOT"}}
        request_key = {"pk": {"S": f"REQUEST#{tenant}#{request_id}"}}
        answer = self.dynamodb.batch_get_item(RequestItems={
            self.orders: {"Keys": [order_key], "ConsistentRead": True},
            self.cancellations: {"Keys": [request_key], "ConsistentRead": True},
        })
        order = answer["Responses"][self.orders][0]
        if order["tenant"]["S"] != tenant or order["status"]["S"] != "ACKNOWLEDGED":
            return {"statusCode": 422, "body": "{}"}
        cancellation_id = self._id()
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        view = {"id": cancellation_id, "status": "RECEIVED_BY_GATEWAY", "supplier": order["supplier"]["S"], "orderId": body["orderId"],
                "reasonCode": body["reasonCode"], "text": body.get("text"), "createdOn": now}
        version = int(order["version"]["N"])
        self.dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": self.cancellations, "ConditionExpression": "attribute_not_exists(pk)", "Item": {
                "pk": {"S": f"CANCELLATION#{cancellation_id}"}, "id": {"N": str(cancellation_id)}, "tenant": {"S": tenant},
                "supplier": view["supplier"] and {"S": view["supplier"]}, "orderId": {"N": str(body["orderId"])},
                "reasonCode": {"S": body["reasonCode"]}, "text": {"S": body.get("text") or ""}, "status": {"S": "RECEIVED_BY_GATEWAY"},
                "requestId": {"S": request_id}, "conversationId": {"S": conversation_id}, "createdAt": {"S": now},
                "updatedAt": {"S": now}, "dispatchStatus": {"S": "RECEIVED_BY_GATEWAY"}, "lastDispatchActivityAt": {"S": now},
                "version": {"N": "1"}}}},
            {"Put": {"TableName": self.cancellations, "ConditionExpression": "attribute_not_exists(pk) OR expiresAt < :now",
                     "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}}, "Item": {
                         "pk": request_key["pk"], "statusCode": {"N": "201"}, "body": {"S": json.dumps(view)},
                         "cancellationId": {"N": str(cancellation_id)}, "expiresAt": {"N": str(int(time.time()) + 604800)}}}},
            {"Update": {"TableName": self.orders, "Key": order_key,
                        "UpdateExpression": "SET #status = :pending, openCancellationId = :cid, #version = :next",
                        "ConditionExpression": "#version = :read AND tenant = :tenant AND attribute_not_exists(openCancellationId)",
                        "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                        "ExpressionAttributeValues": {":pending": {"S": "PENDING_CANCELLATION"}, ":cid": {"N": str(cancellation_id)},
                                                      ":next": {"N": str(version + 1)}, ":read": {"N": str(version)},
                                                      ":tenant": {"S": tenant}}}},
        ])
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps({
            "cancellationId": cancellation_id, "orderId": body["orderId"], "tenant": tenant, "supplier": view["supplier"],
            "reasonCode": body["reasonCode"], "text": body.get("text"), "supplierOrderReference": order["supplierOrderReference"]["S"],
            "requestId": request_id, "conversationId": conversation_id}),
            MessageAttributes={"cancellationId": {"DataType": "Number", "StringValue": str(cancellation_id)},
                               "supplier": {"DataType": "String", "StringValue": view["supplier"]}})
        return {"statusCode": 201, "headers": {"Content-Type": "application/json", "X-Request-ID": request_id}, "body": json.dumps(view)}


# ------------------------------------------------------------------------------------------------ measuring


def post_events(count: int) -> list[dict]:
    from local_stack.proxy_events import claims_for, proxy_event

    claims = claims_for("TENANT1")
    return [proxy_event("POST", "/service-order-cancellations", resource="/service-order-cancellations", claims=claims,
                        headers={"Content-Type": "application/json", "X-Request-ID": f"bench-{uuid.uuid4()}", "X-Conversation-ID": "bench"},
                        body=json.dumps(BODY))
            for _ in range(count)]


def _cpu_per_request(handler, events: list[dict], expect: int) -> tuple[float, float]:
    context = lambda_context("TenantApiFunction", remaining_ms=10_000)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for event in events:
        answer = handler(event, context)
        if answer["statusCode"] != expect:
            raise RuntimeError(f"handler answered {answer['statusCode']}: {answer.get('body')}")
    return (time.process_time() - cpu0) / len(events), (time.perf_counter() - wall0) / len(events)


def measure_in_process(rounds: int, requests: int) -> dict:
    """Run inside a process whose environment is the tenant API's (see ``measure``)."""
    paths, module_name, attribute = handler_paths("TenantApiFunction")
    sys.path[:0] = paths
    real = getattr(importlib.import_module(module_name), attribute)
    minimal = MinimalHandler(block_size=int(os.environ.get("ID_BLOCK_SIZE", "100")))
    _cpu_per_request(real, post_events(50), 201)  # warm-up: first-call work, connection pools
    _cpu_per_request(minimal, post_events(50), 201)
    samples = {"real_cpu": [], "minimal_cpu": [], "real_wall": [], "minimal_wall": []}
    for round_number in range(rounds):
        pairs = [("real", real), ("minimal", minimal)]
        if round_number % 2:
            pairs.reverse()
        for name, handler in pairs:
            cpu, wall = _cpu_per_request(handler, post_events(requests), 201)
            samples[f"{name}_cpu"].append(cpu)
            samples[f"{name}_wall"].append(wall)
    return samples


def measure(rounds: int = 7, requests: int = 200) -> dict:
    """Start the stub, then run the measurement in a fresh process with the tenant API's environment."""
    with aws_stub() as endpoint, tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "warm.json"
        env = function_env("TenantApiFunction", endpoint=endpoint,
                           extra={"CLIENT_PRINCIPALS": json.dumps({"TENANT1": "tenant:TENANT1"}), "PYTHONDONTWRITEBYTECODE": "1"})
        env.pop("PYTHONPATH", None)
        done = subprocess.run(
            [sys.executable, "-m", "bench.warm_path", "--inner", str(out), "--rounds", str(rounds), "--requests", str(requests)],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=1800,
        )
        if done.returncode != 0:
            raise RuntimeError(f"warm path failed:\n{done.stderr[-4000:]}")
        samples = json.loads(out.read_text())
    real, minimal = median(samples["real_cpu"]), median(samples["minimal_cpu"])
    return {
        "requests_per_round": requests,
        "rounds": rounds,
        "real_cpu_ms_per_post": real * 1000,
        "minimal_cpu_ms_per_post": minimal * 1000,
        "ratio": ratio(real, minimal),
        "real_wall_ms_per_post": median(samples["real_wall"]) * 1000,
        "minimal_wall_ms_per_post": median(samples["minimal_wall"]) * 1000,
        "wall_ratio": ratio(median(samples["real_wall"]), median(samples["minimal_wall"])),
        "target": TARGET,
        "met": ratio(real, minimal) <= TARGET,
        "samples_ms": {key: [round(v * 1000, 3) for v in values] for key, values in samples.items()},
    }


def render(result: dict) -> str:
    rows = [
        ["real handler (Powertools + pydantic)", result["real_cpu_ms_per_post"], result["ratio"], result["real_wall_ms_per_post"],
         verdict(result["ratio"], TARGET)],
        ["minimal handler (floor)", result["minimal_cpu_ms_per_post"], 1.0, result["minimal_wall_ms_per_post"], ""],
    ]
    return (
        f"Warm path: POST through the handler, AWS stubbed at HTTP (median of {result['rounds']} rounds x "
        f"{result['requests_per_round']} requests)\n"
        + table(rows, ["handler", "CPU ms/POST", "x floor", "wall ms/POST", f"target <= {TARGET}x"])
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--inner", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.inner:
        args.inner.write_text(json.dumps(measure_in_process(args.rounds, args.requests)))
        return 0
    result = measure(args.rounds, args.requests)
    return report(result, render, args.json)


if __name__ == "__main__":
    sys.exit(main())
