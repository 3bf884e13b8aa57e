"""The KCI queue: supplier KCIs accepted by ``POST /kcis``, waiting for the KCI processor.

It also carries the processor's own hold-expiry timers (``{"holdExpiry": {"orderId": N}}``, sent with a delay):
see logic/apply_kci.py for why a held KCI's deadline is a delayed message on this queue.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from fibre_cafe.models.kci import KciEnvelope

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import SqsClient


class KciQueue:
    def __init__(self, client: SqsClient, queue_url: str):
        self.client = client
        self.url = queue_url

    def send(self, envelope: KciEnvelope) -> str:
        answer = self.client.send_message(
            QueueUrl=self.url,
            MessageBody=envelope.model_dump_json(),
            MessageAttributes={"supplier": {"DataType": "String", "StringValue": envelope.supplier}},
        )
        return str(answer["MessageId"])

    def schedule_hold_expiry(self, order_id: int, delay_seconds: int) -> str:
        """A timer: the processor looks at ``order_id``'s held KCIs again in ``delay_seconds`` (SQS: at most 900)."""
        answer = self.client.send_message(
            QueueUrl=self.url,
            MessageBody=json.dumps({"holdExpiry": {"orderId": order_id}}),
            DelaySeconds=max(0, min(900, int(delay_seconds))),
        )
        return str(answer["MessageId"])
