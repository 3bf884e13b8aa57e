"""Hostile input, through the local stack over HTTP and, where HTTP cannot carry the case, in-process (the real
handlers invoked with the proxy event API Gateway would send).

Every case gets a 4xx whose body is exactly the contract's ``{uuid, code, messages}``, stores and queues
nothing (every table scanned, every queue's depth read on the stack's moto), and leaves nothing sensitive
in the log at INFO or above: no token, no client secret, no request body, no refused header value.
Positive controls (a body at the limit, newline and tab in ``text``, an emoji) show the refusals are not
over-broad.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
import requests

from local_stack.front import MAX_BODY_BYTES as FRONT_LIMIT
from local_stack.proxy_events import claims_for, proxy_event
from local_stack.tokens import DEV_CLIENT_SECRET
from tests.security.support import (
    CANCELLATIONS,
    KCIS,
    SUPPLIER_SCOPE,
    Answer,
    assert_error,
    assert_unauthorised,
    bearer,
    client,
    hostile_tokens,
    kci_body,
    nothing_stored,
    order,
    token_parts,
    trace,
)

pytestmark = pytest.mark.http

TENANT_LIMIT = 16 * 1024  # functions/tenant_api: MAX_BODY_BYTES
KCI_LIMIT = 200 * 1024  # functions/supplier_updates_api: MAX_BODY_BYTES
ORDERS = (
    order(7101, "target of every refused request"),
    order(7102, "newline and tab accepted"),
    order(7103, "a body of exactly the limit"),
    order(7104, "an emoji (a valid surrogate pair)"),
    order(7105, "pass-through header with CR/LF"),
    order(7106, "an accepted request's log lines"),
)
TARGET = 7101
ROUTES = {"tenant": (CANCELLATIONS, "TENANT1"), "kci": (KCIS, "DUMMY_SUPPLIER")}


@pytest.fixture(scope="module", autouse=True)
def orders(register_orders):
    register_orders(*ORDERS)


def marker() -> str:
    """A unique string put in a request: it must appear in no log line and no answer."""
    return f"hostile-marker-{uuid.uuid4().hex}"


def tenant_json(text: str = "", order_id: int = TARGET) -> str:
    """A tenant request (JSON text) whose ``text`` field is spliced in raw: ``text`` may hold JSON escapes."""
    return f'{{"orderId": {order_id:d}, "reasonCode": "OTHER", "text": "{text}"}}'


def kci_json(text: str = "", order_id: int = TARGET) -> str:
    body = kci_body(order_id, text="__TEXT__")
    return json.dumps(body).replace('"__TEXT__"', f'"{text}"')


def body_for(route: str, text: str = "") -> str:
    return tenant_json(text) if route == "tenant" else kci_json(text)


def post(http, stack, route: str, body: bytes | str, *, token: str | None = None, headers: dict | None = None) -> requests.Response:
    path, principal = ROUTES[route]
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    all_headers = {**bearer(token or stack.tokens.issue(principal)), **trace(), "Content-Type": "application/json", **(headers or {})}
    return http.post(f"{stack.base_url}{path}", data=data, headers=all_headers, timeout=60)


def invoke(stack, route: str, *, method: str = "POST", body: str | None = None, headers: dict | None = None,
           claims: dict | None | str = "default", is_base64: bool = False, path_id: int | None = None) -> dict:
    """The route's real handler, in-process, with the proxy event API Gateway would send after its authorizer."""
    path, principal = ROUTES[route]
    function = "TenantApiFunction" if route == "tenant" else "SupplierUpdatesApiFunction"
    resource = path
    if path_id is not None:
        path, resource = f"{path}/{path_id}", f"{path}/{{id}}"
    all_headers = {**({"Content-Type": "application/json"} if body is not None else {}), **trace(), **(headers or {})}
    event = proxy_event(method, path, resource=resource, headers=all_headers, body=body,
                        claims=claims_for(principal) if claims == "default" else claims)
    if is_base64:
        event["body"], event["isBase64Encoded"] = body, True
    return stack.functions[function].invoke(event)


def no_echo(answer: Any, *values: str) -> None:
    """None of ``values`` comes back, in a header or in the body; no header carries CR or LF."""
    answer = Answer.of(answer)
    for name, value in answer.headers:
        assert "\r" not in name + value and "\n" not in name + value, (name, value)
        for echoed in values:
            assert echoed not in value and echoed not in name, (name, value)
    text = answer.body.decode("utf-8", "replace")
    for echoed in values:
        assert echoed not in text and json.dumps(echoed)[1:-1] not in text


# ---------------------------------------------------------------------------------------------- size


