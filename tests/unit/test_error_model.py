"""The error model: one owner per meaning.

- api/http.py's ERROR_ANSWERS alone turns an error into a status code, Retry-After and the contract's body;
- the errors raised below it say what went wrong, and a DAL error's own words stay in the logs;
- the queue consumers' retry signal (RetryLater) is not an answer for a tenant: it would be a 500;
- the domain package does no I/O, makes no uuids and knows no HTTP status codes (checked on its source).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import fibre_cafe.domain
from fibre_cafe.api.http import ERROR_ANSWERS, answer_error
from fibre_cafe.api.identity import Forbidden, NotAuthenticated
from fibre_cafe.dal.errors import RetryLater, Throttled
from fibre_cafe.domain.errors import ConcurrentUpdate, InvalidRequest, NotFound


@pytest.mark.parametrize(("error", "status", "code", "messages", "retry_after"), [
    (NotAuthenticated("No valid access token"), 401, "NOT_AUTHORISED", ["No valid access token"], None),
    (Forbidden("A supplier token cannot use this API"), 403, "NOT_AUTHORISED", ["A supplier token cannot use this API"], None),
    (NotFound("Order 7 not found"), 422, "NOT_FOUND", ["Order 7 not found"], None),
    (InvalidRequest("rule one", "rule two"), 422, "INVALID_REQUEST", ["rule one", "rule two"], None),
    (ConcurrentUpdate("The order is being updated concurrently"), 503, "GATEWAY_FAULT",
     ["The order is being updated concurrently - please retry"], "1"),
    (Throttled("order 7 and request r-1 still unprocessed after 3 BatchGetItem calls"), 503, "GATEWAY_FAULT",
     ["The gateway is busy - please retry"], "1"),
])
def test_each_error_has_one_answer(error, status, code, messages, retry_after):
    answer = answer_error(error)
    body = json.loads(answer.body)
    assert (answer.status_code, body["code"], body["messages"]) == (status, code, messages)
    assert answer.headers.get("Retry-After") == retry_after
    assert len(body["uuid"]) == 36


def test_the_queue_consumers_retry_signal_is_not_an_answer_for_a_tenant():
    assert not any(issubclass(RetryLater, mapped) for mapped in ERROR_ANSWERS)


FORBIDDEN_IMPORTS = ("uuid", "json", "os", "socket", "requests", "boto3", "botocore", "http", "urllib",
                     "fibre_cafe.dal", "fibre_cafe.api", "fibre_cafe.logic", "fibre_cafe.ids")


def test_the_domain_does_no_io_makes_no_uuids_and_knows_no_http_status_codes():
    for source in sorted(Path(fibre_cafe.domain.__file__).parent.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(FORBIDDEN_IMPORTS) or name.startswith("fibre_cafe.domain"), (source.name, name)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", source.name
            if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
                assert not 100 <= node.value <= 599, (source.name, node.lineno, node.value)
