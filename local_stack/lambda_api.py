"""The running stack's function runner over HTTP: Lambda's Invoke API on 127.0.0.1 (LAMBDA_API_PORT, default 3003).

    aws lambda invoke --endpoint-url http://127.0.0.1:3003 --function-name TenantKciRelayFunction \\
        --payload fileb://events/tenant_kci_relay/outbox-insert.json out.json
    python -m tools.replay --target local events/tenant_kci_relay/outbox-insert.json   # uses it for stream/scheduled events

``POST /2015-03-31/functions/<LogicalId>/invocations`` with the event as the body runs the stack's function (in
this process, or in its container with ``LAMBDA=containers``) exactly as its poller or schedule would, and answers
the function's result; a function that raises answers 200 with ``X-Amz-Function-Error: Unhandled`` and Lambda's
error document, as the Invoke API does. Only RequestResponse invocations. Loopback only: no token, like moto.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("local_stack")

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([A-Za-z0-9_-]+)/invocations$")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FibreCafeLocalLambda/1.0"

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        match = INVOKE_PATH.match(self.path.split("?", 1)[0])
        functions = self.server.functions  # type: ignore[attr-defined]
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or not (length or "0").isdigit() or int(length or "0") > MAX_PAYLOAD_BYTES:
            self.close_connection = True
            return self._answer(400, {"Type": "User", "message": "A Content-Length of at most 6 MB is required"})
        raw = self.rfile.read(int(length or "0"))
        if not match or match.group(1) not in functions:
            return self._answer(404, {"Type": "User", "message": f"Function not found: {self.path}",
                                      "functions": sorted(functions)})
        try:
            event = json.loads(raw) if raw else {}
        except ValueError:
            return self._answer(400, {"Type": "User", "message": "Could not parse request body into json"})
        try:
            result = functions[match.group(1)].invoke(event)
        except Exception as exc:  # noqa: BLE001 - Lambda reports a function error in the payload
            payload = getattr(exc, "payload", None)
            if not isinstance(payload, dict):
                payload = {"errorType": type(exc).__name__, "errorMessage": str(exc),
                           "stackTrace": traceback.format_exception(exc)[-5:]}
            return self._answer(200, payload, {"X-Amz-Function-Error": "Unhandled"})
        return self._answer(200, result)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(405, {"Type": "User", "message": "POST /2015-03-31/functions/<LogicalId>/invocations"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


class LambdaApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int):
        super().__init__((host, port), _Handler)
        self.functions: dict[str, Any] = {}
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def start(self, functions: dict[str, Any]) -> None:
        self.functions = functions
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="local-lambda-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(10)
            self._thread = None
        self.server_close()
