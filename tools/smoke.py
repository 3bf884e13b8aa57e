"""Smoke test of a running stack over HTTP(S): tokens, a KCI round trip, POST and GET, then clean up.

    python -m tools.smoke --local                              # the `make run` stack on 127.0.0.1:3000
    python -m tools.smoke --stack-name fibre-cafe-cancellations-dev \\
        --tenant-client-id ... --tenant-client-secret ... --tenant TENANT1 \\
        --supplier-client-id ... --supplier-client-secret ... --supplier DUMMY_SUPPLIER

Steps (each must answer as the contract says, or the command exits 1):
 1. supplier and tenant tokens from the token endpoint(s);
 2. the supplier posts an ACKNOWLEDGED KCI for a fresh order id (204) and the registry learns it;
 3. the tenant cancels it (201, RECEIVED_BY_GATEWAY) with X-Scenario CANCELLATION_PENDING;
 4. the replay of the same request gives the identical answer; GET shows the cancellation;
 5. the supplier posts CANCELLED naming the cancellation (204); GET reaches COMPLETED;
 6. the created items are deleted from the tables (needs table access: the stack's outputs in AWS,
    the local moto server locally); --keep leaves them.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

LOCAL_URL = "http://127.0.0.1:3000"
LOCAL_MOTO_URL = "http://127.0.0.1:4566"
SMOKE_ORDER_IDS = (8_000_000_000_000, 8_999_999_999_999)  # far from real order ids


class SmokeFailure(Exception):
    pass


@dataclass
class Settings:
    base_url: str
    tenant_token_url: str
    supplier_token_url: str
    tenant_client: tuple[str, str]
    supplier_client: tuple[str, str]
    tenant: str
    supplier: str
    tables: dict[str, str] | None  # {"orders": name, "cancellations": name}
    dynamodb_endpoint: str | None
    timeout: float = 20.0
    poll_seconds: float = 60.0
    region: str | None = None  # a deployed stack's region (else boto3's default)


def _check(answer: requests.Response, status: int, step: str) -> dict[str, Any] | None:
    if answer.status_code != status:
        raise SmokeFailure(f"{step}: HTTP {answer.status_code}, expected {status}: {answer.text[:500]}")
    body: dict[str, Any] | None = answer.json() if answer.content else None
    return body


def _body(answer: requests.Response, status: int, step: str) -> dict[str, Any]:
    """_check for an answer that must have a JSON body."""
    body = _check(answer, status, step)
    if body is None:
        raise SmokeFailure(f"{step}: HTTP {status} without a body")
    return body


def _token(session: requests.Session, url: str, client: tuple[str, str], timeout: float) -> str:
    answer = session.post(url, data={"grant_type": "client_credentials"}, auth=client, timeout=timeout)
    body = _check(answer, 200, f"token from {url}")
    if not body or body.get("token_type", "").lower() != "bearer" or not body.get("access_token"):
        raise SmokeFailure(f"token from {url}: not a bearer token answer")
    return str(body["access_token"])


def _kci(order_id: int, tenant: str, sequence: int, reason: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "sequenceNumber": sequence, "reasonCode": reason,
        "issuedOn": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "provideServiceOrder": {"id": order_id, "tenant": tenant, "supplierOrderReference": f"SMOKE{order_id}", "status": status},
        **extra,
    }


def run(settings: Settings, keep: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    session = requests.Session()
    base = settings.base_url.rstrip("/")
    timeout = settings.timeout
    order_id = random.randint(*SMOKE_ORDER_IDS)
    conversation = f"smoke-{uuid.uuid4()}"
    created: dict[str, Any] = {"order_id": order_id}
    try:
        supplier_token = _token(session, settings.supplier_token_url, settings.supplier_client, timeout)
        tenant_token = _token(session, settings.tenant_token_url, settings.tenant_client, timeout)
        log("1. tokens: tenant and supplier")

        def post_kci(kci: dict[str, Any], step: str) -> None:
            answer = session.post(f"{base}/kcis", json=kci, timeout=timeout, headers={
                "Authorization": f"Bearer {supplier_token}", "X-Request-ID": str(uuid.uuid4()), "X-Conversation-ID": conversation})
            _check(answer, 204, step)

        post_kci(_kci(order_id, settings.tenant, 1, "ACKNOWLEDGED", "ACKNOWLEDGED"), "ACKNOWLEDGED KCI")
        log(f"2. supplier KCI ACKNOWLEDGED for order {order_id}: 204")

        tenant_headers = {"Authorization": f"Bearer {tenant_token}", "X-Request-ID": f"smoke-{uuid.uuid4()}",
                          "X-Conversation-ID": conversation, "X-Scenario": "CANCELLATION_PENDING"}
        request = {"supplier": settings.supplier, "orderId": order_id, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "smoke test"}
        deadline = time.monotonic() + settings.poll_seconds
        while True:  # the KCI is applied asynchronously: until then the order is unknown (422 NOT_FOUND)
            answer = session.post(f"{base}/service-order-cancellations", json=request, headers=tenant_headers, timeout=timeout)
            if answer.status_code != 422 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        cancellation = _body(answer, 201, "POST /service-order-cancellations")
        if cancellation["status"] != "RECEIVED_BY_GATEWAY" or not isinstance(cancellation["id"], int):
            raise SmokeFailure(f"POST: unexpected body {cancellation}")
        created["cancellation_id"] = cancellation["id"]
        created["request_id"] = tenant_headers["X-Request-ID"]
        log(f"3. POST: 201, cancellation {cancellation['id']} RECEIVED_BY_GATEWAY")

        replayed = _check(session.post(f"{base}/service-order-cancellations", json=request, headers=tenant_headers, timeout=timeout),
                          201, "replay of the POST")
        if replayed != cancellation:
            raise SmokeFailure(f"replay answered {replayed}, not {cancellation}")
        url = f"{base}/service-order-cancellations/{cancellation['id']}"
        seen = _body(session.get(url, headers={"Authorization": f"Bearer {tenant_token}"}, timeout=timeout), 200, "GET")
        log(f"4. replay identical; GET: {seen['status']}")

        post_kci(_kci(order_id, settings.tenant, 2, "CANCELLED", "CANCELLED", problemCode="CUSTOMER_REQUEST",
                      serviceOrderCancellationId=cancellation["id"]), "CANCELLED KCI")
        deadline = time.monotonic() + settings.poll_seconds
        while seen["status"] != "COMPLETED":
            if time.monotonic() > deadline:
                raise SmokeFailure(f"GET: still {seen['status']} after {settings.poll_seconds} s, expected COMPLETED")
            time.sleep(0.5)
            seen = _body(session.get(url, headers={"Authorization": f"Bearer {tenant_token}"}, timeout=timeout), 200, "GET")
        log("5. supplier KCI CANCELLED: 204; GET: COMPLETED")
        return created
    finally:
        if not keep and settings.tables:
            cleanup(settings, created)
            log("6. cleaned up the smoke test's items")


def cleanup(settings: Settings, created: dict[str, Any]) -> None:
    import boto3

    kwargs = {"region_name": settings.region} if settings.region else {}
    if settings.dynamodb_endpoint:  # the local stack's moto server takes any credentials
        kwargs = {"endpoint_url": settings.dynamodb_endpoint, "region_name": "eu-west-2",
                  "aws_access_key_id": "local", "aws_secret_access_key": "local"}
    dynamodb = boto3.client("dynamodb", **kwargs)
    assert settings.tables is not None  # run() cleans up only when the tables are known
    orders, cancellations = settings.tables["orders"], settings.tables["cancellations"]
    pages = dynamodb.get_paginator("query").paginate(
        TableName=orders, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"ORDER#{created['order_id']}"}})
    for page in pages:
        for item in page.get("Items", []):
            dynamodb.delete_item(TableName=orders, Key={"pk": item["pk"], "sk": item["sk"]})
    if "cancellation_id" in created:
        dynamodb.delete_item(TableName=cancellations, Key={"pk": {"S": f"CANCELLATION#{created['cancellation_id']}"}})
        dynamodb.delete_item(TableName=cancellations, Key={"pk": {"S": f"REQUEST#{settings.tenant}#{created['request_id']}"}})


def deploy_region(config_file: str | None) -> str | None:
    """The region ``make deploy`` deploys to: samconfig.toml's ``[default.deploy.parameters] region`` (else global)."""
    if not config_file:
        return None
    import tomllib

    with open(config_file, "rb") as handle:
        config = tomllib.load(handle).get("default", {})
    region = config.get("deploy", {}).get("parameters", {}).get("region") or config.get("global", {}).get("parameters", {}).get("region")
    return str(region) if region else None


