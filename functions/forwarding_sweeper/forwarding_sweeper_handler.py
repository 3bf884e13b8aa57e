"""Scheduled every two minutes: re-queue cancellations stuck in RECEIVED_BY_GATEWAY (see logic/forwarding_sweeper.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import Field

from fibre_cafe.clock import Clock, utc_now
from fibre_cafe.dal.aws_clients import dynamodb_client, sqs_client
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
from fibre_cafe.logic.forwarding_sweeper import sweep
from fibre_cafe.settings import GatewayTables, QueueUrl
from fibre_cafe.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


class Settings(GatewayTables):
    supplier_requests_queue_url: QueueUrl = Field(alias="SUPPLIER_REQUESTS_QUEUE_URL")


class Dependencies:
    def __init__(self, settings: Settings) -> None:
        dynamodb = dynamodb_client()
        self.table = CancellationsTable(dynamodb, settings.cancellations_table_name)
        self.store = GatewayStore(dynamodb, self.table, OrdersTable(dynamodb, settings.orders_table_name))
        self.queue = SupplierRequestsQueue(sqs_client(), settings.supplier_requests_queue_url)
        self.clock: Clock = utc_now  # what "stuck for the quiet period" is measured against (tests move it)


deps = Wiring(Settings, Dependencies)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = deps()
    report = asdict(sweep(built.table, built.queue, store=built.store, clock=built.clock))
    logger.info("Forwarding sweep done", extra=report)
    return report
