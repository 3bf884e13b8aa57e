"""Build an API Gateway REST resolver whose every failure answers in the contract's error body.

Status codes (domain.md section 1):

- 400 MALFORMED_REQUEST: not JSON, not an object, wrong content type, missing or ill-typed field,
  value outside pattern/enum/range, missing header. Every problem is listed in ``messages``.
- 401 / 403 NOT_AUTHORISED: no verified identity / an identity that may not use this API.
- 422 NOT_FOUND / INVALID_REQUEST: business rules (domain/errors.py).
- 503 GATEWAY_FAULT with Retry-After: a dependency is throttled or unreachable, or the order kept changing.
- 500 GATEWAY_FAULT: anything unexpected (never caused by client input).

The errors of the layers below say what went wrong (domain/errors.py, dal/errors.py, the caller's identity in
api/identity.py); ``ERROR_ANSWERS`` here is the one place that turns them into status codes, Retry-After and
the contract's error body.

Each error's ``uuid`` is logged with the error, so support can find the request from it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from botocore.exceptions import BotoCoreError, ClientError

from fibre_cafe.api import strict_json
from fibre_cafe.api.identity import Forbidden, NotAuthenticated, Principals, PrincipalType, require
from fibre_cafe.dal.aws_errors import is_transient
from fibre_cafe.dal.errors import Throttled
from fibre_cafe.domain.errors import ConcurrentUpdate, DomainError, InvalidRequest, NotFound
from fibre_cafe.models.errors import ErrorBody, ErrorCode
from fibre_cafe.observability import count

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

logger = Logger(child=True)

JSON_CONTENT_TYPE = "application/json"
# Headers the contract names, spelled as the contract spells them (for messages).
CANONICAL_HEADERS = {"x-request-id": "X-Request-ID", "x-conversation-id": "X-Conversation-ID"}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# X-Request-ID and X-Conversation-ID: visible ASCII only, so they are safe to log and to echo.
TRACE_HEADER_PATTERN = r"^[\x21-\x7e]{1,255}$"
TRACE_HEADER_RULE = "1 to 255 visible ASCII characters"
TRACE_HEADER_RULES = {"X-Request-ID": TRACE_HEADER_RULE, "X-Conversation-ID": TRACE_HEADER_RULE}
# What every 503 tells the client to wait, in seconds.
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class ErrorAnswer:
    """How an error is answered: status, the contract's code, and whether to retry (503: Retry-After, and each
    message ends "- please retry"). ``message``: what the client is told when the error's own words are internal."""

    status: int
    code: ErrorCode
    message: str | None = None

    @property
    def retry(self) -> bool:
        return self.status == 503


ERROR_ANSWERS: dict[type[Exception], ErrorAnswer] = {
    NotAuthenticated: ErrorAnswer(401, ErrorCode.NOT_AUTHORISED),
    Forbidden: ErrorAnswer(403, ErrorCode.NOT_AUTHORISED),
    NotFound: ErrorAnswer(422, ErrorCode.NOT_FOUND),
    InvalidRequest: ErrorAnswer(422, ErrorCode.INVALID_REQUEST),
    ConcurrentUpdate: ErrorAnswer(503, ErrorCode.GATEWAY_FAULT),
    Throttled: ErrorAnswer(503, ErrorCode.GATEWAY_FAULT, "The gateway is busy"),
}


def error_response(status: int, code: ErrorCode, messages: list[str], headers: Mapping[str, str] | None = None) -> Response[str]:
    body = ErrorBody.new(code, messages)
    count("GatewayFaults" if status >= 500 else "RequestsRefused", code=code.value)
    log = logger.error if status >= 500 else logger.info
    log(
        "Request answered with an error",
        extra={"status": status, "error_uuid": body.uuid, "error_code": code.value, "error_messages": messages},
    )
    return Response(
        status_code=status,
        content_type=JSON_CONTENT_TYPE,
        body=body.model_dump_json(),
        headers=dict(headers or {}),
    )