def _stack_outputs(stack_name: str, region: str | None = None) -> dict[str, str]:
    import boto3

    stack = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.smoke", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", nargs="?", const=LOCAL_URL, metavar="URL", help=f"the local stack (default {LOCAL_URL})")
    where.add_argument("--stack-name", help="a deployed stack: API URL, token endpoint and tables from its outputs")
    where.add_argument("--base-url", help="a deployed API stage (no cleanup unless --orders-table/--cancellations-table)")
    parser.add_argument("--token-url", help="OAuth2 token endpoint (with --base-url)")
    parser.add_argument("--region", help="with --stack-name: the stack's region (default: --config-file's, else AWS_REGION)")
    parser.add_argument("--config-file", help="with --stack-name: samconfig.toml, whose deploy region is the default --region")
    parser.add_argument("--tenant-client-id", default="TENANT1")
    parser.add_argument("--tenant-client-secret", default="local-dev-secret")
    parser.add_argument("--supplier-client-id", default="DUMMY_SUPPLIER")
    parser.add_argument("--supplier-client-secret", default="local-dev-secret")
    parser.add_argument("--tenant", default="TENANT1", help="the tenant id the tenant client maps to")
    parser.add_argument("--supplier", default="DUMMY_SUPPLIER", help="the supplier id the supplier client maps to")
    parser.add_argument("--moto-url", default=LOCAL_MOTO_URL, help="with --local: the local stack's moto server (for cleanup)")
    parser.add_argument("--orders-table")
    parser.add_argument("--cancellations-table")
    parser.add_argument("--keep", action="store_true", help="leave the created items")
    args = parser.parse_args(argv)

    tables = None
    endpoint = None
    region = None
    if args.local:
        base = args.local
        tenant_token_url, supplier_token_url = f"{base}/auth/tenant/access-token", f"{base}/auth/supplier/access-token"
        tables, endpoint = {"orders": "local-OrdersTable", "cancellations": "local-CancellationsTable"}, args.moto_url
    elif args.stack_name:
        region = args.region or deploy_region(args.config_file)
        outputs = _stack_outputs(args.stack_name, region)
        base, tenant_token_url = outputs["ApiUrl"], outputs["TokenEndpoint"]
        supplier_token_url = tenant_token_url
        tables = {"orders": outputs["OrdersTableName"], "cancellations": outputs["CancellationsTableName"]}
    else:
        base = args.base_url
        tenant_token_url = supplier_token_url = args.token_url
        if args.orders_table and args.cancellations_table:
            tables = {"orders": args.orders_table, "cancellations": args.cancellations_table}
    settings = Settings(base, tenant_token_url, supplier_token_url, (args.tenant_client_id, args.tenant_client_secret),
                        (args.supplier_client_id, args.supplier_client_secret), args.tenant, args.supplier, tables, endpoint,
                        region=region)
    try:
        run(settings, keep=args.keep)
    except SmokeFailure as failure:
        print(f"SMOKE TEST FAILED: {failure}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
