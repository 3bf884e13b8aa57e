"""Build the REST API (payload format 1.0) proxy event API Gateway sends to a Lambda.

One builder for the local HTTP front, the tests and the files in events/, so all three feed the
handlers the same shape. ``claims`` is what API Gateway's Cognito authorizer puts in
``requestContext.authorizer.claims`` after verifying the token.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

DEV_CLIENT_PRINCIPALS = {
    "TENANT1": "tenant:TENANT1",
    "TENANT2": "tenant:TENANT2",
    "DUMMY_SUPPLIER": "supplier:DUMMY_SUPPLIER",
    "FIBRECO": "supplier:FIBRECO",
}
TENANT_SCOPE = "fibre-cafe/tenant"
SUPPLIER_SCOPE = "fibre-cafe/supplier-updates"


def claims_for(client_id: str, scope: str | None = None, *, issued_at: int | None = None, lifetime: int = 3600) -> dict[str, str]:
    """Claims of a client-credentials access token as the authorizer passes them (all strings).

    ``issued_at`` (epoch seconds) fixes ``iat``, and ``exp`` = ``iat`` + ``lifetime``, for files
    that must not change between runs (events/); by default the token was issued now.
    """
    if scope is None:
        kind = DEV_CLIENT_PRINCIPALS.get(client_id, "tenant:").split(":", 1)[0]
        scope = SUPPLIER_SCOPE if kind == "supplier" else TENANT_SCOPE
    now = int(time.time()) if issued_at is None else int(issued_at)
    return {
        "sub": client_id,
        "client_id": client_id,
        "token_use": "access",
        "scope": scope,
        "iat": str(now),
        "exp": str(now + lifetime),
    }


def match_route(resource: str, path: str) -> dict[str, str] | None:
    """Path parameters if ``path`` matches the API Gateway ``resource`` (``/a/{id}``, greedy ``/a/{proxy+}``), else None."""
    pattern = re.escape(resource)
    pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", pattern)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
    found = re.match("^" + pattern + "$", path)
    return found.groupdict() if found else None


def _multi(values: Mapping[str, str | Sequence[str]] | None) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """(single-value map, multi-value map) as API Gateway builds them: the single map keeps the last value."""
    if not values:
        return None, None
    multi = {key: [value] if isinstance(value, str) else list(value) for key, value in values.items()}
    multi = {key: value for key, value in multi.items() if value}
    return {key: value[-1] for key, value in multi.items()} or None, multi or None


def proxy_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    headers: Mapping[str, str | Sequence[str]] | None = None,
    body: str | bytes | None = None,
    query: Mapping[str, str | Sequence[str]] | None = None,
    claims: Mapping[str, str] | None = None,
    stage: str = "local",
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
    request_time: float | None = None,
) -> dict[str, Any]:
    """The event for one request. A header or query value may be a list (a name sent more than once).

    ``request_id`` and ``request_time`` (epoch seconds) fix what is otherwise random or the
    current time, so a generated file (events/) is the same on every run."""
    resource = resource or path
    path_parameters = match_route(resource, path) if resource != path else None
    header_map, multi_headers = _multi(headers)
    query_map, multi_query = _multi(query)
    user_agent = next((value for key, value in (header_map or {}).items() if key.lower() == "user-agent"), None)
    is_base64 = False
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            body = base64.b64encode(body).decode("ascii")
            is_base64 = True
    request_time = time.time() if request_time is None else request_time
    authorizer = {"claims": dict(claims)} if claims is not None else None
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": header_map,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query_map,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "extendedRequestId": request_id or str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request_time)),
            "path": f"/{stage}{path}",
            "accountId": "000000000000",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(request_time * 1000),
            "requestId": request_id or str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            "domainName": "localhost",
            "apiId": "local",
            **({"authorizer": authorizer} if authorizer else {}),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }
