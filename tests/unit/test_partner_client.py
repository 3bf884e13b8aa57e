"""The one partner client (fibre_cafe/dal/partner_client.py), used by the supplier and the tenant sides alike.

HTTP answers come from ``responses`` (no socket needed); the slow and unreachable partners of the lifecycle and
tenant_updates suites cover real sockets.
"""

from __future__ import annotations

import json

import pytest
import requests
import responses

from fibre_cafe.dal.errors import RetryLater
from fibre_cafe.dal.partner_call import CONNECT_TIMEOUT_SECONDS, PARTNER_CALL_DEADLINE_SECONDS, READ_TIMEOUT_SECONDS
from fibre_cafe.dal.partner_client import CallFailure, PartnerClient, PartnerReply, RetryPolicy
from fibre_cafe.dal.partner_directory import PartnerEndpoint
from fibre_cafe.dal.supplier_api import SupplierApi
from fibre_cafe.dal.supplier_directory import SupplierDirectory
from fibre_cafe.logic.deliver_tenant_kci import DeliverySettings
from fibre_cafe.logic.dispatch_cancellation import DispatchSettings

BASE = "https://partner.example"
OAUTH2 = PartnerEndpoint("P1", BASE, {"type": "oauth2", "tokenUrl": f"{BASE}/token", "clientId": "id", "clientSecret": "s"})


def test_timeouts_and_deadline_default_to_the_values_defined_once():
    client = PartnerClient()
    assert client.timeout == (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS) and client.deadline == PARTNER_CALL_DEADLINE_SECONDS
    assert client.tokens.timeout == client.timeout  # the token endpoint gets the same socket timeouts
    client.timeout = (1.0, 2.0)
    assert client.tokens.timeout == (1.0, 2.0)
    supplier = SupplierApi(SupplierDirectory(loader=lambda: "{}"), read_timeout=4.0)
    assert isinstance(supplier.client, PartnerClient) and supplier.timeout == (CONNECT_TIMEOUT_SECONDS, 4.0)


@responses.activate
def test_an_oauth2_token_is_fetched_once_reused_and_forgotten_after_a_401():
    responses.post(f"{BASE}/token", json={"access_token": "t1", "expires_in": 3600})
    kcis = [responses.post(f"{BASE}/kcis", status=204), responses.post(f"{BASE}/kcis", status=401)]
    client = PartnerClient()

    first = client.post(OAUTH2, "/kcis", {"a": 1}, {"X-Request-ID": "r1"})
    assert first == PartnerReply(status=204, text="", detail="HTTP 204") and not first.transient
    assert client.tokens.fetches == 1
    assert kcis[0].calls[0].request.headers["Authorization"] == "Bearer t1"
    assert kcis[0].calls[0].request.headers["X-Request-ID"] == "r1"
    assert json.loads(kcis[0].calls[0].request.body) == {"a": 1}

    assert client.post(OAUTH2, "/kcis", {}, {}).status == 401
    assert client.tokens.fetches == 1  # the cached token was used ...
    client.post(OAUTH2, "/kcis", {}, {})
    assert client.tokens.fetches == 2  # ... and forgotten after the 401


@responses.activate
def test_answers_are_classified_once_for_both_sides():
    client = PartnerClient()
    endpoint = PartnerEndpoint("P2", BASE)
    for status, transient in [(201, False), (302, False), (400, False), (401, False), (422, False),
                              (408, True), (429, True), (500, True), (503, True)]:
        responses.post(f"{BASE}/x", status=status)
        reply = client.post(endpoint, "/x", {}, {})
        assert (reply.status, reply.failure, reply.transient) == (status, None, transient)
        responses.reset()

    responses.post(f"{BASE}/x", body=requests.ConnectTimeout("slow"))
    assert client.post(endpoint, "/x", {}, {}) == PartnerReply(failure=CallFailure.TIMED_OUT, detail="timeout")
    responses.reset()
    responses.post(f"{BASE}/x", body=requests.ConnectionError("refused"))
    reply = client.post(endpoint, "/x", {}, {})
    assert reply.failure is CallFailure.UNREACHABLE and reply.transient and reply.status is None
    responses.reset()
    responses.post(f"{BASE}/token", status=500)
    reply = client.post(OAUTH2, "/kcis", {}, {})
    assert reply.failure is CallFailure.UNREACHABLE and "token" in reply.detail


def test_the_overall_deadline_ends_a_call_as_a_timeout():
    class Hanging(requests.Session):
        def post(self, *args, **kwargs):
            import time

            time.sleep(1.0)
            raise AssertionError("not reached in time")

    reply = PartnerClient(Hanging(), deadline=0.1).post(PartnerEndpoint("P3", BASE), "/x", {}, {})
    assert reply.failure is CallFailure.TIMED_OUT and reply.detail.startswith("timeout:")


def test_backoff_is_exponential_with_full_jitter_capped_and_at_least_one_second():
    draws: list[tuple[float, float]] = []

    def top(low: float, high: float) -> float:
        draws.append((low, high))
        return high

    policy = RetryPolicy(max_attempts=4, backoff_base_seconds=10, backoff_cap_seconds=60, jitter=top)
    assert [policy.backoff_seconds(attempt) for attempt in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    assert draws == [(0, 10), (0, 20), (0, 40), (0, 60), (0, 60)]  # full jitter: from zero to the ceiling
    assert RetryPolicy(backoff_base_seconds=10, jitter=lambda low, high: low).backoff_seconds(3) == 1  # never 0 s
    spread = {RetryPolicy(backoff_base_seconds=100).backoff_seconds(1) for _ in range(200)}
    assert min(spread) < 50 and max(spread) > 50  # real draws cover the whole range, not only its top half


def test_retry_later_carries_the_backoff_and_the_attempts_are_counted_alike_on_both_sides():
    for settings, attempts in ((DispatchSettings(), 4), (DeliverySettings(), 5)):
        assert isinstance(settings, RetryPolicy)
        assert [settings.may_retry(attempt) for attempt in range(1, attempts + 1)] == [True] * (attempts - 1) + [False]
        settings.jitter = lambda low, high: high
        retry = settings.retry_later("why", 2)
        assert isinstance(retry, RetryLater) and str(retry) == "why"
        assert retry.delay_seconds == settings.backoff_base_seconds * 2


@pytest.mark.parametrize("status", [200, 204, 302])
def test_a_supplier_answer_outside_the_contract_is_still_decided_by_the_supplier_table(status):
    """The client only says what came back; the supplier's table (dal/supplier_api.py) decides the rest."""
    from fibre_cafe.dal.supplier_api import classify
    from fibre_cafe.domain import supplier_answers

    assert classify(status, "").kind is supplier_answers.AnswerKind.TRANSIENT
