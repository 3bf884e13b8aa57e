"""Accept a tenant's cancellation request: check, store, answer, forward.

Sequential AWS round trips on a first request: BatchGetItem (order + idempotency record),
TransactWriteItems (cancellation + idempotency record + order), SendMessage. A replay costs
one BatchGetItem. The id block refill, when one is due, runs in parallel with the first read.

Forwarding guarantee: the record is committed before the message is sent. If the send fails,
or the process dies in between, the cancellation stays RECEIVED_BY_GATEWAY in the
``ByDispatchStatus`` index and the forwarding sweeper (logic/forwarding_sweeper.py) sends it
again; after repeated failures it is marked FAILED_TO_SEND, visibly. It is never stuck silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools import Logger

from fibre_cafe.clock import Clock, iso, utc_now
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.id_allocator import BlockIdAllocator
from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
from fibre_cafe.dal.transactions import retry_conflicts
from fibre_cafe.domain import cancellation_state_machine
from fibre_cafe.domain.errors import ConcurrentUpdate
from fibre_cafe.domain.order_rules import check_cancellable
from fibre_cafe.logic import idempotency
from fibre_cafe.models.cancellation import ServiceOrderCancellationRequest
from fibre_cafe.models.order import Order
from fibre_cafe.models.records import CancellationRecord, StoredResponse
from fibre_cafe.observability import count

logger = Logger(child=True)


@dataclass(frozen=True)
class RequestContext:
    """Who asks and how the request is traced. ``tenant`` comes from the verified token only."""

    tenant: str
    request_id: str
    conversation_id: str
    pass_through_headers: dict[str, str]


class CreateCancellation:
    def __init__(
        self,
        store: GatewayStore,
        ids: BlockIdAllocator,
        queue: SupplierRequestsQueue,
        clock: Clock = utc_now,
        max_attempts: int = 4,
    ):
        self.store = store
        self.ids = ids
        self.queue = queue
        self.clock = clock
        self.max_attempts = max_attempts

    def __call__(self, request: ServiceOrderCancellationRequest, ctx: RequestContext) -> StoredResponse:
        request_fingerprint = idempotency.fingerprint(request)
        # The order moved under us (another cancellation, a KCI), or a concurrent call with the same X-Request-ID
        # won the race (the next attempt answers what it answered): look again.
        return retry_conflicts(
            lambda attempt: self._attempt(request, ctx, request_fingerprint), self.max_attempts,
            give_up=lambda: ConcurrentUpdate("The order is being updated concurrently"),
        )

    def _attempt(self, request: ServiceOrderCancellationRequest, ctx: RequestContext, request_fingerprint: str) -> StoredResponse:
        self.ids.prefetch()
        order, stored = self.store.read_order_and_request(request.orderId, ctx.tenant, ctx.request_id)
        now = self.clock()
        now_epoch = int(now.timestamp())
        if idempotency.is_live(stored, now_epoch):
            return idempotency.replay(stored, request_fingerprint)

        check_cancellable(order, ctx.tenant, request)
        assert order is not None  # check_cancellable raised NotFound for a missing order
        record, response = self._new_cancellation(request, ctx, order, request_fingerprint, now)
        self.store.create_cancellation(record, order, response, now_epoch)
        self._forward(record)
        count("CancellationsAccepted", reasonCode=record.reasonCode.value)
        return response

    def _new_cancellation(self, request: ServiceOrderCancellationRequest, ctx: RequestContext, order: Order, request_fingerprint: str,
                          now: datetime) -> tuple[CancellationRecord, StoredResponse]:
        stamp = iso(now)
        record = CancellationRecord(
            id=self.ids.next_id(),
            tenant=ctx.tenant,
            supplier=order.supplier,
            orderId=order.id,
            orderType=order.orderType,
            reasonCode=request.reasonCode,
            text=request.text,
            status=cancellation_state_machine.INITIAL,
            supplierOrderReference=order.supplierOrderReference,
            requestId=ctx.request_id,
            conversationId=ctx.conversation_id,
            passThroughHeaders=ctx.pass_through_headers,
            createdAt=stamp,
            updatedAt=stamp,
        )
        response = StoredResponse(
            tenant=ctx.tenant,
            requestId=ctx.request_id,
            fingerprint=request_fingerprint,
            statusCode=201,
            body=record.tenant_view().to_body(),
            cancellationId=record.id,
            createdAt=stamp,
            expiresAt=int(now.timestamp()) + idempotency.IDEMPOTENCY_TTL_SECONDS,
        )
        return record, response

    def _forward(self, record: CancellationRecord) -> None:
        try:
            self.queue.send(record.supplier_request_message())
        except Exception:  # the record is safe; the sweeper forwards it later
            logger.exception(
                "Could not queue cancellation for the supplier; the forwarding sweeper will resend it",
                extra={"cancellation_id": record.id},
            )
