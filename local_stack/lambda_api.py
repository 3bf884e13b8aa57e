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

import logging
import re
import traceback
from typing import Any

from testing.stub_servers import StubReply, StubRequest, StubServer

log = logging.getLogger("local_stack")

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([A-Za-z0-9_-]+)/invocations$")
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit


class LambdaApiServer(StubServer):
    """Lambda's Invoke API over this stack's functions, on the test-support package's HTTP server."""

    def __init__(self, host: str, port: int):
        super().__init__(self._route, "local-lambda-api", host, port, max_body_bytes=MAX_PAYLOAD_BYTES)
        self.functions: dict[str, Any] = {}

    def serve(self, functions: dict[str, Any]) -> None:
        """Start answering for ``functions`` (logical id -> LocalFunction)."""
        self.functions = functions
        self.start()

    def _route(self, request: StubRequest) -> StubReply:
        if request.method != "POST":
            return StubReply(405, {"Type": "User", "message": "POST /2015-03-31/functions/<LogicalId>/invocations"})
        length = request.header("Content-Length")
        if request.header("Transfer-Encoding") or not (length or "0").isdigit():
            return StubReply(400, {"Type": "User", "message": "A Content-Length of at most 6 MB is required"}, {"Connection": "close"})
        match = INVOKE_PATH.match(request.path)
        if not match or match.group(1) not in self.functions:
            return StubReply(404, {"Type": "User", "message": f"Function not found: {request.path}", "functions": sorted(self.functions)})
        try:
            event = request.json() if request.body else {}
        except ValueError:
            return StubReply(400, {"Type": "User", "message": "Could not parse request body into json"})
        try:
            result = self.functions[match.group(1)].invoke(event)
        except Exception as exc:  # noqa: BLE001 - Lambda reports a function error in the payload
            payload = getattr(exc, "payload", None)
            if not isinstance(payload, dict):
                payload = {"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": traceback.format_exception(exc)[-5:]}
            return StubReply(200, payload, {"X-Amz-Function-Error": "Unhandled"})
        return StubReply(200, result)
