"""Relays new tenant KCIs from the orders table's stream to the tenant-updates FIFO queue (fibre_cafe/logic/relay_tenant_kcis.py)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from fibre_cafe.dal.aws_clients import sqs_client
from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue
from fibre_cafe.logic.relay_tenant_kcis import relay

logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class Dependencies:
    def __init__(self) -> None:
        self.queue = TenantUpdatesQueue(sqs_client(), os.environ["TENANT_UPDATES_QUEUE_URL"])


deps = Dependencies()


def record_handler(record: DynamoDBRecord) -> str | None:
    return relay(record.raw_event, deps.queue)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
