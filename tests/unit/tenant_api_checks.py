"""Assertions shared by the tenant API suites: the contract's error body and 201 body."""

from __future__ import annotations

import re
import uuid
from typing import Any

from testing.events import EXAMPLE_REQUEST

ERROR_CODES = frozenset({
    "GATEWAY_FAULT", "INVALID_REQUEST", "MALFORMED_REQUEST", "NOT_AUTHORISED", "NOT_FOUND",
    "NOT_IMPLEMENTED", "SUPPLIER_FAULT", "SUPPLIER_TIMED_OUT", "TENANT_FAULT",
})
CANCELLATION_FIELDS = frozenset({"id", "supplierReference", "status", "supplier", "orderId", "reasonCode", "text"})
MAX_SAFE_INTEGER = 2**53 - 1
# The tenant API's path, its example request, and the reason codes each order type takes.
PATH = "/service-order-cancellations"
EXAMPLE = EXAMPLE_REQUEST
ORDER_CODES = ["CUSTOMER_CHANGED_MIND", "INSTALL_FAILED", "NETWORK_ISSUE", "NO_LONGER_REQUIRED", "OTHER"]
UNSOLICITED_CEASE_CODES = [
    "NO_AUTHORISATION",
    "CUSTOMER_NOT_AWARE",
    "DELIBERATE_MISLEAD",
    "PURCHASED_DIFFERENT_PRODUCT",
    "END_USER_NOT_MOVING",
]


def is_uuid4(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value


def names(messages: list[str], name: str) -> bool:
    """Does some message name ``name`` as a field, header or parameter (e.g. 'field orderId')?"""
    pattern = re.compile(rf"\b(field|header|parameter) {re.escape(name)}\b")
    return any(pattern.search(message) for message in messages)


def assert_error_body(body: Any, code: str) -> None:
    """Exactly ``uuid`` (a UUID4), ``code``, ``messages`` (non-empty list of non-empty strings)."""
    assert isinstance(body, dict), body
    assert set(body) == {"uuid", "code", "messages"}, body
    assert is_uuid4(body["uuid"]), body
    assert body["code"] in ERROR_CODES
    assert body["code"] == code, body
    assert isinstance(body["messages"], list) and body["messages"], body
    assert all(isinstance(message, str) and message.strip() for message in body["messages"]), body
    assert_no_python_internals(body["messages"])


# What would show Python's internals to a client (issue 13: "no Python internals in any message").
PYTHON_INTERNALS = ("Traceback", "sys.", "set_int_max_str_digits", "Exceeds the limit", "object at 0x", "<class", "NoneType", "pydantic",
                    "__", "Value error,", "ValidationError", "Error(", "dict_type", "model_type", "int_parsing", "str_type")


def assert_no_python_internals(messages: list[str]) -> None:
    leaks = [(marker, message) for message in messages for marker in PYTHON_INTERNALS if marker in message]
    assert not leaks, leaks


def assert_error(answer: tuple, status: int, code: str, *named: str) -> list[str]:
    """Check an answer ``(status, body, headers)`` is the contract's error; each of ``named`` is named in messages."""
    got_status, body, _headers = answer
    assert got_status == status, answer
    assert_error_body(body, code)
    for name in named:
        assert names(body["messages"], name), (name, body["messages"])
    return body["messages"]


def assert_created(answer: tuple, **expected: Any) -> dict:
    """A 201 in the contract's shape: numeric id, RECEIVED_BY_GATEWAY, and the ``expected`` fields."""
    status, body, _headers = answer
    assert status == 201, answer
    assert isinstance(body, dict) and set(body) <= CANCELLATION_FIELDS, body
    assert type(body["id"]) is int and 1 <= body["id"] <= MAX_SAFE_INTEGER, body
    assert body["status"] == "RECEIVED_BY_GATEWAY"
    assert type(body["orderId"]) is int
    for key, value in expected.items():
        assert body.get(key) == value, (key, body)
    return body


def same_error(first: tuple, second: tuple) -> bool:
    """Same status, code and messages: only the error uuid may differ."""
    return first[0] == second[0] and first[1]["code"] == second[1]["code"] and first[1]["messages"] == second[1]["messages"]
