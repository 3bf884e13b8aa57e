"""Supplier Updates API 1.8: ``POST /kcis``. A supplier reports an order's progress; 204 once the KCI is queued.

Thin: validate (Powertools + fibre_cafe.models.kci), check against the registry and queue
(fibre_cafe.logic.ingest_kci), answer 204. Only supplier tokens get here (403 for a tenant).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths
from pydantic import Field

from fibre_cafe.api.http import TRACE_HEADER_PATTERN, TRACE_HEADER_RULES, build_resolver, documented_responses, resolve
from fibre_cafe.api.identity import StaticPrincipals
from fibre_cafe.dal.aws_clients import dynamodb_client, sqs_client
from fibre_cafe.dal.kci_ids import KciIngestStore
from fibre_cafe.dal.kci_queue import KciQueue
from fibre_cafe.dal.partner_registry import ClientRegistry
from fibre_cafe.logic.ingest_kci import ingest_kci
from fibre_cafe.models.kci import KCI_ACCEPTED_VALUES, SupplierKci
from fibre_cafe.settings import ApiSettings, QueueUrl
from fibre_cafe.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

# A queued KCI must fit in one SQS message (256 KB) with its envelope.
MAX_BODY_BYTES = 200 * 1024

app = build_resolver(
    {**KCI_ACCEPTED_VALUES, **TRACE_HEADER_RULES},
    body_fields=tuple(SupplierKci.model_fields),
)


class Settings(ApiSettings):
    kci_queue_url: QueueUrl = Field(alias="KCI_QUEUE_URL")


class Dependencies:
    def __init__(self, settings: Settings) -> None:
        dynamodb = dynamodb_client()
        self.store = KciIngestStore(dynamodb, settings.orders_table_name, settings.cancellations_table_name)
        self.queue = KciQueue(sqs_client(), settings.kci_queue_url)
        # Who each app client is: the partner registry's CLIENT# items (cached per client).
        self.principals = (StaticPrincipals(settings.client_principals) if settings.client_principals
                           else ClientRegistry(dynamodb, settings.partner_registry_table_name, settings.partner_registry_ttl_seconds))


deps = Wiring(Settings, Dependencies)


@app.post(
    "/kcis",
    summary="A supplier's KCI (Keep Customer Informed) update for an order",
    description=(
        "Accepted for processing (204) once durably queued. The same KCI sent again is a harmless no-op; KCIs are applied "
        "per order in sequenceNumber order (an early one is held for the supplier's hold window). Refused with 422 "
        "INVALID_REQUEST: an order of another supplier/tenant/type, a serviceOrderCancellationId that is not one of "
        "this order's, an id already used by a different KCI. Refused with 400: values the gateway cannot store "
        "(see the order entity's extra-field limits)."),
    responses=documented_responses({204: {"description": "Accepted for processing"}}),
    tags=["Supplier updates"],
)
def post_kci(  # type: ignore[no-untyped-def]  # no return annotation: Powertools would validate each answer against it
    kci: Annotated[SupplierKci, Body()],
    x_request_id: Annotated[str, Header(alias="X-Request-ID", pattern=TRACE_HEADER_PATTERN)],
    x_conversation_id: Annotated[str | None, Header(alias="X-Conversation-ID", pattern=TRACE_HEADER_PATTERN)] = None,
):
    caller = app.context["caller"]
    logger.append_keys(x_request_id=x_request_id, x_conversation_id=x_conversation_id, supplier=caller.id,
                       kci_id=str(kci.id), order_id=kci.order.id, cancellation_id=kci.serviceOrderCancellationId)
    ingest_kci(deps().store, deps().queue, kci, caller.id, x_request_id, x_conversation_id)
    logger.info("KCI queued", extra={"kci_reason_code": kci.reasonCode.value, "sequence_number": kci.sequenceNumber})
    return Response(status_code=204, body=None, headers={"X-Request-ID": x_request_id})


# correlation_id: API Gateway's request id, the requestId of the stage's access log line (README, runbook).
@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, principal="supplier", max_body_bytes=MAX_BODY_BYTES, principals=deps().principals)