def answer_error(exc: Exception) -> Response[str]:
    """The answer ``ERROR_ANSWERS`` gives ``exc`` (the first entry its class is, or derives from)."""
    answer = next(answer for cls, answer in ERROR_ANSWERS.items() if isinstance(exc, cls))
    if answer.message is not None:
        logger.warning("Request refused", extra={"reason": str(exc), "error_class": type(exc).__name__})
        messages = [answer.message]
    else:
        messages = exc.messages if isinstance(exc, DomainError) else [str(exc)]
    if answer.retry:
        return error_response(answer.status, answer.code, [f"{message} - please retry" for message in messages],
                              {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return error_response(answer.status, answer.code, messages)


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def describe_validation_error(error: Mapping[str, Any], accepted: Mapping[str, str], body_fields: tuple[str, ...] = ()) -> str:
    """One human message per validation problem, naming the field and what is accepted."""
    loc = tuple(error.get("loc") or ("body",))
    kind = error.get("type", "")
    where, rest = loc[0], loc[1:]
    if kind == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        return f"Request body is not valid JSON: {detail}".rstrip(": ")
    if where == "header":
        name = CANONICAL_HEADERS.get(str(rest[0]).lower(), str(rest[0])) if rest else "header"
        if kind == "missing":
            return f"Missing required header {name}"
        return f"Invalid value for header {name} - {accepted.get(name, error.get('msg', 'invalid'))}"
    if where in ("path", "query"):
        name = _field_path(rest)
        return f"Invalid value for {where} parameter {name} - {accepted.get(name, error.get('msg', 'invalid'))}"
    field = _field_path(rest)
    if not field:
        if kind == "missing":
            return "Request body is required and must be a JSON object"
        if kind in ("model_attributes_type", "model_type", "dict_type"):
            return "Request body must be a JSON object"
        return f"Invalid request body - {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}"
    if kind == "missing":
        return f"Missing required field {field}"
    if kind == "extra_forbidden":
        return f"Unknown field {field} - accepted fields are {', '.join(body_fields)}" if body_fields else f"Unknown field {field}"
    if field in accepted:
        return f"Invalid value for field {field} - accepted values are {accepted[field]}"
    return f"Invalid value for field {field} - {error.get('msg', 'invalid')}"


def validation_messages(errors: Sequence[Mapping[str, Any]], accepted: Mapping[str, str], body_fields: tuple[str, ...] = ()) -> list[str]:
    messages: list[str] = []
    for error in errors:
        message = describe_validation_error(error, accepted, body_fields)
        if message not in messages:
            messages.append(message)
    return messages


def build_resolver(accepted_values: Mapping[str, str], body_fields: tuple[str, ...] = ()) -> APIGatewayRestResolver:
    """A REST resolver with validation on, strict JSON, and contract error bodies for every failure.

    ``accepted_values`` says, per field or header, what is accepted (used in error messages);
    ``body_fields`` are the top-level body fields, named when an unknown field is refused.
    """
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=strict_json.loads)

    # Powertools' exception_handler() has no return annotation (a decorator would leave these functions untyped for
    # mypy): each handler is registered by calling it.
    def _invalid(exc: RequestValidationError) -> Response[str]:
        return error_response(400, ErrorCode.MALFORMED_REQUEST, validation_messages(exc.errors(), accepted_values, body_fields))

    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(list(ERROR_ANSWERS))(answer_error)

    def _aws_failed(exc: Exception) -> Response[str]:
        if is_transient(exc):
            logger.warning("AWS dependency throttled or unavailable", exc_info=exc)
            return error_response(503, ErrorCode.GATEWAY_FAULT, ["The gateway is temporarily unavailable - please retry"],
                                  {"Retry-After": str(RETRY_AFTER_SECONDS)})
        logger.exception("AWS call failed", exc_info=exc)
        return error_response(500, ErrorCode.GATEWAY_FAULT, ["The gateway could not process the request"])

    app.exception_handler(BotoCoreError)(_aws_failed)
    app.exception_handler(ClientError)(_aws_failed)

    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("Unexpected error", exc_info=exc)
        return error_response(500, ErrorCode.GATEWAY_FAULT, ["The gateway could not process the request"])

    app.exception_handler(Exception)(_unexpected)

    @app.not_found
    def _no_route(_exc: Exception) -> Response[str]:
        # A path the API has, with a method it does not have there, is 405 (the contract's code: NOT_IMPLEMENTED).
        method = app.current_event.http_method.upper()
        path = app.current_event.path
        allowed = sorted({route.method for route in app._static_routes + app._dynamic_routes if route.rule.match(path)})
        if allowed:
            return error_response(405, ErrorCode.NOT_IMPLEMENTED,
                                  [f"Method {method[:20]} is not allowed on this resource - accepted methods are {', '.join(allowed)}"],
                                  {"Allow": ", ".join(allowed)})
        return error_response(404, ErrorCode.NOT_FOUND, ["No such resource"])

    return app


def _unsupported_content_type(event: Mapping[str, Any]) -> Response[str] | None:
    """Bodies must be JSON: refuse other content types before validation guesses at them."""
    if str(event.get("httpMethod", "")).upper() not in BODY_METHODS:
        return None
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = str(headers.get("content-type") or "").strip()
    if not content_type:
        return None  # treated as JSON, as API Gateway does
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == JSON_CONTENT_TYPE or (media_type.startswith("application/") and media_type.endswith("+json")):
        return None
    return error_response(
        400, ErrorCode.MALFORMED_REQUEST, [f"Unsupported content type {media_type} - send application/json"]
    )


def _with_json_content_type(event: dict[str, Any]) -> dict[str, Any]:
    """Hand an accepted JSON body on as ``application/json``: Powertools parses a body as JSON only when the
    Content-Type starts with exactly that, but media types are case-insensitive (``Application/JSON``) and
    ``+json`` types (``application/vnd.api+json``) are JSON too; Powertools refuses those with a 500."""
    headers = event.get("headers") or {}
    names = [name for name in headers if str(name).lower() == "content-type"]
    if str(event.get("httpMethod", "")).upper() not in BODY_METHODS or not names:
        return event
    if str(headers[names[0]]).strip().startswith(JSON_CONTENT_TYPE):
        return event
    single = {name: value for name, value in headers.items() if name not in names}
    multi = {name: value for name, value in (event.get("multiValueHeaders") or {}).items() if str(name).lower() != "content-type"}
    return {
        **event,
        "headers": {**single, "Content-Type": JSON_CONTENT_TYPE},
        "multiValueHeaders": {**multi, "Content-Type": [JSON_CONTENT_TYPE]},
    }


def _body_text(event: Mapping[str, Any]) -> str | None:
    """The body as Powertools will decode it (base64 if flagged, then UTF-8); None if it cannot be decoded."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body
    try:
        return base64.b64decode(body.encode()).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError
        return None


def _unreadable_body(event: Mapping[str, Any]) -> Response[str] | None:
    """Refuse an undecodable body here, before Powertools reads it: then every ValueError raised later is the
    gateway's own fault (500), never blamed on the tenant as a malformed request."""
    if str(event.get("httpMethod", "")).upper() in BODY_METHODS and _body_text(event) is None:
        return error_response(400, ErrorCode.MALFORMED_REQUEST, ["Request body could not be read - send a JSON object as application/json"])
    return None


def _json_array_body(event: Mapping[str, Any]) -> Response[str] | None:
    """Powertools validates the first element of a JSON array body as if it were the whole body (it unwraps
    lists for repeated form fields), so ``[{...}]`` would pass. A body must be one JSON object."""
    if str(event.get("httpMethod", "")).upper() not in BODY_METHODS:
        return None
    text = _body_text(event)
    if text is not None and text.lstrip(" \t\r\n").startswith("["):
        return error_response(400, ErrorCode.MALFORMED_REQUEST, ["Request body must be a JSON object"])
    return None


def _too_large(event: Mapping[str, Any], max_body_bytes: int) -> Response[str] | None:
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8", "surrogatepass"))
    if size > max_body_bytes:
        return error_response(413, ErrorCode.MALFORMED_REQUEST, [f"Request body too large - at most {max_body_bytes} bytes"])
    return None


def _non_canonical_ids(event: Mapping[str, Any], id_parameters: Mapping[str, str]) -> Response[str] | None:
    """Path ids are canonical decimal digits (``1``; not ``01``, ``+1``, ``1.0``, `` 1``): one id, one spelling.
    pydantic's integer parsing takes all of those for 1, so they are refused before it runs; the range
    check stays the route's (``Path(ge=..., le=...)``)."""
    parameters = event.get("pathParameters") or {}
    messages = [f"Invalid value for path parameter {name} - {accepted}" for name, accepted in id_parameters.items()
                if isinstance(parameters.get(name), str)
                and not (parameters[name].isascii() and parameters[name].isdigit() and parameters[name][:1] != "0")]
    return error_response(400, ErrorCode.MALFORMED_REQUEST, messages) if messages else None


def resolve(app: APIGatewayRestResolver, event: dict[str, Any], context: Any, principal: PrincipalType, max_body_bytes: int = 65536,
            id_parameters: Mapping[str, str] | None = None, principals: Principals | None = None) -> dict[str, Any]:
    """``app.resolve`` after the checks that must come before Powertools reads the body.

    The caller must be a verified ``principal`` known to ``principals`` (401/403 otherwise); a body must be JSON and at
    most ``max_body_bytes`` (413 otherwise; API Gateway's own limit is 10 MB); the path parameters named in
    ``id_parameters`` (name -> what is accepted) must be canonical decimal digits (400 otherwise). The verified
    caller is in ``app.context["caller"]`` for the routes.
    """
    try:
        caller = require(event, principal, principals)
    except (NotAuthenticated, Forbidden) as exc:
        return _as_proxy(answer_error(exc))
    early = (_non_canonical_ids(event, id_parameters or {}) or _too_large(event, max_body_bytes) or _unsupported_content_type(event)
             or _unreadable_body(event) or _json_array_body(event))
    if early is not None:
        return _as_proxy(early)
    app.context["caller"] = caller  # what append_context(caller=...) does; it has no annotations
    try:
        return app.resolve(_with_json_content_type(event), context)
    finally:
        app.context.clear()  # clear_context(), which has no annotations


def _as_proxy(response: Response[str]) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": JSON_CONTENT_TYPE, **(response.headers or {})},
        "multiValueHeaders": {},
        "body": response.body,
        "isBase64Encoded": False,
    }


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=HTTPStatus(status).value,
        content_type=JSON_CONTENT_TYPE,
        body=json.dumps(body, separators=(",", ":")),
        headers=dict(headers or {}),
    )


ERROR_DESCRIPTIONS = {
    400: "Malformed request: every problem is listed in messages (MALFORMED_REQUEST)",
    413: "Request body too large (MALFORMED_REQUEST)",
    401: "No valid access token (NOT_AUTHORISED)",
    403: "The token may not use this API (NOT_AUTHORISED)",
    404: "No such resource (NOT_FOUND)",
    422: "Failed validation: unknown order (NOT_FOUND) or a broken rule (INVALID_REQUEST)",
    500: "Unexpected gateway fault (GATEWAY_FAULT)",
    503: "A dependency is throttled or unavailable: retry after Retry-After seconds (GATEWAY_FAULT)",
}


def documented_responses(success: dict[int, OpenAPIResponse],
                         errors: tuple[int, ...] = (400, 401, 403, 413, 422, 500, 503)) -> dict[int, OpenAPIResponse]:
    """OpenAPI ``responses`` for a route: its success answers plus the contract's error bodies."""
    responses = dict(success)
    for status in errors:
        entry: OpenAPIResponse = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {JSON_CONTENT_TYPE: {"model": ErrorBody}},
        }
        if status == 503:
            entry["headers"] = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
        responses[status] = entry
    return responses

