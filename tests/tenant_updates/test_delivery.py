"""Delivering tenant KCIs (TenantKciDeliveryFunction) on real FIFO SQS events from moto, to a tenant stub on 127.0.0.1
that has its own OAuth2 token endpoint (issue 7, item 3).

| tenant answer                                   | what happens                                                  |
|-------------------------------------------------|---------------------------------------------------------------|
| 2xx                                             | outbox DELIVERED, deliveredOn recorded                        |
| 4xx other than 401/408/429                      | FAILED at once: one request, not retried                      |
| 5xx, 408, 429, timeout, connection refused      | reported in batchItemFailures, hidden for a backoff, attempts |
|                                                 | counted; FAILED once MAX_DELIVERY_ATTEMPTS are spent           |
| 401                                             | the cached token is dropped; the retry fetches a new one       |

The harness runs the function with MAX_DELIVERY_ATTEMPTS=3 and DELIVERY_BACKOFF_BASE_SECONDS=5; the timeout case
waits 0.5 s for answers that come after 2.5 s.
"""

from __future__ import annotations

import base64
import json
import socket
import uuid

import pytest

from fibre_cafe.dal.partner_directory import PartnerDirectory
from fibre_cafe.models.tenant_kci import TenantKci
from testing.events import failures, make_kci
from testing.lambda_context import lambda_context
from testing.lifecycle import BACKOFF_BASE_SECONDS, CLIENT_ID, CLIENT_SECRET, MAX_DELIVERY_ATTEMPTS, SLOW_SECONDS, TENANT

ORDER_ID = 123
CONVERSATION = "conv-tenant-original"


# --------------------------------------------------------------------------------------------- helpers


def supplier_kci(world, order_id: int = ORDER_ID, sequence: int = 1, reason: str = "ACKNOWLEDGED") -> None:
    """A supplier KCI applied to the order: one tenant KCI in the outbox."""
    status, body = world.post_kci(make_kci(order_id, sequence, reason, status="IN_PROGRESS"))
    assert status == 204, body
    assert world.process_kcis() == {"batchItemFailures": []}


def queued(world, *order_ids: int, per_order: int = 1) -> None:
    """``per_order`` tenant KCIs for each order, relayed to the FIFO queue."""
    for order_id in order_ids or (ORDER_ID,):
        for sequence in range(1, per_order + 1):
            supplier_kci(world, order_id, sequence)
    event, result = world.relay()
    assert result == {"batchItemFailures": []} and event["Records"]


def cancelled_order_kcis(world, supplier_stub) -> int:
    """Tenant KCI 1 (the supplier's ACKNOWLEDGED) and 2 (the supplier's 201 to the tenant's cancellation), relayed."""
    supplier_kci(world)
    cancellation_id = world.cancel_ok(ORDER_ID, headers={"X-Conversation-ID": CONVERSATION})["id"]
    supplier_stub.answers.append((201, json.dumps({"supplierReference": "A123-1"}), 0))
    assert world.dispatch()[1] == {"batchItemFailures": []}
    world.relay()
    return cancellation_id


def item(world, order_id: int = ORDER_ID, sequence: int = 1) -> dict:
    return next(entry for entry in world.outbox.list(order_id) if entry["kci"]["sequenceNumber"] == sequence)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def request_ids(world) -> list[str]:
    return [request["headers"]["X-Request-ID"] for request in world.tenant.requests]


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------------------------- what is sent


