"""Sends queued cancellations to the suppliers' Supplier API (fibre_cafe/logic/dispatch_cancellation.py).

Each record succeeds or fails alone (partial batch failure reporting). A transient supplier
failure hides the message for a backoff (ChangeMessageVisibility) and reports it failed, so the
queue redelivers it later; the cancellation turns FAILED_TO_SEND once its attempts are spent.

Time budget (fibre_cafe/dal/partner_call.py): a record starts only while the invocation has time
for one more supplier call at its overall deadline; the others are handed back untouched (visible
again at once, reported failed) instead of being cut off by the function timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import Field

from fibre_cafe.batch import BatchProcessor, EventType, SQSRecord, process_partial_response
from fibre_cafe.dal import deferred_records
from fibre_cafe.dal.aws_clients import dynamodb_client, secrets_client, sqs_client
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.dal.partner_call import TimeBudget
from fibre_cafe.dal.supplier_api import SupplierApi
from fibre_cafe.dal.supplier_directory import supplier_directory
from fibre_cafe.logic.dispatch_cancellation import DispatchCancellation, DispatchSettings
from fibre_cafe.models.records import SupplierRequestMessage
from fibre_cafe.observability import count
from fibre_cafe.settings import Attempts, BackoffSeconds, GatewayTables, PartnerCallSettings, QueueUrl, Seconds, SupplierPartners
from fibre_cafe.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
# A batch whose every record failed is reported like any other (all in batchItemFailures), not
# raised: the queue retries exactly the same records either way, and a transient supplier answer
# or a poison record alone in its batch is not a function error (no Lambda Errors alarm).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class Settings(GatewayTables, SupplierPartners, PartnerCallSettings):
    supplier_requests_queue_url: QueueUrl = Field(alias="SUPPLIER_REQUESTS_QUEUE_URL")
    # How long the dispatcher waits for a supplier's answer (the local stack shortens it: LOCAL_SUPPLIER_READ_TIMEOUT).
    supplier_read_timeout_seconds: Seconds = Field(10.0, alias="SUPPLIER_READ_TIMEOUT_SECONDS")
    max_dispatch_attempts: Attempts = Field(4, alias="MAX_DISPATCH_ATTEMPTS")
    dispatch_backoff_base_seconds: BackoffSeconds = Field(10, alias="DISPATCH_BACKOFF_BASE_SECONDS")


class Dependencies:
    def __init__(self, settings: Settings) -> None:
        dynamodb = dynamodb_client()
        store = GatewayStore(
            dynamodb,
            CancellationsTable(dynamodb, settings.cancellations_table_name),
            OrdersTable(dynamodb, settings.orders_table_name),
        )
        self.sqs = sqs_client()
        self.queue_url = settings.supplier_requests_queue_url
        # The suppliers' endpoints: the partner registry (PARTNER_REGISTRY_TABLE_NAME) and each supplier's secret.
        directory = supplier_directory(dynamodb, settings.partner_registry_table_name, secrets_client, config=settings.suppliers_config,
                                       config_file=settings.suppliers_config_file, ttl_seconds=settings.partner_registry_ttl_seconds)
        supplier_api = SupplierApi(directory, read_timeout=settings.supplier_read_timeout_seconds,
                                   deadline=settings.partner_call_deadline_seconds)
        self.dispatch = DispatchCancellation(store, supplier_api, DispatchSettings(
            max_attempts=settings.max_dispatch_attempts, backoff_base_seconds=settings.dispatch_backoff_base_seconds))
        self.record_worst_case_seconds = settings.record_worst_case_seconds


deps = Wiring(Settings, Dependencies)


def dispatch_record(record: SQSRecord) -> str:
    message = SupplierRequestMessage.model_validate_json(record.body)
    logger.append_keys(cancellation_id=message.cancellationId, x_request_id=message.requestId,
                       x_conversation_id=message.conversationId, tenant=message.tenant, supplier=message.supplier)
    outcome = deps().dispatch(message).value
    count("SupplierOutcomes", outcome=outcome)
    return outcome


def record_handler(record: SQSRecord, budget: TimeBudget) -> str:
    """One record within the time budget; a RetryLater hides it for its backoff (fibre_cafe/dal/deferred_records.py)."""
    return deferred_records.consume(deps().sqs, deps().queue_url, record, budget, lambda: dispatch_record(record), logger,
                                    on_retry=lambda _retry: count("SupplierOutcomes", outcome="RETRY"))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    budget = TimeBudget(context, deps().record_worst_case_seconds)  # this invocation's
    return process_partial_response(event=event, record_handler=lambda record: record_handler(record, budget),
                                    processor=processor, context=context)
