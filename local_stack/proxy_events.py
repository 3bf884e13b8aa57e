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
from typing import Any, Mapping

DEV_CLIENT_PRINCIPALS = {
    "TENANT1": "tenant:TENANT1",
    "TENANT2": "tenant:TENANT2",
    "DUMMY_SUPPLIER": "supplier:DUMMY_SUPPLIER",
    "FIBRECO": "supplier:FIBRECO",
}
TENANT_SCOPE = "fibre-cafe/tenant"
SUPPLIER_SCOPE = "fibre-cafe/supplier-updates"


def claims_for(client_id: str, scope: str | None = None) -> dict[str, str]:
    """Claims of a client-credentials access token as the authorizer passes them (all strings)."""
    if scope is None:
        kind = DEV_CLIENT_PRINCIPALS.get(client_id, "tenant:").split(":", 1)[0]
        scope = SUPPLIER_SCOPE if kind == "supplier" else TENANT_SCOPE
    now = int(time.time())
    return {
        "sub": client_id,
        "client_id": client_id,
        "token_use": "access",
        "scope": scope,
        "iat": str(now),
        "exp": str(now + 3600),
    }


def match_route(resource: str, path: str) -> dict[str, str] | None:
    """Path parameters if ``path`` matches the API Gateway ``resource`` (``/a/{id}``), else None."""
    pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "$"
    found = re.match(pattern, path)
    return found.groupdict() if found else None


def proxy_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    query: Mapping[str, str] | None = None,
    claims: Mapping[str, str] | None = None,
    stage: str = "local",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    resource = resource or path
    path_parameters = match_route(resource, path) if resource != path else None
    header_map = dict(headers or {})
    is_base64 = False
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            body = base64.b64encode(body).decode("ascii")
            is_base64 = True
    request_time = time.time()
    authorizer = {"claims": dict(claims)} if claims is not None else None
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": header_map or None,
        "multiValueHeaders": {k: [v] for k, v in header_map.items()} or None,
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request_time)),
            "path": f"/{stage}{path}",
            "accountId": "000000000000",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(request_time * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": header_map.get("User-Agent")},
            "domainName": "localhost",
            "apiId": "local",
            **({"authorizer": authorizer} if authorizer else {}),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }
