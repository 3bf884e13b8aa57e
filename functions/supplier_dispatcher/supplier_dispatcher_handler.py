"""Sends queued cancellations to the suppliers' Supplier API (fibre_cafe/logic/dispatch_cancellation.py).

Each record succeeds or fails alone (partial batch failure reporting). A transient supplier
failure hides the message for a backoff (ChangeMessageVisibility) and reports it failed, so the
queue redelivers it later; the cancellation turns FAILED_TO_SEND once its attempts are spent.

Time budget (fibre_cafe/dal/partner_call.py): a record starts only while the invocation has time
for one more supplier call at its overall deadline; the others are handed back untouched (visible
again at once, reported failed) instead of being cut off by the function timeout.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

from fibre_cafe.batch import BatchProcessor, EventType, SQSRecord, process_partial_response
from fibre_cafe.dal import deferred_records
from fibre_cafe.dal.aws_clients import dynamodb_client, secrets_client, sqs_client
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.dal.partner_call import (
    PARTNER_CALL_DEADLINE_SECONDS,
    READ_TIMEOUT_SECONDS,
    TimeBudget,
    env_seconds,
    record_worst_case_seconds,
)
from fibre_cafe.dal.supplier_api import SupplierApi
from fibre_cafe.dal.supplier_directory import supplier_directory
from fibre_cafe.logic.dispatch_cancellation import DispatchCancellation, DispatchSettings
from fibre_cafe.models.records import SupplierRequestMessage
from fibre_cafe.observability import count

logger = Logger()
# A batch whose every record failed is reported like any other (all in batchItemFailures), not
# raised: the queue retries exactly the same records either way, and a transient supplier answer
# or a poison record alone in its batch is not a function error (no Lambda Errors alarm).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class Dependencies:
    def __init__(self) -> None:
        dynamodb = dynamodb_client()
        store = GatewayStore(
            dynamodb,
            CancellationsTable(dynamodb, os.environ["CANCELLATIONS_TABLE_NAME"]),
            OrdersTable(dynamodb, os.environ["ORDERS_TABLE_NAME"]),
        )
        settings = DispatchSettings(
            max_attempts=int(os.environ.get("MAX_DISPATCH_ATTEMPTS", "4")),
            backoff_base_seconds=int(os.environ.get("DISPATCH_BACKOFF_BASE_SECONDS", "10")),
        )
        self.sqs = sqs_client()
        self.queue_url = os.environ["SUPPLIER_REQUESTS_QUEUE_URL"]
        # The suppliers' endpoints: the partner registry (PARTNER_REGISTRY_TABLE_NAME) and each supplier's secret.
        directory = supplier_directory(dynamodb, os.environ.get("PARTNER_REGISTRY_TABLE_NAME"), secrets_client)
        supplier_api = SupplierApi(directory, read_timeout=env_seconds("SUPPLIER_READ_TIMEOUT_SECONDS", READ_TIMEOUT_SECONDS),
                                   deadline=env_seconds("PARTNER_CALL_DEADLINE_SECONDS", PARTNER_CALL_DEADLINE_SECONDS))
        self.dispatch = DispatchCancellation(store, supplier_api, settings)
        self.record_worst_case_seconds = record_worst_case_seconds()
        self.budget = TimeBudget(None, self.record_worst_case_seconds)


deps = Dependencies()


def dispatch_record(record: SQSRecord) -> str:
    message = SupplierRequestMessage.model_validate_json(record.body)
    logger.append_keys(cancellation_id=message.cancellationId, x_request_id=message.requestId,
                       x_conversation_id=message.conversationId, tenant=message.tenant, supplier=message.supplier)
    outcome = deps.dispatch(message).value
    count("SupplierOutcomes", outcome=outcome)
    return outcome


def record_handler(record: SQSRecord) -> str:
    """One record within the time budget; a RetryLater hides it for its backoff (fibre_cafe/dal/deferred_records.py)."""
    return deferred_records.consume(deps.sqs, deps.queue_url, record, deps.budget, lambda: dispatch_record(record), logger,
                                    on_retry=lambda _retry: count("SupplierOutcomes", outcome="RETRY"))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    deps.budget = TimeBudget(context, deps.record_worst_case_seconds)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