def test_a_delivery_posts_the_kci_with_delivered_on_and_the_tenants_conversation(world, supplier_stub, tenant_stub):
    cancelled_order_kcis(world, supplier_stub)

    event, result = world.deliver()

    assert len(event["Records"]) == 2 and result == {"batchItemFailures": []}
    assert [request["body"]["sequenceNumber"] for request in tenant_stub.requests] == [1, 2]
    request = tenant_stub.requests[1]
    assert request["path"] == f"/{TENANT}/kcis"
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert uuid.UUID(headers["X-Request-ID"])
    assert headers["X-Conversation-ID"] == CONVERSATION, "the X-Conversation-ID of the tenant's cancellation request"
    [token] = tenant_stub.issued
    assert headers["Authorization"] == f"Bearer {token}"
    body = request["body"]
    stored = item(world, sequence=2)
    assert body == {**stored["kci"], "deliveredOn": body["deliveredOn"]}
    assert body["deliveredOn"].endswith("Z") and body["deliveredOn"] >= stored["createdAt"]
    TenantKci.model_validate(body)
    assert body["information"]["type"] == "CANCELLED" and body["entity"]["serviceOrderCancellation"]["status"] == "COMPLETED"
    assert stored["deliveryStatus"] == "DELIVERED" and stored["deliveryAttempts"] == 1 and stored["lastHttpStatus"] == 204
    assert stored["deliveredOn"] == body["deliveredOn"]
    assert "deliveredOn" not in stored["kci"], "the outbox keeps the KCI as written; deliveredOn is set at delivery"
    assert world.queued("TenantUpdatesQueue") == 0


def test_the_token_comes_from_the_tenants_token_endpoint_with_client_credentials(world, tenant_stub):
    queued(world)

    world.deliver()

    [token_request] = tenant_stub.token_requests
    assert token_request["form"] == {"grant_type": "client_credentials", "scope": "kcis"}
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token_request["headers"]["Authorization"] == f"Basic {expected}"
    assert tenant_stub.accepted and item(world)["deliveryStatus"] == "DELIVERED"


@pytest.mark.parametrize("status", [200, 202])
def test_any_2xx_is_delivered(world, tenant_stub, status):
    queued(world)
    tenant_stub.answers.append((status, 0))

    _, result = world.deliver()

    assert result == {"batchItemFailures": []}
    stored = item(world)
    assert (stored["deliveryStatus"], stored["deliveryAttempts"], stored["lastHttpStatus"]) == ("DELIVERED", 1, status)
    assert world.queued("TenantUpdatesQueue") == 0


# --------------------------------------------------------------------------------------------- refused: not retried


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_a_4xx_rejection_fails_the_kci_at_once_without_retrying(world, tenant_stub, status):
    queued(world)
    tenant_stub.answers.append((status, 0))

    _, result = world.deliver()

    assert result == {"batchItemFailures": []}, "given up on: the message is deleted"
    stored = item(world)
    assert (stored["deliveryStatus"], stored["deliveryAttempts"], stored["lastHttpStatus"]) == ("FAILED", 1, status)
    assert "deliveredOn" not in stored
    assert world.queued("TenantUpdatesQueue") == 0
    assert world.deliver()[0]["Records"] == []
    assert len(tenant_stub.requests) == 1
    assert world.visibility_changes == []


# --------------------------------------------------------------------------------------------- transient: retried


TRANSIENT = {
    "500": (500, 0), "503": (503, 0), "408": (408, 0), "429": (429, 0),
    "timeout": (204, SLOW_SECONDS), "401": (401, 0),
}


@pytest.mark.parametrize("case", list(TRANSIENT))
def test_a_transient_answer_is_retried_with_backoff_then_failed_when_the_attempts_are_spent(world, tenant_stub, case):
    queued(world)
    world.impatient(case == "timeout")
    # Full jitter draws each backoff from [0, base * 2 ** (attempt - 1)] (dal/partner_client.py, unit-tested in
    # tests/unit/test_partner_client.py); drawing the top of the range here shows the exponential growth exactly.
    world.delivery.deps.deliver.settings.jitter = lambda low, high: high
    tenant_stub.answers.extend([TRANSIENT[case]] * MAX_DELIVERY_ATTEMPTS)
    expected_status = None if case == "timeout" else TRANSIENT[case][0]

    for attempt in range(1, MAX_DELIVERY_ATTEMPTS):
        event, result = world.deliver()
        [record] = event["Records"]
        assert failures(result) == [record["messageId"]], "reported failed (not raised): the queue redelivers it"
        assert world.visibility_changes[-1] == {"ReceiptHandle": record["receiptHandle"],
                                                "VisibilityTimeout": BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)}
        stored = item(world)
        assert (stored["deliveryStatus"], stored["deliveryAttempts"]) == ("PENDING", attempt)
        assert stored.get("lastHttpStatus") == expected_status
        assert world.queued("TenantUpdatesQueue") == 1
        world.let_backoff_elapse(event)

    event, result = world.deliver()

    assert result == {"batchItemFailures": []}
    stored = item(world)
    assert (stored["deliveryStatus"], stored["deliveryAttempts"]) == ("FAILED", MAX_DELIVERY_ATTEMPTS)
    assert world.queued("TenantUpdatesQueue") == 0
    assert len(tenant_stub.requests) == MAX_DELIVERY_ATTEMPTS
    assert len(set(request_ids(world))) == MAX_DELIVERY_ATTEMPTS, "a new X-Request-ID per attempt"
    assert len(world.visibility_changes) == MAX_DELIVERY_ATTEMPTS - 1
    if case == "401":
        assert len(tenant_stub.token_requests) == MAX_DELIVERY_ATTEMPTS, "a fresh token for every attempt after a 401"


