"""Fixtures of the HTTP suites: tokens from the stack's token endpoint (``stack`` and ``http`` are testing.pytest_plugin's)."""

from __future__ import annotations

import pytest

from local_stack.tokens import DEV_CLIENT_SECRET


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
