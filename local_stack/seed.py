"""Demo orders the local stack registers at start (README "Try it" lists them; the HTTP tests use them).

In AWS the order registry is fed by supplier KCIs; locally these give a person and the tests orders
to cancel straight away. Plain values here (no layer import), so anything can read the list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoOrder:
    id: int
    order_type: str  # fibre_cafe.models.order.OrderType value
    tenant: str
    supplier: str
    status: str
    supplier_order_reference: str
    note: str


DEMO_ORDERS: tuple[DemoOrder, ...] = (
    DemoOrder(1001, "PROVIDE", "TENANT1", "DUMMY_SUPPLIER", "ACKNOWLEDGED", "FC1001", "cancellable (the README's walkthrough)"),
    DemoOrder(1002, "CEASE", "TENANT1", "FIBRECO", "IN_PROGRESS", "FC1002", "cancellable, supplier FIBRECO"),
    DemoOrder(1003, "MODIFY", "TENANT1", "DUMMY_SUPPLIER", "ACKNOWLEDGED", "FC1003", "cancellable"),
    DemoOrder(1004, "UNSOLICITED_CEASE", "TENANT1", "FIBRECO", "ACKNOWLEDGED", "FC1004",
              "cancellable with the unsolicited-cease reason codes (e.g. NO_AUTHORISATION)"),
    DemoOrder(1005, "PROVIDE", "TENANT1", "DUMMY_SUPPLIER", "COMPLETED", "FC1005", "not cancellable: 422 INVALID_REQUEST"),
    DemoOrder(2001, "PROVIDE", "TENANT2", "DUMMY_SUPPLIER", "ACKNOWLEDGED", "FC2001", "TENANT2's: TENANT1 gets 422 NOT_FOUND"),
)


def seed_orders(orders_table, demo_orders: tuple[DemoOrder, ...] = DEMO_ORDERS) -> None:
    """Register the demo orders through the layer's ``OrdersTable.create`` (as the tests' fixtures do)."""
    from fibre_cafe.models.order import Order, OrderType

    for demo in demo_orders:
        orders_table.create(
            Order(
                id=demo.id,
                tenant=demo.tenant,
                supplier=demo.supplier,
                orderType=OrderType(demo.order_type),
                status=demo.status,
                supplierStatus=demo.status,
                supplierOrderReference=demo.supplier_order_reference,
                lastSequenceNumber=1,
                version=1,
            )
        )