def test_a_refused_connection_is_retried_then_failed(world, tenant_stub):
    queued(world)
    config = json.dumps({TENANT: {"baseUrl": closed_port_url(), "auth": {"type": "none"}}})
    world.delivery.deps.deliver.directory = PartnerDirectory(lambda: config)

    results = world.deliver_until_empty()

    assert [failures(result) != [] for result in results] == [True] * (MAX_DELIVERY_ATTEMPTS - 1) + [False]
    stored = item(world)
    assert (stored["deliveryStatus"], stored["deliveryAttempts"]) == ("FAILED", MAX_DELIVERY_ATTEMPTS)
    assert "connection error" in stored["lastDetail"]


def test_a_transient_failure_then_success_is_delivered_on_the_retry_with_a_new_request_id(world, tenant_stub):
    queued(world)
    tenant_stub.answers.append((503, 0))

    results = world.deliver_until_empty()

    assert len(results) == 2
    assert [request["status"] for request in tenant_stub.requests] == [503, 204]
    first, second = tenant_stub.requests
    assert first["headers"]["X-Request-ID"] != second["headers"]["X-Request-ID"]
    assert first["headers"]["X-Conversation-ID"] == second["headers"]["X-Conversation-ID"]
    assert first["body"]["id"] == second["body"]["id"], "the same tenant KCI, sent again"
    assert second["body"]["deliveredOn"] >= first["body"]["deliveredOn"]
    stored = item(world)
    assert (stored["deliveryStatus"], stored["deliveryAttempts"], stored["lastHttpStatus"]) == ("DELIVERED", 2, 204)
    assert stored["deliveredOn"] == second["body"]["deliveredOn"]


# --------------------------------------------------------------------------------------------- tokens


def test_a_401_drops_the_cached_token_and_the_retry_fetches_a_new_one(world, tenant_stub):
    queued(world, 1, 2)
    world.deliver()
    assert len(tenant_stub.issued) == 1 and len(tenant_stub.accepted) == 2
    tenant_stub.revoked.add(tenant_stub.issued[0])  # the tenant revoked it: the next KCI gets 401
    supplier_kci(world, 3)
    world.relay()

    event, result = world.deliver()

    assert failures(result) == [event["Records"][0]["messageId"]]
    assert item(world, 3)["lastHttpStatus"] == 401 and item(world, 3)["deliveryStatus"] == "PENDING"
    world.let_backoff_elapse(event)
    _, result = world.deliver()
    assert result == {"batchItemFailures": []}
    assert len(tenant_stub.token_requests) == 2
    old, new = tenant_stub.issued
    assert [(request["headers"]["Authorization"], request["status"]) for request in tenant_stub.requests] == [
        (f"Bearer {old}", 204), (f"Bearer {old}", 204), (f"Bearer {old}", 401), (f"Bearer {new}", 204)]
    assert item(world, 3)["deliveryStatus"] == "DELIVERED"


def test_a_token_is_fetched_once_and_reused_for_many_deliveries(world, tenant_stub):
    queued(world, 1, 2, 3, per_order=2)

    world.deliver_until_empty()
    queued(world, 4)
    world.deliver_until_empty()

    assert len(tenant_stub.accepted) == 7
    assert len(tenant_stub.token_requests) == 1
    assert {request["headers"]["Authorization"] for request in tenant_stub.requests} == {f"Bearer {tenant_stub.issued[0]}"}


