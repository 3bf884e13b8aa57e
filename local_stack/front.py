"""The local HTTP front: what API Gateway (REST API, Cognito authorizer) and Cognito's token endpoint do.

``Gateway.handle`` turns one HTTP request into an answer, with no socket code: token endpoint and
JWKS under ``/auth``; for the API, route match on template.yaml's events (404 / 405), token check
(401 with ``WWW-Authenticate: Bearer``), scope check (401, as API Gateway's Cognito authorizer), the REST proxy event built by
``proxy_events.proxy_event`` with the verified claims as strings, the real handler, and its answer
(``headers`` and ``multiValueHeaders`` merged as API Gateway merges them, base64 bodies decoded).
A handler that raises or answers garbage gives 502, as API Gateway does for a failed Lambda.

``FrontServer`` is a stdlib ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive)
that reads bodies up to API Gateway's 10 MB limit (413 beyond) and writes ``Gateway`` answers.
Errors of the front itself use the contract's error body ``{"uuid", "code", "messages"}`` and log
the uuid. Nothing here logs headers, bodies, tokens or secrets: the access log has method, path
(without query string), status and duration.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from local_stack.functions import LocalFunction
from local_stack.proxy_events import match_route, proxy_event
from local_stack.template import ApiRoute
from local_stack.tokens import JWKS_PATH, TOKEN_PATHS, InvalidAccessToken, TokenAuthority, claims_as_strings, granted_scopes

log = logging.getLogger("local_stack")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# An oversized body up to this size is read and dropped before the 413, so the client sees the
# answer instead of a reset connection; beyond it the connection is closed unread.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
JSON = "application/json"
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
        url = urlsplit(target)
        path = unquote(url.path) or "/"
        if path in TOKEN_PATHS:
            if method != "POST":
                return error_reply(405, "NOT_FOUND", [f"Method {method} is not allowed here - use POST"], [("Allow", "POST")])
            answer = self.tokens.token_endpoint(TOKEN_PATHS[path], _header(headers, "Content-Type"), body, _header(headers, "Authorization"))
            return json_reply(answer.status, answer.body, answer.headers.items())
        if path in DOCS_PATHS:
            if method not in ("GET", "HEAD"):
                return error_reply(405, "NOT_FOUND", [f"Method {method} is not allowed here - use GET"], [("Allow", "GET")])
            return docs_reply(path)
        if path == JWKS_PATH:
            if method not in ("GET", "HEAD"):
                return error_reply(405, "NOT_FOUND", [f"Method {method} is not allowed here - use GET"], [("Allow", "GET")])
            return json_reply(200, self.tokens.jwks(), [("Cache-Control", "public, max-age=300")])

        found = self._route(method, path)
        if isinstance(found, Reply):
            return found
        route = found

        claims = None
        if not route.public:
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
        except Exception:  # noqa: BLE001 - a failed Lambda is API Gateway's 502, never a dead front
            log.exception("%s failed on %s %s", route.function, method, route.path)
            reply = error_reply(502, "GATEWAY_FAULT", ["The gateway could not process the request"])
        reply.headers.append(("x-amzn-RequestId", request_id))
        return reply

    def _route(self, method: str, path: str) -> ApiRoute | Reply:
        matching = [route for route in self.routes if match_route(route.path, path) is not None]
        if not matching:
            return error_reply(404, "NOT_FOUND", ["No such resource"])
        allowed = [route for route in matching if route.method in (method, "ANY")]
        if not allowed:
            methods = ", ".join(sorted({route.method for route in matching}))
            return error_reply(405, "NOT_FOUND", [f"Method {method} is not allowed on this resource - accepted methods are {methods}"],
                               [("Allow", methods)])
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


class _BodyError(Exception):
    def __init__(self, reply: Reply):
        super().__init__(reply.status)
        self.reply = reply


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FibreCafeLocal/1.0"
    timeout = 30  # an idle keep-alive connection is closed after this
    # Headers and body leave in one write (handle_one_request flushes), and without Nagle's delay.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: "FrontServer"

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except _BodyError as exc:
            reply = exc.reply
        else:
            reply = self.server.gateway.handle(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
        self._write(reply)
        log.info("%s %s -> %d (%.0f ms)", self.command, urlsplit(self.path).path[:200], reply.status, (time.monotonic() - started) * 1000)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _declared_length(self) -> int | None:
        lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if not lengths:
            return None
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise _BodyError(error_reply(400, "MALFORMED_REQUEST", ["Invalid Content-Length header"], close=True))
        return int(next(iter(lengths)))

    def _too_large(self, close: bool) -> _BodyError:
        return _BodyError(error_reply(413, "MALFORMED_REQUEST", [f"The request body is larger than {MAX_BODY_BYTES} bytes"], close=close))

    def _read_body(self) -> bytes:
        encoding = self.headers.get("Transfer-Encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise _BodyError(error_reply(501, "NOT_IMPLEMENTED", ["Only chunked Transfer-Encoding is supported"], close=True))
            if self.headers.get("Content-Length") is not None:
                raise _BodyError(error_reply(400, "MALFORMED_REQUEST", ["Send Content-Length or Transfer-Encoding, not both"], close=True))
            return self._read_chunked()
        length = self._declared_length()
        if not length:
            return b""
        if length > MAX_BODY_BYTES:
            if length <= DRAIN_LIMIT_BYTES:
                self._drain(length)
                raise self._too_large(close=False)
            raise self._too_large(close=True)
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BodyError(error_reply(400, "MALFORMED_REQUEST", ["The request body is shorter than its Content-Length"], close=True))
        return body

    def _drain(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)

    def _read_chunked(self) -> bytes:
        incomplete = _BodyError(error_reply(400, "MALFORMED_REQUEST", ["Malformed chunked request body"], close=True))
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise incomplete from None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers are ignored
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise self._too_large(close=True)
            data = self.rfile.read(size)
            if len(data) < size or self.rfile.readline(8) not in (b"\r\n", b"\n"):
                raise incomplete
            parts.append(data)

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it (curl asks with Expect: 100-continue).
        try:
            length = self._declared_length()
        except _BodyError as exc:
            self._write(exc.reply)
            return False
        if length is not None and length > MAX_BODY_BYTES:
            self._write(self._too_large(close=True).reply)
            return False
        return super().handle_expect_100()

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and reply.status not in (204, 304):
            self.wfile.write(reply.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, unknown method, huge headers) in the contract's error body."""
        error_code = "NOT_IMPLEMENTED" if code == 501 else "GATEWAY_FAULT" if code >= 500 else "MALFORMED_REQUEST"
        try:
            self._write(error_reply(code, error_code, [message or "The request could not be read"], close=True))
        except OSError:
            pass
        self.close_connection = True

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # _serve logs each request without its query string (which may carry secrets)


class FrontServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: 32 clients connecting at once overflowed it and some got
    # "connection reset by peer" (tests/reliability/test_http_concurrency.py).
    request_queue_size = 128

    def __init__(self, host: str, port: int):
        super().__init__((host, port), _RequestHandler)
        self.gateway: Gateway | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]
