"""The tenant-updates FIFO queue: one message group per order, so a tenant gets an order's KCIs in order."""

from __future__ import annotations

from fibre_cafe.dal.sqs_queue import SqsQueue
from fibre_cafe.models.tenant_kci import TenantKciMessage


class TenantUpdatesQueue(SqsQueue):
    def send(self, message: TenantKciMessage) -> str:
        return self._send(message.model_dump_json(exclude_none=True), MessageGroupId=f"{message.tenant}#{message.orderId}",
                          MessageDeduplicationId=message.kci.id)
