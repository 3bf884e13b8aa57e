"""The context a Lambda handler gets, as Powertools' ``LambdaContext`` (the type the handlers are annotated with).

``lambda_context("TenantApiFunction")`` has 30 s left forever; ``lambda_context(..., seconds=2.5)`` starts with
2.5 s left and runs down in real time (a function timeout or a time budget under test).
"""

from __future__ import annotations

import time
import uuid

from aws_lambda_powertools.utilities.typing import LambdaContext

from testing.aws import ACCOUNT, REGION

__all__ = ["LambdaContext", "lambda_context"]


class _Context(LambdaContext):
    _deadline: float | None = None
    _remaining_ms = 30_000

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override] # Powertools' is a static placeholder
        if self._deadline is None:
            return self._remaining_ms
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_context(function_name: str = "test", *, seconds: float | None = None, remaining_ms: int = 30_000,
                   memory_mb: int = 512, request_id: str | None = None, region: str = REGION) -> LambdaContext:
    """A context for ``function_name``: ``seconds`` left and running down, or a constant ``remaining_ms``."""
    context = _Context()
    context._function_name = function_name
    context._function_version = "$LATEST"
    context._invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}"
    context._memory_limit_in_mb = memory_mb
    context._aws_request_id = request_id or f"req-{uuid.uuid4()}"
    context._log_group_name = f"/aws/lambda/{function_name}"
    context._log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
    context._identity = None  # type: ignore[assignment] # no Cognito identity on these invocations
    context._client_context = None  # type: ignore[assignment] # nor a mobile client context
    context._remaining_ms = remaining_ms
    if seconds is not None:
        context._deadline = time.monotonic() + seconds
    return context
