"""Accept a supplier's KCI (``POST /kcis``): check it against the registry, claim its id, queue it, answer 204.

Refused here (422 INVALID_REQUEST, nothing stored, nothing queued), because such a KCI could never be applied
and the supplier must hear about it at once (issue 10; the schema-level refusals, 400, are in models/kci.py):

- it names an order of another supplier, of another tenant, or of another type (domain/kci_rules.py; the
  KCI processor applies the same rules again, since the registry may change in between);
- it names a cancellation that is not one of this order's. An unknown cancellation id and another order's
  (or another tenant's) get the same answer, so a supplier learns nothing about ids it does not own;
- its id is already used by a different KCI, on any order (dal/kci_ids.py). The same KCI sent again passes.

Round trips: GetItem (the order; BatchGetItem with the named cancellation), PutItem (the id claim), SendMessage.
"""

from __future__ import annotations

from fibre_cafe.clock import Clock, iso, utc_now
from fibre_cafe.dal.dynamodb_codec import from_item
from fibre_cafe.dal.errors import KciIdTaken
from fibre_cafe.dal.kci_ids import KciIngestStore, kci_fingerprint
from fibre_cafe.dal.kci_queue import KciQueue
from fibre_cafe.domain.errors import InvalidRequest, KciRejected
from fibre_cafe.domain.kci_rules import plan_kci
from fibre_cafe.ids import new_id
from fibre_cafe.models.kci import KciEnvelope, SupplierKci
from fibre_cafe.models.order import Order


def ingest_kci(store: KciIngestStore, queue: KciQueue, kci: SupplierKci, supplier: str, request_id: str,
               conversation_id: str | None, clock: Clock = utc_now) -> KciEnvelope:
    order_item, cancellation_item = store.read(kci.order.id, kci.serviceOrderCancellationId)
    order = Order.model_validate(from_item(order_item)) if order_item else None
    try:
        plan_kci(kci, supplier, order, new_id)
    except KciRejected as exc:
        raise InvalidRequest(str(exc)) from exc
    if kci.serviceOrderCancellationId is not None:
        cancellation = from_item(cancellation_item) if cancellation_item else None
        if (cancellation is None or order is None or cancellation.get("orderId") != kci.order.id
                or cancellation.get("tenant") != order.tenant or cancellation.get("supplier") not in (None, supplier)):
            raise InvalidRequest(f"Invalid value for field serviceOrderCancellationId - {kci.serviceOrderCancellationId} "
                                 f"is not a cancellation of order {kci.order.id}")
    body = kci.model_dump(mode="json", exclude_none=True)
    now = iso(clock())
    try:
        store.claim(str(kci.id), kci_fingerprint(body), kci.order.id, now)
    except KciIdTaken:
        raise InvalidRequest(f"Invalid value for field id - {kci.id} is already the id of a different KCI") from None
    envelope = KciEnvelope(supplier=supplier, receivedOn=now, requestId=request_id, conversationId=conversation_id, kci=body)
    queue.send(envelope)
    return envelope
