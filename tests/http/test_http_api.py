"""The local stack over HTTP: token endpoint, the authorizer's checks, and the Tenant API end to end."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fibre_cafe.dal.orders_table import OrdersTable
from local_stack.front import MAX_BODY_BYTES
from local_stack.proxy_events import SUPPLIER_SCOPE, TENANT_SCOPE
from local_stack.seed import DEMO_ORDERS
from local_stack.tokens import AUDIENCE, DEV_CLIENT_SECRET

pytestmark = pytest.mark.http

CANCELLATIONS = "/service-order-cancellations"
DOCUMENTED_EXAMPLE = {"supplier": "DUMMY_SUPPLIER", "orderId": 1001, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def trace(request_id: str | None = None) -> dict[str, str]:
    return {"X-Request-ID": request_id or f"req-{uuid.uuid4()}", "X-Conversation-ID": "conv-http-tests"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_error(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"uuid", "code", "messages"}
    assert UUID4.match(body["uuid"])
    assert body["code"] == code
    assert body["messages"] and all(isinstance(message, str) and message for message in body["messages"])
    return body


def assert_unauthorised(answer) -> None:
    assert_error(answer, 401, "NOT_AUTHORISED")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def form(client_id: str, secret: str = DEV_CLIENT_SECRET, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **extra}


@pytest.fixture(scope="module")
def cancellation(http, stack, tenant1_token):
    """The documented example (order 1001) accepted once: (request id, 201 answer)."""
    request_id = f"req-{uuid.uuid4()}"
    answer = http.post(f"{stack.base_url}{CANCELLATIONS}", json=DOCUMENTED_EXAMPLE, headers={**bearer(tenant1_token), **trace(request_id)})
    assert answer.status_code == 201, answer.text
    return request_id, answer


# ---------------------------------------------------------------- token endpoint


def test_tenant_token_from_form_is_an_rs256_access_token_verifiable_with_the_jwks(http, stack):
    answer = http.post(f"{stack.base_url}/auth/tenant/access-token", data=form("TENANT1"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"

    jwks = http.get(f"{stack.base_url}/auth/.well-known/jwks.json").json()
    (jwk,) = jwks["keys"]
    assert "d" not in jwk  # public half only
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256" and header["kid"] == jwk["kid"]
    claims = jwt.decode(body["access_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=AUDIENCE,
                        issuer=f"{stack.base_url}/auth")
    assert claims["sub"] == claims["client_id"] == "TENANT1"
    assert claims["token_use"] == "access" and claims["scope"] == TENANT_SCOPE
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"]


def test_tenant_token_with_http_basic_and_explicit_scope(http, stack):
    credentials = base64.b64encode(f"TENANT2:{DEV_CLIENT_SECRET}".encode()).decode()
    answer = http.post(f"{stack.base_url}/auth/tenant/access-token", data={"grant_type": "client_credentials", "scope": TENANT_SCOPE},
                       headers={"Authorization": f"Basic {credentials}"})
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == "TENANT2" and claims["scope"] == TENANT_SCOPE


def test_supplier_token_endpoint_issues_the_supplier_scope(http, stack):
    answer = http.post(f"{stack.base_url}/auth/supplier/access-token", data=form("FIBRECO"))
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == "FIBRECO" and claims["scope"] == SUPPLIER_SCOPE


@pytest.mark.parametrize(
    ("path", "data", "basic", "status", "error"),
    [
        ("tenant", form("TENANT1", secret="wrong-secret"), None, 401, "invalid_client"),
        ("tenant", form("DUMMY_SUPPLIER"), None, 401, "invalid_client"),  # supplier client, tenant endpoint
        ("supplier", form("TENANT1"), None, 401, "invalid_client"),  # and the reverse
        ("tenant", form("NOBODY"), None, 401, "invalid_client"),
        ("tenant", {"grant_type": "client_credentials"}, "TENANT1:wrong-secret", 401, "invalid_client"),
        ("tenant", form("TENANT1", grant_type="password"), None, 400, "unsupported_grant_type"),
        ("tenant", {"client_id": "TENANT1", "client_secret": DEV_CLIENT_SECRET}, None, 400, "invalid_request"),
        ("tenant", form("TENANT1", scope=SUPPLIER_SCOPE), None, 400, "invalid_scope"),
    ],
    ids=["wrong-secret", "supplier-on-tenant-endpoint", "tenant-on-supplier-endpoint", "unknown-client", "basic-wrong-secret",
         "unsupported-grant", "missing-grant-type", "scope-of-the-other-kind"],
)
def test_token_endpoint_refusals_are_rfc6749_errors(http, stack, path, data, basic, status, error):
    headers = {"Authorization": "Basic " + base64.b64encode(basic.encode()).decode()} if basic else {}
    answer = http.post(f"{stack.base_url}/auth/{path}/access-token", data=data, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert "access_token" not in answer.json()
    if basic:
        assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_token_endpoint_wants_a_form_post(http, stack):
    assert http.post(f"{stack.base_url}/auth/tenant/access-token", json=form("TENANT1")).json()["error"] == "invalid_request"
    assert http.get(f"{stack.base_url}/auth/tenant/access-token").status_code == 405


# ---------------------------------------------------------------- the Tenant API through the front


def test_documented_example_gives_201_with_a_numeric_id(cancellation):
    request_id, answer = cancellation
    body = answer.json()
    assert isinstance(body["id"], int) and not isinstance(body["id"], bool) and body["id"] >= 1
    assert body == {"id": body["id"], "status": "RECEIVED_BY_GATEWAY", **DOCUMENTED_EXAMPLE}
    assert answer.headers["X-Request-ID"] == request_id
    assert answer.headers["Content-Type"].startswith("application/json")


def test_get_returns_the_cancellation_in_the_same_shape(http, stack, tenant1_token, cancellation):
    created = cancellation[1].json()
    answer = http.get(f"{stack.base_url}{CANCELLATIONS}/{created['id']}", headers=bearer(tenant1_token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == created


def test_replaying_the_same_x_request_id_answers_identically(http, stack, tenant1_token, cancellation):
    request_id, first = cancellation
    again = http.post(f"{stack.base_url}{CANCELLATIONS}", json=DOCUMENTED_EXAMPLE, headers={**bearer(tenant1_token), **trace(request_id)})
    assert again.status_code == 201
    assert again.content == first.content


def test_concurrent_replays_through_the_front_all_get_the_one_answer(http, stack, tenant1_token):
    request = {"supplier": "DUMMY_SUPPLIER", "orderId": 1003, "reasonCode": "NO_LONGER_REQUIRED"}
    headers = {**bearer(tenant1_token), **trace()}

    def post(_):
        return requests.post(f"{stack.base_url}{CANCELLATIONS}", json=request, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(8)))
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.content for answer in answers}) == 1


def test_another_tenants_cancellation_answers_like_an_unknown_id(http, stack, tenant2_token, cancellation):
    own_id = cancellation[1].json()["id"]
    unknown_id = own_id + 1_000_000
    theirs = assert_error(http.get(f"{stack.base_url}{CANCELLATIONS}/{own_id}", headers=bearer(tenant2_token)), 422, "NOT_FOUND")
    unknown = assert_error(http.get(f"{stack.base_url}{CANCELLATIONS}/{unknown_id}", headers=bearer(tenant2_token)), 422, "NOT_FOUND")
    assert [m.replace(str(own_id), "<id>") for m in theirs["messages"]] == [m.replace(str(unknown_id), "<id>") for m in unknown["messages"]]


def test_another_tenants_order_answers_like_an_unknown_order(http, stack, tenant1_token):
    def post(order_id: int) -> dict:
        request = {"orderId": order_id, "reasonCode": "OTHER"}
        return assert_error(http.post(f"{stack.base_url}{CANCELLATIONS}", json=request, headers={**bearer(tenant1_token), **trace()}),
                            422, "NOT_FOUND")

    theirs, unknown = post(2001), post(4242)  # 2001 is TENANT2's
    assert [m.replace("2001", "<id>") for m in theirs["messages"]] == [m.replace("4242", "<id>") for m in unknown["messages"]]


def test_completed_demo_order_is_not_cancellable(http, stack, tenant1_token):
    request = {"orderId": 1005, "reasonCode": "OTHER"}
    assert_error(http.post(f"{stack.base_url}{CANCELLATIONS}", json=request, headers={**bearer(tenant1_token), **trace()}),
                 422, "INVALID_REQUEST")


def test_malformed_body_reaches_the_handler_and_gets_400(http, stack, tenant1_token):
    answer = http.post(f"{stack.base_url}{CANCELLATIONS}", data=b'{"orderId": ', headers={
        **bearer(tenant1_token), **trace(), "Content-Type": "application/json"})
    assert_error(answer, 400, "MALFORMED_REQUEST")


def test_chunked_request_body_is_read(http, stack, tenant1_token):
    payload = json.dumps({"supplier": "FIBRECO", "orderId": 1002, "reasonCode": "OTHER"}).encode()
    chunks = iter([payload[:10], payload[10:]])  # a generator body makes requests send it chunked
    answer = http.post(f"{stack.base_url}{CANCELLATIONS}", data=chunks, headers={
        **bearer(tenant1_token), **trace(), "Content-Type": "application/json"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["orderId"] == 1002


def test_the_cancellation_is_queued_for_the_supplier_on_moto(stack, cancellation):
    request_id, answer = cancellation
    cancellation_id = answer.json()["id"]
    sqs = stack.client("sqs")
    url = stack.resources.queue_urls["SupplierRequestsQueue"]
    found = None
    for _ in range(10):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("cancellationId") == cancellation_id:
                found = body
        if found:
            break
    assert found is not None, "no message for the cancellation on the supplier-requests queue"
    assert found["orderId"] == 1001 and found["tenant"] == "TENANT1" and found["supplier"] == "DUMMY_SUPPLIER"
    assert found["requestId"] == request_id and found["supplierOrderReference"] == "FC1001"


def test_demo_orders_are_seeded(stack):
    orders = OrdersTable(stack.client("dynamodb"), stack.resources.tables["OrdersTable"])
    for demo in DEMO_ORDERS:
        order = orders.get(demo.id)
        assert order is not None, demo.id
        assert (order.tenant, order.supplier, order.orderType.value, order.supplierOrderReference) == (
            demo.tenant, demo.supplier, demo.order_type, demo.supplier_order_reference)


# ---------------------------------------------------------------- the authorizer: 401 / 403


def tenant_claims(stack, **changes) -> dict:
    claims = stack.tokens.claims_for("TENANT1", (TENANT_SCOPE,))
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def get_with(http, stack, authorization: str | None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return http.get(f"{stack.base_url}{CANCELLATIONS}/1", headers={**headers, **trace()})


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic VEVOQU5UMTpsb2NhbC1kZXYtc2VjcmV0", "Bearer not-a-jwt", "Bearer a.b.c", "Bearer a b"],
    ids=["missing", "empty", "scheme-only", "scheme-and-space", "basic", "garbage", "three-garbage-parts", "two-tokens"],
)
def test_missing_or_garbled_authorization_gets_401(http, stack, authorization):
    assert_unauthorised(get_with(http, stack, authorization))


def test_post_without_token_gets_401_contract_body(http, stack):
    assert_unauthorised(http.post(f"{stack.base_url}{CANCELLATIONS}", json=DOCUMENTED_EXAMPLE, headers=trace()))


def test_token_signed_by_another_key_gets_401(http, stack):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(tenant_claims(stack), other_key, algorithm="RS256", headers={"kid": stack.tokens.kid})
    assert_unauthorised(get_with(http, stack, f"Bearer {forged}"))


def test_expired_token_gets_401(http, stack):
    expired = stack.tokens.sign(stack.tokens.claims_for("TENANT1", (TENANT_SCOPE,), now=int(time.time()) - 7200))
    answer = get_with(http, stack, f"Bearer {expired}")
    assert_unauthorised(answer)
    assert "expired" in answer.json()["messages"][0]


def test_alg_none_token_gets_401(http, stack):
    header = {"alg": "none", "typ": "JWT", "kid": stack.tokens.kid}
    unsigned = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(tenant_claims(stack)).encode())}."
    assert_unauthorised(get_with(http, stack, f"Bearer {unsigned}"))


def test_hs256_token_keyed_with_the_public_key_gets_401(http, stack):
    public_pem = stack.tokens.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": stack.tokens.kid}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(tenant_claims(stack)).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert_unauthorised(get_with(http, stack, f"Bearer {signing_input}.{b64url(signature)}"))


@pytest.mark.parametrize(
    "changes",
    [{"iss": "http://127.0.0.1:1/auth"}, {"aud": "another-api"}, {"token_use": "id"}, {"client_id": None}, {"exp": None}],
    ids=["wrong-issuer", "wrong-audience", "id-token", "no-client-id", "no-exp"],
)
def test_token_with_wrong_claims_signed_by_the_stack_gets_401(http, stack, changes):
    token = stack.tokens.sign(tenant_claims(stack, **changes))
    assert_unauthorised(get_with(http, stack, f"Bearer {token}"))


def test_token_with_an_unknown_kid_gets_401(http, stack):
    token = stack.tokens.sign(tenant_claims(stack), headers={"kid": "another-key"})
    assert_unauthorised(get_with(http, stack, f"Bearer {token}"))


def test_supplier_token_on_the_tenant_api_gets_401_as_from_api_gateway(http, stack, token_for):
    """A scope mismatch: API Gateway's Cognito authorizer answers 401 Unauthorized (README, error answers at the edge)."""
    answer = http.post(f"{stack.base_url}{CANCELLATIONS}", json=DOCUMENTED_EXAMPLE,
                       headers={**bearer(token_for("DUMMY_SUPPLIER", "supplier")), **trace()})
    assert_error(answer, 401, "NOT_AUTHORISED")
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


