"""Operator redrive against the local stack (the same logic as the RedriveFunction in AWS).

    python -m local_stack.redrive failed-to-send [--ids 12 13]
    python -m local_stack.redrive dead-letters supplier-requests|kcis|tenant-updates
    python -m local_stack.redrive relay-failures

Talks to the running `make run` stack's moto server (MOTO_PORT, default 4566) and its "local-" tables and queues.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "gateway"))

QUEUES = {
    "supplier-requests": ("SupplierRequestsDeadLetterQueue", "SupplierRequestsQueue"),
    "kcis": ("KciDeadLetterQueue", "KciQueue"),
    "tenant-updates": ("TenantUpdatesDeadLetterQueue", "TenantUpdatesQueue"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.redrive", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    failed = sub.add_parser("failed-to-send", help="re-send FAILED_TO_SEND cancellations")
    failed.add_argument("--ids", type=int, nargs="*")
    dead = sub.add_parser("dead-letters", help="move a dead-letter queue back to its queue")
    dead.add_argument("queue", choices=sorted(QUEUES))
    sub.add_parser("relay-failures", help="replay the orders-stream records the tenant-KCI relay gave up on")
    parser.add_argument("--moto-url", default=f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '4566')}")
    parser.add_argument("--prefix", default="local")
    args = parser.parse_args(argv)

    import boto3

    from fibre_cafe.dal.cancellations_table import CancellationsTable
    from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
    from fibre_cafe.logic.redrive import redrive_dead_letters, redrive_failed_to_send, redrive_relay_failures

    kwargs = {"endpoint_url": args.moto_url, "region_name": "eu-west-2", "aws_access_key_id": "local", "aws_secret_access_key": "local"}
    sqs, dynamodb = boto3.client("sqs", **kwargs), boto3.client("dynamodb", **kwargs)

    def queue_url(logical_id: str) -> str:
        for name in (f"{args.prefix}-{logical_id}", f"{args.prefix}-{logical_id}.fifo"):
            try:
                return sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except sqs.exceptions.QueueDoesNotExist:
                continue
        raise SystemExit(f"no queue {args.prefix}-{logical_id} on {args.moto_url}: is `make run` running?")

    if args.action == "failed-to-send":
        table = CancellationsTable(dynamodb, f"{args.prefix}-CancellationsTable")
        report = redrive_failed_to_send(table, SupplierRequestsQueue(sqs, queue_url("SupplierRequestsQueue")), args.ids or None)
    elif args.action == "relay-failures":
        from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue

        report = redrive_relay_failures(sqs, queue_url("TenantKciRelayFailureQueue"), boto3.client("dynamodbstreams", **kwargs),
                                        TenantUpdatesQueue(sqs, queue_url("TenantUpdatesQueue")))
    else:
        dlq, queue = QUEUES[args.queue]
        report = redrive_dead_letters(sqs, queue_url(dlq), queue_url(queue))
    print(json.dumps(asdict(report)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
