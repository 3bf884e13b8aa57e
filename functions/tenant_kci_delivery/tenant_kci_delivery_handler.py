"""Delivers tenant KCIs to each tenant's Tenant Updates API (fibre_cafe/logic/deliver_tenant_kci.py).

The queue is FIFO, grouped by order: when a delivery fails, that order's later KCIs wait
(the FIFO processor of fibre_cafe/batch.py fails the rest of the group), other orders go on.

Time budget (fibre_cafe/dal/partner_call.py): a record starts only while the invocation has time
for one more delivery attempt (token fetch and POST) at its overall deadline; the others are handed
back untouched (visible again at once, reported failed) instead of being cut off by the function timeout.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

from fibre_cafe.batch import SQSRecord, SqsFifoPartialProcessor, process_partial_response
from fibre_cafe.dal import deferred_records
from fibre_cafe.dal.aws_clients import dynamodb_client, secrets_client, sqs_client
from fibre_cafe.dal.partner_call import PARTNER_CALL_DEADLINE_SECONDS, TimeBudget, env_seconds, record_worst_case_seconds
from fibre_cafe.dal.partner_client import PartnerClient
from fibre_cafe.dal.partner_directory import partner_directory
from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox
from fibre_cafe.logic.deliver_tenant_kci import DeliverTenantKci, DeliverySettings
from fibre_cafe.models.tenant_kci import TenantKciMessage
from fibre_cafe.observability import count

logger = Logger()
# A batch whose every record failed (one KCI the tenant did not take yet, say) is reported like any
# other (all in batchItemFailures), not raised: the queue retries exactly the same records either way,
# and a tenant's outage is not a function error (no Lambda Errors alarm).
processor = SqsFifoPartialProcessor(skip_group_on_error=True, raise_on_entire_batch_failure=False)


class Dependencies:
    def __init__(self) -> None:
        self.sqs = sqs_client()
        self.queue_url = os.environ["TENANT_UPDATES_QUEUE_URL"]
        dynamodb = dynamodb_client()
        # The tenants' endpoints: the partner registry (PARTNER_REGISTRY_TABLE_NAME) and each tenant's secret.
        directory = partner_directory("TENANTS", "tenant", dynamodb, os.environ.get("PARTNER_REGISTRY_TABLE_NAME"), secrets_client)
        self.deliver = DeliverTenantKci(
            TenantKciOutbox(dynamodb, os.environ["ORDERS_TABLE_NAME"]),
            directory,
            client=PartnerClient(deadline=env_seconds("PARTNER_CALL_DEADLINE_SECONDS", PARTNER_CALL_DEADLINE_SECONDS)),
            settings=DeliverySettings(max_attempts=int(os.environ.get("MAX_DELIVERY_ATTEMPTS", "5")),
                                      backoff_base_seconds=int(os.environ.get("DELIVERY_BACKOFF_BASE_SECONDS", "5"))),
        )
        self.record_worst_case_seconds = record_worst_case_seconds()
        self.budget = TimeBudget(None, self.record_worst_case_seconds)


deps = Dependencies()


def deliver_record(record: SQSRecord) -> str:
    message = TenantKciMessage.model_validate_json(record.body)
    logger.append_keys(tenant=message.tenant, order_id=message.orderId, kci_id=message.kci.id,
                       x_conversation_id=message.conversationId)
    result = deps.deliver(message)
    count("TenantKcis", result=result.value)
    logger.info("Tenant KCI delivery", extra={"result": result.value, "sequence_number": message.kci.sequenceNumber})
    return result.value


def record_handler(record: SQSRecord) -> str:
    """One record within the time budget; a RetryLater hides it for its backoff (fibre_cafe/dal/deferred_records.py)."""
    return deferred_records.consume(deps.sqs, deps.queue_url, record, deps.budget, lambda: deliver_record(record), logger,
                                    on_retry=lambda _retry: count("TenantKcis", result="RETRY"))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    deps.budget = TimeBudget(context, deps.record_worst_case_seconds)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
