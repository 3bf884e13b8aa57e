"""Scheduled every two minutes: re-queue cancellations stuck in RECEIVED_BY_GATEWAY (see logic/forwarding_sweeper.py)."""

from __future__ import annotations

import os
from dataclasses import asdict

from aws_lambda_powertools import Logger

from fibre_cafe.dal.aws_clients import dynamodb_client, sqs_client
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
from fibre_cafe.logic.forwarding_sweeper import sweep

logger = Logger()


class Dependencies:
    def __init__(self) -> None:
        dynamodb = dynamodb_client()
        self.table = CancellationsTable(dynamodb, os.environ["CANCELLATIONS_TABLE_NAME"])
        self.store = GatewayStore(dynamodb, self.table, OrdersTable(dynamodb, os.environ["ORDERS_TABLE_NAME"]))
        self.queue = SupplierRequestsQueue(sqs_client(), os.environ["SUPPLIER_REQUESTS_QUEUE_URL"])


deps = Dependencies()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    report = asdict(sweep(deps.table, deps.queue, store=deps.store))
    logger.info("Forwarding sweep done", extra=report)
    return report
