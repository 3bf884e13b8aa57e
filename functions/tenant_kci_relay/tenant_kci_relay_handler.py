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


class HeldBack(Exception):
    """An earlier record of this batch failed: this one waits for it."""


def record_handler(record: DynamoDBRecord) -> str | None:
    # Once a record fails, the rest of the batch is not sent: the event source mapping retries from the
    # first failed record, and a later KCI of the same order sent now would reach the FIFO queue before it.
    if processor.fail_messages:
        raise HeldBack("an earlier record of this batch failed; this one waits for its retry")
    return relay(record.raw_event, deps.queue)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
