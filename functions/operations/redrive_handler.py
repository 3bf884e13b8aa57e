"""Operator redrive, invoked by hand (see README runbook). Event:

    {"action": "failed-to-send"}                      re-send every FAILED_TO_SEND cancellation
    {"action": "failed-to-send", "ids": [12, 13]}     re-send these
    {"action": "dead-letters", "queue": "supplier-requests" | "kcis" | "tenant-updates"}   move a DLQ back to its queue
    {"action": "relay-failures"}                      replay the orders-stream records the tenant-KCI relay gave up on
"""

from __future__ import annotations

import os
from dataclasses import asdict

from aws_lambda_powertools import Logger

from fibre_cafe.dal.aws_clients import dynamodb_client, sqs_client
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
from fibre_cafe.logic.redrive import redrive_dead_letters, redrive_failed_to_send, redrive_relay_failures

logger = Logger()

QUEUES = {
    "supplier-requests": ("SUPPLIER_REQUESTS_DLQ_URL", "SUPPLIER_REQUESTS_QUEUE_URL"),
    "kcis": ("KCI_DLQ_URL", "KCI_QUEUE_URL"),
    "tenant-updates": ("TENANT_UPDATES_DLQ_URL", "TENANT_UPDATES_QUEUE_URL"),
}


class Dependencies:
    def __init__(self) -> None:
        self.sqs = sqs_client()
        self.table = CancellationsTable(dynamodb_client(), os.environ["CANCELLATIONS_TABLE_NAME"])
        self.queue = SupplierRequestsQueue(self.sqs, os.environ["SUPPLIER_REQUESTS_QUEUE_URL"])


deps = Dependencies()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    action = event.get("action")
    if action == "failed-to-send":
        ids = event.get("ids")
        report = redrive_failed_to_send(deps.table, deps.queue, [int(i) for i in ids] if ids else None)
    elif action == "dead-letters" and event.get("queue") in QUEUES:
        dlq_var, queue_var = QUEUES[event["queue"]]
        report = redrive_dead_letters(deps.sqs, os.environ[dlq_var], os.environ[queue_var], int(event.get("max", 1000)))
    elif action == "relay-failures":
        import boto3

        from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue

        from botocore.config import Config

        # The regional endpoint (botocore's account-id endpoints are not served by every emulator).
        streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
        report = redrive_relay_failures(deps.sqs, os.environ["TENANT_KCI_RELAY_FAILURES_URL"], streams,
                                        TenantUpdatesQueue(deps.sqs, os.environ["TENANT_UPDATES_QUEUE_URL"]), int(event.get("max", 1000)),
                                        orders_table=os.environ["ORDERS_TABLE_NAME"])
    else:
        raise ValueError('event must be {"action": "failed-to-send"}, {"action": "dead-letters", "queue": '
                         '"supplier-requests"|"kcis"|"tenant-updates"} or {"action": "relay-failures"}')
    result = asdict(report)
    logger.info("Redrive done", extra={"action": action, "redriven": len(report.redriven), "skipped": len(report.skipped)})
    return result
