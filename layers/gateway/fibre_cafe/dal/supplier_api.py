"""HTTPS client for a supplier's Supplier API: ``POST {baseUrl}/service-order-cancellations``."""

from __future__ import annotations

import requests

from fibre_cafe.dal.partner_call import (
    CONNECT_TIMEOUT_SECONDS,
    PARTNER_CALL_DEADLINE_SECONDS,
    READ_TIMEOUT_SECONDS,
    DeadlineExceeded,
    call_with_deadline,
)
from fibre_cafe.dal.partner_directory import UnknownPartner
from fibre_cafe.dal.supplier_directory import SupplierDirectory
from fibre_cafe.domain import supplier_answers
from fibre_cafe.domain.supplier_answers import SupplierAnswer
from fibre_cafe.models.records import SupplierRequestMessage

__all__ = ["CONNECT_TIMEOUT_SECONDS", "READ_TIMEOUT_SECONDS", "SupplierApi"]


class SupplierApi:
    """Explicit socket timeouts (connect, then each read) and an overall deadline for the whole call (partner_call.py)."""

    def __init__(self, directory: SupplierDirectory, session: requests.Session | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT_SECONDS, read_timeout: float = READ_TIMEOUT_SECONDS,
                 deadline: float = PARTNER_CALL_DEADLINE_SECONDS):
        self.directory = directory
        self.session = session or requests.Session()
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline

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
            **endpoint.static_auth_headers(),
        }
        body = {"id": message.cancellationId, "orderId": message.orderId, "reasonCode": message.reasonCode.value}
        if message.supplierOrderReference:
            body["supplierOrderReference"] = message.supplierOrderReference
        def call() -> requests.Response:
            return self.session.post(
                f"{endpoint.base_url}/service-order-cancellations",
                json=body,
                headers=headers,
                auth=endpoint.basic_auth(),
                timeout=self.timeout,
                allow_redirects=False,
            )

        try:
            answer = call_with_deadline(call, self.deadline)
        except DeadlineExceeded as exc:
            return supplier_answers.timed_out(str(exc))
        except requests.Timeout as exc:
            return supplier_answers.timed_out(str(exc))
        except requests.RequestException as exc:
            return supplier_answers.unreachable(str(exc))
        return supplier_answers.classify(answer.status_code, answer.text or "")
