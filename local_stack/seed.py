"""Demo orders the local stack registers at start (README "Try it" lists them; the HTTP tests use them).

In AWS the order registry is fed by supplier KCIs; locally these give a person and the tests orders
to cancel straight away. Plain values here (no layer import), so anything can read the list.
"""

from __future__ import annotations

import json
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
    # The notes are the README's "try" column, word for word (tests/http/test_newcomer.py keeps them equal).
    DemoOrder(1001, "PROVIDE", "TENANT1", "DUMMY_SUPPLIER", "ACKNOWLEDGED", "FC1001", "cancellable"),
    DemoOrder(1002, "CEASE", "TENANT1", "FIBRECO", "IN_PROGRESS", "FC1002", "cancellable (supplier FIBRECO, or no supplier)"),
    DemoOrder(
        1003,
        "MODIFY",
        "TENANT1",
        "DUMMY_SUPPLIER",
        "ACKNOWLEDGED",
        "FC1003",
        "cancellable: the walkthrough's second scenario (REJECTED at once)",
    ),
    DemoOrder(
        1004,
        "UNSOLICITED_CEASE",
        "TENANT1",
        "FIBRECO",
        "ACKNOWLEDGED",
        "FC1004",
        "cancellable with the unsolicited-cease reason codes, e.g. NO_AUTHORISATION",
    ),
    DemoOrder(1005, "PROVIDE", "TENANT1", "DUMMY_SUPPLIER", "COMPLETED", "FC1005", "not cancellable: 422 INVALID_REQUEST"),
    DemoOrder(
        2001,
        "PROVIDE",
        "TENANT2",
        "DUMMY_SUPPLIER",
        "ACKNOWLEDGED",
        "FC2001",
        "TENANT2's: for TENANT1, 422 NOT_FOUND like an unknown order",
    ),
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


# ---------------------------------------------------------------------------------------------- the partner registry

CREDENTIAL_FIELDS = ("username", "password", "token", "clientId", "clientSecret")


def partner_records(kind: str, config: dict[str, dict], secrets_prefix: str) -> tuple[list[dict], dict[str, dict]]:
    """Registry items (plain values) and secrets (name -> JSON) for partners given in the JSON form of
    fibre_cafe/dal/partner_directory.py: the public part of ``auth`` stays in the item, the credentials go to a secret."""
    items, secrets = [], {}
    for partner, settings in config.items():
        auth = dict(settings.get("auth") or {"type": "none"})
        credentials = {name: auth.pop(name) for name in CREDENTIAL_FIELDS if name in auth}
        item = {"pk": f"PARTNER#{partner}", "kind": kind, "baseUrl": settings["baseUrl"], "auth": auth}
        if credentials:
            item["credentialsSecret"] = f"{secrets_prefix}{partner}"
            secrets[item["credentialsSecret"]] = credentials
        items.append(item)
    return items, secrets


def seed_partner_registry(dynamodb, secretsmanager, table_name: str, *, principals: dict[str, str],
                          suppliers: dict[str, dict], tenants: dict[str, dict], secrets_prefix: str) -> None:
    """The development clients and partners in the registry table and Secrets Manager, as an operator onboards them in
    AWS (README, onboarding): a CLIENT# item per app client, a PARTNER# item and a secret per partner."""
    from fibre_cafe.dal.dynamodb_codec import to_item

    items = [{"pk": f"CLIENT#{client_id}", "principal": principal} for client_id, principal in principals.items()]
    secrets: dict[str, dict] = {}
    for kind, config in (("supplier", suppliers), ("tenant", tenants)):
        partner_items, partner_secrets = partner_records(kind, config, secrets_prefix)
        items += partner_items
        secrets.update(partner_secrets)
    for item in items:
        dynamodb.put_item(TableName=table_name, Item=to_item(item))
    for name, value in secrets.items():
        secretsmanager.create_secret(Name=name, SecretString=json.dumps(value))
