"""The local partners on their own: the supplier stub's answers and the tenant stub's tokens, records and controls.

The journeys through them (the follow-up KCI, deliveries, retries) are in tests/http/test_e2e_lifecycle.py.
"""

from __future__ import annotations

import pytest
import requests

from local_stack.supplier_stub import DEFAULT_KCI_DELAY_SECONDS, SupplierStub, kci_delay
from local_stack.tenant_stub import TenantStub

REQUEST = {"id": 7, "orderId": 1001, "reasonCode": "CUSTOMER_CHANGED_MIND", "supplierOrderReference": "FC1001"}


@pytest.fixture
def supplier():
    with SupplierStub(timeout_seconds=0.5) as stub:
        yield stub


@pytest.fixture
def tenant():
    with TenantStub() as stub:
        yield stub


@pytest.mark.parametrize("value, expected", [
    (None, DEFAULT_KCI_DELAY_SECONDS), ("", DEFAULT_KCI_DELAY_SECONDS), ("0", 0.0), ("2.5", 2.5), (" 7 ", 7.0),
    ("-1", DEFAULT_KCI_DELAY_SECONDS), ("soon", DEFAULT_KCI_DELAY_SECONDS), ("nan", DEFAULT_KCI_DELAY_SECONDS),
    ("inf", DEFAULT_KCI_DELAY_SECONDS), ("86401", DEFAULT_KCI_DELAY_SECONDS),
])
def test_kci_delay(value, expected):
    assert kci_delay(value) == expected


def cancel(stub: SupplierStub, supplier: str = "DUMMY_SUPPLIER", **headers: str) -> requests.Response:
    return requests.post(f"{stub.base_url(supplier)}/service-order-cancellations", json=REQUEST, headers=headers, timeout=5)


def test_suppliers_config_names_each_suppliers_base_url_and_credentials(supplier):
    config = supplier.suppliers_config()
    assert config["DUMMY_SUPPLIER"] == {"baseUrl": f"{supplier.url}/DUMMY_SUPPLIER", "auth": {"type": "none"}}
    assert config["FIBRECO"]["auth"]["type"] == "basic"


@pytest.mark.parametrize("scenario, status", [
    ("SYNC_ACCEPTED", 201), ("CANCELLATION_PENDING", 202), ("SYNC_REJECTED", 422), ("SERVER_ERROR", 500), ("UNAUTHORISED", 401),
    ("sync_accepted", 201), ("NO_SUCH_SCENARIO", 400),
])
def test_synchronous_answers(supplier, scenario, status):
    answer = cancel(supplier, **{"X-Scenario": scenario, "X-Problem-Code": "TOO_LATE"})
    assert answer.status_code == status, answer.text
    body = answer.json()
    if status in (201, 202):
        assert body == {"supplierReference": "DUMMY_SUPPLIER-7"}
    else:
        assert set(body) == {"uuid", "code", "messages"}
    if scenario == "SYNC_REJECTED":
        assert body["code"] == "INVALID_REQUEST" and "TOO_LATE" in body["messages"][0] and "FC1001" in body["messages"][0]
    if status == 400:
        assert "CANCELLATION_ACCEPTED" in body["messages"][0]


def test_timeout_scenario_does_not_answer_in_time(supplier):
    with pytest.raises(requests.Timeout):
        requests.post(f"{supplier.base_url('DUMMY_SUPPLIER')}/service-order-cancellations", json=REQUEST,
                      headers={"X-Scenario": "TIMEOUT"}, timeout=(3, 0.2))


def test_fibreco_wants_its_credentials(supplier):
    assert cancel(supplier, "FIBRECO", **{"X-Scenario": "SYNC_ACCEPTED"}).status_code == 401
    auth = supplier.suppliers["FIBRECO"]
    answer = requests.post(f"{supplier.base_url('FIBRECO')}/service-order-cancellations", json=REQUEST, timeout=5,
                           headers={"X-Scenario": "SYNC_ACCEPTED"}, auth=(auth["username"], auth["password"]))
    assert answer.status_code == 201 and answer.json() == {"supplierReference": "FIBRECO-7"}


def test_a_malformed_request_gets_400(supplier):
    answer = requests.post(f"{supplier.base_url('DUMMY_SUPPLIER')}/service-order-cancellations", json={"id": "7"}, timeout=5)
    assert answer.status_code == 400 and answer.json()["code"] == "MALFORMED_REQUEST"


