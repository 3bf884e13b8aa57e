"""Helpers of the security tests: requests, hostile tokens, the error-body check, store snapshots, log capture.

Plain functions and classes (no fixtures): tests/security/conftest.py builds the fixtures from them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import HMACAlgorithm

from fibre_cafe.models.errors import ErrorCode
from local_stack.proxy_events import SUPPLIER_SCOPE, TENANT_SCOPE
from local_stack.seed import DemoOrder

CANCELLATIONS = "/service-order-cancellations"
KCIS = "/kcis"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CONTRACT_CODES = {code.value for code in ErrorCode}
SERVICE_LOGGER = "service-order-cancellations"  # POWERTOOLS_SERVICE_NAME (template.yaml Globals)
# An id-block reservation (fibre_cafe/dal/id_allocator.py) is not data: it may run ahead of any request.
COUNTER_PREFIX = "COUNTER#"


def order(order_id: int, note: str, *, tenant: str = "TENANT1", supplier: str = "DUMMY_SUPPLIER", order_type: str = "PROVIDE",
          status: str = "ACKNOWLEDGED") -> DemoOrder:
    """An order of a security test module, with the supplier order reference the demo orders have (FC<id>)."""
    return DemoOrder(order_id, order_type, tenant, supplier, status, f"FC{order_id}", note)


def trace(request_id: str | None = None, conversation_id: str = "conv-security-tests") -> dict[str, str]:
    return {"X-Request-ID": request_id or f"req-{uuid.uuid4()}", "X-Conversation-ID": conversation_id}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------------------------- request bodies


def cancellation_body(order_id: int, reason_code: str = "OTHER", **extra: Any) -> dict[str, Any]:
    return {"orderId": order_id, "reasonCode": reason_code, **extra}


ENTITY_FIELDS = {"PROVIDE": "provideServiceOrder", "CEASE": "ceaseServiceOrder", "MODIFY": "modifyServiceOrder",
                 "UNSOLICITED_CEASE": "unsolicitedCeaseServiceOrder"}


def kci_body(order_id: int, *, tenant: str = "TENANT1", order_type: str = "PROVIDE", sequence_number: int = 2,
             reason_code: str = "UPDATE", status: str = "IN_PROGRESS", cancellation_id: int | None = None, **extra: Any) -> dict[str, Any]:
    """A supplier KCI (Supplier Updates API 1.8) for ``order_id`` as the supplier's latest view of the order."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "sequenceNumber": sequence_number,
        "issuedOn": "2024-04-10T09:53:39.144Z",
        "reasonCode": reason_code,
        ENTITY_FIELDS[order_type]: {"id": order_id, "tenant": tenant, "status": status, "supplierOrderReference": f"FC{order_id}"},
        **extra,
    }
    if cancellation_id is not None:
        body["serviceOrderCancellationId"] = cancellation_id
    if reason_code == "CANCELLED":
        body.setdefault("problemCode", "CUSTOMER_REQUESTED")
    return body


# ---------------------------------------------------------------------------------------------- tokens


class _RawKeyHmac(HMACAlgorithm):
    """HMAC that takes any bytes as its key. PyJWT refuses a PEM public key as an HMAC secret (the classic
    RS256 -> HS256 key-confusion attack); an attacker's library would not."""

    def prepare_key(self, key: Any) -> bytes:
        return key if isinstance(key, bytes) else str(key).encode()


def _hs256_with(key: bytes, claims: Mapping[str, Any], headers: Mapping[str, Any]) -> str:
    jws = jwt.PyJWS()
    jws.unregister_algorithm("HS256")
    jws.register_algorithm("HS256", _RawKeyHmac(HMACAlgorithm.SHA256))
    return jws.encode(json.dumps(dict(claims)).encode(), key, algorithm="HS256", headers={"typ": "JWT", **headers})


