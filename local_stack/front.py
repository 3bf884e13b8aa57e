"""The local HTTP front: what API Gateway (REST API, Cognito authorizer) and Cognito's token endpoint do.

``Gateway.handle`` turns one HTTP request into an answer, with no socket code: token endpoint and
JWKS under ``/auth``; for the API, route match on template.yaml's events (404 / 405), token check
(401 with ``WWW-Authenticate: Bearer``), scope check (401, as API Gateway's Cognito authorizer), the REST proxy event built by
``proxy_events.proxy_event`` with the verified claims as strings, the real handler, and its answer
(``headers`` and ``multiValueHeaders`` merged as API Gateway merges them, base64 bodies decoded).
A handler that raises or answers garbage gives 502, as API Gateway does for a failed Lambda.

``FrontServer`` is werkzeug's threaded WSGI server (one thread per connection, the connection closed
after each answer) with strict checks of the request's head and framing (see "the HTTP server" below);
it reads bodies up to API Gateway's 10 MB limit (413 beyond) and writes ``Gateway`` answers.
Errors of the front itself use the contract's error body ``{"uuid", "code", "messages"}`` and log
the uuid. Nothing here logs headers, bodies, tokens or secrets: the access log has method, path
(without query string), status and duration.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from werkzeug.serving import DechunkedInput, ThreadedWSGIServer, WSGIRequestHandler

from local_stack.functions import LocalFunction
from local_stack.proxy_events import match_route, proxy_event
from local_stack.template import ApiRoute
from local_stack.tokens import JWKS_PATH, TOKEN_PATHS, InvalidAccessToken, TokenAuthority, claims_as_strings, granted_scopes

log = logging.getLogger("local_stack")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
JSON = "application/json"
# Headers a request carries once: two values (in any letter case) are ambiguous, so the request is refused
# (Authorization's duplicates are the authorizer's 401, in Gateway.authorize).
SINGLE_VALUED_HEADERS = ("X-Request-ID", "X-Conversation-ID")
# Methods the front knows (API Gateway's); any other is 501, a known one a resource lacks 405.
KNOWN_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# Set by the front, never copied from a handler's answer.
HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"})


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    close: bool = False  # close the connection after answering (the request body was not read)


def error_reply(status: int, code: str, messages: list[str], headers: Iterable[tuple[str, str]] = (), close: bool = False) -> Reply:
    """The contract's error body; its uuid is logged so the answer can be found in the log."""
    from fibre_cafe.models.errors import ErrorBody, ErrorCode

    body = ErrorBody.new(ErrorCode(code), messages)
    log.info("answered %d %s error_uuid=%s", status, code, body.uuid)
    return Reply(status, [("Content-Type", JSON), *headers], body.model_dump_json().encode(), close)


def method_not_allowed(method: str, allowed: str) -> Reply:
    """405 for a method this resource does not have; the contract's code for it is NOT_IMPLEMENTED."""
    return error_reply(405, "NOT_IMPLEMENTED", [f"Method {method} is not allowed on this resource - accepted methods are {allowed}"],
                       [("Allow", allowed)])


