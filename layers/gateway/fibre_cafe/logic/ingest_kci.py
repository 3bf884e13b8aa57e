"""Accept a supplier's KCI (``POST /kcis``): check it against the registry, queue it durably, answer 204.

The checks here are the ones a supplier must hear about at once (422 INVALID_REQUEST): the KCI
names an order of another supplier, of another tenant, or of another type. The KCI processor
applies the same rules again (domain/kci_rules.py), since the registry may change in between.
Round trips: GetItem (the order) and SendMessage.
"""

from __future__ import annotations

from fibre_cafe.clock import iso, utc_now
from fibre_cafe.dal.kci_queue import KciQueue
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.domain.errors import InvalidRequest
from fibre_cafe.domain.kci_rules import KciRejected, plan_kci
from fibre_cafe.models.kci import KciEnvelope, SupplierKci


def ingest_kci(orders: OrdersTable, queue: KciQueue, kci: SupplierKci, supplier: str, request_id: str,
               conversation_id: str | None, clock=utc_now) -> KciEnvelope:
    order = orders.get(kci.order.id)
    try:
        plan_kci(kci, supplier, order)
    except KciRejected as exc:
        raise InvalidRequest(str(exc)) from exc
    envelope = KciEnvelope(
        supplier=supplier,
        receivedOn=iso(clock()),
        requestId=request_id,
        conversationId=conversation_id,
        kci=kci.model_dump(mode="json", exclude_none=True),
    )
    queue.send(envelope)
    return envelope
