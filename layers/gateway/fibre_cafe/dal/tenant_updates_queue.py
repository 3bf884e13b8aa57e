"""The tenant-updates FIFO queue: one message group per order, so a tenant gets an order's KCIs in order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fibre_cafe.models.tenant_kci import TenantKciMessage

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import SqsClient


class TenantUpdatesQueue:
    def __init__(self, client: SqsClient, queue_url: str):
        self.client = client
        self.url = queue_url

    def send(self, message: TenantKciMessage) -> str:
        answer = self.client.send_message(
            QueueUrl=self.url,
            MessageBody=message.model_dump_json(exclude_none=True),
            MessageGroupId=f"{message.tenant}#{message.orderId}",
            MessageDeduplicationId=message.kci.id,
        )
        return str(answer["MessageId"])
