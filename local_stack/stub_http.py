"""A small threaded JSON HTTP server on 127.0.0.1 for the local partners (supplier_stub.py, tenant_stub.py).

``StubServer`` owns the socket and its thread; a stub gives it a ``route(request) -> StubReply``
function. Requests and replies are plain values, so the stubs hold no socket code.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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

    def recorded_headers(self) -> dict[str, str]:
        """The headers, with credentials replaced (nothing here keeps or logs a token or a secret)."""
        return {key: (value.split(" ", 1)[0] + " " + REDACTED if key.lower() == "authorization" else value)
                for key, value in self.headers.items()}


@dataclass
class StubReply:
    status: int
    body: Any = None  # JSON-serialisable, or None for no body
    headers: dict[str, str] = field(default_factory=dict)


def error_body(code: str, *messages: str) -> dict[str, Any]:
    """The Fibre Cafe error body (what the real partners' APIs answer)."""
    import uuid

    return {"uuid": str(uuid.uuid4()), "code": code, "messages": list(messages)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FibreCafeLocalStub/1.0"
    timeout = 30
    server: StubServer

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._write(StubReply(413, error_body("MALFORMED_REQUEST", "Request body too large")))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            headers.setdefault(key, value)
        request = StubRequest(self.command, url.path, {key: values[-1] for key, values in parse_qs(url.query).items()}, headers, body)
        try:
            reply = self.server.route(request)
        except Exception:  # noqa: BLE001 - a stub's bug is a 500, never a dead stub
            log.exception("%s failed on %s %s", self.server.label, self.command, url.path)
            reply = StubReply(500, error_body("GATEWAY_FAULT", f"{self.server.label} failed"))
        if reply is None:  # the route wrote nothing: the client gave up (a timeout scenario)
            self.close_connection = True
            return
        self._write(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _write(self, reply: StubReply) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body, separators=(",", ":")).encode()
        try:
            self.send_response(reply.status)
            if reply.body is not None:
                self.send_header("Content-Type", "application/json")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and reply.status not in (204, 304):
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


class StubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, route: Callable[[StubRequest], StubReply | None], label: str):
        super().__init__((host, port), _Handler)
        self.route = route
        self.label = label
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, name=self.label, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(10)
            self._thread = None
        self.server_close()
