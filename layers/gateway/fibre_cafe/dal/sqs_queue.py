"""What every queue of the gateway shares: its SQS client and URL, and sending one message (the message id back)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import SqsClient


class SqsQueue:
    def __init__(self, client: SqsClient, queue_url: str):
        self.client = client
        self.url = queue_url

    def _send(self, body: str, **parameters: Any) -> str:
        """SendMessage of ``body`` with ``parameters`` (attributes, group, deduplication id, delay); the message id."""
        answer = self.client.send_message(QueueUrl=self.url, MessageBody=body, **parameters)
        return str(answer["MessageId"])
