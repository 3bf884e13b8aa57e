"""Who may call what, through the local stack over HTTP: every caller x every route, one test per cell.

Callers: the four development clients (tokens from the stack's own signer), no token, and tokens the
authorizer must refuse (PyJWT: expired, signed with another RSA key, ``alg: none``, HS256 keyed with
the stack's public key, wrong audience, wrong issuer). Routes: POST and GET
/service-order-cancellations (tenant scope), POST /kcis (supplier scope).

Expected (domain.md sections 1, 3, 5): a tenant token on a tenant route does what the data says
(201 / 200); on /kcis it gets 401 NOT_AUTHORISED (the scope does not match: API Gateway's Cognito authorizer
answers 401, see README). A supplier token on a tenant route gets 401 likewise; on /kcis, 204 for a KCI of one of
its own orders. Every refused token gets 401 NOT_AUTHORISED with the
contract's error body and ``WWW-Authenticate: Bearer``. Refusals by token or scope happen at the edge
(API Gateway's authorizer, the local front): no function runs, so nothing can be stored.
"""

from __future__ import annotations

import pytest

from local_stack.proxy_events import SUPPLIER_SCOPE, TENANT_SCOPE
from tests.security.support import (
    CANCELLATIONS,
    KCIS,
    assert_error,
    assert_unauthorised,
    bearer,
    cancellation_body,
    hostile_tokens,
    kci_body,
    nothing_stored,
    order,
    queue_depth,
    trace,
)

pytestmark = pytest.mark.http

GOOD = ("TENANT1", "TENANT2", "DUMMY_SUPPLIER", "FIBRECO")
BAD = ("no-token", "expired", "forged", "alg-none", "hs256-public-key", "wrong-audience", "wrong-issuer")
CALLERS = GOOD + BAD
ROUTES = ("POST-cancellation", "GET-cancellation", "POST-kci")

# Orders of this module (the demo orders are left to the other suites): one to cancel per tenant in its
# POST cell, one per tenant cancelled by the fixture for its GET cell, and one of each supplier.
ORDERS = (
    order(5101, "TENANT1's POST cell"),
    order(5102, "TENANT1's GET cell"),
    order(5103, "FIBRECO's KCI cell", supplier="FIBRECO"),
    order(5104, "target of refused calls"),
    order(5201, "TENANT2's POST cell", tenant="TENANT2"),
    order(5202, "TENANT2's GET cell", tenant="TENANT2", supplier="FIBRECO", order_type="CEASE", status="IN_PROGRESS"),
)
POST_ORDER = {"TENANT1": 5101, "TENANT2": 5201}
GET_ORDER = {"TENANT1": 5102, "TENANT2": 5202}
KCI_ORDER = {"DUMMY_SUPPLIER": (5101, "TENANT1"), "FIBRECO": (5103, "TENANT1")}
REFUSED_TARGET = 5104

# (status, code) per cell; codes only for errors.
EXPECTED: dict[tuple[str, str], tuple[int, str | None]] = {}
for _tenant in ("TENANT1", "TENANT2"):
    EXPECTED[(_tenant, "POST-cancellation")] = (201, None)
    EXPECTED[(_tenant, "GET-cancellation")] = (200, None)
    EXPECTED[(_tenant, "POST-kci")] = (401, "NOT_AUTHORISED")  # scope mismatch
for _supplier in ("DUMMY_SUPPLIER", "FIBRECO"):
    EXPECTED[(_supplier, "POST-cancellation")] = (401, "NOT_AUTHORISED")  # scope mismatch
    EXPECTED[(_supplier, "GET-cancellation")] = (401, "NOT_AUTHORISED")
    EXPECTED[(_supplier, "POST-kci")] = (204, None)
for _bad in BAD:
    for _route in ROUTES:
        EXPECTED[(_bad, _route)] = (401, "NOT_AUTHORISED")

CELLS = [pytest.param(caller, route, id=f"{caller}-{route}") for caller in CALLERS for route in ROUTES]


@pytest.fixture(scope="module")
def tokens(stack, good_tokens) -> dict[str, str | None]:
    return {**good_tokens, "no-token": None, **hostile_tokens(stack.tokens)}


@pytest.fixture(scope="module")
def own_cancellations(stack, http, register_orders, good_tokens) -> dict[str, dict]:
    """Each tenant's cancellation for its GET cell (created over HTTP before any cell runs)."""
    register_orders(*ORDERS)
    created = {}
    for tenant, order_id in GET_ORDER.items():
        answer = http.post(f"{stack.base_url}{CANCELLATIONS}", json=cancellation_body(order_id),
                           headers={**bearer(good_tokens[tenant]), **trace()}, timeout=30)
        assert answer.status_code == 201, answer.text
        created[tenant] = answer.json()
    return created


