"""Request framing attacks on the local front (local_stack/front.py), over raw sockets.

Each malformed request gets a 400 (501 for an unknown transfer coding) in the contract's error body, and
the connection is closed: nothing after it on the socket is read as another request. The smuggling case
(a bare CR in a header hid the Content-Length, so the body ran as a second request, as another tenant)
checks that the second request never runs: no function is invoked and nothing is stored.
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.security.support import CONTRACT_CODES, UUID4, invocations, nothing_stored

CANCELLATIONS = "/service-order-cancellations"


def exchange(stack, data: bytes, timeout: float = 5.0) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``data`` on a fresh connection; every answer read until the server closes it."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=timeout) as connection:
        connection.sendall(data)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pytest.fail(f"the server did not close the connection after its answer: {received[:300]!r}")
    answers = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
        length = int(headers.get("content-length", "0"))
        answers.append((int(status_line.split()[1]), headers, rest[:length]))
        received = rest[length:]
    return answers


def refused(stack, data: bytes, status: int = 400, code: str = "MALFORMED_REQUEST") -> dict:
    """The one answer to ``data`` is ``status`` in the contract's error body, with the connection closed, and
    no function ran."""
    before = invocations(stack)
    answers = exchange(stack, data)
    assert len(answers) == 1, answers
    answer_status, headers, body = answers[0]
    assert answer_status == status, body
    assert headers.get("connection") == "close"
    error = json.loads(body)
    assert set(error) == {"uuid", "code", "messages"} and UUID4.match(error["uuid"]) and error["code"] == code
    assert error["code"] in CONTRACT_CODES and error["messages"] and all(isinstance(m, str) for m in error["messages"])
    assert "Traceback" not in body.decode() and "Error(" not in body.decode()
    assert invocations(stack) == before
    return error


def post_head(stack, path: str, *lines: str) -> bytes:
    return ("\r\n".join([f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{stack.port}", *lines]) + "\r\n\r\n").encode()


def cancellation_request(token: str, order_id: int, request_id: str) -> bytes:
    body = json.dumps({"orderId": order_id, "reasonCode": "OTHER"}).encode()
    return (f"POST {CANCELLATIONS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"X-Request-ID: {request_id}\r\nX-Conversation-ID: framing\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


# ---------------------------------------------------------------------------------------------- smuggling


def test_a_bare_cr_in_a_header_is_refused_and_the_smuggled_request_never_runs(stack, good_tokens):
    # TENANT2's cancellation of its own order 2001, hidden in the body of TENANT1's GET: before, the bare CR
    # made the parser drop the Content-Length line, so the "body" was read as a second request and ran.
    smuggled = cancellation_request(good_tokens["TENANT2"], 2001, "smuggled-1")
    carrier = (f"GET {CANCELLATIONS}/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {good_tokens['TENANT1']}\r\n"
               f"X-Request-ID: carrier-1\r\nX-Conversation-ID: framing\r\nX-Note: a\rb\r\nContent-Length: {len(smuggled)}\r\n\r\n").encode()
    with nothing_stored(stack):
        error = refused(stack, carrier + smuggled)
    assert "bare CR" in error["messages"][0]


def test_the_smuggling_request_is_a_working_request_when_well_formed(stack, good_tokens):
    """The test above proves something: the same smuggled request, sent on its own, runs (201)."""
    answers = exchange(stack, cancellation_request(good_tokens["TENANT2"], 2001, "smuggled-control"))
    assert [status for status, _, _ in answers] == [201]


def test_a_second_request_on_the_same_connection_is_never_read(stack, good_tokens):
    """Each answer closes the connection, so bytes after a request are never parsed as another one."""
    first = (b"GET /auth/.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n")
    with nothing_stored(stack):
        answers = exchange(stack, first + cancellation_request(good_tokens["TENANT2"], 2001, "pipelined-1"))
    assert [status for status, _, _ in answers] == [200]


# ---------------------------------------------------------------------------------------------- head


@pytest.mark.parametrize(("line", "why"), [
    ("X-Note: a\rb", "bare CR"),
    ("X-Note: a\x00b", "NUL"),
    ("X-Note: a\x01b", "control"),
    ("X-Note: first\r\n second", "obs-fold"),
    ("X-Note : spaced", "token"),
    ("X Note: spaced", "token"),
    ("X-Note", "token"),
])
def test_a_malformed_header_line_is_refused(stack, line, why):
    error = refused(stack, post_head(stack, "/auth/tenant/access-token", line, "Content-Length: 0"))
    assert why in error["messages"][0]


def test_a_bare_cr_in_the_request_line_is_refused(stack):
    refused(stack, b"GET /auth/.well-known/jwks.json\rX HTTP/1.1\r\nHost: x\r\n\r\n")


# ---------------------------------------------------------------------------------------------- body framing


def test_content_length_with_transfer_encoding_is_refused(stack):
    data = post_head(stack, "/auth/tenant/access-token", "Content-Length: 5", "Transfer-Encoding: chunked") + b"5\r\nabcde\r\n0\r\n\r\n"
    assert "not both" in refused(stack, data)["messages"][0]


@pytest.mark.parametrize("encoding", ["gzip", "chunked, chunked", "identity", "xchunked"])
def test_a_transfer_coding_other_than_chunked_is_501(stack, encoding):
    data = post_head(stack, "/auth/tenant/access-token", f"Transfer-Encoding: {encoding}") + b"0\r\n\r\n"
    refused(stack, data, 501, "NOT_IMPLEMENTED")


def test_two_transfer_encoding_headers_are_refused(stack):
    data = post_head(stack, "/auth/tenant/access-token", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + b"0\r\n\r\n"
    refused(stack, data, 501, "NOT_IMPLEMENTED")


@pytest.mark.parametrize("length", ["-5", "+5", "5 5", "0x5", "5.0", "٥"])
def test_a_malformed_content_length_is_refused(stack, length):
    refused(stack, post_head(stack, "/auth/tenant/access-token", f"Content-Length: {length}") + b"abcde")


def test_two_different_content_lengths_are_refused(stack):
    refused(stack, post_head(stack, "/auth/tenant/access-token", "Content-Length: 5", "Content-Length: 6") + b"abcdef")


@pytest.mark.parametrize("size", ["-5", "+5", "0_5", "0x5", " ", "5 5", "g", "00000000000000005"])
def test_a_malformed_chunk_size_is_refused(stack, size):
    data = (post_head(stack, "/auth/tenant/access-token", "Transfer-Encoding: chunked",
                      "Content-Type: application/x-www-form-urlencoded") + f"{size}\r\nabcde\r\n0\r\n\r\n".encode())
    assert refused(stack, data)["messages"] == ["Malformed chunked request body"]


def test_a_well_formed_chunked_body_is_read(stack):
    form = b"grant_type=client_credentials&client_id=TENANT1&client_secret=local-dev-secret"
    data = (post_head(stack, "/auth/tenant/access-token", "Transfer-Encoding: chunked", "Content-Type: application/x-www-form-urlencoded")
            + b"10;ext=1\r\n" + form[:16] + b"\r\n" + f"{len(form) - 16:X}\r\n".encode() + form[16:] + b"\r\n0\r\n\r\n")
    [(status, _, body)] = exchange(stack, data)
    assert status == 200 and "access_token" in json.loads(body)


# ---------------------------------------------------------------------------------------------- trace headers


@pytest.mark.parametrize("names", [("X-Request-ID", "x-request-id"), ("X-Request-ID", "X-Request-ID"),
                                   ("X-Conversation-ID", "x-conversation-id"), ("x-conversation-id", "X-CONVERSATION-ID")])
def test_a_trace_header_sent_twice_in_any_case_is_400(stack, good_tokens, names):
    first, second = names
    other = "X-Conversation-ID: c" if "request" in first.lower() else "X-Request-ID: r-dup"
    body = json.dumps({"orderId": 1001, "reasonCode": "OTHER"}).encode()
    data = (
        f"POST {CANCELLATIONS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {good_tokens['TENANT1']}\r\n"
        f"Content-Type: application/json\r\n{first}: one\r\n{second}: two\r\n{other}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    before = invocations(stack)
    with nothing_stored(stack):
        [(status, _, answer)] = exchange(stack, data)
    assert status == 400, answer
    error = json.loads(answer)
    assert error["code"] == "MALFORMED_REQUEST" and error["messages"] == [
        f"Send one {'X-Request-ID' if 'request' in first.lower() else 'X-Conversation-ID'} header"
    ]
    assert invocations(stack) == before


def test_authorization_sent_twice_in_any_case_is_refused(stack, good_tokens):
    data = (f"GET {CANCELLATIONS}/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {good_tokens['TENANT1']}\r\n"
            f"authorization: Bearer {good_tokens['TENANT2']}\r\nX-Request-ID: r\r\nX-Conversation-ID: c\r\n\r\n").encode()
    [(status, _, answer)] = exchange(stack, data)
    assert status == 401 and json.loads(answer)["messages"] == ["Send one Authorization header"]
