"""Scripted HTTP partners on 127.0.0.1, on one maintained server (werkzeug's threaded WSGI server, there via moto).

``StubServer(route, label)`` owns the socket and its thread; a stub gives it a ``route(StubRequest) -> StubReply``
function, so stubs hold no socket code. Built on it:

- ``ScriptedSupplier``: a Supplier API that answers from a script of (status, body text, delay) (tests/lifecycle);
- ``ScriptedTenant``: a tenant's Tenant Updates API with its OAuth2 client-credentials token endpoint (tests/tenant_updates);
- the local stack's partners (local_stack/supplier_stub.py, tenant_stub.py) and tests/onboarding's.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

__all__ = [
    "MAX_BODY_BYTES", "ScriptedSupplier", "ScriptedTenant", "StubReply", "StubRequest", "StubServer", "basic_credentials", "error_body",
]

log = logging.getLogger("local_stack")

MAX_BODY_BYTES = 1024 * 1024
REDACTED = "<redacted>"


@dataclass
class StubRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # as sent (first value of each name), lookups via header()
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), default)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}

    def recorded_headers(self) -> dict[str, str]:
        """The headers, with credentials replaced (nothing here keeps or logs a token or a secret)."""
        return {key: (value.split(" ", 1)[0] + " " + REDACTED if key.lower() == "authorization" else value)
                for key, value in self.headers.items()}


@dataclass
class StubReply:
    status: int
    body: Any = None  # JSON-serialisable (or str/bytes, sent as they are), or None for no body
    headers: dict[str, str] = field(default_factory=dict)


def error_body(code: str, *messages: str) -> dict[str, Any]:
    """The Fibre Cafe error body (what the real partners' APIs answer)."""
    return {"uuid": str(uuid.uuid4()), "code": code, "messages": list(messages)}


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) of an HTTP Basic Authorization header, else None (not Basic, or not valid base64/UTF-8)."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None
    return user, password


