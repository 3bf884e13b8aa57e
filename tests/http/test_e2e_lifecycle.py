"""End to end over HTTP through the local stack: every supplier scenario, from the order's first KCI to the tenant's KCI.

One stack for the module, with its event source pollers and both stubs, tuned to be quick: queues'
visibility 2 s, the dispatcher gives up after 2 attempts 1-2 s apart and waits 1 s for an answer
(the supplier stub's TIMEOUT stays silent for 3 s), the tenant delivery retries after 1 s.

Each journey: the supplier posts an ACKNOWLEDGED KCI for a new order (``POST /kcis``, supplier
token); the KCI processor registers the order; the tenant cancels it (``POST
/service-order-cancellations``) with ``X-Scenario`` and ``X-Kci-Delay: 0``; the dispatcher calls
the supplier stub, which answers (and, for the asynchronous scenarios, posts the follow-up KCI);
the tenant polls ``GET /service-order-cancellations/{id}``. The tenant's own ``POST /kcis`` (the
tenant stub) receives the KCIs the gateway relays. All journeys start together (module fixture), so
the tests mostly wait in parallel.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from local_stack.stack import LocalStack
from local_stack.tokens import DEV_CLIENT_SECRET
from tests.polling import wait_for

pytestmark = pytest.mark.http

CANCELLATIONS = "/service-order-cancellations"
FINAL = {"COMPLETED", "REJECTED", "FAILED_TO_SEND"}
ENTITY_FIELDS = {"PROVIDE": "provideServiceOrder", "CEASE": "ceaseServiceOrder", "MODIFY": "modifyServiceOrder",
                 "UNSOLICITED_CEASE": "unsolicitedCeaseServiceOrder"}
ENTITY_TYPES = {
    "PROVIDE": "PROVIDE_ORDER",
    "CEASE": "CEASE_ORDER",
    "MODIFY": "MODIFY_ORDER",
    "UNSOLICITED_CEASE": "UNSOLICITED_CEASE_ORDER",
}
MAX_DISPATCH_ATTEMPTS = 2


@dataclass(frozen=True)
class Journey:
    scenario: str
    order_id: int
    order_type: str = "PROVIDE"
    supplier: str = "DUMMY_SUPPLIER"
    reason_code: str = "CUSTOMER_CHANGED_MIND"
    problem_code: str | None = None
    tenant: str = "TENANT1"
    # What the tenant should see in the end.
    status: str = "COMPLETED"
    supplier_calls: int = 1
    update_type: str | None = None  # the tenant KCI about the outcome (None: no tenant KCI beyond the order's own)
    information_type: str | None = None
    error_code: str | None = None

    @property
    def id(self) -> str:
        return f"{self.scenario}-{self.order_type}-{self.supplier}"


JOURNEYS = [
    Journey("CANCELLATION_ACCEPTED", 7101, update_type="INFORMATIONAL", information_type="CANCELLED"),
    Journey("CANCELLATION_ACCEPTED", 7102, order_type="CEASE", supplier="FIBRECO", problem_code="CUSTOMER_REQUESTED",
            update_type="INFORMATIONAL", information_type="CANCELLED"),
    Journey("CANCELLATION_REJECTED", 7103, order_type="MODIFY", problem_code="ENGINEER_ON_SITE", status="REJECTED",
            update_type="ACTION_REQUIRED", information_type="RESUBMIT"),
    Journey("CANCELLATION_PENDING", 7104, status="PENDING"),
    Journey("SYNC_ACCEPTED", 7105, order_type="UNSOLICITED_CEASE", supplier="FIBRECO", reason_code="NO_AUTHORISATION",
            update_type="INFORMATIONAL", information_type="CANCELLED"),
    Journey("SYNC_REJECTED", 7106, problem_code="TOO_LATE", status="REJECTED", update_type="ACTION_REQUIRED", information_type="RESUBMIT"),
    Journey("SERVER_ERROR", 7107, status="FAILED_TO_SEND", supplier_calls=MAX_DISPATCH_ATTEMPTS, update_type="ERROR",
            error_code="SUPPLIER_FAULT"),
    Journey("TIMEOUT", 7108, status="FAILED_TO_SEND", supplier_calls=MAX_DISPATCH_ATTEMPTS, update_type="ERROR",
            error_code="SUPPLIER_TIMED_OUT"),
    Journey("UNAUTHORISED", 7109, status="FAILED_TO_SEND", update_type="ERROR", error_code="SUPPLIER_FAULT"),
]


@pytest.fixture(scope="module")
def stack():
    function_env = {
        "SupplierDispatcherFunction": {"MAX_DISPATCH_ATTEMPTS": str(MAX_DISPATCH_ATTEMPTS), "DISPATCH_BACKOFF_BASE_SECONDS": "1"},
        "TenantKciDeliveryFunction": {"MAX_DELIVERY_ATTEMPTS": "4", "DELIVERY_BACKOFF_BASE_SECONDS": "1"},
    }
    with LocalStack(port=0, moto_port=0, run_schedules=False, visibility_timeout=2, function_env=function_env,
                    supplier_read_timeout=1.0, supplier_stub_timeout=3.0) as running:
        yield running


@pytest.fixture(scope="module")
def token(stack):
    cache: dict[str, str] = {}

    def fetch(client_id: str) -> str:
        if client_id not in cache:
            kind = "supplier" if client_id in ("DUMMY_SUPPLIER", "FIBRECO") else "tenant"
            answer = requests.post(f"{stack.base_url}/auth/{kind}/access-token", timeout=10,
                                   data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": DEV_CLIENT_SECRET})
            assert answer.status_code == 200, answer.text
            cache[client_id] = answer.json()["access_token"]
        return cache[client_id]

    return fetch


def acknowledged_kci(journey: Journey) -> dict[str, Any]:
    """The supplier's first KCI for a new order (the documented example's shape)."""
    return {
        "id": str(uuid.uuid4()),
        "sequenceNumber": 1,
        "issuedOn": "2024-04-10T09:53:39.144Z",
        "reasonCode": "ACKNOWLEDGED",
        ENTITY_FIELDS[journey.order_type]: {
            "id": journey.order_id, "tenant": journey.tenant, "supplierOrderReference": f"FC{journey.order_id}", "status": "ACKNOWLEDGED",
            "address": {"id": "10002429380", "type": "UPRN"},
        },
    }


def trace(journey: Journey) -> dict[str, str]:
    return {"X-Request-ID": f"e2e-{journey.id}", "X-Conversation-ID": f"e2e-conversation-{journey.id}"}


@pytest.fixture(scope="module")
def journeys(stack, token) -> dict[str, tuple[Journey, dict[str, Any]]]:
    """Every journey started: order created by its supplier's KCI, then cancelled by the tenant. id -> (journey, 201 body)."""
    for journey in JOURNEYS:
        answer = requests.post(f"{stack.base_url}/kcis", json=acknowledged_kci(journey), timeout=10,
                               headers={"Authorization": f"Bearer {token(journey.supplier)}", "X-Request-ID": f"e2e-ack-{journey.id}"})
        assert answer.status_code == 204, answer.text
    started = {}
    for journey in JOURNEYS:
        headers = {"Authorization": f"Bearer {token(journey.tenant)}", **trace(journey), "X-Scenario": journey.scenario, "X-Kci-Delay": "0"}
        if journey.problem_code:
            headers["X-Problem-Code"] = journey.problem_code
        body = {"supplier": journey.supplier, "orderId": journey.order_id, "reasonCode": journey.reason_code, "text": f"e2e {journey.id}"}

        def cancel(body: dict[str, Any] = body, headers: dict[str, str] = headers) -> requests.Response | None:
            # 422 NOT_FOUND until the KCI processor has registered the order (a refused request stores nothing).
            answer = requests.post(f"{stack.base_url}{CANCELLATIONS}", json=body, headers=headers, timeout=10)
            if answer.status_code == 422 and answer.json()["code"] == "NOT_FOUND":
                return None
            return answer

        answer = wait_for(cancel, timeout=15, what=f"order {journey.order_id} to be registered by its ACKNOWLEDGED KCI")
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert created["status"] == "RECEIVED_BY_GATEWAY" and created["orderId"] == journey.order_id
        started[journey.id] = (journey, created)
    return started