def test_token_of_a_tenant_client_with_the_wrong_scope_gets_401(http, stack):
    token = stack.tokens.sign(tenant_claims(stack, scope=SUPPLIER_SCOPE))
    answer = get_with(http, stack, f"Bearer {token}")
    assert_error(answer, 401, "NOT_AUTHORISED")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


# ---------------------------------------------------------------- the front's own answers


def test_unknown_path_gets_404_and_wrong_method_405_in_the_contract_body(http, stack, tenant1_token):
    assert_error(http.get(f"{stack.base_url}/no-such-thing", headers=bearer(tenant1_token)), 404, "NOT_FOUND")
    answer = http.delete(f"{stack.base_url}{CANCELLATIONS}/1", headers=bearer(tenant1_token))
    assert_error(answer, 405, "NOT_IMPLEMENTED")
    assert answer.headers["Allow"] == "GET"


def test_body_over_10_mb_gets_413(http, stack, tenant1_token):
    answer = http.post(f"{stack.base_url}{CANCELLATIONS}", data=b"x" * (MAX_BODY_BYTES + 1),
                       headers={**bearer(tenant1_token), **trace(), "Content-Type": "application/json"})
    assert_error(answer, 413, "MALFORMED_REQUEST")
    # The connection is still usable afterwards (the body was read and dropped).
    assert http.get(f"{stack.base_url}/auth/.well-known/jwks.json").status_code == 200


def test_unsupported_http_method_gets_the_contract_body(http, stack):
    answer = http.request("BREW", f"{stack.base_url}{CANCELLATIONS}")
    assert_error(answer, 501, "NOT_IMPLEMENTED")
