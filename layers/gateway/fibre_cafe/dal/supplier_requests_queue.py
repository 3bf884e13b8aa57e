"""The supplier-requests queue: accepted cancellations on their way to the supplier dispatcher."""

from __future__ import annotations

from fibre_cafe.dal.sqs_queue import SqsQueue
from fibre_cafe.models.records import SupplierRequestMessage


class SupplierRequestsQueue(SqsQueue):
    def send(self, message: SupplierRequestMessage) -> str:
        return self._send(message.model_dump_json(), MessageAttributes={
            "cancellationId": {"DataType": "Number", "StringValue": str(message.cancellationId)},
            "supplier": {"DataType": "String", "StringValue": message.supplier},
        })