def get_cancellation(stack, token, journey: Journey, cancellation_id: int) -> dict[str, Any]:
    answer = requests.get(
        f"{stack.base_url}{CANCELLATIONS}/{cancellation_id}", headers={"Authorization": f"Bearer {token(journey.tenant)}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("journey", JOURNEYS, ids=lambda journey: journey.id)
def test_cancellation_reaches_the_scenarios_status(stack, token, journeys, journey):
    _, created = journeys[journey.id]
    if journey.status == "PENDING":
        wait_for(lambda: get_cancellation(stack, token, journey, created["id"])["status"] == "PENDING", timeout=15,
                 what="the cancellation to be PENDING")
        time.sleep(2)  # nothing more comes: the supplier never sends a KCI in this scenario
        final = get_cancellation(stack, token, journey, created["id"])
    else:
        final = wait_for(lambda: (body := get_cancellation(stack, token, journey, created["id"]))["status"] in FINAL and body,
                         timeout=30, what=f"cancellation {created['id']} to reach a final status")
    assert final["status"] == journey.status, final
    assert {key: final[key] for key in ("id", "supplier", "orderId", "reasonCode")} == {
        "id": created["id"], "supplier": journey.supplier, "orderId": journey.order_id, "reasonCode": journey.reason_code}
    if journey.scenario in ("CANCELLATION_ACCEPTED", "CANCELLATION_REJECTED", "CANCELLATION_PENDING", "SYNC_ACCEPTED"):
        # The supplier's 202 or 201 carried its reference.
        assert final["supplierReference"] == f"{journey.supplier}-{created['id']}", final
    else:
        assert "supplierReference" not in final, final


@pytest.mark.parametrize("journey", JOURNEYS, ids=lambda journey: journey.id)
def test_supplier_got_the_request_with_the_tenants_headers_as_often_as_the_scenario_allows(stack, token, journeys, journey):
    _, created = journeys[journey.id]
    if journey.status != "PENDING":
        wait_for(lambda: get_cancellation(stack, token, journey, created["id"])["status"] in FINAL, timeout=30, what="a final status")
    calls = requests.get(f"{stack.supplier_stub.url}/requests", params={"cancellationId": created["id"]}, timeout=10).json()
    assert len(calls) == journey.supplier_calls, calls
    for call in calls:
        assert call["supplier"] == journey.supplier
        headers = call["headers"]
        assert headers["X-Request-ID"] == trace(journey)["X-Request-ID"]  # the same on every attempt: the supplier can spot a retry
        assert headers["X-Conversation-ID"] == trace(journey)["X-Conversation-ID"]
        assert headers["Tenant"] == journey.tenant
        assert headers["X-Scenario"] == journey.scenario and headers["X-Kci-Delay"] == "0"
        assert call["body"] == {"id": created["id"], "orderId": journey.order_id, "reasonCode": journey.reason_code,
                                "supplierOrderReference": f"FC{journey.order_id}"}
        if journey.supplier == "FIBRECO":
            assert headers["Authorization"] == "Basic <redacted>"  # FIBRECO's stub wants the configured credentials


@pytest.mark.parametrize("journey", [j for j in JOURNEYS if j.scenario in ("CANCELLATION_ACCEPTED", "CANCELLATION_REJECTED")],
                         ids=lambda journey: journey.id)
def test_the_follow_up_kci_is_the_suppliers_answer_for_the_orders_type(stack, token, journeys, journey):
    _, created = journeys[journey.id]
    wait_for(lambda: get_cancellation(stack, token, journey, created["id"])["status"] in FINAL, timeout=30, what="a final status")
    call, = requests.get(f"{stack.supplier_stub.url}/requests", params={"cancellationId": created["id"]}, timeout=10).json()
    kci = call["kci"]["body"]
    assert call["kci"]["status"] == 204
    accepted = journey.scenario == "CANCELLATION_ACCEPTED"
    assert kci["reasonCode"] == ("CANCELLED" if accepted else "CANCELLATION_REJECTED")
    assert kci["serviceOrderCancellationId"] == created["id"]
    assert kci["problemCode"] == (journey.problem_code or "UNKNOWN_FAULT")
    assert kci["sequenceNumber"] == 2  # after the ACKNOWLEDGED KCI's 1
    uuid.UUID(kci["id"])
    entity = kci[ENTITY_FIELDS[journey.order_type]]
    assert set(ENTITY_FIELDS.values()) & set(kci) == {ENTITY_FIELDS[journey.order_type]}
    assert entity["id"] == journey.order_id and entity["tenant"] == journey.tenant
    assert entity["supplierOrderReference"] == f"FC{journey.order_id}"
    assert entity["status"] == ("CANCELLED" if accepted else "ACKNOWLEDGED")
    assert entity["address"] == {"id": "10002429380", "type": "UPRN"}  # the supplier's latest entity, kept whole
    if not accepted:
        assert journey.problem_code in kci["text"]


def tenant_kcis(stack, journey: Journey, *, all_attempts: bool = False) -> list[dict[str, Any]]:
    params = {"tenant": journey.tenant, "orderId": journey.order_id, **({"all": "1"} if all_attempts else {})}
    answer = requests.get(f"{stack.tenant_stub.url}/received", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_orders_own_kci_reaches_the_tenant_as_informational(stack, journeys):
    journey = JOURNEYS[0]
    first = wait_for(lambda: tenant_kcis(stack, journey), timeout=20, what="the tenant KCI relaying the ACKNOWLEDGED KCI")[0]
    kci = first["body"]
    assert (kci["updateType"], kci["information"]["type"], kci["sequenceNumber"]) == ("INFORMATIONAL", "ACKNOWLEDGED", 1)
    assert kci["supplier"] == journey.supplier and kci["entityType"] == "PROVIDE_ORDER" and kci["entity"]["id"] == journey.order_id
    assert kci["issuedOn"] == "2024-04-10T09:53:39.144Z" and kci["receivedOn"] and kci["deliveredOn"]
    uuid.UUID(kci["id"])
    assert first["headers"]["Authorization"] == "Bearer <redacted>"


@pytest.mark.parametrize("journey", JOURNEYS, ids=lambda journey: journey.id)
def test_tenant_receives_the_kci_for_the_outcome(stack, token, journeys, journey):
    _, created = journeys[journey.id]
    if journey.update_type is None:
        wait_for(lambda: get_cancellation(stack, token, journey, created["id"])["status"] == journey.status, timeout=15, what="the status")
        time.sleep(2)
        received = tenant_kcis(stack, journey)
        assert [kci["body"]["information"]["type"] for kci in received] == ["ACKNOWLEDGED"], received
        return

    def outcome() -> list[dict[str, Any]]:
        return [entry for entry in tenant_kcis(stack, journey) if entry["body"]["updateType"] == journey.update_type
                and (entry["body"].get("information") or {}).get("type") != "ACKNOWLEDGED"]

    entry, = wait_for(outcome, timeout=30, what=f"the tenant KCI ({journey.update_type}) for order {journey.order_id}")
    kci = entry["body"]
    if journey.information_type:
        assert kci["information"]["type"] == journey.information_type, kci
    if journey.error_code:
        assert kci["error"]["code"] == journey.error_code, kci
        uuid.UUID(kci["error"]["uuid"])
        assert kci["error"]["messages"]
    if journey.update_type == "ACTION_REQUIRED":
        assert kci["text"], kci  # the supplier's reason
        assert (journey.problem_code or "") in kci["text"]
    assert kci["supplier"] == journey.supplier
    assert kci["entityType"] == ENTITY_TYPES[journey.order_type]
    assert kci["entity"]["id"] == journey.order_id
    assert kci["entity"]["serviceOrderCancellation"]["id"] == created["id"]
    assert kci["entity"]["serviceOrderCancellation"]["status"] == journey.status
    assert kci["deliveredOn"]
    uuid.UUID(kci["id"])

    # Headers: the tenant's original conversation; a request id of the delivery's own.
    assert entry["headers"]["X-Conversation-ID"] == trace(journey)["X-Conversation-ID"]
    assert entry["headers"]["X-Request-ID"] != trace(journey)["X-Request-ID"]
    uuid.UUID(entry["headers"]["X-Request-ID"])

    # The order's tenant KCIs, ACKNOWLEDGED relay included, come in sequence order.
    sequence = [item["body"]["sequenceNumber"] for item in tenant_kcis(stack, journey)]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence), sequence


def test_every_delivery_has_a_new_x_request_id(stack, journeys):
    wait_for(lambda: sum(len(tenant_kcis(stack, journey)) for journey in JOURNEYS) >= len(JOURNEYS), timeout=20, what="deliveries")
    ids = [entry["headers"]["X-Request-ID"] for journey in JOURNEYS for entry in tenant_kcis(stack, journey, all_attempts=True)]
    assert len(ids) == len(set(ids)), ids


def test_a_failing_tenant_gets_the_kci_again_with_the_cached_token(stack, token):
    """The tenant answers 503 twice: the delivery retries (new X-Request-ID each time) and reuses its token."""
    journey = Journey("RELAY", 7201, tenant="TENANT2")
    control = requests.post(f"{stack.tenant_stub.url}/control", json={"tenant": "TENANT2", "failNext": 2, "status": 503}, timeout=10)
    assert control.status_code == 200, control.text
    answer = requests.post(f"{stack.base_url}/kcis", json=acknowledged_kci(journey), timeout=10,
                           headers={"Authorization": f"Bearer {token(journey.supplier)}", "X-Request-ID": "e2e-ack-tenant2",
                                    "X-Conversation-ID": "e2e-conversation-tenant2"})
    assert answer.status_code == 204, answer.text

    delivered = wait_for(lambda: tenant_kcis(stack, journey), timeout=30, what="the KCI to reach TENANT2 after two 503s")
    attempts = tenant_kcis(stack, journey, all_attempts=True)
    assert [attempt["status"] for attempt in attempts] == [503, 503, 204]
    assert len({attempt["body"]["id"] for attempt in attempts}) == 1  # the same tenant KCI, three times
    assert len({attempt["headers"]["X-Request-ID"] for attempt in attempts}) == 3
    assert delivered[0]["headers"]["X-Conversation-ID"] == "e2e-conversation-tenant2"
    stats = requests.get(f"{stack.tenant_stub.url}/stats", timeout=10).json()
    assert stats["TENANT2"]["tokensIssued"] == 1, stats


def test_the_tenant_stub_refuses_a_kci_without_its_token(stack):
    answer = requests.post(f"{stack.tenant_stub.url}/TENANT1/kcis", json={"id": "x"}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["code"] == "NOT_AUTHORISED"
