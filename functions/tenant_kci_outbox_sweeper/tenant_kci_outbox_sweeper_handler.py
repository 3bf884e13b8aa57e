"""Scheduled every two minutes: re-relay tenant KCIs still PENDING in the outbox (see logic/outbox_sweeper.py)."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import timedelta

from aws_lambda_powertools import Logger

from fibre_cafe.dal.aws_clients import dynamodb_client, sqs_client
from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox
from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue
from fibre_cafe.logic.outbox_sweeper import sweep_outbox

logger = Logger()


class Dependencies:
    def __init__(self) -> None:
        self.outbox = TenantKciOutbox(dynamodb_client(), os.environ["ORDERS_TABLE_NAME"])
        self.queue = TenantUpdatesQueue(sqs_client(), os.environ["TENANT_UPDATES_QUEUE_URL"])
        self.after = timedelta(seconds=int(os.environ.get("OUTBOX_SWEEP_AFTER_SECONDS", "180")))


deps = Dependencies()


def sweep(outbox: TenantKciOutbox, queue: TenantUpdatesQueue, after: timedelta):
    """Indirection for tests (they move the clock)."""
    return sweep_outbox(outbox, queue, after)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    report = asdict(sweep(deps.outbox, deps.queue, deps.after))
    logger.info("Outbox sweep done", extra={"relayed": len(report["relayed"]), "failed": len(report["failed"])})
    return report