def hostile_tokens(tokens, client_id: str = "TENANT1", scope: str = TENANT_SCOPE) -> dict[str, str]:
    """Tokens API Gateway's authorizer must refuse (401), each otherwise a good ``client_id`` token.

    ``tokens`` is the stack's TokenAuthority. The ones that must fail for a claim alone (expired, wrong
    audience or issuer, no kid) are signed with the stack's key by PyJWT (``tokens.sign``); the others
    are built with PyJWT and a key that is not the stack's private key."""
    good = tokens.claims_for(client_id, (scope,))
    kid = {"kid": tokens.kid}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = tokens.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    issued = int(time.time()) - 7200
    return {
        "expired": tokens.sign({**good, "iat": issued, "exp": issued + 3600}),
        "forged": jwt.encode(good, other_key, algorithm="RS256", headers=kid),
        "alg-none": jwt.encode(good, None, algorithm="none", headers=kid),
        "hs256-public-key": _hs256_with(public_pem, good, kid),
        "wrong-audience": tokens.sign({**good, "aud": "another-api"}),
        "wrong-issuer": tokens.sign({**good, "iss": "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_other"}),
        "missing-kid": jwt.encode(good, tokens._private_key, algorithm="RS256"),  # a well-signed token without kid
        "garbage": "not-a-jwt",
        "garbage-segments": "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2lnbmF0dXJl",
    }


# ---------------------------------------------------------------------------------------------- answers


class Answer:
    """One answer, from HTTP (requests) or from a handler invoked in-process (a proxy response dict)."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @classmethod
    def of(cls, answer: Any) -> Answer:
        if isinstance(answer, Answer):
            return answer
        if isinstance(answer, dict):  # a Lambda proxy response
            pairs = [(str(k), str(v)) for k, values in (answer.get("multiValueHeaders") or {}).items() for v in (values or [])]
            pairs += [(str(k), str(v)) for k, v in (answer.get("headers") or {}).items()]
            body = answer.get("body") or ""
            return cls(answer["statusCode"], pairs, body.encode() if isinstance(body, str) else body)
        return cls(answer.status_code, list(answer.headers.items()), answer.content)

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[-1] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


def assert_error(answer: Any, status: int, code: str) -> dict[str, Any]:
    """The contract's error body, exactly: ``{uuid, code, messages}``, JSON, uuid4, a contract code, messages non-empty."""
    answer = Answer.of(answer)
    assert answer.status == status, (answer.status, answer.body[:500])
    assert 400 <= answer.status < 500
    assert (answer.header("Content-Type") or "").startswith("application/json"), answer.headers
    body = answer.json()
    assert isinstance(body, dict) and set(body) == {"uuid", "code", "messages"}, body
    assert isinstance(body["uuid"], str) and UUID4.match(body["uuid"]), body
    assert body["code"] == code and body["code"] in CONTRACT_CODES, body
    assert isinstance(body["messages"], list) and body["messages"], body
    assert all(isinstance(message, str) and message for message in body["messages"]), body
    return body


def assert_unauthorised(answer: Any) -> dict[str, Any]:
    body = assert_error(answer, 401, "NOT_AUTHORISED")
    assert (Answer.of(answer).header("WWW-Authenticate") or "").startswith("Bearer"), Answer.of(answer).headers
    return body


# ---------------------------------------------------------------------------------------------- what is stored


def _scan(dynamodb, table: str) -> list[str]:
    items, start = [], None
    while True:
        page = dynamodb.scan(TableName=table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}))
        items += page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return sorted(json.dumps(item, sort_keys=True) for item in items
                          if not item.get("pk", {}).get("S", "").startswith(COUNTER_PREFIX))


def client(stack, service: str):
    """One boto3 client per stack and service, kept on the stack (making a client costs far more than a call to moto)."""
    clients = stack.__dict__.setdefault("_security_test_clients", {})
    if service not in clients:
        clients[service] = stack.client(service)
    return clients[service]


_READERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="snapshot")


