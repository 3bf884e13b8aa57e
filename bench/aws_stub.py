"""A tiny AWS stand-in on 127.0.0.1 for the warm-path benchmark: canned JSON at the HTTP layer.

Answers the tenant API's POST path and nothing else: DynamoDB ``BatchGetItem`` (an ACKNOWLEDGED order,
no idempotency record: every request is a first request), ``TransactWriteItems`` (success),
``UpdateItem`` (the id counter: ADD of the requested block size, atomic) and SQS ``SendMessage``
(a message id and the body's MD5). Both services speak AWS JSON 1.0 (``X-Amz-Target``).

Run as its own process (``python -m bench.aws_stub``, it prints ``PORT <n>``), so the CPU it spends
answering is not counted in the benchmark's ``process_time``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import uuid

from testing.stub_servers import StubReply, StubRequest, StubServer

ORDER_ID = 123
TENANT = "TENANT1"
SUPPLIER = "DUMMY_SUPPLIER"


def order_item(order_id: int = ORDER_ID) -> dict:
    """The order snapshot as DynamoDB returns it (what OrdersTable.snapshot_item writes)."""
    return {
        "pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "SNAPSHOT"}, "id": {"N": str(order_id)}, "tenant": {"S": TENANT},
        "supplier": {"S": SUPPLIER}, "orderType": {"S": "PROVIDE"}, "status": {"S": "ACKNOWLEDGED"},
        "supplierStatus": {"S": "ACKNOWLEDGED"}, "supplierOrderReference": {"S": "FC123"}, "lastSequenceNumber": {"N": "1"},
        "tenantKciSequence": {"N": "0"}, "version": {"N": "1"},
    }


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counter = 0
        self.calls: dict[str, int] = {}


STATE = _State()


def answer(target: str, request: dict) -> tuple[int, dict]:
    operation = target.rsplit(".", 1)[-1]
    with STATE.lock:
        STATE.calls[operation] = STATE.calls.get(operation, 0) + 1
    if operation == "BatchGetItem":
        responses = {}
        for table, spec in request.get("RequestItems", {}).items():
            responses[table] = [
                order_item(int(key["pk"]["S"].split("#")[1])) for key in spec["Keys"] if key["pk"]["S"].startswith("ORDER#")
            ]
        return 200, {"Responses": responses, "UnprocessedKeys": {}}
    if operation == "TransactWriteItems":
        return 200, {}
    if operation == "UpdateItem":
        size = int(request["ExpressionAttributeValues"][":size"]["N"])
        with STATE.lock:
            STATE.counter += size
            last = STATE.counter
        return 200, {"Attributes": {"lastAllocatedId": {"N": str(last)}}}
    if operation == "SendMessage":
        body = request.get("MessageBody", "")
        return 200, {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest()}  # SQS's checksum
    if operation == "Calls":
        with STATE.lock:
            return 200, dict(STATE.calls)
    return 400, {"__type": "com.amazon.coral.validate#UnknownOperationException", "message": f"stub does not answer {operation}"}


def route(request: StubRequest) -> StubReply:
    """Both services speak AWS JSON 1.0: the operation is in X-Amz-Target, the parameters are the JSON body."""
    try:
        status, body = answer(request.header("X-Amz-Target", "") or "", json.loads(request.body or b"{}"))
    except Exception as exc:  # noqa: BLE001 - a stub: say what went wrong
        status, body = 500, {"__type": "InternalFailure", "message": repr(exc)}
    return StubReply(status, body, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "stub"})


def serve(port: int = 0) -> StubServer:
    return StubServer(route, "aws-stub", port=port)


def main() -> int:
    server = serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(f"PORT {server.port}", flush=True)
    server.start()
    # Stops when its parent closes stdin (the benchmark ends, or dies).
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