@pytest.mark.parametrize(("route", "limit"), [("tenant", TENANT_LIMIT), ("kci", KCI_LIMIT)])
def test_a_body_over_our_limit_is_413(http, stack, logs, route, limit):
    secret = marker()
    text = body_for(route, secret)
    body = text + " " * (limit + 1 - len(text))  # valid JSON, one byte too many
    with nothing_stored(stack):
        answer = post(http, stack, route, body)
    error = assert_error(answer, 413, "MALFORMED_REQUEST")
    assert str(limit) in error["messages"][0]
    assert error["uuid"] in logs.text()  # support finds the request from the uuid (and the capture sees the lines)
    no_echo(answer, secret)
    logs.assert_not_logged(secret, text)


@pytest.mark.parametrize(("route", "limit", "order_id", "status"), [("tenant", TENANT_LIMIT, 7103, 201), ("kci", KCI_LIMIT, 7103, 204)])
def test_a_body_of_exactly_our_limit_is_read(http, stack, route, limit, order_id, status):
    text = tenant_json("At the limit", order_id) if route == "tenant" else kci_json("At the limit", order_id)
    answer = post(http, stack, route, text + " " * (limit - len(text)))
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize("route", ["tenant", "kci"])
def test_a_body_over_the_fronts_10_mb_is_413_before_any_function_runs(http, stack, logs, route):
    invocations = {name: function.invocations for name, function in stack.functions.items()}
    with nothing_stored(stack):
        answer = post(http, stack, route, b"{" + b" " * FRONT_LIMIT + b"}")
    assert assert_error(answer, 413, "MALFORMED_REQUEST")["uuid"] in logs.text()
    assert {name: function.invocations for name, function in stack.functions.items()} == invocations


# ---------------------------------------------------------------------------------------------- structure


def nested(levels: int, opening: str = "[", closing: str = "]", inner: str = "1") -> str:
    return opening * levels + inner + closing * levels


@pytest.mark.parametrize(
    ("route", "value"),
    [
        ("tenant", nested(33)),
        ("tenant", nested(8000)),  # as deep as fits in 16 KiB
        ("kci", nested(10_000)),
        ("kci", nested(10_000, '{"a":', "}")),
        ("kci", nested(95_000)),  # as deep as fits in 200 KiB
    ],
    ids=["tenant-33-arrays", "tenant-8000-arrays", "kci-10000-arrays", "kci-10000-objects", "kci-95000-arrays"],
)
def test_deeply_nested_json_is_400(http, stack, logs, route, value):
    if route == "tenant":
        body = f'{{"orderId": {TARGET:d}, "reasonCode": "OTHER", "text": {value}}}'
    else:
        body = kci_json("deep").replace('"deep"', value)
    with nothing_stored(stack):
        answer = post(http, stack, route, body)
    assert_error(answer, 400, "MALFORMED_REQUEST")
    logs.assert_not_logged(body)


@pytest.mark.parametrize("route", ["tenant", "kci"])
@pytest.mark.parametrize(
    "raw",
    [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"],
    ids=["ff", "overlong-slash", "encoded-surrogate", "truncated"],
)
def test_invalid_utf8_bytes_are_400(http, stack, logs, route, raw):
    secret = marker()
    body = body_for(route, secret + "-").encode().replace(b"-\"", raw + b"\"", 1)
    assert raw in body
    with nothing_stored(stack):
        answer = post(http, stack, route, body)
    assert_error(answer, 400, "MALFORMED_REQUEST")
    no_echo(answer, secret)
    logs.assert_not_logged(secret)


@pytest.mark.parametrize("route", ["tenant", "kci"])
@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode('{"orderId": 7101, "reasonCode": "OTHER", "text": "caf\xe9"}'.encode("latin-1")).decode(),
        base64.b64encode(b"\xff\xfe{\x00}\x00").decode(),  # UTF-16 with a BOM
        base64.b64encode(b"\xed\xa0\x80").decode(),
        "not base64 at all!",
    ],
    ids=["latin-1", "utf-16", "encoded-surrogate", "not-base64"],
)
def test_invalid_utf8_in_a_base64_encoded_event_is_400(stack, logs, route, encoded):
    """API Gateway hands a body that is not UTF-8 to the function base64-encoded (isBase64Encoded)."""
    with nothing_stored(stack):
        answer = invoke(stack, route, body=encoded, is_base64=True)
    assert_error(answer, 400, "MALFORMED_REQUEST")
    logs.assert_not_logged(encoded)