@pytest.mark.parametrize("lifetime, reused_at, refreshed_at", [(3600, 3000, 3600), (30, 15, 30)])
def test_a_token_is_reused_until_it_expires_then_fetched_again(world, tenant_stub, lifetime, reused_at, refreshed_at):
    """Reused while valid, refreshed once expired; for a token valid 30 s as for one valid an hour (the refresh
    margin for a long-lived token must not make a short-lived one single-use)."""
    tenant_stub.token_lifetime = lifetime
    clock = FakeClock()
    world.delivery.deps.deliver.tokens.clock = clock
    start = clock.now

    queued(world, 1)
    world.deliver()
    clock.now = start + reused_at
    queued(world, 2)
    world.deliver()
    assert len(tenant_stub.token_requests) == 1, f"a {lifetime}s token is still good after {reused_at}s"
    clock.now = start + refreshed_at
    queued(world, 3)
    world.deliver()

    assert len(tenant_stub.token_requests) == 2
    first, second = tenant_stub.issued
    assert [request["headers"]["Authorization"] for request in tenant_stub.requests] == [f"Bearer {first}"] * 2 + [f"Bearer {second}"]
    assert len(tenant_stub.accepted) == 3


def test_no_token_from_the_token_endpoint_means_no_delivery_yet_and_a_retry(world, tenant_stub):
    queued(world)
    tenant_stub.token_answers.append(503)

    event, result = world.deliver()

    assert failures(result) == [event["Records"][0]["messageId"]]
    assert tenant_stub.requests == [], "nothing is sent without a token"
    assert item(world)["deliveryStatus"] == "PENDING" and "token" in item(world)["lastDetail"]
    world.let_backoff_elapse(event)
    world.deliver()
    assert len(tenant_stub.accepted) == 1 and item(world)["deliveryStatus"] == "DELIVERED"


# --------------------------------------------------------------------------------------------- other auth


def test_http_basic_auth(world, tenant_stub):
    world.tenant_auth = "basic"
    queued(world)

    world.deliver()

    expected = base64.b64encode(":".join(tenant_stub.basic).encode()).decode()
    [request] = tenant_stub.requests
    assert request["headers"]["Authorization"] == f"Basic {expected}" and request["status"] == 204
    assert tenant_stub.token_requests == []
    assert item(world)["deliveryStatus"] == "DELIVERED"


def test_a_static_bearer_token(world, tenant_stub):
    world.tenant_auth = "bearer"
    queued(world)

    world.deliver()

    [request] = tenant_stub.requests
    assert request["headers"]["Authorization"] == f"Bearer {tenant_stub.static_token}" and request["status"] == 204
    assert tenant_stub.token_requests == []
    assert item(world)["deliveryStatus"] == "DELIVERED"


# --------------------------------------------------------------------------------------------- at most once per KCI


@pytest.mark.parametrize("first_answer, status", [(204, "DELIVERED"), (400, "FAILED")])
def test_a_message_for_a_kci_already_delivered_or_failed_is_not_sent_again(world, tenant_stub, first_answer, status):
    queued(world)
    tenant_stub.answers.append((first_answer, 0))
    event, _ = world.deliver()
    assert item(world)["deliveryStatus"] == status

    # The same message again: a redelivery after its deletion was lost, or the relay replaying the stream.
    result = world.delivery.lambda_handler(event, lambda_context())

    assert result == {"batchItemFailures": []}
    assert len(tenant_stub.requests) == 1
    assert item(world)["deliveryAttempts"] == 1


def test_a_tenant_without_a_configured_endpoint_is_retried_then_failed(world, tenant_stub):
    """Decision: an unknown tenant is treated as transient (its configuration may be on its way), so the KCI is
    retried with backoff and then FAILED, visible to operators, rather than dropped."""
    queued(world)
    world.delivery.deps.deliver.directory = PartnerDirectory(lambda: "{}")

    world.deliver_until_empty()

    stored = item(world)
    assert (stored["deliveryStatus"], stored["deliveryAttempts"]) == ("FAILED", MAX_DELIVERY_ATTEMPTS)
    assert TENANT in stored["lastDetail"]
    assert tenant_stub.requests == []
