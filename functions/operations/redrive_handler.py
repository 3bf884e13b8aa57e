"""Operator redrive, invoked by hand (see README runbook). Event:

    {"action": "failed-to-send"}                      re-send every FAILED_TO_SEND cancellation
    {"action": "failed-to-send", "ids": [12, 13]}     re-send these
    {"action": "dead-letters", "queue": "supplier-requests" | "kcis" | "tenant-updates"}   move a DLQ back to its queue
    {"action": "relay-failures"}                      replay the orders-stream records the tenant-KCI relay gave up on
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import Field

from fibre_cafe.dal.aws_clients import DynamoDBStreamsClient, dynamodb_client, dynamodb_streams_client, sqs_client
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
from fibre_cafe.logic.redrive import redrive_dead_letters, redrive_failed_to_send, redrive_relay_failures
from fibre_cafe.settings import GatewayTables, QueueUrl
from fibre_cafe.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from fibre_cafe.dal.aws_clients import DynamoDBStreamsClient

logger = Logger()



class Settings(GatewayTables):
    supplier_requests_queue_url: QueueUrl = Field(alias="SUPPLIER_REQUESTS_QUEUE_URL")
    supplier_requests_dlq_url: QueueUrl = Field(alias="SUPPLIER_REQUESTS_DLQ_URL")
    kci_queue_url: QueueUrl = Field(alias="KCI_QUEUE_URL")
    kci_dlq_url: QueueUrl = Field(alias="KCI_DLQ_URL")
    tenant_updates_queue_url: QueueUrl = Field(alias="TENANT_UPDATES_QUEUE_URL")
    tenant_updates_dlq_url: QueueUrl = Field(alias="TENANT_UPDATES_DLQ_URL")
    tenant_kci_relay_failures_url: QueueUrl = Field(alias="TENANT_KCI_RELAY_FAILURES_URL")


class Dependencies:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sqs = sqs_client()
        self.table = CancellationsTable(dynamodb_client(), settings.cancellations_table_name)
        self.queue = SupplierRequestsQueue(self.sqs, settings.supplier_requests_queue_url)
        # The operator's queue names -> (dead-letter queue URL, queue URL).
        self.queues = {
            "supplier-requests": (settings.supplier_requests_dlq_url, settings.supplier_requests_queue_url),
            "kcis": (settings.kci_dlq_url, settings.kci_queue_url),
            "tenant-updates": (settings.tenant_updates_dlq_url, settings.tenant_updates_queue_url),
        }

    @cached_property
    def streams(self) -> DynamoDBStreamsClient:
        """DynamoDB Streams, for the relay's failures only: built on the first such redrive, then kept."""
        from botocore.config import Config

        # The regional endpoint (botocore's account-id endpoints are not served by every emulator).
        return dynamodb_streams_client(Config(account_id_endpoint_mode="disabled"))


deps = Wiring(Settings, Dependencies)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = deps()
    settings = built.settings
    action = event.get("action")
    if action == "failed-to-send":
        ids = event.get("ids")
        report = redrive_failed_to_send(built.table, built.queue, [int(i) for i in ids] if ids else None)
    elif action == "dead-letters" and event.get("queue") in built.queues:
        dlq_url, queue_url = built.queues[event["queue"]]
        report = redrive_dead_letters(built.sqs, dlq_url, queue_url, int(event.get("max", 1000)))
    elif action == "relay-failures":
        from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue

        report = redrive_relay_failures(built.sqs, settings.tenant_kci_relay_failures_url, built.streams,
                                        TenantUpdatesQueue(built.sqs, settings.tenant_updates_queue_url), int(event.get("max", 1000)),
                                        orders_table=settings.orders_table_name)
    else:
        raise ValueError('event must be {"action": "failed-to-send"}, {"action": "dead-letters", "queue": '
                         '"supplier-requests"|"kcis"|"tenant-updates"} or {"action": "relay-failures"}')
    result = asdict(report)
    logger.info("Redrive done", extra={"action": action, "redriven": len(report.redriven), "skipped": len(report.skipped)})
    return result