@pytest.mark.parametrize(
    ("route", "escape"),
    [("tenant", "\\ud800"), ("tenant", "\\udfff"), ("tenant", "\\udc00\\ud800"), ("tenant", "x\\ud83d"), ("kci", "\\ud800")],
    ids=["tenant-high", "tenant-low", "tenant-reversed-pair", "tenant-truncated-pair", "kci-high"],
)
def test_a_lone_surrogate_escape_is_400_not_a_gateway_fault(http, stack, logs, route, escape):
    """``"\\ud800"`` is valid JSON but no character: it cannot be stored or sent on (UTF-8 cannot encode it)."""
    body = body_for(route, f"Hello {escape}")
    with nothing_stored(stack):
        answer = post(http, stack, route, body)
    assert_error(answer, 400, "MALFORMED_REQUEST")
    logs.assert_not_logged(body)


@pytest.mark.parametrize("route", ["tenant", "kci"])
def test_a_lone_surrogate_in_process_is_400(stack, logs, route):
    """A proxy event's body is a str: a surrogate can arrive raw, not only as a JSON escape."""
    body = body_for(route, "raw \ud800 surrogate")
    with nothing_stored(stack):
        answer = invoke(stack, route, body=body)
    assert_error(answer, 400, "MALFORMED_REQUEST")
    logs.assert_not_logged("raw \ud800 surrogate")


def test_a_valid_surrogate_pair_is_a_character(http, stack):
    answer = post(http, stack, "tenant", tenant_json("Moving \\ud83d\\ude00", 7104))
    assert answer.status_code == 201, answer.text
    assert answer.json()["text"] == "Moving \N{GRINNING FACE}"


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("tenant", '{"orderId": 7101, "orderId": 7101, "reasonCode": "OTHER"}'),
        ("tenant", '{"orderId": 7101, "reasonCode": "OTHER", "reasonCode": "INSTALL_FAILED"}'),
        ("tenant", '{"orderId": 9999, "reasonCode": "OTHER", "orderId": 7101}'),
        ("kci", kci_json("dup").replace('"tenant": "TENANT1"', '"tenant": "TENANT1", "tenant": "TENANT2"')),
        ("kci", kci_json("dup").replace('{"id": "', '{"id": "1150e313-3020-49f3-ace3-f8aacfeec4e3", "id": "')),
    ],
    ids=["tenant-same-value", "tenant-other-value", "tenant-last-one-wins-elsewhere", "kci-nested-tenant", "kci-id"],
)
def test_duplicate_keys_are_400(http, stack, logs, route, body):
    with nothing_stored(stack):
        answer = post(http, stack, route, body)
    assert_error(answer, 400, "MALFORMED_REQUEST")
    logs.assert_not_logged(body)


@pytest.mark.parametrize(
    "number",
    ["1e999999", "1" * 5000, "123456789012345678901234567890", "7101.5", "NaN"],
    ids=["overflow", "5000-digits", "beyond-2^53", "fraction", "nan"],
)
def test_hostile_numbers_are_400(http, stack, logs, number):
    body = f'{{"orderId": {number}, "reasonCode": "OTHER"}}'
    with nothing_stored(stack):
        answer = post(http, stack, "tenant", body)
    assert_error(answer, 400, "MALFORMED_REQUEST")
    logs.assert_not_logged(body)


# ---------------------------------------------------------------------------------------------- control characters


@pytest.mark.parametrize(
    "text",
    ["\\u0000", "\\u001b[2J", "\\u0007", "\\u007f", "\\u0085", "\\u009b31m", "\x7f", "\xc2\x85".encode("latin-1").decode("utf-8")],
    ids=["nul", "esc", "bel", "del", "c1-nel", "c1-csi", "raw-del", "raw-c1"],
)
def test_control_characters_in_text_are_400(http, stack, logs, text):
    body = tenant_json(f"Before {text} after")
    with nothing_stored(stack):
        answer = post(http, stack, "tenant", body)
    body_json = assert_error(answer, 400, "MALFORMED_REQUEST")
    assert any("text" in message for message in body_json["messages"]), body_json
    logs.assert_not_logged(body)


@pytest.mark.parametrize("raw", [b"\x00", b"\x1b", b"\n"], ids=["nul", "esc", "newline"])
def test_raw_control_bytes_inside_a_json_string_are_400(http, stack, logs, raw):
    """JSON forbids unescaped characters below U+0020 in a string."""
    body = tenant_json("a-b").encode().replace(b"a-b", b"a" + raw + b"b")
    with nothing_stored(stack):
        answer = post(http, stack, "tenant", body)
    assert_error(answer, 400, "MALFORMED_REQUEST")
    logs.assert_not_logged(body)