def call(http, stack, caller: str, route: str, token: str | None, own_cancellations: dict[str, dict]):
    headers = {**(bearer(token) if token else {}), **trace()}
    if route == "POST-cancellation":
        body = cancellation_body(POST_ORDER.get(caller, REFUSED_TARGET))
        return http.post(f"{stack.base_url}{CANCELLATIONS}", json=body, headers=headers, timeout=30)
    if route == "GET-cancellation":
        cancellation_id = own_cancellations.get(caller, own_cancellations["TENANT1"])["id"]
        return http.get(f"{stack.base_url}{CANCELLATIONS}/{cancellation_id}", headers=headers, timeout=30)
    order_id, tenant = KCI_ORDER.get(caller, (REFUSED_TARGET, "TENANT1"))
    return http.post(f"{stack.base_url}{KCIS}", json=kci_body(order_id, tenant=tenant), headers=headers, timeout=30)


def invocations(stack) -> dict[str, int]:
    return {name: function.invocations for name, function in stack.functions.items()}


@pytest.mark.parametrize(("caller", "route"), CELLS)
def test_cell(http, stack, tokens, own_cancellations, caller, route):
    status, code = EXPECTED[(caller, route)]
    if code is not None:
        before = invocations(stack)
        answer = call(http, stack, caller, route, tokens[caller], own_cancellations)
        assert status == 401
        assert_unauthorised(answer)
        if caller in GOOD:  # a valid token without the route's scope: the local front says which scope
            assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
        # Refused at the edge (API Gateway's authorizer): no function ran, so nothing can have been stored.
        assert invocations(stack) == before
        return

    if route == "POST-cancellation":
        answer = call(http, stack, caller, route, tokens[caller], own_cancellations)
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["orderId"] == POST_ORDER[caller] and body["status"] == "RECEIVED_BY_GATEWAY"
        assert isinstance(body["id"], int) and body["id"] >= 1
    elif route == "GET-cancellation":
        answer = call(http, stack, caller, route, tokens[caller], own_cancellations)
        assert answer.status_code == 200, answer.text
        assert answer.json() == own_cancellations[caller]
    else:
        before = queue_depth(stack, "KciQueue")
        answer = call(http, stack, caller, route, tokens[caller], own_cancellations)
        assert answer.status_code == 204, answer.text
        assert answer.content == b""
        assert queue_depth(stack, "KciQueue") == before + 1


# ---------------------------------------------------------------------------------------------- beyond the matrix


def test_every_cell_is_covered():
    assert len(CELLS) == len(CALLERS) * len(ROUTES) == len(EXPECTED) == 33


@pytest.mark.parametrize(
    ("client_id", "scopes", "route"),
    [
        ("TENANT1", (TENANT_SCOPE, SUPPLIER_SCOPE), "POST-kci"),
        ("FIBRECO", (TENANT_SCOPE, SUPPLIER_SCOPE), "POST-cancellation"),
        ("FIBRECO", (TENANT_SCOPE, SUPPLIER_SCOPE), "GET-cancellation"),
        ("NOBODY", (TENANT_SCOPE,), "POST-cancellation"),
        ("NOBODY", (SUPPLIER_SCOPE,), "POST-kci"),
    ],
    ids=["tenant-client-with-both-scopes-on-kcis", "supplier-client-with-both-scopes-posting-a-cancellation",
         "supplier-client-with-both-scopes-reading-a-cancellation", "unregistered-client-with-tenant-scope",
         "unregistered-client-with-supplier-scope"],
)
def test_the_handlers_check_the_principal_behind_the_scope(http, stack, tokens, own_cancellations, client_id, scopes, route):
    """Defence in depth: a token that passes the authorizer's scope check (an app client given both scopes
    by mistake, or a client missing from ClientPrincipals) is still refused by the handler with 403."""
    token = stack.tokens.sign(stack.tokens.claims_for(client_id, scopes))
    before = sum(invocations(stack).values())
    with nothing_stored(stack):
        answer = call(http, stack, client_id, route, token, own_cancellations)
    assert_error(answer, 403, "NOT_AUTHORISED")
    assert sum(invocations(stack).values()) == before + 1  # refused by the function, not at the edge
