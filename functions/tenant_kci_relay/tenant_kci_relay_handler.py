"""Relays new tenant KCIs from the orders table's stream to the tenant-updates FIFO queue (fibre_cafe/logic/relay_tenant_kcis.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import Field

from fibre_cafe.batch import BatchProcessor, DynamoDBRecord, EventType, process_partial_response
from fibre_cafe.dal.aws_clients import sqs_client
from fibre_cafe.dal.errors import RetryLater
from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue
from fibre_cafe.logic.relay_tenant_kcis import relay
from fibre_cafe.settings import FunctionSettings, QueueUrl
from fibre_cafe.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class Settings(FunctionSettings):
    tenant_updates_queue_url: QueueUrl = Field(alias="TENANT_UPDATES_QUEUE_URL")


class Dependencies:
    def __init__(self, settings: Settings) -> None:
        self.queue = TenantUpdatesQueue(sqs_client(), settings.tenant_updates_queue_url)


deps = Wiring(Settings, Dependencies)


# Orders (the item's pk) with a failed record in the batch being processed.
_failed_orders: set[str] = set()


def _order_of(record: DynamoDBRecord) -> str:
    return str(((record.raw_event.get("dynamodb") or {}).get("Keys") or {}).get("pk", {}).get("S", ""))


def record_handler(record: DynamoDBRecord) -> str | None:
    # Once a record fails, the later records of the same order are not sent (a later KCI of that order sent now
    # would reach the FIFO queue before it). Other orders' records are sent: one poison record never holds back
    # other orders or tenants. The event source mapping retries from the first failed record, so those others are
    # sent again on the retry: harmless (the FIFO queue deduplicates on the tenant KCI id; delivery skips what is done).
    order = _order_of(record)
    if order in _failed_orders:
        raise RetryLater("an earlier record of this order failed in this batch; this one waits for its retry")
    try:
        return relay(record.raw_event, deps().queue)
    except Exception:
        _failed_orders.add(order)
        raise


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps()
    _failed_orders.clear()
    try:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    finally:
        _failed_orders.clear()