def test_newline_and_tab_in_text_are_accepted(http, stack):
    answer = post(http, stack, "tenant", tenant_json("Line one\\nLine two\\tindented\\r\\nend", 7102))
    assert answer.status_code == 201, answer.text
    assert answer.json()["text"] == "Line one\nLine two\tindented\r\nend"


# ---------------------------------------------------------------------------------------------- headers

INJECTED = [
    "req-1\r\nSet-Cookie: session=stolen",
    "req-1\nX-Injected: yes",
    "req-1\rX-Injected: yes",
    "req-\u00e9t\u00e9",
    "req-\u2028-line-separator",
    "req-\x00-nul",
    "req-\x1b[31m-ansi",
    "r" * 300,
]
INJECTED_IDS = ["crlf", "lf", "cr", "non-ascii", "unicode-line-separator", "nul", "ansi-escape", "300-chars"]


HEADER_CASES = (
    [
        pytest.param("tenant", "POST", "X-Request-ID", value, id=f"post-cancellation-request-id-{name}")
        for value, name in zip(INJECTED, INJECTED_IDS, strict=True)
    ]
    + [
        pytest.param(route, method, header, INJECTED[index], id=f"{label}-{INJECTED_IDS[index]}")
        for route, method, header, label in [
            ("tenant", "GET", "X-Request-ID", "get-cancellation-request-id"),
            ("kci", "POST", "X-Request-ID", "kci-request-id"),
        ]
        for index in (0, 3, 7)
    ]
    + [
        pytest.param(route, "POST", "X-Conversation-ID", INJECTED[0], id=f"{label}-conversation-id-crlf")
        for route, label in [("tenant", "post-cancellation"), ("kci", "kci")]
    ]
)


@pytest.mark.parametrize(("route", "method", "header", "value"), HEADER_CASES)
def test_header_injection_in_process_is_400_and_never_echoed(stack, logs, route, method, header, value):
    """HTTP cannot carry CR/LF in a header value (a client refuses to send it, a server to read it); a handler behind
    another front might still get one, so the handler refuses them itself."""
    body = (tenant_json("Injected") if route == "tenant" else kci_json("Injected")) if method == "POST" else None
    with nothing_stored(stack):
        answer = invoke(stack, route, method=method, body=body, headers={header: value}, path_id=1 if method == "GET" else None)
    body_json = assert_error(answer, 400, "MALFORMED_REQUEST")
    assert any(header in message for message in body_json["messages"]), body_json
    no_echo(answer, value, "Set-Cookie", "X-Injected", "stolen")
    assert Answer.of(answer).header("X-Request-ID") is None
    logs.assert_not_logged(value)


@pytest.mark.parametrize(("route", "value"), [("tenant", "r" * 300), ("kci", "req-\u00e9t\u00e9"), ("tenant", "req with spaces")],
                         ids=["tenant-300-chars", "kci-latin-1", "tenant-spaces"])
def test_bad_request_id_over_http_is_400_and_never_echoed(http, stack, logs, route, value):
    with nothing_stored(stack):
        answer = post(http, stack, route, body_for(route, "Header test"), headers={"X-Request-ID": value.encode("latin-1")})
    assert_error(answer, 400, "MALFORMED_REQUEST")
    no_echo(answer, value)
    assert "X-Request-ID" not in answer.headers
    logs.assert_not_logged(value)


def test_a_pass_through_header_with_crlf_is_dropped_not_forwarded(stack, logs):
    """X-Scenario and friends are passed on to the supplier only when short, printable ASCII."""
    value = "CANCELLATION_REJECTED\r\nX-Injected: yes"
    answer = invoke(stack, "tenant", body=tenant_json("Pass-through", 7105), headers={"X-Scenario": value, "X-Kci-Delay": "1\n2"})
    assert answer["statusCode"] == 201, answer
    no_echo(answer, "X-Injected", "CANCELLATION_REJECTED")
    cancellation_id = json.loads(answer["body"])["id"]
    item = client(stack, "dynamodb").get_item(TableName=stack.resources.tables["CancellationsTable"],
                                              Key={"pk": {"S": f"CANCELLATION#{cancellation_id}"}})["Item"]
    assert "X-Injected" not in json.dumps(item) and "X-Scenario" not in json.dumps(item.get("passThroughHeaders", {}))
    logs.assert_not_logged(value)


# ---------------------------------------------------------------------------------------------- tokens


def token_cases() -> list:
    every = ("expired", "forged", "alg-none", "hs256-public-key", "wrong-audience", "wrong-issuer", "missing-kid", "garbage",
             "garbage-segments", "oversized")
    return ([pytest.param("tenant", name, id=f"tenant-{name}") for name in every]
            + [pytest.param("kci", name, id=f"kci-{name}") for name in ("expired", "forged", "alg-none", "hs256-public-key")])


