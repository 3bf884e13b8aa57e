"""Tenant API 1.17 contract: POST and GET /service-order-cancellations, field by field and header by header.

Each rule has a passing and a failing case. Failing cases check the status, the error ``code`` and
that ``messages`` names the field (``field X`` / ``header X`` / ``parameter X``). Every client
mistake answers 400 MALFORMED_REQUEST, never a 5xx (domain.md section 1).

Case tables run as subtests in one moto world (each case reported on its own): a refused case
writes nothing, and each accepted case cancels its own order.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.order import OrderType
from tests.unit.tenant_api_checks import (
    EXAMPLE,
    MAX_SAFE_INTEGER,
    ORDER_CODES,
    PATH,
    UNSOLICITED_CEASE_CODES,
    assert_created,
    assert_error,
    assert_error_body,
    names,
    same_error,
)

BODY_FIELDS = ("supplier", "orderId", "reasonCode", "text")


def body_with(**changes):
    """The documented example with fields changed; a value of ``...`` removes the field."""
    body = dict(EXAMPLE)
    for key, value in changes.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


@pytest.fixture
def order_123(orders):
    return orders(123)


# ---------------------------------------------------------------------------------------------- 201


def test_documented_example_request_is_accepted_with_a_numeric_id(api, order_123):
    answer = api("POST", PATH, body=EXAMPLE)
    body = assert_created(answer, **EXAMPLE)
    assert set(body) == {"id", "status", "supplier", "orderId", "reasonCode", "text"}
    assert "supplierReference" not in body, "no supplier reference before the supplier gave one"
    assert answer[2]["Content-Type"].startswith("application/json")


def test_ids_differ_between_cancellations(api, orders):
    orders(1)
    orders(2)
    first = assert_created(api("POST", PATH, body=body_with(orderId=1)))
    second = assert_created(api("POST", PATH, body=body_with(orderId=2)))
    assert first["id"] != second["id"]


# ---------------------------------------------------------------------------------------------- supplier


@pytest.mark.parametrize("supplier", [..., None], ids=["absent", "null"])
def test_supplier_is_optional_and_the_answer_carries_the_orders_supplier(api, orders, supplier):
    orders(123, supplier="FIBRECO")
    assert_created(api("POST", PATH, body=body_with(supplier=supplier)), supplier="FIBRECO", orderId=123)


def test_supplier_matching_the_pattern_is_accepted(api, orders, subtests):
    for order_id, supplier in enumerate(["A", "ABCDEFGHIJ_123456789", "fibre_co_2"], start=1):
        with subtests.test(supplier=supplier):
            orders(order_id, supplier=supplier)
            assert_created(api("POST", PATH, body=body_with(supplier=supplier, orderId=order_id)), supplier=supplier)


BAD_SUPPLIERS = [
    "ABCDEFGHIJ_1234567890",  # 21 characters
    "DUMMY-SUPPLIER",
    "",
    "DUMMY SUPPLIER",
    "DUMMY_SUPPLIER\n",  # a regex '$' that allows a trailing newline would let this through
    "DÜMMY",  # the contract's \w is ECMA-262 (OpenAPI): ASCII only
    123,
    True,
    ["DUMMY_SUPPLIER"],
    {"id": "DUMMY_SUPPLIER"},
]


def test_supplier_outside_the_pattern_is_malformed(api, orders, aws_view, subtests):
    orders(123, supplier="ABCDEFGHIJ_123456789")
    for supplier in BAD_SUPPLIERS:
        with subtests.test(supplier=supplier):
            assert_error(api("POST", PATH, body=body_with(supplier=supplier)), 400, "MALFORMED_REQUEST", "supplier")
    assert aws_view.cancellation_items() == []


# ---------------------------------------------------------------------------------------------- orderId


def test_order_id_whole_number_in_range_is_accepted(api, orders, subtests):
    for order_id in [1, 123, MAX_SAFE_INTEGER]:
        with subtests.test(order_id=order_id):
            orders(order_id)
            assert_created(api("POST", PATH, body=body_with(orderId=order_id)), orderId=order_id)


def test_order_id_written_with_a_fraction_or_exponent_is_refused_even_when_whole(api, orders, aws_view, subtests):
    """Decision (issue 13): integer fields take JSON integers only. ``999999.00000000000001`` reads as the float
    999999.0, so a whole-float rule took it for order 999999."""
    orders(123)
    orders(999999)
    for raw in ["123.0", "1.23e2", "123e0", "999999.00000000000001", "999999.0"]:
        with subtests.test(order_id=raw):
            messages = assert_error(api("POST", PATH, raw_body=f'{{"orderId": {raw}, "reasonCode": "OTHER"}}'), 400, "MALFORMED_REQUEST")
            assert messages == [f"Invalid value for field orderId - accepted values are a JSON integer (no fraction or exponent) "
                                f"from 1 to {MAX_SAFE_INTEGER}"]
    assert aws_view.cancellation_items() == []


def test_a_method_the_resource_lacks_is_405_not_implemented_in_the_handler(api, subtests):
    """The handler's own resolver (not only the local front) answers 405 with the contract's NOT_IMPLEMENTED."""
    for method, path, allowed in [
        ("DELETE", f"{PATH}/1", "GET"),
        ("PUT", f"{PATH}/1", "GET"),
        ("PATCH", PATH, "POST"),
        ("GET", PATH, "POST"),
    ]:
        with subtests.test(method=method, path=path):
            status, body, headers = api(method, path, body={"orderId": 123, "reasonCode": "OTHER"} if method != "DELETE" else None)
            assert status == 405, body
            assert_error_body(body, "NOT_IMPLEMENTED")
            assert headers.get("Allow") == allowed
    assert_error(api("GET", "/no-such-thing", resource="/no-such-thing"), 404, "NOT_FOUND")


def test_a_5000_digit_order_id_gets_a_clean_message(api, order_123):
    messages = assert_error(api("POST", PATH, raw_body='{"orderId": ' + "9" * 5000 + ', "reasonCode": "OTHER"}'), 400, "MALFORMED_REQUEST")
    assert messages == ["Request body is not valid JSON: a number with 5000 digits is longer than the 100 digits accepted"]
    assert not any(word in message for message in messages for word in ("sys.", "set_int_max_str_digits", "Exceeds the limit"))


BAD_ORDER_IDS = ["0", "-1", "9007199254740992", "1.5", '"123"', "true", "false", "null", "1e400", "-1e400", "1" + "0" * 30, "[123]",
                 '{"id": 123}', "0.0", "-0.0", "123.5e0", "1" * 5000]


def test_order_id_that_is_not_a_whole_number_from_1_to_2_53_minus_1_is_malformed(api, order_123, aws_view, subtests):
    for raw_order_id in BAD_ORDER_IDS:
        with subtests.test(order_id=raw_order_id[:20]):
            answer = api("POST", PATH, raw_body=f'{{"orderId": {raw_order_id}, "reasonCode": "OTHER"}}')
            messages = assert_error(answer, 400, "MALFORMED_REQUEST")
            # A number too long for the JSON reader is refused as invalid JSON; every other case names the field.
            if raw_order_id != "1" * 5000:
                assert names(messages, "orderId"), messages
    assert aws_view.cancellation_items() == []


def test_order_id_is_required(api, order_123):
    answer = api("POST", PATH, body=body_with(orderId=...))
    messages = assert_error(answer, 400, "MALFORMED_REQUEST", "orderId")
    assert any("Missing" in message or "required" in message for message in messages), messages


# ---------------------------------------------------------------------------------------------- reasonCode


def test_each_order_reason_code_is_accepted_for_a_provide_order(api, orders, subtests):
    for order_id, code in enumerate(ORDER_CODES, start=1):
        with subtests.test(code=code):
            orders(order_id)
            assert_created(api("POST", PATH, body=body_with(reasonCode=code, orderId=order_id)), reasonCode=code)


def test_each_unsolicited_cease_reason_code_is_accepted_for_an_unsolicited_cease_order(api, orders, subtests):
    for order_id, code in enumerate(UNSOLICITED_CEASE_CODES, start=1):
        with subtests.test(code=code):
            orders(order_id, order_type=OrderType.UNSOLICITED_CEASE)
            assert_created(api("POST", PATH, body=body_with(reasonCode=code, orderId=order_id)), reasonCode=code)


def test_reason_code_outside_the_enum_is_malformed(api, order_123, subtests):
    for code in ["customer_changed_mind", "Customer_Changed_Mind", "CHANGED_MIND", "", " OTHER", "OTHER ", "CANCELLED", None, 1, ["OTHER"]]:
        with subtests.test(code=code):
            assert_error(api("POST", PATH, body=body_with(reasonCode=code)), 400, "MALFORMED_REQUEST", "reasonCode")


def test_reason_code_is_required(api, order_123):
    assert_error(api("POST", PATH, body=body_with(reasonCode=...)), 400, "MALFORMED_REQUEST", "reasonCode")


def test_reason_code_message_says_what_is_accepted(api, order_123):
    """domain.md: ``Invalid value for field reasonCode - accepted values are CUSTOMER_CHANGED_MIND, ...``."""
    messages = assert_error(api("POST", PATH, body=body_with(reasonCode="NOPE")), 400, "MALFORMED_REQUEST", "reasonCode")
    (message,) = messages
    assert message.startswith("Invalid value for field reasonCode - accepted values are CUSTOMER_CHANGED_MIND, "), message
    assert all(code in message for code in ORDER_CODES + UNSOLICITED_CEASE_CODES), message


# ---------------------------------------------------------------------------------------------- text


GOOD_TEXTS = [..., None, "x", "x" * 1000, "é" * 1000, "line one\nline two", "tab\tseparated", "windows\r\nline", "Delivery too long"]
BAD_TEXTS = ["", "x" * 1001, "nul\x00", "bell\x07", "escape\x1b[31m", "del\x7f", "c1\x85", 5, True, ["x"], {"x": 1}]


def test_text_within_the_rules_is_accepted_and_echoed(api, orders, subtests):
    for order_id, text in enumerate(GOOD_TEXTS, start=1):
        with subtests.test(text=text if text is ... or text is None else text[:12], length=0 if text in (..., None) else len(text)):
            orders(order_id)
            body = assert_created(api("POST", PATH, body=body_with(text=text, orderId=order_id)))
            if text in (..., None):
                assert "text" not in body
            else:
                assert body["text"] == text


def test_text_breaking_the_rules_is_malformed(api, order_123, subtests):
    for text in BAD_TEXTS:
        with subtests.test(text=text[:12] if isinstance(text, str) else text, length=len(text) if isinstance(text, str) else None):
            assert_error(api("POST", PATH, body=body_with(text=text)), 400, "MALFORMED_REQUEST", "text")


# ---------------------------------------------------------------------------------------------- unknown fields


def test_unknown_fields_are_refused_by_name(api, order_123, aws_view, subtests):
    """A typo (``orderID``) or a field the tenant may not set (``tenant``, ``id``, ``status``) must not pass silently."""
    for extra in [{"orderID": 123}, {"foo": 1}, {"id": 5}, {"tenant": "TENANT2"}, {"status": "COMPLETED"}]:
        (name,) = extra
        with subtests.test(field=name):
            messages = assert_error(api("POST", PATH, body={**EXAMPLE, **extra}), 400, "MALFORMED_REQUEST", name)
            assert any("Unknown field" in message for message in messages)
    assert aws_view.cancellation_items() == []


# ---------------------------------------------------------------------------------------------- body format


BAD_BODIES = [
    "",
    "   ",
    "{orderId: 123}",
    '{"orderId": 123, "reasonCode": "OTHER"',
    "[]",
    json.dumps([EXAMPLE]),
    '"hello"',
    "123",
    "null",
    "true",
    '{"orderId": 123, "orderId": 124, "reasonCode": "OTHER"}',
    '{"orderId": NaN, "reasonCode": "OTHER"}',
    '{"orderId": Infinity, "reasonCode": "OTHER"}',
    '{"orderId": 123, "reasonCode": "OTHER", "text": -Infinity}',
    '{"orderId": 123, "reasonCode": "OTHER", "text": ' + "[" * 40 + "]" * 40 + "}",
    '{"orderId": 123, "reasonCode": "OTHER", "text": ' + "[" * 5000 + "]" * 5000 + "}",
    "[" * 15_000,
    "\ufeff" + json.dumps(EXAMPLE),
    " \n [" + json.dumps(EXAMPLE) + ', {"anything": 1}]',
]
BAD_BODY_IDS = ["empty", "whitespace", "not-json", "truncated", "array", "array-of-object", "string", "number", "null", "true",
                "duplicate-keys", "nan", "infinity", "minus-infinity", "nested-40", "nested-5000", "unclosed-15000", "bom",
                "array-with-leading-space"]


def test_body_that_is_not_one_json_object_is_malformed(api, order_123, aws_view, subtests):
    for case, raw in zip(BAD_BODY_IDS, BAD_BODIES, strict=True):
        with subtests.test(case=case):
            assert_error(api("POST", PATH, raw_body=raw), 400, "MALFORMED_REQUEST")
    assert aws_view.cancellation_items() == [] and aws_view.messages() == []


def test_oversized_body_is_refused_before_parsing(api, order_123, aws_view):
    """The largest valid request is a few KB; a huge body is refused before parsing (413), never a 5xx."""
    body = body_with(text="x" * 1000)
    body["padding"] = "y" * 20_000
    assert_error(api("POST", PATH, body=body), 413, "MALFORMED_REQUEST")
    assert_error(api("POST", PATH, raw_body="[" * 1_000_000), 413, "MALFORMED_REQUEST")
    assert aws_view.cancellation_items() == []


def test_largest_valid_request_is_not_refused_as_too_large(api, orders):
    """Every field at its maximum, text written with JSON escapes of astral characters (12 bytes each)."""
    orders(MAX_SAFE_INTEGER, supplier="ABCDEFGHIJ_123456789", order_type=OrderType.UNSOLICITED_CEASE)
    raw = json.dumps({"supplier": "ABCDEFGHIJ_123456789", "orderId": MAX_SAFE_INTEGER, "reasonCode": "PURCHASED_DIFFERENT_PRODUCT",
                      "text": "\U0001F600" * 1000}, ensure_ascii=True)
    assert len(raw.encode()) > 12_000
    body = assert_created(api("POST", PATH, raw_body=raw), orderId=MAX_SAFE_INTEGER)
    assert body["text"] == "\U0001F600" * 1000


def test_body_that_is_not_utf8_is_malformed(api, order_123):
    assert_error(api("POST", PATH, base64_body=b'{"orderId": 123, "reasonCode": "OTHER", "text": "\xff\xfe"}'), 400, "MALFORMED_REQUEST")


def test_body_flagged_base64_that_is_not_base64_is_malformed(api, order_123):
    assert_error(api("POST", PATH, raw_body="%%% not base64 %%%", event_overrides={"isBase64Encoded": True}), 400, "MALFORMED_REQUEST")


def test_base64_encoded_json_body_is_read(api, order_123):
    """API Gateway may base64-encode a body (binary media types): it is still the same JSON."""
    raw = base64.b64encode(json.dumps(EXAMPLE).encode()).decode()
    assert_created(api("POST", PATH, raw_body=raw, event_overrides={"isBase64Encoded": True}), orderId=123)


WRONG_CONTENT_TYPES = [
    ("text/plain", json.dumps(EXAMPLE)),
    ("multipart/form-data", json.dumps(EXAMPLE)),
    ("multipart/form-data; boundary=XyZ", '--XyZ\r\nContent-Disposition: form-data; name="orderId"\r\n\r\n123\r\n--XyZ--\r\n'),
    ("multipart/form-data; boundary=XyZ", "garbage without the boundary"),
    ("application/x-www-form-urlencoded", "orderId=123&reasonCode=OTHER"),
    ("application/xml", "<orderId>123</orderId>"),
    ("application/octet-stream", json.dumps(EXAMPLE)),
    ("application/jsonx", json.dumps(EXAMPLE)),
]


def test_body_in_another_content_type_is_malformed_never_5xx(api, order_123, aws_view, subtests):
    for content_type, raw in WRONG_CONTENT_TYPES:
        with subtests.test(content_type=content_type, body=raw[:20]):
            messages = assert_error(api("POST", PATH, raw_body=raw, headers={"Content-Type": content_type}), 400, "MALFORMED_REQUEST")
            assert any("content type" in message.lower() for message in messages), messages
    assert aws_view.cancellation_items() == []


JSON_CONTENT_TYPES = [None, "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON",
                      "APPLICATION/JSON; charset=UTF-8", "application/vnd.api+json", "application/merge-patch+json"]


def test_json_content_types_are_accepted(api, orders, subtests):
    """Media types are case-insensitive (RFC 9110 section 8.3.1) and ``+json`` types are JSON; no Content-Type is read as JSON."""
    for order_id, content_type in enumerate(JSON_CONTENT_TYPES, start=1):
        with subtests.test(content_type=content_type):
            orders(order_id)
            assert_created(api("POST", PATH, body=body_with(orderId=order_id), headers={"Content-Type": content_type}), orderId=order_id)


# ---------------------------------------------------------------------------------------------- headers


@pytest.mark.parametrize("header", ["X-Request-ID", "X-Conversation-ID"])
def test_missing_trace_header_is_malformed_and_named(api, order_123, header):
    messages = assert_error(api("POST", PATH, body=EXAMPLE, headers={header: None}), 400, "MALFORMED_REQUEST", header)
    assert messages == [f"Missing required header {header}"]


def test_lower_case_header_names_are_accepted(api, order_123):
    """HTTP header names are case-insensitive; API Gateway passes them as the client spelled them."""
    answer = api("POST", PATH, body=EXAMPLE, headers={"X-Request-ID": None, "X-Conversation-ID": None,
                                                     "x-request-id": "lower-1", "x-conversation-id": "lower-2"})
    assert_created(answer, orderId=123)


def test_mixed_case_header_names_are_accepted(api, order_123):
    answer = api("POST", PATH, body=EXAMPLE, headers={"X-Request-ID": None, "X-Conversation-ID": None,
                                                     "x-Request-Id": "mixed-1", "X-CONVERSATION-ID": "mixed-2"})
    assert_created(answer, orderId=123)


@pytest.mark.parametrize("header", ["X-Request-ID", "X-Conversation-ID"])
def test_trace_header_with_an_unusable_value_is_malformed_and_named(api, order_123, subtests, header):
    """Decision: trace ids are 1..255 visible ASCII characters (they are logged, keyed and forwarded to suppliers)."""
    for case, value in [("empty", ""), ("256-chars", "x" * 256), ("non-ascii", "caf\u00e9"), ("space", "two words"), ("tab", "a\tb")]:
        with subtests.test(case=case):
            assert_error(api("POST", PATH, body=EXAMPLE, headers={header: value}), 400, "MALFORMED_REQUEST", header)


@pytest.mark.parametrize("header", ["X-Request-ID", "X-Conversation-ID"])
def test_trace_header_with_a_usable_value_is_accepted(api, orders, subtests, header):
    values = [("1-char", "x"), ("255-chars", "y" * 255), ("uuid", "3f0c8a2e-6a0b-4f7e-9d55-0c2f3a1b9e77"),
              ("punctuation", "req_1/2024-04-10T09:53:39.144Z#1")]
    for order_id, (case, value) in enumerate(values, start=1):
        with subtests.test(case=case):
            orders(order_id)
            assert_created(api("POST", PATH, body=body_with(orderId=order_id), headers={header: value}), orderId=order_id)


def test_both_headers_missing_are_both_named(api, order_123):
    assert_error(api("POST", PATH, body=EXAMPLE, headers={"X-Request-ID": None, "X-Conversation-ID": None}), 400, "MALFORMED_REQUEST",
                 "X-Request-ID", "X-Conversation-ID")


def test_answer_echoes_the_request_id_header(api, order_123):
    status, _body, headers = api("POST", PATH, body=EXAMPLE, headers={"X-Request-ID": "echo-me"})
    assert status == 201
    assert headers.get("X-Request-ID") == "echo-me"


# ---------------------------------------------------------------------------------------------- several problems


def test_every_problem_is_listed_at_once(api, order_123):
    body = {"supplier": "bad-supplier", "orderId": 0, "reasonCode": "nope", "text": "", "colour": "blue"}
    messages = assert_error(api("POST", PATH, body=body, headers={"X-Request-ID": None, "X-Conversation-ID": ""}), 400, "MALFORMED_REQUEST",
                            "X-Request-ID", "X-Conversation-ID", "supplier", "orderId", "reasonCode", "text", "colour")
    assert len(messages) == 7, messages
    assert len(set(messages)) == len(messages), "no message repeated"


def test_missing_required_fields_are_all_listed(api):
    assert_error(api("POST", PATH, body={}), 400, "MALFORMED_REQUEST", "orderId", "reasonCode")


def test_malformed_request_writes_nothing(api, order_123, aws_view):
    assert_error(api("POST", PATH, body=body_with(reasonCode="nope")), 400, "MALFORMED_REQUEST", "reasonCode")
    assert aws_view.cancellation_items() == [] and aws_view.request_items() == []
    assert aws_view.messages() == []
    assert aws_view.order_item(123)["status"] == "ACKNOWLEDGED"


# ---------------------------------------------------------------------------------------------- caller identity (401 / 403)


@pytest.mark.parametrize("method, path", [("POST", PATH), ("GET", f"{PATH}/1")])
def test_no_verified_token_is_401_not_authorised(api, order_123, method, path):
    assert_error(api(method, path, body=EXAMPLE if method == "POST" else None, client=None), 401, "NOT_AUTHORISED")


@pytest.mark.parametrize("method, path", [("POST", PATH), ("GET", f"{PATH}/1")])
def test_token_without_the_tenant_role_is_403_not_authorised(api, order_123, aws_view, subtests, method, path):
    for client in ["DUMMY_SUPPLIER", "FIBRECO", "SOMEONE_UNKNOWN"]:
        with subtests.test(client=client):
            assert_error(api(method, path, body=EXAMPLE if method == "POST" else None, client=client), 403, "NOT_AUTHORISED")
    assert aws_view.cancellation_items() == []


def test_tenant_comes_from_the_token_not_from_a_header(api, orders, aws_view):
    """A ``Tenant`` header must not make TENANT2's request act on TENANT1's order."""
    orders(123, tenant="TENANT1")
    answer = api("POST", PATH, body=EXAMPLE, client="TENANT2", headers={"Tenant": "TENANT1", "X-Tenant": "TENANT1"})
    assert_error(answer, 422, "NOT_FOUND")
    assert aws_view.cancellation_items() == []


# ---------------------------------------------------------------------------------------------- GET


def test_get_returns_the_cancellation_as_created(api, order_123):
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    status, body, headers = api("GET", f"{PATH}/{created['id']}")
    assert status == 200
    assert body == created
    assert headers["Content-Type"].startswith("application/json")


def test_get_shows_the_current_status_and_the_supplier_reference_once_known(api, order_123, tenant_api):
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    table = tenant_api.deps.cancellations
    record = table.get(created["id"])
    table.replace(
        record.model_copy(update={"status": CancellationStatus.COMPLETED, "supplierReference": "A123X-1"}), expected_version=record.version
    )
    status, body, _ = api("GET", f"{PATH}/{created['id']}")
    assert status == 200
    assert body == {**created, "status": "COMPLETED", "supplierReference": "A123X-1"}


def test_get_without_trace_headers_is_allowed(api, order_123):
    """The contract requires the trace headers on the POST only; a status poll without them still works."""
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    status, body, _ = api("GET", f"{PATH}/{created['id']}", headers={"X-Request-ID": None, "X-Conversation-ID": None})
    assert (status, body) == (200, created)


def test_get_unknown_id_is_422_not_found(api, subtests):
    for cancellation_id in ["99", str(MAX_SAFE_INTEGER)]:
        with subtests.test(id=cancellation_id):
            messages = assert_error(api("GET", f"{PATH}/{cancellation_id}"), 422, "NOT_FOUND")
            assert any(cancellation_id in message for message in messages)


def test_get_another_tenants_cancellation_answers_exactly_like_an_unknown_id(api, order_123):
    before = api("GET", f"{PATH}/1", client="TENANT2")
    created = assert_created(api("POST", PATH, body=EXAMPLE, client="TENANT1"))
    assert created["id"] == 1, "the first id of a fresh counter"
    after = api("GET", f"{PATH}/1", client="TENANT2")
    assert_error(after, 422, "NOT_FOUND")
    assert same_error(before, after), (before, after)
    assert before[1]["uuid"] != after[1]["uuid"]


def test_get_with_an_id_that_is_not_a_whole_number_from_1_to_2_53_minus_1_is_malformed(api, subtests):
    for cancellation_id in ["abc", "0", "-1", "1.5", "1e3", str(MAX_SAFE_INTEGER + 1), "9" * 40, "%20", "0x10",
                            "1.0", "01", "+1", " 1", "1 ", "1_0", "\uff11", "\u0661", "9" * 5000]:
        with subtests.test(id=cancellation_id):
            assert_error(api("GET", f"{PATH}/{cancellation_id}"), 400, "MALFORMED_REQUEST", "id")


# ---------------------------------------------------------------------------------------------- never a 5xx

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30) | st.sampled_from(ORDER_CODES + UNSOLICITED_CEASE_CODES + ["DUMMY_SUPPLIER", 123, 123.0]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
bodies = st.dictionaries(st.sampled_from(BODY_FIELDS + ("orderID", "extra")), json_values, max_size=5) | json_values


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies, header=st.sampled_from([None, "", "x" * 300, "ok-value", "\u00e9"]))
def test_no_json_body_or_header_value_causes_a_5xx(api, order_123, body, header):
    status, answer, _ = api("POST", PATH, body=body, headers={"X-Conversation-ID": header} if header != "ok-value" else None)
    assert status in (201, 400, 422), (status, answer)
    if status != 201:
        assert_error_body(answer, answer["code"])
        assert answer["code"] in ("MALFORMED_REQUEST", "INVALID_REQUEST", "NOT_FOUND")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       content_type=st.sampled_from([None, "application/json", "text/plain", "multipart/form-data", "multipart/form-data; boundary=b",
                                     "application/x-www-form-urlencoded", "Application/Json", "application/foo+json", "*/*", ""]))
def test_no_raw_body_or_content_type_causes_a_5xx(api, order_123, raw, content_type):
    status, answer, _ = api("POST", PATH, base64_body=raw, headers={"Content-Type": content_type})
    assert status in (201, 400, 422), (status, answer)
    if status != 201:
        assert_error_body(answer, answer["code"])