def json_reply(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    return Reply(status, [("Content-Type", JSON), *headers], json.dumps(body, separators=(",", ":")).encode())


# The API's OpenAPI document (docs/openapi.json, generated from the code by tools/openapi.py) and a
# Swagger UI page for it, with the assets Powertools ships (works offline).
DOCS_PATHS = frozenset({"/openapi.json", "/docs", "/docs/swagger-ui-bundle.min.js", "/docs/swagger-ui.min.css"})
SWAGGER_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>The Fibre Cafe - order cancellations</title>
<link rel="stylesheet" href="/docs/swagger-ui.min.css"></head>
<body><div id="swagger-ui"></div><script src="/docs/swagger-ui-bundle.min.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script></body></html>
"""


def docs_reply(path: str) -> Reply:
    from pathlib import Path

    if path == "/openapi.json":
        document = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
        return Reply(200, [("Content-Type", JSON)], document.read_bytes())
    if path == "/docs":
        return Reply(200, [("Content-Type", "text/html; charset=utf-8")], SWAGGER_PAGE.encode())
    import aws_lambda_powertools.event_handler.openapi.swagger_ui as assets

    asset = Path(assets.__file__).resolve().parent / path.rsplit("/", 1)[-1]
    kind = "text/css" if asset.suffix == ".css" else "application/javascript"
    return Reply(200, [("Content-Type", kind), ("Cache-Control", "public, max-age=3600")], asset.read_bytes())


class Gateway:
    """Requests in, answers out: token endpoint, routing, authorizer, proxy integration."""

    def __init__(self, routes: list[ApiRoute], functions: Mapping[str, LocalFunction], tokens: TokenAuthority, stage: str = "local"):
        self.routes = [route for route in routes if route.function in functions]
        self.functions = functions
        self.tokens = tokens
        self.stage = stage

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, client_ip: str = "127.0.0.1") -> Reply:
        method = method.upper()
        if method not in KNOWN_METHODS:
            return error_reply(501, "NOT_IMPLEMENTED", [f"Method {method[:20]} is not implemented"], [("Allow", ", ".join(KNOWN_METHODS))])
        url = urlsplit(target)
        path = unquote(url.path) or "/"
        if path in TOKEN_PATHS:
            if method != "POST":
                return method_not_allowed(method, "POST")
            answer = self.tokens.token_endpoint(
                TOKEN_PATHS[path], _header(headers, "Content-Type"), body, _header(headers, "Authorization")
            )
            return json_reply(answer.status, answer.body, answer.headers.items())
        if path in DOCS_PATHS:
            if method not in ("GET", "HEAD"):
                return method_not_allowed(method, "GET")
            return docs_reply(path)
        if path == JWKS_PATH:
            if method not in ("GET", "HEAD"):
                return method_not_allowed(method, "GET")
            return json_reply(200, self.tokens.jwks(), [("Cache-Control", "public, max-age=300")])

        found = self._route(method, path)
        if isinstance(found, Reply):
            return found
        route = found

        decision = self.authorize(route, headers)
        if isinstance(decision, Reply):
            return decision
        claims = decision
        duplicated = [name for name in SINGLE_VALUED_HEADERS if len(_headers_named(headers, name)) > 1]
        if duplicated:
            return error_reply(400, "MALFORMED_REQUEST", [f"Send one {name} header" for name in duplicated])

        header_values: dict[str, list[str]] = {}
        for name, value in headers:
            header_values.setdefault(name, []).append(value)
        header_values["X-Forwarded-For"] = [client_ip]
        header_values["X-Forwarded-Proto"] = ["http"]
        query: dict[str, list[str]] = {}
        for name, value in parse_qsl(url.query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        event = proxy_event(
            method, path, resource=route.path, headers=header_values, body=body or None, query=query,
            claims=claims_as_strings(claims) if claims is not None else None, stage=self.stage, source_ip=client_ip,
        )
        request_id = event["requestContext"]["requestId"]
        try:
            answer = self.functions[route.function].invoke(event)
            reply = _proxy_reply(answer)
        except Exception:  # a failed Lambda is API Gateway's 502, never a dead front
            log.exception("%s failed on %s %s", route.function, method, route.path)
            reply = error_reply(502, "GATEWAY_FAULT", ["The gateway could not process the request"])
        reply.headers.append(("x-amzn-RequestId", request_id))
        return reply

    def authorize(self, route: ApiRoute, headers: list[tuple[str, str]]) -> dict[str, Any] | None | Reply:
        """The authorizer's decision for a request on ``route``: the verified claims (None for a public route),
        or the refusal (401 without a usable token, 401 without the route's scope). Every authorization
        decision of the front is here."""
        if route.public:
            return None
        authorizations = _headers_named(headers, "Authorization")
        try:
            if len(authorizations) > 1:
                raise InvalidAccessToken("Send one Authorization header")
            claims = self.tokens.verify(authorizations[0] if authorizations else None)
        except InvalidAccessToken as exc:
            challenge = 'Bearer realm="fibre-cafe"' + (', error="invalid_token"' if authorizations else "")
            return error_reply(401, "NOT_AUTHORISED", [str(exc)], [("WWW-Authenticate", challenge)])
        if route.scopes and not granted_scopes(claims) & set(route.scopes):
            # 401, not 403: API Gateway's COGNITO_USER_POOLS authorizer answers a scope mismatch with
            # 401 Unauthorized (its UNAUTHORIZED gateway response); see README, "Error answers at the edge".
            needed = " or ".join(route.scopes)
            return error_reply(
                401, "NOT_AUTHORISED", [f"The access token does not grant the scope this API needs ({needed})"],
                [("WWW-Authenticate", f'Bearer realm="fibre-cafe", error="insufficient_scope", scope="{" ".join(route.scopes)}"')],
            )
        return claims

    def _route(self, method: str, path: str) -> ApiRoute | Reply:
        matching = [route for route in self.routes if match_route(route.path, path) is not None]
        if not matching:
            return error_reply(404, "NOT_FOUND", ["No such resource"])
        allowed = [route for route in matching if route.method in (method, "ANY")]
        if not allowed:
            return method_not_allowed(method, ", ".join(sorted({route.method for route in matching})))
        # API Gateway prefers the most specific resource: literal segments over {param} over {proxy+}.
        return min(allowed, key=lambda route: (route.path.count("+}"), route.path.count("{"), route.method == "ANY"))


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    values = _headers_named(headers, name)
    return values[-1] if values else None


def _headers_named(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def _proxy_reply(answer: Any) -> Reply:
    """A Lambda proxy answer as HTTP (API Gateway's rules; anything malformed is an error, as there)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("statusCode"), int) or not 100 <= answer["statusCode"] <= 599:
        raise ValueError("Malformed Lambda proxy response")
    pairs = [(str(k), str(v)) for k, values in (answer.get("multiValueHeaders") or {}).items() for v in (values or [])]
    seen = {(k.lower(), v) for k, v in pairs}
    # headers and multiValueHeaders are merged; a pair present in both appears once.
    pairs += [(str(k), str(v)) for k, v in (answer.get("headers") or {}).items() if (str(k).lower(), str(v)) not in seen]
    pairs = [(k, v) for k, v in pairs if k.lower() not in HOP_BY_HOP and not any(c in k + v for c in "\r\n")]
    body = answer.get("body")
    if body is None:
        data = b""
    elif answer.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise ValueError("Malformed Lambda proxy response: body is not base64") from exc
    else:
        data = str(body).encode("utf-8")
    return Reply(answer["statusCode"], pairs, data)


# ---------------------------------------------------------------------------------------------- the HTTP server
#
# Werkzeug's WSGI server (installed with moto) reads the request: the stdlib's http.server parses the request
# line and headers, werkzeug builds the WSGI environ and de-chunks bodies, and closes the connection after
# every answer (no keep-alive: a request can never be read from what another request left on the socket).
# Neither refuses everything RFC 9112 says a server must not accept, so before a request reaches the
# gateway, ``_StrictRequestHandler`` *checks* (does not re-parse) what they read:
#
# - each raw line of the request head: no bare CR, no NUL or other control character, no obs-fold (a
#   line starting with space or tab), a header name that is a token directly followed by ":";
# - the framing: Transfer-Encoding exactly ``chunked`` (another coding: 501), never with Content-Length,
#   at most one of each; Content-Length digits only;
# - chunk sizes: 1 to 16 hex digits (optionally ``;extension``), nothing else (werkzeug's ``int(x, 16)``
#   takes ``+5``, ``0_5`` and ``0x5``; ``-5`` is refused by it).
#
# A refusal is a 400 (501 for an unknown transfer coding, 413 for a body over API Gateway's 10 MB) in
# the contract's error body, and the connection is closed.

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_REQUEST_LINE = re.compile(rb"[\x21-\x7e]+ [\x21-\x7e\x80-\xff]+ HTTP/\d\.\d")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(;[^\r\n]*)?\r?\n")


class MalformedRequest(Exception):
    """The request's framing is refused; the message is safe to show the caller."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def check_head_line(line: bytes) -> None:
    """One raw header line as read from the socket (with its line end)."""
    content = line[:-2] if line.endswith(b"\r\n") else line[:-1] if line.endswith(b"\n") else line
    if b"\r" in content or b"\n" in content:
        raise MalformedRequest("Malformed request header: a bare CR is not allowed")
    if b"\x00" in content:
        raise MalformedRequest("Malformed request header: NUL is not allowed")
    if content[:1] in (b" ", b"\t"):
        raise MalformedRequest("Malformed request header: line folding (obs-fold) is not allowed")
    name, colon, value = content.partition(b":")
    if not colon or not _TOKEN.fullmatch(name):
        raise MalformedRequest("Malformed request header: a header name must be a token followed by a colon")
    if not _FIELD_VALUE.fullmatch(value):
        raise MalformedRequest("Malformed request header: control characters are not allowed in a header value")


def check_framing(headers: list[tuple[str, str]]) -> tuple[int | None, bool]:
    """(declared Content-Length, chunked) of a request whose header lines passed ``check_head_line``."""
    encodings = [value.strip() for name, value in headers if name.lower() == "transfer-encoding"]
    lengths = [value.strip() for name, value in headers if name.lower() == "content-length"]
    if encodings and lengths:
        raise MalformedRequest("Send Content-Length or Transfer-Encoding, not both")
    if encodings:
        if len(encodings) > 1 or encodings[0].lower() != "chunked":
            raise MalformedRequest("Only Transfer-Encoding: chunked is supported", 501)
        return None, True
    if not lengths:
        return None, False
    if len(set(lengths)) != 1 or not lengths[0].isascii() or not lengths[0].isdigit() or len(lengths[0]) > 18:
        raise MalformedRequest("Invalid Content-Length header")
    return int(lengths[0]), False


class _StrictDechunkedInput(DechunkedInput):
    """Werkzeug's de-chunking, with RFC 9112's chunk-size grammar enforced."""

    def read_chunk_len(self) -> int:
        line = self._rfile.readline(1024)
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            raise OSError("Malformed chunk size")
        return int(match.group(1), 16)


class _RecordingReader:
    """Hands the stdlib's header parser the socket's lines, keeping a copy of each to check."""

    def __init__(self, rfile: Any):
        self._rfile = rfile
        self.lines: list[bytes] = []

    def readline(self, limit: int = -1) -> bytes:
        line = self._rfile.readline(limit)
        self.lines.append(line)
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rfile, name)


class _StrictRequestHandler(WSGIRequestHandler):
    timeout = 30  # a client that sends nothing is dropped after this
    disable_nagle_algorithm = True

    @property
    def server_version(self) -> str:  # type: ignore[override]  # the stdlib's class attribute, fixed here
        return "FibreCafeLocal/1.0"

    def parse_request(self) -> bool:
        recorder = _RecordingReader(self.rfile)
        self.rfile = recorder  # type: ignore[assignment]  # a reader that keeps what it reads, for the framing checks
        try:
            if not super().parse_request():
                return False
        finally:
            self.rfile = recorder._rfile
        try:
            if not _REQUEST_LINE.fullmatch(self.raw_requestline.rstrip(b"\r\n")) or b"\r" in self.raw_requestline.rstrip(b"\r\n"):
                raise MalformedRequest("Malformed request line")
            for line in recorder.lines:
                if line not in (b"\r\n", b"\n"):
                    check_head_line(line)
            self.framing = check_framing(list(self.headers.items()))
        except MalformedRequest as exc:
            self._refuse(exc)
            return False
        return True

    def handle_expect_100(self) -> bool:
        # Refuse a bad or oversized body before the client sends it (curl asks with Expect: 100-continue);
        # otherwise werkzeug answers 100 Continue when the request runs.
        try:
            length, _chunked = check_framing(list(self.headers.items()))
        except MalformedRequest as exc:
            self._refuse(exc)
            return False
        if length is not None and length > MAX_BODY_BYTES:
            self._refuse(MalformedRequest(f"The request body is larger than {MAX_BODY_BYTES} bytes", 413))
            return False
        return True

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ["fibre_cafe.headers"] = list(self.headers.items())  # every header, in order, duplicates kept
        environ["fibre_cafe.framing"] = getattr(self, "framing", (None, False))
        if environ["fibre_cafe.framing"][1]:
            environ["wsgi.input"] = _StrictDechunkedInput(self.rfile)
        return environ

    def _refuse(self, exc: MalformedRequest) -> None:
        code = "NOT_IMPLEMENTED" if exc.status == 501 else "MALFORMED_REQUEST"
        self._write_reply(error_reply(exc.status, code, [str(exc)], close=True))
        log.info("refused a request: %d %s", exc.status, exc)

    def _write_reply(self, reply: Reply) -> None:
        self.close_connection = True
        try:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except OSError:
            pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, huge headers, ...) in the contract's error body."""
        error_code = "NOT_IMPLEMENTED" if code == 501 else "GATEWAY_FAULT" if code >= 500 else "MALFORMED_REQUEST"
        self._write_reply(error_reply(code, error_code, [message or "The request could not be read"], close=True))

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # the WSGI app logs each request without its query string (which may carry secrets)

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's signature
        pass


def _read_body(environ: dict[str, Any]) -> bytes:
    length, chunked = environ["fibre_cafe.framing"]
    stream = environ["wsgi.input"]
    if chunked:
        try:
            body = stream.read(MAX_BODY_BYTES + 1)
        except OSError as exc:
            raise MalformedRequest("Malformed chunked request body") from exc
        if len(body) > MAX_BODY_BYTES:
            raise MalformedRequest(f"The request body is larger than {MAX_BODY_BYTES} bytes", 413)
        return body
    if not length:
        return b""
    if length > MAX_BODY_BYTES:
        raise MalformedRequest(f"The request body is larger than {MAX_BODY_BYTES} bytes", 413)
    body = stream.read(length)
    if len(body) < length:
        raise MalformedRequest("The request body is shorter than its Content-Length")
    return body


class FrontServer(ThreadedWSGIServer):
    """Werkzeug's threaded WSGI server (a thread per connection) with the strict checks above, serving ``gateway``."""

    daemon_threads = True
    allow_reuse_address = True
    # 32 clients connecting at once must not overflow the listen backlog (tests/reliability/test_http_concurrency.py).
    request_queue_size = 128

    def __init__(self, host: str, port: int):
        self.gateway: Gateway | None = None
        # Bound here, so a busy port is an OSError (EADDRINUSE) for the caller; werkzeug would print and exit.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(self.request_queue_size)
            super().__init__(host, port, self._app, handler=_StrictRequestHandler, fd=listener.fileno())
        finally:
            listener.close()  # werkzeug holds its own duplicate of the socket
        self.port: int = self.server_address[1]

    def log(self, type: str, message: str, *args: Any) -> None:  # werkzeug's signature
        log.warning("front: %s", message % args if args else message)

    def _app(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.monotonic()
        method, target = environ["REQUEST_METHOD"], environ.get("RAW_URI") or environ["PATH_INFO"]
        try:
            body = _read_body(environ)
        except MalformedRequest as exc:
            reply = error_reply(exc.status, "NOT_IMPLEMENTED" if exc.status == 501 else "MALFORMED_REQUEST", [str(exc)], close=True)
        else:
            assert self.gateway is not None, "the stack sets the gateway before serving"
            reply = self.gateway.handle(method, target, environ["fibre_cafe.headers"], body, environ.get("REMOTE_ADDR", "127.0.0.1"))
        headers = [*reply.headers, ("Content-Length", str(len(reply.body)))]
        start_response(f"{reply.status} {HTTPStatus(reply.status).phrase if reply.status in _STATUSES else ''}".strip(), headers)
        log.info("%s %s -> %d (%.0f ms)", method, urlsplit(target).path[:200], reply.status, (time.monotonic() - started) * 1000)
        return [b"" if method == "HEAD" or reply.status in (204, 304) else reply.body]


_STATUSES = {status.value for status in HTTPStatus}