@pytest.fixture(scope="module")
def refused_tokens(stack) -> dict[str, dict[str, str]]:
    return {
        "tenant": {**hostile_tokens(stack.tokens), "oversized": "eyJ" + "A" * 8000},
        "kci": {**hostile_tokens(stack.tokens, "DUMMY_SUPPLIER", SUPPLIER_SCOPE), "oversized": "eyJ" + "A" * 8000},
    }


@pytest.mark.parametrize(("route", "name"), token_cases())
def test_a_refused_token_is_401_and_never_logged(http, stack, logs, refused_tokens, route, name):
    token = refused_tokens[route][name]
    secret = marker()
    body = body_for(route, secret)
    with nothing_stored(stack):
        answer = post(http, stack, route, body, token=token)
    assert assert_unauthorised(answer)["uuid"] in logs.text()
    no_echo(answer, token, secret)
    logs.assert_not_logged(*token_parts(token), body, secret)


@pytest.mark.parametrize("route", ["tenant", "kci"])
@pytest.mark.parametrize(
    ("claims", "status"),
    [(None, 401), ({"sub": "x", "token_use": "access"}, 401), (claims_for("NOBODY"), 403)],
    ids=["no-authorizer-claims", "no-client-id", "unregistered-client"],
)
def test_the_handlers_refuse_a_missing_or_unknown_identity_themselves(stack, logs, route, claims, status):
    """Defence in depth, should a route ever be deployed without its authorizer."""
    body = body_for(route, marker())
    with nothing_stored(stack):
        answer = invoke(stack, route, body=body, claims=claims)
    assert_error(answer, status, "NOT_AUTHORISED")
    logs.assert_not_logged(body)


def test_the_token_endpoint_logs_neither_secrets_nor_tokens(http, stack, logs):
    good = http.post(f"{stack.base_url}/auth/tenant/access-token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": "TENANT1", "client_secret": DEV_CLIENT_SECRET})
    assert good.status_code == 200, good.text
    wrong_secret = f"wrong-{uuid.uuid4().hex}"
    bad = http.post(f"{stack.base_url}/auth/tenant/access-token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": "TENANT1", "client_secret": wrong_secret})
    assert bad.status_code == 401 and wrong_secret not in bad.text
    basic = base64.b64encode(f"TENANT2:{DEV_CLIENT_SECRET}".encode()).decode()
    via_basic = http.post(f"{stack.base_url}/auth/tenant/access-token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": f"Basic {basic}"}, timeout=30)
    assert via_basic.status_code == 200
    token = good.json()["access_token"]
    logs.assert_not_logged(DEV_CLIENT_SECRET, wrong_secret, basic, *token_parts(token), *token_parts(via_basic.json()["access_token"]))


def test_an_accepted_request_logs_neither_its_token_nor_its_body(http, stack, logs):
    """INFO lines of a 201 name ids and codes, never the token or the free text."""
    secret = marker()
    token = stack.tokens.issue("TENANT1")
    body = tenant_json(secret, 7106)
    answer = post(http, stack, "tenant", body, token=token)
    assert answer.status_code == 201, answer.text
    assert "Cancellation accepted" in logs.text()
    kci = kci_json(secret, 7101)
    supplier_token = stack.tokens.issue("DUMMY_SUPPLIER")
    accepted = post(http, stack, "kci", kci, token=supplier_token)
    assert accepted.status_code == 204, accepted.text
    assert "KCI queued" in logs.text()  # the capture does see the service's INFO lines
    logs.assert_not_logged(*token_parts(token), *token_parts(supplier_token), body, kci, secret)


def test_the_log_capture_would_catch_a_leak(stack, logs):
    """The capture is not blind: a secret logged by the service (as an appended key, in an extra field, in the
    message: the functions' workers relay their output through local_stack.function.<LogicalId>, in the
    Powertools JSON the service writes) or by the local front is found."""
    import json
    import logging

    secrets = [marker() for _ in range(4)]
    relay = logging.getLogger("local_stack.function.TenantApiFunction")  # what a function's worker printed
    relay.info("%s", json.dumps({"level": "INFO", "message": "something happened", "leaked_key": secrets[0], "detail": secrets[1]}))
    relay.warning("%s", f"Traceback: ValueError: message with {secrets[2]}")
    logging.getLogger("local_stack").info("front line %s", secrets[3])
    for secret in secrets:
        with pytest.raises(AssertionError):
            logs.assert_not_logged(secret)
