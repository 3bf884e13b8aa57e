"""Applies supplier KCIs from the KCI queue in batches, each order's in sequence (fibre_cafe/logic/apply_kci.py,
rules: fibre_cafe/domain/kci_rules.py). The queue also carries this function's hold-expiry timers.

Each record succeeds or fails alone (partial batch failure reporting): a KCI that cannot be
applied yet is retried by the queue and, after the template's maxReceiveCount, dead-lettered,
without holding back the others in its batch.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import Field

from fibre_cafe.batch import BatchProcessor, EventType, SQSRecord, process_partial_response
from fibre_cafe.dal.aws_clients import dynamodb_client, sqs_client
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.kci_hold_window import kci_hold_window_seconds
from fibre_cafe.dal.kci_queue import KciQueue
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.dal.supplier_directory import supplier_directory
from fibre_cafe.logic.apply_kci import ApplyKci
from fibre_cafe.models.kci import KciEnvelope
from fibre_cafe.observability import count
from fibre_cafe.settings import GatewayTables, QueueUrl, SupplierPartners
from fibre_cafe.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
# A batch whose every record failed is reported like any other (all in batchItemFailures), not
# raised: the queue retries exactly the same records either way, and a transient supplier answer
# or a poison record alone in its batch is not a function error (no Lambda Errors alarm).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class Settings(GatewayTables, SupplierPartners):
    kci_queue_url: QueueUrl = Field(alias="KCI_QUEUE_URL")
    # The KCI queue's maxReceiveCount (template.yaml): a failure on that receive sends the KCI to the DLQ.
    kci_max_receive_count: int = Field(5, alias="KCI_MAX_RECEIVE_COUNT", ge=1, le=1000, description="a whole number from 1 to 1000")


class Dependencies:
    def __init__(self, settings: Settings) -> None:
        dynamodb = dynamodb_client()
        cancellations = CancellationsTable(dynamodb, settings.cancellations_table_name)
        orders = OrdersTable(dynamodb, settings.orders_table_name)
        # The supplier's settings (kciHoldWindowSeconds) from the partner registry, read on the first held KCI and
        # cached; None: settings only, this function never reads a supplier's secret.
        suppliers = supplier_directory(dynamodb, settings.partner_registry_table_name, None, config=settings.suppliers_config,
                                       config_file=settings.suppliers_config_file, ttl_seconds=settings.partner_registry_ttl_seconds)
        self.apply_kci = ApplyKci(GatewayStore(dynamodb, cancellations, orders),
                                  hold_window=lambda supplier: kci_hold_window_seconds(suppliers, supplier),
                                  timers=KciQueue(sqs_client(), settings.kci_queue_url))
        self.max_receive_count = settings.kci_max_receive_count


deps = Wiring(Settings, Dependencies)


def _hold_expiry(body: str) -> int | None:
    """The order id of a hold-expiry timer message (logic/apply_kci.py), None for a KCI."""
    if '"holdExpiry"' not in body[:40]:
        return None
    try:
        return int(json.loads(body)["holdExpiry"]["orderId"])
    except (ValueError, KeyError, TypeError):
        return None


def record_handler(record: SQSRecord) -> dict[str, Any]:
    order_id = _hold_expiry(record.body)
    if order_id is not None:
        released = deps().apply_kci.expire(order_id)
        logger.info("Hold-expiry timer", extra={"order_id": order_id, "released": released})
        return {"holdExpiry": order_id, "released": released}
    envelope = KciEnvelope.model_validate_json(record.body)
    try:
        outcome = deps().apply_kci(envelope)
    except Exception:
        receive_count = int(record.attributes.approximate_receive_count or 1)
        last_try = receive_count >= deps().max_receive_count
        count("KcisDeadLettered" if last_try else "KcisFailed")
        logger.exception("KCI not applied; " + ("it goes to the dead-letter queue" if last_try else "the queue will retry it"),
                         extra={"message_id": record.message_id, "receive_count": receive_count})
        raise
    if outcome.duplicate:
        count("KcisIgnored")
    elif outcome.kind == "APPLIED":
        count("KcisApplied")
    logger.info("KCI placed", extra={"kci_id": outcome.kci_id, "order_id": outcome.order_id, "duplicate": outcome.duplicate,
                "outcome": outcome.kind, "cancellation_id": outcome.effect.cancellation_id if outcome.effect else None})
    return {"kciId": outcome.kci_id, "duplicate": outcome.duplicate, "outcome": outcome.kind}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
