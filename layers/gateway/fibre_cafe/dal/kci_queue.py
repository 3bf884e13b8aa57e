"""The KCI queue: supplier KCIs accepted by ``POST /kcis``, waiting for the KCI processor."""

from __future__ import annotations

from fibre_cafe.models.kci import KciEnvelope


class KciQueue:
    def __init__(self, client, queue_url: str):
        self.client = client
        self.url = queue_url

    def send(self, envelope: KciEnvelope) -> str:
        answer = self.client.send_message(
            QueueUrl=self.url,
            MessageBody=envelope.model_dump_json(),
            MessageAttributes={"supplier": {"DataType": "String", "StringValue": envelope.supplier}},
        )
        return answer["MessageId"]
