"""Fault injectors for real (moto-backed) boto3 clients: botocore ``before-call`` hooks that answer one operation
with an AWS error (a real ClientError, built by botocore, without reaching moto or retrying), raise, run a side
effect first, or answer with a canned success; every other operation is untouched.

- ``fail_calls(client, "GetItem", "ThrottlingException")``: every call fails until the returned function is called;
  ``fail_next(client, "SendMessage", times=2)``: the next two calls fail.
- ``Faults(dynamodb, sqs)``: per operation, ``fail``/``before``/``answer`` with an optional ``times`` limit,
  counting what it injected in ``injected``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse

__all__ = ["Faults", "error_answer", "fail_calls", "fail_next", "inject"]


def error_answer(code: str, status: int = 400, message: str = "injected by the test", **extra: Any) -> tuple[AWSResponse, dict]:
    """What botocore turns into a ClientError of ``code`` (as its Stubber does)."""
    parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}, **extra}
    return AWSResponse(None, status, {}, None), parsed


def inject(client: Any, operation: str, action: Callable[[dict], Any]) -> Callable[[], None]:
    """Run ``action(hook_kwargs)`` before every ``operation`` call of ``client``; what it returns (a response, or None
    to let the call through) answers the call. Returns the function that removes the hook."""
    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def hook(**kwargs: Any) -> Any:
        return action(kwargs)

    client.meta.events.register(event, hook)
    return lambda: client.meta.events.unregister(event, hook)


def fail_calls(client: Any, operation: str, code: str = "ThrottlingException", status: int = 400) -> Callable[[], None]:
    """Answer every ``operation`` call of ``client`` with an AWS error until the returned function is called."""
    return inject(client, operation, lambda _kwargs: error_answer(code, status))


def fail_next(client: Any, operation: str, code: str = "InternalFailure", status: int = 500, *, times: int = 1,
              raises: BaseException | None = None) -> Callable[[], None]:
    """The next ``times`` ``operation`` calls of ``client`` fail: with an AWS error, or by raising ``raises``."""
    left = [times]

    def action(_kwargs: dict) -> Any:
        if left[0] <= 0:
            return None
        left[0] -= 1
        if raises is not None:
            raise raises
        return error_answer(code, status)

    return inject(client, operation, action)


class Faults:
    """Inject failures into the handler's real (moto-backed) clients, one operation at a time.

    ``fail("BatchGetItem", "ThrottlingException")`` answers that operation with an AWS error;
    ``fail(..., raises=ReadTimeoutError(...))`` raises instead (timeouts, crashes);
    ``before("TransactWriteItems", fn)`` runs ``fn`` and then lets the real call through;
    ``answer("BatchGetItem", parsed)`` answers successfully (e.g. with UnprocessedKeys).
    ``times`` limits how often (None: every call).
    """

    SQS_OPERATIONS = frozenset({"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage"})

    def __init__(self, dynamodb: Any, sqs: Any):
        self.clients = {"dynamodb": dynamodb, "sqs": sqs}
        self.injected: dict[str, int] = {}

    def _register(self, operation: str, action: Callable[[dict], Any], times: int | None) -> None:
        remaining = [times]
        lock = threading.Lock()

        def counted(kwargs: dict) -> Any:
            with lock:
                if remaining[0] is not None:
                    if remaining[0] <= 0:
                        return None
                    remaining[0] -= 1
                self.injected[operation] = self.injected.get(operation, 0) + 1
            return action(kwargs)

        inject(self.clients["sqs" if operation in self.SQS_OPERATIONS else "dynamodb"], operation, counted)

    def fail(self, operation: str, code: str | None = None, *, status: int = 400, raises: BaseException | None = None,
             times: int | None = None, **extra: Any) -> None:
        def action(_kwargs: dict) -> Any:
            if raises is not None:
                raise raises
            return error_answer(code or "InternalServerError", status, **extra)

        self._register(operation, action, times)

    def before(self, operation: str, side_effect: Callable[[], None], *, times: int | None = 1) -> None:
        def action(_kwargs: dict) -> None:
            side_effect()

        self._register(operation, action, times)

    def answer(self, operation: str, parsed: dict | Callable[[dict], dict], *, times: int | None = None) -> None:
        """Answer the operation successfully with ``parsed`` (or ``parsed(request_params)``)."""

        def action(kwargs: dict) -> Any:
            body = parsed(kwargs["params"]) if callable(parsed) else parsed
            return AWSResponse(None, 200, {}, None), body

        self._register(operation, action, times)
