"""Tenant API 1.17: ``POST /service-order-cancellations`` and ``GET /service-order-cancellations/{id}``.

Thin on purpose: parse and validate (Powertools + the contract models), call one use case from
``fibre_cafe.logic``, map the answer. Errors become the contract's error body in
``fibre_cafe.api.http``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.logging import correlation_paths
from pydantic import Field

from fibre_cafe.api.http import (
    JSON_CONTENT_TYPE,
    TRACE_HEADER_PATTERN,
    TRACE_HEADER_RULES,
    build_resolver,
    documented_responses,
    resolve,
)
from fibre_cafe.api.identity import StaticPrincipals
from fibre_cafe.dal.aws_clients import dynamodb_client, sqs_client
from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.id_allocator import BlockIdAllocator
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.dal.partner_registry import ClientRegistry
from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
from fibre_cafe.logic.create_cancellation import CreateCancellation, RequestContext
from fibre_cafe.logic.get_cancellation import get_cancellation
from fibre_cafe.models.cancellation import (
    ACCEPTED_VALUES,
    MAX_SAFE_INTEGER,
    ServiceOrderCancellation,
    ServiceOrderCancellationRequest,
)
from fibre_cafe.settings import ApiSettings, QueueUrl
from fibre_cafe.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

# Fibre Cafe test-environment headers, passed through to the supplier (see README).
PASS_THROUGH_HEADERS = ("X-Scenario", "X-Kci-Delay", "X-Problem-Code")
PASS_THROUGH_MAX_LENGTH = 64
# The largest valid request is well under 5 KB (text is at most 1,000 characters).
MAX_BODY_BYTES = 16 * 1024

# Path parameters that are ids: canonical decimal digits only (fibre_cafe.api.http.resolve), and what is accepted.
ACCEPTED_IDS = {"id": f"digits only, a whole number from 1 to {MAX_SAFE_INTEGER} without leading zeros or sign"}
app = build_resolver(
    {**ACCEPTED_VALUES, **TRACE_HEADER_RULES, **ACCEPTED_IDS},
    body_fields=tuple(ServiceOrderCancellationRequest.model_fields),
)


class Settings(ApiSettings):
    supplier_requests_queue_url: QueueUrl = Field(alias="SUPPLIER_REQUESTS_QUEUE_URL")
    # template.yaml's IdBlockSize (MinValue 1).
    id_block_size: int = Field(100, alias="ID_BLOCK_SIZE", ge=1, description="a whole number, 1 or more")


class Dependencies:
    """Clients and collaborators, built from the settings once per container (fibre_cafe/wiring.py)."""

    def __init__(self, settings: Settings) -> None:
        dynamodb = dynamodb_client()
        self.cancellations = CancellationsTable(dynamodb, settings.cancellations_table_name)
        self.orders = OrdersTable(dynamodb, settings.orders_table_name)
        self.ids = BlockIdAllocator(dynamodb, self.cancellations.name, block_size=settings.id_block_size)
        self.create_cancellation = CreateCancellation(
            store=GatewayStore(dynamodb, self.cancellations, self.orders),
            ids=self.ids,
            queue=SupplierRequestsQueue(sqs_client(), settings.supplier_requests_queue_url),
        )
        # Who each app client is: the partner registry's CLIENT# items (cached per client).
        self.principals = (StaticPrincipals(settings.client_principals) if settings.client_principals
                           else ClientRegistry(dynamodb, settings.partner_registry_table_name, settings.partner_registry_ttl_seconds))

    def close(self) -> None:
        """A background id-block refill finishes (or fails) before the clients go away."""
        self.ids.settle()


deps = Wiring(Settings, Dependencies)

RequestIdHeader = Annotated[str, Header(
    alias="X-Request-ID", pattern=TRACE_HEADER_PATTERN,
    description="Unique identifier to identify request and response events across the Fibre Cafe gateway")]
ConversationIdHeader = Annotated[str, Header(alias="X-Conversation-ID", pattern=TRACE_HEADER_PATTERN,
                                             description="Identifier to track message journey across the Fibre Cafe gateway")]


def _pass_through_headers() -> dict[str, str]:
    headers = app.current_event.headers  # case-insensitive
    passed = {}
    for name in PASS_THROUGH_HEADERS:
        value = headers.get(name)
        if value and len(value) <= PASS_THROUGH_MAX_LENGTH and value.isascii() and value.isprintable():
            passed[name] = value
    return passed


def _json(status: int, body: dict[str, Any], request_id: str | None) -> Response[dict[str, Any]]:
    headers = {"X-Request-ID": request_id} if request_id else {}
    return Response(status_code=status, content_type=JSON_CONTENT_TYPE, body=body, headers=headers)


@app.post(
    "/service-order-cancellations",
    summary="Request to cancel an inflight provide, cease or modify order",
    description=(
        "Validates the request, stores it with a generated id, answers 201 and forwards it to the supplier. "
        "Further updates are sent via KCIs. A retry with the same X-Request-ID and body returns the same answer."
    ),
    responses=documented_responses(
        {201: {"description": "Cancellation accepted", "content": {JSON_CONTENT_TYPE: {"model": ServiceOrderCancellation}}}}),
    tags=["Service order cancellations"],
)
def create_service_order_cancellation(  # type: ignore[no-untyped-def]  # no return annotation: Powertools would validate each answer against it
    request: Annotated[ServiceOrderCancellationRequest, Body()],
    x_request_id: RequestIdHeader,
    x_conversation_id: ConversationIdHeader,
):
    caller = app.context["caller"]
    logger.append_keys(x_request_id=x_request_id, x_conversation_id=x_conversation_id, tenant=caller.id, order_id=request.orderId)
    stored = deps().create_cancellation(
        request,
        RequestContext(
            tenant=caller.id,
            request_id=x_request_id,
            conversation_id=x_conversation_id,
            pass_through_headers=_pass_through_headers(),
        ),
    )
    logger.append_keys(cancellation_id=stored.cancellationId)
    logger.info("Cancellation accepted")
    return _json(stored.statusCode, stored.body, x_request_id)


@app.get(
    "/service-order-cancellations/<id>",
    summary="The cancellation as it is now",
    responses=documented_responses(
        {200: {"description": "The cancellation", "content": {JSON_CONTENT_TYPE: {"model": ServiceOrderCancellation}}}},
        errors=(400, 401, 403, 422, 500, 503),
    ),
    tags=["Service order cancellations"],
)
def get_service_order_cancellation(  # type: ignore[no-untyped-def]  # no return annotation: Powertools would validate each answer against it
    id: Annotated[int, Path(ge=1, le=MAX_SAFE_INTEGER, description="The cancellation id the 201 returned")],
    x_request_id: Annotated[str | None, Header(alias="X-Request-ID", pattern=TRACE_HEADER_PATTERN)] = None,
    x_conversation_id: Annotated[str | None, Header(alias="X-Conversation-ID", pattern=TRACE_HEADER_PATTERN)] = None,
):
    caller = app.context["caller"]
    logger.append_keys(x_request_id=x_request_id, x_conversation_id=x_conversation_id, tenant=caller.id, cancellation_id=id)
    cancellation = get_cancellation(deps().cancellations, caller.id, id)
    return _json(200, cancellation.to_body(), x_request_id)


# correlation_id: API Gateway's request id, the requestId of the stage's access log line (README, runbook).
@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, principal="tenant", max_body_bytes=MAX_BODY_BYTES, id_parameters=ACCEPTED_IDS,
                   principals=deps().principals)
