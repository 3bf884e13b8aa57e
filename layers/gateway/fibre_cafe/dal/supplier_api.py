"""HTTPS client for a supplier's Supplier API: ``POST {baseUrl}/service-order-cancellations``.

The call itself (time limits, authentication, what came back) is the partner client's (partner_client.py);
this module builds the request and turns the reply into a SupplierAnswer (domain/supplier_answers.py).
"""

from __future__ import annotations

import requests

from fibre_cafe.dal.partner_client import (
    CONNECT_TIMEOUT_SECONDS,
    PARTNER_CALL_DEADLINE_SECONDS,
    READ_TIMEOUT_SECONDS,
    CallFailure,
    PartnerClient,
)
from fibre_cafe.dal.errors import UnknownPartner
from fibre_cafe.dal.supplier_directory import SupplierDirectory
from fibre_cafe.domain import supplier_answers
from fibre_cafe.domain.supplier_answers import SupplierAnswer
from fibre_cafe.models.records import SupplierRequestMessage

__all__ = ["CONNECT_TIMEOUT_SECONDS", "READ_TIMEOUT_SECONDS", "SupplierApi"]


class SupplierApi:
    """Explicit socket timeouts (connect, then each read) and an overall deadline for the whole call (partner_call.py)."""

    def __init__(self, directory: SupplierDirectory, session: requests.Session | None = None,
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
            return supplier_answers.timed_out(reply.detail)
        if reply.failure is not None or reply.status is None:
            return supplier_answers.unreachable(reply.detail)
        return supplier_answers.classify(reply.status, reply.text)
