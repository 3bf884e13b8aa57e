"""Scheduled every two minutes: re-relay tenant KCIs still PENDING in the outbox (see logic/outbox_sweeper.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import Field

from fibre_cafe.clock import Clock, utc_now
from fibre_cafe.dal.aws_clients import dynamodb_client, sqs_client
from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox
from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue
from fibre_cafe.logic.outbox_sweeper import sweep_outbox
from fibre_cafe.settings import FunctionSettings, QueueUrl, TableName
from fibre_cafe.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


class Settings(FunctionSettings):
    orders_table_name: TableName = Field(alias="ORDERS_TABLE_NAME")
    tenant_updates_queue_url: QueueUrl = Field(alias="TENANT_UPDATES_QUEUE_URL")
    outbox_sweep_after_seconds: int = Field(180, alias="OUTBOX_SWEEP_AFTER_SECONDS", ge=1, le=86400,
                                            description="a whole number of seconds from 1 to 86400")


class Dependencies:
    def __init__(self, settings: Settings) -> None:
        self.outbox = TenantKciOutbox(dynamodb_client(), settings.orders_table_name)
        self.queue = TenantUpdatesQueue(sqs_client(), settings.tenant_updates_queue_url)
        self.after = timedelta(seconds=settings.outbox_sweep_after_seconds)
        self.clock: Clock = utc_now  # what "still pending after" is measured against (tests move it)


deps = Wiring(Settings, Dependencies)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = deps()
    report = asdict(sweep_outbox(built.outbox, built.queue, built.after, clock=built.clock))
    logger.info("Outbox sweep done", extra={"relayed": len(report["relayed"]), "failed": len(report["failed"])})
    return report
