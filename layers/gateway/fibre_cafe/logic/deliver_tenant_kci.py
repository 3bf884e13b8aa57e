"""Deliver one tenant KCI to the tenant's Tenant Updates API (``POST {baseUrl}/kcis``).

| tenant answer                                  | what happens                                            |
|------------------------------------------------|---------------------------------------------------------|
| 2xx                                            | DELIVERED                                               |
| 401                                            | forget the cached token, retry (a fresh token next time)|
| 408, 429, 5xx, timeout, connection error,      | retry with backoff; FAILED once the attempts are spent   |
| no token from the tenant's token endpoint      |                                                         |
| any other 4xx                                  | FAILED at once: the tenant rejected it; not retried      |

Each attempt carries a new X-Request-ID and the X-Conversation-ID of the tenant's original
request. Messages come from a FIFO queue grouped by order, so while a KCI is being retried the
order's later KCIs wait, and other orders are not blocked. The outcome is recorded on the
outbox item (``deliveryStatus``), and a redelivered message for a KCI already DELIVERED or FAILED
is not sent again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Callable

import requests
from aws_lambda_powertools import Logger

from fibre_cafe.clock import iso, utc_now
from fibre_cafe.dal.dynamodb_codec import from_item
from fibre_cafe.dal.oauth2_tokens import TokenCache, TokenUnavailable
from fibre_cafe.dal.partner_call import (
    CONNECT_TIMEOUT_SECONDS,
    PARTNER_CALL_DEADLINE_SECONDS,
    READ_TIMEOUT_SECONDS,
    DeadlineExceeded,
    call_with_deadline,
)
from fibre_cafe.dal.partner_directory import PartnerDirectory, UnknownPartner
from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox, outbox_key
from fibre_cafe.models.tenant_kci import DeliveryStatus, TenantKciMessage

logger = Logger(child=True)

__all__ = ["CONNECT_TIMEOUT_SECONDS", "READ_TIMEOUT_SECONDS", "DeliverTenantKci", "DeliveryResult", "DeliverySettings", "RetryDelivery"]


class RetryDelivery(Exception):
    def __init__(self, reason: str, delay_seconds: int):
        super().__init__(reason)
        self.delay_seconds = delay_seconds


class DeliveryResult(str, Enum):
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    ALREADY_DONE = "ALREADY_DONE"


@dataclass
class DeliverySettings:
    max_attempts: int = 5
    backoff_base_seconds: int = 5
    backoff_cap_seconds: int = 300
    timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
    # The whole attempt, token fetch included (partner_call.py).
    deadline: float = PARTNER_CALL_DEADLINE_SECONDS


class DeliverTenantKci:
    def __init__(self, outbox: TenantKciOutbox, directory: PartnerDirectory, session: requests.Session | None = None,
                 tokens: TokenCache | None = None, settings: DeliverySettings | None = None, clock: Callable = utc_now):
        self.outbox = outbox
        self.directory = directory
        self.session = session or requests.Session()
        self.settings = settings or DeliverySettings()
        self.tokens = tokens or TokenCache(self.session, self.settings.timeout)
        self.clock = clock

    def _status(self, message: TenantKciMessage) -> tuple[str | None, int]:
        answer = self.outbox.client.get_item(TableName=self.outbox.name, Key=outbox_key(message.orderId, message.kci.sequenceNumber),
                                             ConsistentRead=True)
        item = from_item(answer["Item"]) if "Item" in answer else {}
        return item.get("deliveryStatus"), int(item.get("deliveryAttempts", 0))

    def __call__(self, message: TenantKciMessage) -> DeliveryResult:
        status, attempts = self._status(message)
        if status in (DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value):
            return DeliveryResult.ALREADY_DONE
        attempt = attempts + 1
        delivered_on = iso(self.clock())
        http_status, transient, detail = self._post(message, delivered_on)
        now = iso(self.clock())
        if http_status is not None and 200 <= http_status < 300:
            self.outbox.record_delivery(message.orderId, message.kci.sequenceNumber, DeliveryStatus.DELIVERED, now,
                                        http_status=http_status, delivered_on=delivered_on)
            return DeliveryResult.DELIVERED
        if transient and attempt < self.settings.max_attempts:
            self.outbox.record_delivery(message.orderId, message.kci.sequenceNumber, DeliveryStatus.PENDING, now,
                                        http_status=http_status, detail=detail)
            delay = min(self.settings.backoff_cap_seconds, self.settings.backoff_base_seconds * 2 ** (attempt - 1))
            raise RetryDelivery(f"tenant KCI {message.kci.id} not delivered ({detail}); attempt {attempt}", delay)
        self.outbox.record_delivery(message.orderId, message.kci.sequenceNumber, DeliveryStatus.FAILED, now,
                                    http_status=http_status, detail=detail)
        logger.error("Tenant KCI not delivered", extra={"tenant": message.tenant, "order_id": message.orderId,
                     "kci_id": message.kci.id, "http_status": http_status, "detail": detail, "attempts": attempt})
        return DeliveryResult.FAILED

    def _post(self, message: TenantKciMessage, delivered_on: str) -> tuple[int | None, bool, str]:
        """(HTTP status or None, transient?, detail) of one delivery attempt, within the overall deadline."""
        try:
            endpoint = self.directory.endpoint(message.tenant)
        except UnknownPartner as exc:
            return None, True, str(exc)
        try:
            return call_with_deadline(lambda: self._attempt(endpoint, message, delivered_on), self.settings.deadline)
        except DeadlineExceeded as exc:
            return None, True, f"timeout: {exc}"

    def _attempt(self, endpoint, message: TenantKciMessage, delivered_on: str) -> tuple[int | None, bool, str]:
        try:
            auth_headers = self.tokens.headers(endpoint)
        except TokenUnavailable as exc:
            return None, True, str(exc)
        headers = {
            "Content-Type": "application/json",
            "X-Request-ID": str(uuid.uuid4()),
            "X-Conversation-ID": message.conversationId or str(uuid.uuid4()),
            **auth_headers,
        }
        try:
            answer = self.session.post(f"{endpoint.base_url}/kcis", json=message.kci.body(delivered_on), headers=headers,
                                       auth=endpoint.basic_auth(), timeout=self.settings.timeout, allow_redirects=False)
        except requests.Timeout:
            return None, True, "timeout"
        except requests.RequestException as exc:
            return None, True, f"connection error: {type(exc).__name__}"
        code = answer.status_code
        if code == 401:
            self.tokens.forget(endpoint)
            return code, True, "401 from the tenant: token refreshed for the next attempt"
        if code in (408, 429) or code >= 500:
            return code, True, f"HTTP {code}"
        return code, False, f"HTTP {code}"
