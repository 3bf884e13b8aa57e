"""May this tenant cancel this order? (domain.md section 1, the 422 rows)."""

from __future__ import annotations

from fibre_cafe.domain.errors import InvalidRequest, NotFound
from fibre_cafe.models.cancellation import (
    ORDER_REASON_CODES,
    UNSOLICITED_CEASE_REASON_CODES,
    ServiceOrderCancellationRequest,
)
from fibre_cafe.models.order import Order, OrderStatus, OrderType

# Order states from which nothing can be cancelled any more.
NOT_CANCELLABLE_ORDER_STATES = frozenset(
    {OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FAILED_TO_SEND}
)


def order_not_found(order_id: int) -> NotFound:
    # One message for "does not exist" and "belongs to another tenant": no existence leak.
    return NotFound(f"Order {order_id} not found")


def check_cancellable(order: Order | None, tenant: str, request: ServiceOrderCancellationRequest) -> None:
    """Raise NotFound or InvalidRequest (listing every broken rule); return quietly if the order may be cancelled."""
    if order is None or order.tenant != tenant:
        raise order_not_found(request.orderId)

    problems: list[str] = []
    if order.openCancellationId is not None:
        problems.append(
            f"Order {order.id} already has an open cancellation ({order.openCancellationId})"
        )
    elif order.status in NOT_CANCELLABLE_ORDER_STATES:
        problems.append(f"Order {order.id} cannot be cancelled in status {order.status}")

    if order.orderType is OrderType.UNSOLICITED_CEASE:
        allowed = UNSOLICITED_CEASE_REASON_CODES
        family = "an unsolicited cease order"
    else:
        allowed = ORDER_REASON_CODES
        family = f"a {order.orderType.value.lower()} order"
    if request.reasonCode not in allowed:
        accepted = ", ".join(sorted(code.value for code in allowed))
        problems.append(
            f"Invalid value for field reasonCode - for {family} accepted values are {accepted}"
        )

    if request.supplier is not None and request.supplier != order.supplier:
        problems.append(
            f"Invalid value for field supplier - order {order.id} is not with supplier {request.supplier}"
        )

    if problems:
        raise InvalidRequest(*problems)
