"""The local stack on free ports, and a token helper (fixtures only: nothing here is imported by the tests)."""

from __future__ import annotations

import pytest
import requests

from local_stack.stack import LocalStack
from local_stack.tokens import DEV_CLIENT_SECRET


@pytest.fixture(scope="module")
def stack():
    """One stack per test module (started on free ports, stopped at the end of the module).

    Without the event source pollers: these tests look at what the Tenant API stored and queued,
    before the dispatcher takes it (test_e2e_lifecycle.py runs the whole journey with them)."""
    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False) as running:
        yield running


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def token_for(http, stack):
    """``token_for("TENANT1")`` / ``token_for("FIBRECO", "supplier")``: a token from the stack's token endpoint."""

    def fetch(client_id: str, kind: str = "tenant") -> str:
        answer = http.post(f"{stack.base_url}/auth/{kind}/access-token",
                           data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": DEV_CLIENT_SECRET},
                           timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    return fetch


@pytest.fixture(scope="module")
def tenant1_token(token_for) -> str:
    return token_for("TENANT1")


@pytest.fixture(scope="module")
def tenant2_token(token_for) -> str:
    return token_for("TENANT2")