class _QuietHandler(WSGIRequestHandler):
    def make_environ(self) -> Any:
        environ = super().make_environ()
        environ["stub.raw_headers"] = list(self.headers.items())  # the names as sent (WSGI's environ loses their case)
        return environ

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class StubServer:
    """A threaded HTTP server on ``host:port`` (0: a free port) answering every request with ``route(request)``.

    A route that raises answers 500 with an error body (a stub's bug never kills the stub); a route that returns
    None means the client gave up long ago (a timeout scenario): the connection is closed with an empty 504.
    """

    def __init__(self, route: Callable[[StubRequest], StubReply | None], label: str = "stub", host: str = "127.0.0.1", port: int = 0, *,
                 max_body_bytes: int = MAX_BODY_BYTES):
        self.route = route
        self.label = label
        self.max_body_bytes = max_body_bytes
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))  # an OSError here (port in use) reaches the caller as it is
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._server = ThreadedWSGIServer(host, listener.getsockname()[1], self._wsgi, handler=_QuietHandler, fd=listener.fileno())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=self.label, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(10)
            self._thread = None
        self._server.server_close()
        self._listener.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _wsgi(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        return self._respond(request)(environ, start_response)

    def _respond(self, request: Request) -> Response:
        if (request.content_length or 0) > self.max_body_bytes:
            return _response(StubReply(413, error_body("MALFORMED_REQUEST", "Request body too large"), {"Connection": "close"}))
        headers: dict[str, str] = {}
        for key, value in request.environ.get("stub.raw_headers") or request.headers.items():
            headers.setdefault(key, value)
        stub_request = StubRequest(request.method, request.path, {key: values[-1] for key, values in request.args.lists()}, headers,
                                   request.get_data(cache=False))
        try:
            reply = self.route(stub_request)
        except Exception:  # a stub's bug is a 500, never a dead stub
            log.exception("%s failed on %s %s", self.label, request.method, request.path)
            reply = StubReply(500, error_body("GATEWAY_FAULT", f"{self.label} failed"))
        if reply is None:  # the route wrote nothing: the client gave up (a timeout scenario)
            return Response(b"", status=504, headers={"Connection": "close"})
        return _response(reply)


def _response(reply: StubReply) -> Response:
    if reply.body is None:
        data = b""
    elif isinstance(reply.body, bytes):
        data = reply.body
    elif isinstance(reply.body, str):
        data = reply.body.encode()
    else:
        data = json.dumps(reply.body, separators=(",", ":")).encode()
    response = Response(data if reply.status not in (204, 304) else b"", status=reply.status)
    if reply.body is not None:
        response.headers["Content-Type"] = "application/json"
    else:
        response.headers.pop("Content-Type", None)
    for name, value in reply.headers.items():
        response.headers[name] = value
    return response


# ------------------------------------------------------------------------------------------------
# Scripted partners for the in-process suites.
# ------------------------------------------------------------------------------------------------


class ScriptedSupplier(StubServer):
    """A tiny Supplier API that answers from a script: a list of (status, body text, delay_seconds); 202 without one.

    ``requests`` logs {path, headers, body}; ``before_answer(logged)``, if set, runs (in the server's thread) before
    the answer is sent: a test can change the world while the supplier call is in flight.
    """

    def __init__(self) -> None:
        self.answers: list[tuple[int, str, float]] = []
        self.requests: list[dict] = []
        self.before_answer: Callable[[dict], None] | None = None
        super().__init__(self._answer, "scripted-supplier")

    def _answer(self, request: StubRequest) -> StubReply:
        logged = {"path": request.path, "headers": dict(request.headers), "body": request.json()}
        self.requests.append(logged)
        status, text, delay = self.answers.pop(0) if self.answers else (202, "", 0.0)
        if self.before_answer is not None:
            self.before_answer(logged)
        if delay:
            time.sleep(delay)
        return StubReply(status, text, {"Content-Type": "application/json"})


class ScriptedTenant(StubServer):
    """A tenant's Tenant Updates API on 127.0.0.1, with its own client-credentials token endpoint.

    - ``POST /oauth2/token``: checks the gateway's client id/secret (HTTP Basic or form), answers
      ``{"access_token", "expires_in": token_lifetime, "token_type": "Bearer"}`` (or a scripted status
      from ``token_answers``). Every call is logged in ``token_requests``.
    - ``POST /<tenant>/kcis``: answers the next scripted ``(status, delay_seconds)`` from ``answers`` if
      there is one, or ``answer_for(body)`` if set; otherwise checks the credentials (``expect`` =
      ``oauth2``: a token this endpoint issued and did not revoke; ``basic``: user/password;
      ``bearer``: the static token) and answers 204 (401 if they are wrong). Every request is logged in
      ``requests`` with the status answered.
    """

    def __init__(self, tenant: str = "TENANT1", client_id: str = "fibre-cafe-gateway", client_secret: str = "tenant1-secret",
                 token_lifetime: int = 3600):
        self.tenant = tenant
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.answers: list[tuple[int, float]] = []
        self.answer_for: Callable[[dict], tuple[int, float] | None] | None = None
        self.token_answers: list[int] = []
        self.requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.expect = "oauth2"
        self.basic = ("gateway", "basic-password")
        self.static_token = "static-tenant-token"
        self._lock = threading.Lock()
        super().__init__(self._answer, "scripted-tenant")

    @property
    def base_url(self) -> str:
        return f"{self.url}/{self.tenant}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/token"

    def auth_config(self, kind: str = "oauth2") -> dict:
        """The ``auth`` block of TENANTS_CONFIG for ``kind`` (and what this tenant then checks)."""
        self.expect = kind
        if kind == "oauth2":
            return {"type": "oauth2", "tokenUrl": self.token_url, "clientId": self.client_id, "clientSecret": self.client_secret,
                    "scope": "kcis"}
        if kind == "basic":
            return {"type": "basic", "username": self.basic[0], "password": self.basic[1]}
        if kind == "bearer":
            return {"type": "bearer", "token": self.static_token}
        return {"type": "none"}

    def _answer(self, request: StubRequest) -> StubReply:
        if request.path.endswith("/oauth2/token"):
            status, body, delay = self._token(request)
        elif request.path.endswith("/kcis"):
            status, body, delay = self._kci(request)
        else:
            status, body, delay = 404, None, 0.0
        if delay:
            time.sleep(delay)
        return StubReply(status, body)

    def _token(self, request: StubRequest) -> tuple[int, Any, float]:
        form = request.form()
        with self._lock:
            self.token_requests.append({"headers": dict(request.headers), "form": form})
            if self.token_answers:
                return self.token_answers.pop(0), {"error": "server_error"}, 0.0
            credentials = basic_credentials(request.header("Authorization")) or (form.get("client_id"), form.get("client_secret"))
            if credentials != (self.client_id, self.client_secret) or form.get("grant_type") != "client_credentials":
                return 401, {"error": "invalid_client"}, 0.0
            token = f"token-{len(self.issued) + 1}-{uuid.uuid4().hex[:8]}"
            self.issued.append(token)
            return 200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}, 0.0

    def _authorised(self, request: StubRequest) -> bool:
        authorization = request.header("Authorization", "") or ""
        if self.expect == "oauth2":
            token = authorization.removeprefix("Bearer ")
            return authorization.startswith("Bearer ") and token in self.issued and token not in self.revoked
        if self.expect == "basic":
            return basic_credentials(authorization) == self.basic
        if self.expect == "bearer":
            return authorization == f"Bearer {self.static_token}"
        return True

    def _kci(self, request: StubRequest) -> tuple[int, Any, float]:
        body = request.json()
        with self._lock:
            scripted = self.answers.pop(0) if self.answers else (self.answer_for(body) if self.answer_for else None)
            if scripted is None:
                scripted = (204 if self._authorised(request) else 401, 0.0)
            status, delay = scripted
            self.requests.append({"path": request.path, "headers": dict(request.headers), "body": body, "status": status})
        answer = None if status == 204 else {"uuid": str(uuid.uuid4()), "code": "TENANT_FAULT", "messages": ["scripted"]}
        return status, answer, delay

    @property
    def accepted(self) -> list[dict]:
        """The KCIs the tenant accepted (2xx), oldest first."""
        return [request["body"] for request in self.requests if 200 <= request["status"] < 300]

    def seen(self) -> list[tuple[int, int, int]]:
        """(orderId, sequenceNumber, status answered) of every request, in arrival order."""
        return [(r["body"]["entity"]["id"], r["body"]["sequenceNumber"], r["status"]) for r in self.requests]
