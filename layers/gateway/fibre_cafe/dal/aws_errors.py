"""Which AWS failures are transient (throttling, timeouts, outages): the caller may retry later."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

TRANSIENT_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "ThrottlingException",
        "ThrottlingError",
        "Throttling",
        "RequestLimitExceeded",
        "RequestThrottled",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflict",
        "TransactionConflictException",
        "TransactionInProgressException",
        "KMSThrottlingException",
    }
)

_TRANSIENT_BOTOCORE = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_reason_codes(exc: ClientError) -> list[str]:
    """The per-item codes of a TransactionCanceledException ('None' where the item was fine)."""
    return [reason.get("Code") or "None" for reason in exc.response.get("CancellationReasons", [])]


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        if error_code(exc) in TRANSIENT_ERROR_CODES:
            return True
        if error_code(exc) == "TransactionCanceledException":
            return any(code in TRANSIENT_ERROR_CODES for code in cancellation_reason_codes(exc))
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) >= 500
    if isinstance(exc, _TRANSIENT_BOTOCORE):
        return True
    return False

