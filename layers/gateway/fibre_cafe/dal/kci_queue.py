"""The KCI queue: supplier KCIs accepted by ``POST /kcis``, waiting for the KCI processor.

It also carries the processor's own hold-expiry timers (``{"holdExpiry": {"orderId": N}}``, sent with a delay):
see logic/apply_kci.py for why a held KCI's deadline is a delayed message on this queue.
"""

from __future__ import annotations

import json

from fibre_cafe.dal.sqs_queue import SqsQueue
from fibre_cafe.models.kci import KciEnvelope


class KciQueue(SqsQueue):
    def send(self, envelope: KciEnvelope) -> str:
        return self._send(envelope.model_dump_json(),
                          MessageAttributes={"supplier": {"DataType": "String", "StringValue": envelope.supplier}})

    def schedule_hold_expiry(self, order_id: int, delay_seconds: int) -> str:
        """A timer: the processor looks at ``order_id``'s held KCIs again in ``delay_seconds`` (SQS: at most 900)."""
        return self._send(json.dumps({"holdExpiry": {"orderId": order_id}}), DelaySeconds=max(0, min(900, int(delay_seconds))))
