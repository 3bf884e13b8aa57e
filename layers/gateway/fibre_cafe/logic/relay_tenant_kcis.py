"""Carry new tenant KCIs from the orders table's stream to the tenant-updates FIFO queue.

Only INSERTs of outbox items (``sk`` starting TENANT_KCI#) are relayed. The template's event
filter already drops everything else (on AWS, and in the local stack's stream poller, which applies
the same FilterCriteria); this check keeps the function correct should the filter ever be changed. Duplicates are harmless: the FIFO queue
deduplicates on the tenant KCI id, and delivery skips a KCI already delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox, is_outbox_key
from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue
from fibre_cafe.models.tenant_kci import TenantKciMessage


def outbox_message(stream_record: Mapping[str, Any]) -> TenantKciMessage | None:
    """The tenant KCI a DynamoDB stream record (the Lambda event's shape) carries, if any."""
    if stream_record.get("eventName") != "INSERT":
        return None
    image = (stream_record.get("dynamodb") or {}).get("NewImage") or {}
    if not is_outbox_key(image.get("sk", {}).get("S", "")):
        return None
    return TenantKciOutbox.message_from_item(image)


def relay(stream_record: Mapping[str, Any], queue: TenantUpdatesQueue) -> str | None:
    message = outbox_message(stream_record)
    if message is None:
        return None
    return queue.send(message)
