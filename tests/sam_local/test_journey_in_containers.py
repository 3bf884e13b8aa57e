"""The whole journey with every function in Lambda runtime containers (`make run LAMBDA=containers`): a tenant's
POST, the dispatcher, the supplier stub and its KCI on POST /kcis, the KCI processor, the orders stream's relay and
the delivery to the tenant stub. Each hop is an invocation of the built artifact through sam local start-lambda."""

from __future__ import annotations

import uuid

import pytest
import requests

from local_stack.containers import ContainerFunction
from local_stack.tokens import DEV_CLIENT_SECRET
from tests.polling import wait_for


@pytest.fixture(scope="module")
def stack(docker_env):
    from local_stack.stack import LocalStack

    with LocalStack(port=0, moto_port=0, run_schedules=False, visibility_timeout=5, lambda_runtime="containers",
                    warm_containers="EAGER") as running:
        yield running


def test_a_cancellation_from_the_post_to_the_tenants_kci(stack):
    assert all(isinstance(function, ContainerFunction) for function in stack.functions.values())
    http = requests.Session()
    token = http.post(
        f"{stack.base_url}/auth/tenant/access-token",
        data={"grant_type": "client_credentials", "client_id": "TENANT1", "client_secret": DEV_CLIENT_SECRET},
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": str(uuid.uuid4()), "X-Conversation-ID": str(uuid.uuid4()),
               "X-Scenario": "CANCELLATION_ACCEPTED", "X-Kci-Delay": "0"}
    posted = http.post(f"{stack.base_url}/service-order-cancellations", headers=headers, timeout=60,
                       json={"orderId": 1001, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "in containers"})
    assert posted.status_code == 201, posted.text
    cancellation = posted.json()["id"]

    def completed():
        answer = http.get(
            f"{stack.base_url}/service-order-cancellations/{cancellation}",
            headers={**headers, "X-Request-ID": str(uuid.uuid4())},
            timeout=60,
        )
        return answer.json() if answer.status_code == 200 and answer.json()["status"] == "COMPLETED" else None

    wait_for(completed, 120, "the cancellation to be COMPLETED (dispatcher, supplier KCI, KCI processor in containers)")

    def cancelled_kci():
        return [entry for entry in stack.tenant_stub.received_by("TENANT1", order_id=1001)
                if (entry["body"].get("information") or {}).get("type") == "CANCELLED"]

    (delivered,) = wait_for(cancelled_kci, 120, "TENANT1's stub to receive the CANCELLED KCI (relay and delivery in containers)")
    assert delivered["body"]["updateType"] == "INFORMATIONAL"
    for name in ("TenantApiFunction", "SupplierDispatcherFunction", "SupplierUpdatesApiFunction", "KciProcessorFunction",
                 "TenantKciRelayFunction", "TenantKciDeliveryFunction"):
        assert stack.functions[name].invocations >= 1, f"{name} was never invoked"
    assert stack.supplier_stub.received, "the dispatcher (in its container) reached the supplier stub"
    assert "in containers: sam local start-lambda" in stack.describe()
