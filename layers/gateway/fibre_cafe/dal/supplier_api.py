"""HTTPS client for a supplier's Supplier API: ``POST {baseUrl}/service-order-cancellations``.

The call itself (time limits, authentication, what came back) is the partner client's (partner_client.py);
this module builds the request and reads the reply as a SupplierAnswer (domain/supplier_answers.py):

| supplier answer                              | cancellation                                        |
|----------------------------------------------|-----------------------------------------------------|
| 201 (body may carry supplierReference)        | COMPLETED                                           |
| 202                                          | PENDING (a KCI will confirm or reject)              |
| 422 (error body)                             | REJECTED, keeping the supplier's messages            |
| timeout, connection error, 5xx, 408, 429,    | transient: retried with backoff; once the attempts  |
| unreadable 201                               | are spent FAILED_TO_SEND (SUPPLIER_TIMED_OUT/FAULT) |
| 401 / 403                                    | FAILED_TO_SEND at once, SUPPLIER_FAULT              |
| 400 / other 4xx                              | FAILED_TO_SEND at once: GATEWAY_FAULT for 400 (we   |
|                                              | sent something invalid), SUPPLIER_FAULT otherwise   |
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import requests

from fibre_cafe.dal.errors import UnknownPartner
from fibre_cafe.dal.partner_client import (
    CONNECT_TIMEOUT_SECONDS,
    PARTNER_CALL_DEADLINE_SECONDS,
    READ_TIMEOUT_SECONDS,
    CallFailure,
    PartnerClient,
    is_transient_status,
)
from fibre_cafe.dal.partner_directory import PartnerEndpoints
from fibre_cafe.domain import supplier_answers
from fibre_cafe.domain.supplier_answers import SupplierAnswer
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.records import SupplierRequestMessage

__all__ = ["CONNECT_TIMEOUT_SECONDS", "READ_TIMEOUT_SECONDS", "SupplierApi", "classify"]


def _json_object(body: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _supplier_messages(body: str) -> list[str]:
    """The ``messages`` of the supplier's error body, if it has a readable one."""
    parsed = _json_object(body)
    raw = parsed.get("messages") if parsed else None
    if isinstance(raw, list) and raw and all(isinstance(m, str) for m in raw):
        return raw
    return []


def _answer(http_status: int, body: str) -> SupplierAnswer:
    if http_status in (201, 202):
        parsed = _json_object(body) if body.strip() else {}
        if parsed is None:
            if http_status == 201:
                return supplier_answers.invalid_answer(retryable=True)
            parsed = {}
        reference = parsed.get("supplierReference")
        status = CancellationStatus.COMPLETED if http_status == 201 else CancellationStatus.PENDING
        return supplier_answers.decided(status, reference if isinstance(reference, str) and reference else None)
    if http_status == 422:
        return supplier_answers.rejected(_supplier_messages(body))
    if http_status in (401, 403):
        return supplier_answers.credentials_refused()
    if is_transient_status(http_status):
        return supplier_answers.invalid_answer(retryable=True)
    if http_status == 400:
        return supplier_answers.request_refused(_supplier_messages(body))
    # Other 2xx/3xx/4xx: the supplier answered something the contract does not allow.
    return supplier_answers.invalid_answer(retryable=not 400 <= http_status < 500)


def classify(http_status: int, body: str) -> SupplierAnswer:
    """What the supplier's HTTP answer means for the cancellation (the table above)."""
    return replace(_answer(http_status, body), http_status=http_status)


class SupplierApi:
    """Explicit socket timeouts (connect, then each read) and an overall deadline for the whole call (partner_call.py)."""

    def __init__(self, directory: PartnerEndpoints, session: requests.Session | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT_SECONDS, read_timeout: float = READ_TIMEOUT_SECONDS,
                 deadline: float = PARTNER_CALL_DEADLINE_SECONDS, client: PartnerClient | None = None):
        self.directory = directory
        self.client = client or PartnerClient(session, connect_timeout, read_timeout, deadline)

    @property
    def timeout(self) -> tuple[float, float]:
        return self.client.timeout

    @timeout.setter
    def timeout(self, value: tuple[float, float]) -> None:
        self.client.timeout = value

    def request_cancellation(self, message: SupplierRequestMessage) -> SupplierAnswer:
        try:
            endpoint = self.directory.endpoint(message.supplier)
        except UnknownPartner:
            # Configuration, not the supplier: FAILED_TO_SEND now; an operator redrives once it is configured.
            return supplier_answers.not_configured(message.supplier)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Request-ID": message.requestId,
            "X-Conversation-ID": message.conversationId,
            "Tenant": message.tenant,
            **message.passThroughHeaders,
        }
        body = {"id": message.cancellationId, "orderId": message.orderId, "reasonCode": message.reasonCode.value}
        if message.supplierOrderReference:
            body["supplierOrderReference"] = message.supplierOrderReference
        reply = self.client.post(endpoint, "/service-order-cancellations", body, headers)
        if reply.failure is CallFailure.TIMED_OUT:
            return supplier_answers.timed_out()
        if reply.failure is not None or reply.status is None:
            return supplier_answers.unreachable()
        return classify(reply.status, reply.text)
