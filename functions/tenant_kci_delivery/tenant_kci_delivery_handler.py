"""Delivers tenant KCIs to each tenant's Tenant Updates API (fibre_cafe/logic/deliver_tenant_kci.py).

The queue is FIFO, grouped by order: when a delivery fails, that order's later KCIs wait
(the FIFO processor of fibre_cafe/batch.py fails the rest of the group), other orders go on.

Time budget (fibre_cafe/dal/partner_call.py): a record starts only while the invocation has time
for one more delivery attempt (token fetch and POST) at its overall deadline; the others are handed
back untouched (visible again at once, reported failed) instead of being cut off by the function timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import Field

from fibre_cafe.batch import SqsFifoPartialProcessor, SQSRecord, process_partial_response
from fibre_cafe.dal import deferred_records
from fibre_cafe.dal.aws_clients import dynamodb_client, secrets_client, sqs_client
from fibre_cafe.dal.partner_call import TimeBudget
from fibre_cafe.dal.partner_client import PartnerClient
from fibre_cafe.dal.partner_directory import partner_directory
from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox
from fibre_cafe.logic.deliver_tenant_kci import DeliverTenantKci, DeliverySettings
from fibre_cafe.models.tenant_kci import TenantKciMessage
from fibre_cafe.observability import count
from fibre_cafe.settings import Attempts, BackoffSeconds, PartnerCallSettings, QueueUrl, TableName, TenantPartners
from fibre_cafe.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
# A batch whose every record failed (one KCI the tenant did not take yet, say) is reported like any
# other (all in batchItemFailures), not raised: the queue retries exactly the same records either way,
# and a tenant's outage is not a function error (no Lambda Errors alarm).
processor = SqsFifoPartialProcessor(skip_group_on_error=True, raise_on_entire_batch_failure=False)


class Settings(TenantPartners, PartnerCallSettings):
    orders_table_name: TableName = Field(alias="ORDERS_TABLE_NAME")
    tenant_updates_queue_url: QueueUrl = Field(alias="TENANT_UPDATES_QUEUE_URL")
    max_delivery_attempts: Attempts = Field(5, alias="MAX_DELIVERY_ATTEMPTS")
    delivery_backoff_base_seconds: BackoffSeconds = Field(5, alias="DELIVERY_BACKOFF_BASE_SECONDS")


class Dependencies:
    def __init__(self, settings: Settings) -> None:
        self.sqs = sqs_client()
        self.queue_url = settings.tenant_updates_queue_url
        dynamodb = dynamodb_client()
        # The tenants' endpoints: the partner registry (PARTNER_REGISTRY_TABLE_NAME) and each tenant's secret.
        directory = partner_directory("tenant", dynamodb, settings.partner_registry_table_name, secrets_client,
                                      config=settings.tenants_config, config_file=settings.tenants_config_file,
                                      ttl_seconds=settings.partner_registry_ttl_seconds)
        self.deliver = DeliverTenantKci(
            TenantKciOutbox(dynamodb, settings.orders_table_name),
            directory,
            client=PartnerClient(deadline=settings.partner_call_deadline_seconds),
            settings=DeliverySettings(max_attempts=settings.max_delivery_attempts,
                                      backoff_base_seconds=settings.delivery_backoff_base_seconds),
        )
        self.record_worst_case_seconds = settings.record_worst_case_seconds


deps = Wiring(Settings, Dependencies)


def deliver_record(record: SQSRecord) -> str:
    message = TenantKciMessage.model_validate_json(record.body)
    logger.append_keys(tenant=message.tenant, order_id=message.orderId, kci_id=message.kci.id,
                       x_conversation_id=message.conversationId)
    result = deps().deliver(message)
    count("TenantKcis", result=result.value)
    logger.info("Tenant KCI delivery", extra={"result": result.value, "sequence_number": message.kci.sequenceNumber})
    return result.value


def record_handler(record: SQSRecord, budget: TimeBudget) -> str:
    """One record within the time budget; a RetryLater hides it for its backoff (fibre_cafe/dal/deferred_records.py)."""
    return deferred_records.consume(deps().sqs, deps().queue_url, record, budget, lambda: deliver_record(record), logger,
                                    on_retry=lambda _retry: count("TenantKcis", result="RETRY"))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    budget = TimeBudget(context, deps().record_worst_case_seconds)  # this invocation's
    return process_partial_response(event=event, record_handler=lambda record: record_handler(record, budget),
                                    processor=processor, context=context)