def snapshot(stack) -> dict[str, Any]:
    """Every item of every table (the id counter aside) and every queue's depth, read from the stack's moto
    (in parallel: boto3 clients are thread-safe, moto's server is threaded)."""
    dynamodb, sqs = client(stack, "dynamodb"), client(stack, "sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]

    def depth(url: str) -> tuple[int, ...]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return tuple(int(attributes.get(name, 0)) for name in names)

    reads = {logical_id: _READERS.submit(_scan, dynamodb, table) for logical_id, table in stack.resources.tables.items()}
    reads.update({logical_id: _READERS.submit(depth, url) for logical_id, url in stack.resources.queue_urls.items()})
    return {logical_id: read.result() for logical_id, read in sorted(reads.items())}


def queue_depth(stack, logical_id: str) -> int:
    attributes = client(stack, "sqs").get_queue_attributes(
        QueueUrl=stack.resources.queue_urls[logical_id], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def invocations(stack) -> int:
    """How many times the stack's functions have been invoked, all together."""
    return sum(function.invocations for function in stack.functions.values())


@contextmanager
def nothing_stored(stack) -> Iterator[None]:
    """The block leaves every table and queue as it found it.

    Only a function invocation writes to the stack's tables and queues (the front and the token endpoint never
    do; the tests run without pollers or schedules), so the state read after one block is still the state
    before the next while no function has run in between: it is reused then, saving a read of everything."""
    known = stack.__dict__.get("_security_test_state")
    before = known[1] if known and known[0] == invocations(stack) else snapshot(stack)
    yield
    count = invocations(stack)
    after = snapshot(stack)
    stack.__dict__["_security_test_state"] = (count, after)
    changed = sorted(name for name in before if before[name] != after[name])
    assert not changed, f"stored or queued something: {changed}"


# ---------------------------------------------------------------------------------------------- logs


class LogCapture(logging.Handler):
    """Every log record at INFO or above, as the service would write it: Powertools JSON (with its appended
    keys) for the service's loggers, otherwise the message with every extra attribute and any traceback.

    The service's loggers and the local stack's are put at INFO while attached (Powertools gives each
    logger the level of the environment it was created in; the suite's conftest sets WARNING)."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[tuple[int, str]] = []
        self._lines_lock = threading.Lock()
        self._plain = logging.Formatter("%(name)s %(levelname)s %(message)s")
        self._saved_levels: list[tuple[logging.Logger, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self._render(record)
        except Exception as exc:  # noqa: BLE001 - a capture must never break the code under test
            text = f"<unrenderable record {record.name}: {exc!r}> {record.msg!r} {record.args!r}"
        with self._lines_lock:
            self.lines.append((record.levelno, text))

    def _render(self, record: logging.LogRecord) -> str:
        if record.name == SERVICE_LOGGER or record.name.startswith(SERVICE_LOGGER + "."):
            service = logging.getLogger(SERVICE_LOGGER)
            if service.handlers and service.handlers[0].formatter is not None:
                return service.handlers[0].formatter.format(record)
        extras = {key: value for key, value in vars(record).items() if key not in self._STANDARD}
        text = self._plain.format(record)
        return f"{text} {extras!r}" if extras else text

    def attach(self) -> LogCapture:
        names = [SERVICE_LOGGER, "local_stack"] + [name for name in list(logging.root.manager.loggerDict)
                                                  if name.startswith(SERVICE_LOGGER + ".")]
        for name in names:
            logger = logging.getLogger(name)
            self._saved_levels.append((logger, logger.level))
            logger.setLevel(logging.INFO)
        logging.getLogger().addHandler(self)
        return self

    def detach(self) -> None:
        logging.getLogger().removeHandler(self)
        for logger, level in reversed(self._saved_levels):
            logger.setLevel(level)
        self._saved_levels.clear()

    def clear(self) -> None:
        with self._lines_lock:
            self.lines.clear()

    def text(self) -> str:
        with self._lines_lock:
            return "\n".join(text for _level, text in self.lines)

    def assert_not_logged(self, *secrets: str | bytes) -> None:
        """None of ``secrets`` (tokens, client secrets, request bodies, header values) is in any INFO+ line."""
        logged = self.text()
        for secret in secrets:
            if isinstance(secret, bytes):
                secret = secret.decode("utf-8", "replace")
            if not secret:
                continue
            assert secret not in logged, f"logged: {secret[:80]!r}"
            # A JSON log line escapes what it quotes: look for the escaped form too.
            escaped = json.dumps(secret)[1:-1]
            assert escaped not in logged, f"logged (JSON-escaped): {escaped[:80]!r}"


def token_parts(token: str) -> list[str]:
    """The token and its signature: neither may be logged (a header and payload alone are not secret)."""
    parts = token.split(".")
    return [token] + ([parts[2]] if len(parts) == 3 and len(parts[2]) >= 16 else [])


__all__ = [
    "Answer", "CANCELLATIONS", "CONTRACT_CODES", "KCIS", "LogCapture", "SUPPLIER_SCOPE", "TENANT_SCOPE", "assert_error",
    "assert_unauthorised", "bearer", "cancellation_body", "hostile_tokens", "kci_body", "nothing_stored", "queue_depth",
    "snapshot", "token_parts", "trace",
]
