"""The supplier-requests queue: accepted cancellations on their way to the supplier dispatcher."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fibre_cafe.models.records import SupplierRequestMessage

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import SqsClient


class SupplierRequestsQueue:
    def __init__(self, client: SqsClient, queue_url: str):
        self.client = client
        self.url = queue_url

    def send(self, message: SupplierRequestMessage) -> str:
        answer = self.client.send_message(
            QueueUrl=self.url,
            MessageBody=message.model_dump_json(),
            MessageAttributes={
                "cancellationId": {"DataType": "Number", "StringValue": str(message.cancellationId)},
                "supplier": {"DataType": "String", "StringValue": message.supplier},
            },
        )
        return str(answer["MessageId"])
