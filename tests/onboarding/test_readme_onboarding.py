"""The README's onboarding commands, copied from the README and run with the AWS CLI against the local stack's moto.

The commands are read from the README's "Onboarding a tenant or a supplier (AWS)" section (its ```bash blocks and
the offboarding line), their ``<placeholders>`` replaced by this stack's values, and run by bash with the AWS CLI
(``aws`` on PATH, or ``python -m awscli``), pointed at moto by ``AWS_ENDPOINT_URL``. Nothing is deployed: the running
stack's functions see the new tenant TENANT3 and supplier NEWCO within the registry cache's TTL (1 s here).

Then, end to end over HTTP: NEWCO's client posts a KCI for a new order of TENANT3's, TENANT3's client cancels it, the
dispatcher calls NEWCO's Supplier API with the credentials from NEWCO's secret, TENANT3's Tenant Updates API receives
its KCIs with a token fetched with its secret. The README's rotation command changes NEWCO's password without a
deploy. A malformed registry entry refuses only its own partner. The offboarding command shuts TENANT3's client out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.proxy_events import SUPPLIER_SCOPE, TENANT_SCOPE
from local_stack.stack import LocalStack
from testing.stub_servers import StubReply, StubServer, basic_credentials
from tests.polling import wait_for

pytestmark = pytest.mark.http

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TTL = "1"  # PARTNER_REGISTRY_TTL_SECONDS for this stack's functions
NEWCO_USER, NEWCO_PASSWORD, NEWCO_NEW_PASSWORD = "gateway-at-newco", "first-password", "rotated-password"
TENANT3_CLIENT, TENANT3_SECRET = "fibre-cafe-at-tenant3", "tenant3-secret"


def onboarding_section() -> str:
    return README.split("### Onboarding a tenant or a supplier (AWS)", 1)[1].split("\n### ", 1)[0]


def bash_blocks() -> list[str]:
    return [re.sub(r"^   ", "", block, flags=re.M) for block in re.findall(r"```bash\n(.*?)```", onboarding_section(), flags=re.S)]


def aws_cli() -> str | None:
    """A bash prelude making ``aws`` the AWS CLI: the one on PATH, else the awscli package of this Python."""
    if shutil.which("aws"):
        return ""
    try:
        import awscli  # noqa: F401 - only whether it imports matters
    except ImportError:
        return None
    return f'aws() {{ "{sys.executable}" -m awscli "$@"; }}\n'


class PartnerApis:
    """NEWCO's Supplier API and TENANT3's Tenant Updates API (with its token endpoint), on one 127.0.0.1 server."""

    def __init__(self) -> None:
        self.supplier_password = NEWCO_PASSWORD
        self.cancellations: list[dict[str, Any]] = []
        self.kcis: list[dict[str, Any]] = []
        self.tokens: set[str] = set()
        self.server = StubServer(lambda request: StubReply(*self.answer(request.path, request.header("Authorization") or "", request.body)),
                                 "onboarding-partners").start()
        self.url = self.server.url

    def answer(self, path: str, authorization: str, body: bytes) -> tuple[int, Any]:
        if path == "/newco/service-order-cancellations":
            request = json.loads(body)
            ok = basic_credentials(authorization) == (NEWCO_USER, self.supplier_password)
            self.cancellations.append({"body": request, "credentials": basic_credentials(authorization), "status": 201 if ok else 401})
            if not ok:
                return 401, {"uuid": str(uuid.uuid4()), "code": "NOT_AUTHORISED", "messages": ["bad credentials"]}
            return 201, {"supplierReference": f"NEWCO-{request['id']}"}
        if path == "/tenant3/oauth2/token":
            if basic_credentials(authorization) != (TENANT3_CLIENT, TENANT3_SECRET):
                return 401, {"error": "invalid_client"}
            token = uuid.uuid4().hex
            self.tokens.add(token)
            return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        if path.startswith("/tenant3/") and path.endswith("/kcis"):  # {baseUrl}/kcis
            ok = authorization.removeprefix("Bearer ") in self.tokens
            self.kcis.append({"body": json.loads(body), "authorised": ok})
            return (204, None) if ok else (401, {"error": "invalid_token"})
        return 404, None

    def close(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def world():
    prelude = aws_cli()
    if prelude is None:
        # Not a skip: the README's onboarding commands are part of what this suite proves. The machine image has the
        # AWS CLI (awscli on the default Python); a machine without it fails here, loudly.
        pytest.fail("no AWS CLI: the README's onboarding commands need `aws` on PATH (pip install awscli)")
    ttl_env = {"PARTNER_REGISTRY_TTL_SECONDS": TTL}
    functions = ("TenantApiFunction", "SupplierUpdatesApiFunction", "SupplierDispatcherFunction", "TenantKciDeliveryFunction")
    apis = PartnerApis()
    with LocalStack(port=0, moto_port=0, run_schedules=False, visibility_timeout=5,
                    function_env={name: dict(ttl_env) for name in functions}) as stack:
        # The stack's user pool and resource server as template.yaml defines them (the local front signs tokens itself).
        cognito = stack.client("cognito-idp")
        pool_id = cognito.create_user_pool(PoolName="fibre-cafe-local")["UserPool"]["Id"]
        cognito.create_resource_server(UserPoolId=pool_id, Identifier="fibre-cafe", Name="Fibre Cafe API",
                                       Scopes=[{"ScopeName": "tenant", "ScopeDescription": "Tenant API"},
                                               {"ScopeName": "supplier-updates", "ScopeDescription": "Supplier Updates API"}])
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update(AWS_ENDPOINT_URL=stack.moto_url, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
                   AWS_DEFAULT_REGION="eu-west-2", AWS_REGION="eu-west-2", AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        values = {
            "<UserPoolId output>": pool_id,
            "<PartnerRegistryTableName output>": stack.resources.tables["PartnerRegistryTable"],
            "<client id from TENANT3>": TENANT3_CLIENT, "<client secret from TENANT3>": TENANT3_SECRET,
            "<user NEWCO gave us>": NEWCO_USER, "<its password>": NEWCO_PASSWORD, "<its new password>": NEWCO_NEW_PASSWORD,
            "https://api.tenant3.example": f"{apis.url}/tenant3", "https://api.newco.example/fibre-cafe": f"{apis.url}/newco",
        }

        def run(command: str, **more: str) -> str:
            for placeholder, value in {**values, **more}.items():
                command = command.replace(placeholder, value)
            assert not re.search(r"<[^<>\n]+>", command), f"a placeholder the test does not know: {command}"
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", prelude + command], env=env, capture_output=True,
                                    text=True, timeout=120)
            assert result.returncode == 0, f"{command}\n{result.stderr}"
            return result.stdout

        yield stack, apis, run
    apis.close()


def token(stack, client_id: str, scope: str) -> dict[str, str]:
    """The bearer token Cognito would issue the client (the local front verifies it as API Gateway's authorizer does)."""
    return {"Authorization": f"Bearer {stack.tokens.sign(stack.tokens.claims_for(client_id, (scope,)))}"}


def ack_kci(order_id: int, tenant: str) -> dict:
    return {"id": str(uuid.uuid4()), "sequenceNumber": 1, "issuedOn": "2026-04-10T09:53:39.144Z", "reasonCode": "ACKNOWLEDGED",
            "provideServiceOrder": {"id": order_id, "tenant": tenant, "supplierOrderReference": f"NC{order_id}", "status": "ACKNOWLEDGED"}}


def trace() -> dict[str, str]:
    return {"X-Request-ID": str(uuid.uuid4()), "X-Conversation-ID": str(uuid.uuid4()), "Content-Type": "application/json"}


def cancellation_status(stack, client_headers: dict, cancellation_id: int) -> str:
    answer = requests.get(f"{stack.base_url}/service-order-cancellations/{cancellation_id}", headers=client_headers, timeout=30)
    return answer.json().get("status", "") if answer.status_code == 200 else ""


def order_known(stack, order_id: int) -> bool:
    from fibre_cafe.dal.keys import order_key

    return "Item" in stack.client("dynamodb").get_item(TableName=stack.resources.tables["OrdersTable"], Key=order_key(order_id))


def onboard(world) -> dict[str, str]:
    stack, apis, run = world
    blocks = bash_blocks()
    assert len(blocks) == 5, "create client, register client, tenant entry, supplier entry, rotation"
    create_client, register_client, tenant_entry, supplier_entry, _rotation = blocks
    tenant_client, tenant_secret = run(create_client).split()
    supplier_client, _ = run(create_client.replace("tenant-TENANT3", "supplier-NEWCO")
                             .replace("fibre-cafe/tenant", "fibre-cafe/supplier-updates")).split()
    assert tenant_secret and tenant_client != supplier_client
    run(register_client, **{"<new client id>": tenant_client})
    run(register_client.replace("tenant:TENANT3", "supplier:NEWCO"), **{"<new client id>": supplier_client})
    run(tenant_entry)
    run(supplier_entry)
    return {"tenant": tenant_client, "supplier": supplier_client}


@pytest.fixture(scope="module")
def clients(world):
    return onboard(world)


def cancel_new_order(stack, clients, order_id: int) -> int:
    supplier = token(stack, clients["supplier"], SUPPLIER_SCOPE)
    answer = requests.post(f"{stack.base_url}/kcis", json=ack_kci(order_id, "TENANT3"), headers={**supplier, **trace()}, timeout=30)
    assert answer.status_code == 204, answer.text
    wait_for(lambda: order_known(stack, order_id), 60.0, f"order {order_id} registered by NEWCO's KCI")
    tenant = token(stack, clients["tenant"], TENANT_SCOPE)
    answer = requests.post(
        f"{stack.base_url}/service-order-cancellations",
        json={"orderId": order_id, "reasonCode": "CUSTOMER_CHANGED_MIND"},
        headers={**tenant, **trace()},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["supplier"] == "NEWCO"
    return answer.json()["id"]


def test_the_readmes_commands_onboard_a_tenant_and_a_supplier_without_a_deploy(world, clients):
    stack, apis, run = world
    cancellation_id = cancel_new_order(stack, clients, 7001)
    tenant = token(stack, clients["tenant"], TENANT_SCOPE)
    wait_for(lambda: cancellation_status(stack, tenant, cancellation_id) == "COMPLETED", 60.0, "NEWCO's 201 to complete the cancellation")
    # The dispatcher called NEWCO's Supplier API with the credentials from NEWCO's secret.
    assert [c["credentials"] for c in apis.cancellations] == [(NEWCO_USER, NEWCO_PASSWORD)]
    # TENANT3 got its KCIs (the relayed ACKNOWLEDGED, then CANCELLED) with a token fetched with TENANT3's secret.
    wait_for(lambda: len([k for k in apis.kcis if k["authorised"]]) >= 2, 60.0, "TENANT3's KCIs")
    assert all(k["authorised"] for k in apis.kcis) and apis.tokens


def test_the_readmes_rotation_command_changes_the_credentials_without_a_deploy(world, clients):
    stack, apis, run = world
    rotation = bash_blocks()[4]
    apis.supplier_password = NEWCO_NEW_PASSWORD  # NEWCO now refuses the old password
    run(rotation)
    time.sleep(float(TTL) + 0.5)  # the functions' cached entry and secret expire
    before = len(apis.cancellations)
    cancellation_id = cancel_new_order(stack, clients, 7002)
    tenant = token(stack, clients["tenant"], TENANT_SCOPE)
    wait_for(lambda: cancellation_status(stack, tenant, cancellation_id) == "COMPLETED", 60.0, "the cancellation with the new password")
    assert [c["credentials"] for c in apis.cancellations[before:]] == [(NEWCO_USER, NEWCO_NEW_PASSWORD)]


def test_a_malformed_registry_entry_refuses_only_its_own_partner(world, clients):
    stack, apis, run = world
    register_client, supplier_entry = bash_blocks()[1], bash_blocks()[3]
    # A client item whose principal lacks its id, and a supplier whose entry has a typo'd attribute and no URL scheme.
    run(register_client.replace('"tenant:TENANT3"', '"tenant:"'), **{"<new client id>": "broken-client"})
    run(supplier_entry.replace("PARTNER#NEWCO", "PARTNER#BROKENCO").replace("partners/NEWCO", "partners/BROKENCO")
        .replace('"https://api.newco.example/fibre-cafe"', '"api.brokenco.example"').replace('"credentialsSecret"', '"credentialSecret"'))
    from fibre_cafe.dal.orders_table import OrdersTable
    from fibre_cafe.models.order import Order, OrderType

    OrdersTable(stack.client("dynamodb"), stack.resources.tables["OrdersTable"]).create(Order(
        id=7003, tenant="TENANT3", supplier="BROKENCO", orderType=OrderType.PROVIDE, status="ACKNOWLEDGED",
        supplierStatus="ACKNOWLEDGED", supplierOrderReference="BC7003", lastSequenceNumber=1, version=1))

    # The malformed client: a clear 403, not a 5xx.
    answer = requests.post(f"{stack.base_url}/service-order-cancellations", json={"orderId": 7003, "reasonCode": "CUSTOMER_CHANGED_MIND"},
                           headers={**token(stack, "broken-client", TENANT_SCOPE), **trace()}, timeout=30)
    assert answer.status_code == 403 and answer.json()["code"] == "NOT_AUTHORISED", answer.text

    # The malformed supplier: its cancellation fails to send (GATEWAY_FAULT), and nothing else is affected.
    tenant = token(stack, clients["tenant"], TENANT_SCOPE)
    answer = requests.post(f"{stack.base_url}/service-order-cancellations", json={"orderId": 7003, "reasonCode": "CUSTOMER_CHANGED_MIND"},
                           headers={**tenant, **trace()}, timeout=30)
    assert answer.status_code == 201, answer.text
    broken = answer.json()["id"]
    wait_for(lambda: cancellation_status(stack, tenant, broken) == "FAILED_TO_SEND", 60.0, "BROKENCO's cancellation to fail to send")
    from fibre_cafe.dal.cancellations_table import CancellationsTable

    record = CancellationsTable(stack.client("dynamodb"), stack.resources.tables["CancellationsTable"]).get(broken)
    assert record.error.code.value == "GATEWAY_FAULT"  # not configured: an operator fixes the entry, then redrives

    # Everyone else works: NEWCO for TENANT3, and the seeded TENANT1 with DUMMY_SUPPLIER.
    completed = cancel_new_order(stack, clients, 7004)
    wait_for(lambda: cancellation_status(stack, tenant, completed) == "COMPLETED", 60.0, "NEWCO's cancellation")
    tenant1 = token(stack, "TENANT1", TENANT_SCOPE)
    answer = requests.post(f"{stack.base_url}/service-order-cancellations", json={"orderId": 1001, "reasonCode": "CUSTOMER_CHANGED_MIND"},
                           headers={**tenant1, **trace(), "X-Scenario": "SYNC_ACCEPTED"}, timeout=30)
    assert answer.status_code == 201, answer.text
    wait_for(lambda: cancellation_status(stack, tenant1, answer.json()["id"]) == "COMPLETED", 60.0, "TENANT1's cancellation")


def test_the_readmes_offboarding_command_shuts_the_client_out_without_a_deploy(world, clients):
    stack, apis, run = world
    offboarding = re.search(r"`(aws dynamodb delete-item [^`]+)`", onboarding_section()).group(1)
    tenant = token(stack, clients["tenant"], TENANT_SCOPE)
    assert requests.get(f"{stack.base_url}/service-order-cancellations/1", headers=tenant, timeout=30).status_code != 403
    run(offboarding, **{"<client id>": clients["tenant"]})
    time.sleep(float(TTL) + 0.5)
    answer = requests.get(f"{stack.base_url}/service-order-cancellations/1", headers=tenant, timeout=30)
    assert answer.status_code == 403 and answer.json()["code"] == "NOT_AUTHORISED"