def test_requests_are_listed_with_credentials_redacted(supplier):
    auth = supplier.suppliers["FIBRECO"]
    requests.post(f"{supplier.base_url('FIBRECO')}/service-order-cancellations", json=REQUEST, timeout=5,
                  headers={"X-Scenario": "SYNC_ACCEPTED"}, auth=(auth["username"], auth["password"]))
    (entry,) = requests.get(f"{supplier.url}/requests", params={"cancellationId": "7"}, timeout=5).json()
    assert entry["supplier"] == "FIBRECO" and entry["status"] == 201 and entry["scenario"] == "SYNC_ACCEPTED"
    assert entry["headers"]["Authorization"] == "Basic <redacted>"
    assert entry["body"] == REQUEST


def test_sequence_numbers_start_above_the_orders_and_increase(supplier):
    assert supplier.next_sequence(1001, last_known=3) == 4
    assert supplier.next_sequence(1001, last_known=3) == 5  # the stub's own counter
    assert supplier.next_sequence(1001, last_known=9) == 10  # a KCI the stub did not send moved the order on
    assert supplier.next_sequence(2002, last_known=0) == 1


# ---------------------------------------------------------------- the tenant stub


def token(stub: TenantStub, tenant: str = "TENANT1", secret: str = "local-dev-secret") -> requests.Response:
    return requests.post(f"{stub.base_url(tenant)}/oauth2/token", data={"grant_type": "client_credentials", "scope": "kcis"},
                         auth=("fibre-cafe-gateway", secret), timeout=5)


def test_tenants_config_is_oauth2_against_the_stubs_own_token_endpoint(tenant):
    config = tenant.tenants_config()["TENANT1"]
    assert config["baseUrl"] == f"{tenant.url}/TENANT1"
    assert config["auth"]["type"] == "oauth2" and config["auth"]["tokenUrl"] == f"{tenant.url}/TENANT1/oauth2/token"


def test_token_then_kci_is_recorded(tenant):
    assert token(tenant, secret="wrong").status_code == 401
    issued = token(tenant).json()
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 3600
    kci = {"id": "k1", "sequenceNumber": 1, "updateType": "INFORMATIONAL", "entity": {"id": 1001}}
    answer = requests.post(f"{tenant.base_url('TENANT1')}/kcis", json=kci, timeout=5,
                           headers={"Authorization": f"Bearer {issued['access_token']}", "X-Request-ID": "r1"})
    assert answer.status_code == 204
    (entry,) = requests.get(f"{tenant.url}/received", params={"tenant": "TENANT1", "orderId": "1001"}, timeout=5).json()
    assert entry["body"] == kci and entry["headers"]["X-Request-ID"] == "r1" and entry["headers"]["Authorization"] == "Bearer <redacted>"
    assert requests.get(f"{tenant.url}/received", params={"tenant": "TENANT2"}, timeout=5).json() == []
    # A token is the tenant's own: TENANT2's endpoint refuses TENANT1's token.
    other = requests.post(
        f"{tenant.base_url('TENANT2')}/kcis", json=kci, headers={"Authorization": f"Bearer {issued['access_token']}"}, timeout=5
    )
    assert other.status_code == 401
    assert requests.get(f"{tenant.url}/stats", timeout=5).json()["TENANT1"]["tokensIssued"] == 1


def test_control_fail_next_and_revoke_tokens(tenant):
    access = token(tenant).json()["access_token"]

    def post() -> int:
        return requests.post(f"{tenant.base_url('TENANT1')}/kcis", json={"entity": {"id": 1}}, timeout=5,
                             headers={"Authorization": f"Bearer {access}"}).status_code

    assert requests.post(f"{tenant.url}/control", json={"tenant": "TENANT1", "failNext": 2, "status": 429}, timeout=5).status_code == 200
    assert [post(), post(), post()] == [429, 429, 204]
    assert requests.post(f"{tenant.url}/control", json={"tenant": "TENANT1", "revokeTokens": True}, timeout=5).status_code == 200
    assert post() == 401
    every = requests.get(f"{tenant.url}/received", params={"tenant": "TENANT1", "all": "1"}, timeout=5).json()
    assert [entry["status"] for entry in every] == [429, 429, 204, 401]
    assert len(requests.get(f"{tenant.url}/received", params={"tenant": "TENANT1"}, timeout=5).json()) == 1
    assert requests.post(f"{tenant.url}/control", json={"reset": True}, timeout=5).status_code == 200
    assert requests.get(f"{tenant.url}/received", params={"tenant": "TENANT1", "all": "1"}, timeout=5).json() == []


@pytest.mark.parametrize("body", [{"tenant": "NOBODY", "failNext": 1}, {"tenant": "TENANT1", "failNext": -1},
                                  {"tenant": "TENANT1", "failNext": 1, "status": 200}, ["not", "an", "object"]])
def test_control_refuses_nonsense(tenant, body):
    assert requests.post(f"{tenant.url}/control", json=body, timeout=5).status_code == 400
