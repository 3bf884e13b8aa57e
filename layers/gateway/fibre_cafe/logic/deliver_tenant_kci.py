"""Deliver one tenant KCI to the tenant's Tenant Updates API (``POST {baseUrl}/kcis``).

| tenant answer                                  | what happens                                            |
|------------------------------------------------|---------------------------------------------------------|
| 2xx                                            | DELIVERED                                               |
| 401                                            | forget the cached token, retry (a fresh token next time)|
| 408, 429, 5xx, timeout, connection error,      | retry with backoff; FAILED once the attempts are spent  |
| no token from the tenant's token endpoint      |                                                         |
| any other 4xx                                  | FAILED at once: the tenant rejected it; not retried      |

The call (time limits, token cache, transient answers) and the backoff (exponential, full jitter) are the
partner client's (dal/partner_client.py), shared with the supplier side.

Each attempt carries a new X-Request-ID and the X-Conversation-ID of the tenant's original
request. Messages come from a FIFO queue grouped by order, so while a KCI is being retried the
order's later KCIs wait, and other orders are not blocked. The outcome is recorded on the
outbox item (``deliveryStatus``), and a redelivered message for a KCI already DELIVERED or FAILED
is not sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aws_lambda_powertools import Logger

from fibre_cafe.clock import Clock, iso, utc_now
from fibre_cafe.dal.dynamodb_codec import from_item
from fibre_cafe.dal.errors import UnknownPartner
from fibre_cafe.dal.oauth2_tokens import TokenCache
from fibre_cafe.dal.partner_client import CallFailure, PartnerClient, PartnerReply, RetryPolicy
from fibre_cafe.dal.partner_directory import PartnerEndpoints
from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox, outbox_key
from fibre_cafe.ids import new_id
from fibre_cafe.models.tenant_kci import DeliveryStatus, TenantKciMessage

logger = Logger(child=True)

__all__ = ["DeliverTenantKci", "DeliveryResult", "DeliverySettings"]


class DeliveryResult(StrEnum):
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    ALREADY_DONE = "ALREADY_DONE"


@dataclass
class DeliverySettings(RetryPolicy):
    """Attempts and backoff (the partner client's RetryPolicy: exponential, full jitter)."""

    max_attempts: int = 5
    backoff_base_seconds: int = 5
    backoff_cap_seconds: int = 300


class DeliverTenantKci:
    def __init__(self, outbox: TenantKciOutbox, directory: PartnerEndpoints, client: PartnerClient | None = None,
                 settings: DeliverySettings | None = None, clock: Clock = utc_now):
        self.outbox = outbox
        self.directory = directory
        self.client = client or PartnerClient()
        self.settings = settings or DeliverySettings()
        self.clock = clock

    @property
    def tokens(self) -> TokenCache:
        return self.client.tokens

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
        reply = self._post(message, delivered_on)
        http_status, detail = reply.status, self._detail(reply)
        now = iso(self.clock())
        if reply.accepted:
            self.outbox.record_delivery(message.orderId, message.kci.sequenceNumber, DeliveryStatus.DELIVERED, now,
                                        http_status=http_status, delivered_on=delivered_on)
            return DeliveryResult.DELIVERED
        # A refused token is retried too: the client forgot it, the next attempt fetches a fresh one.
        if (reply.transient or reply.unauthorised) and self.settings.may_retry(attempt):
            self.outbox.record_delivery(message.orderId, message.kci.sequenceNumber, DeliveryStatus.PENDING, now,
                                        http_status=http_status, detail=detail)
            raise self.settings.retry_later(f"tenant KCI {message.kci.id} not delivered ({detail}); attempt {attempt}", attempt)
        self.outbox.record_delivery(message.orderId, message.kci.sequenceNumber, DeliveryStatus.FAILED, now,
                                    http_status=http_status, detail=detail)
        logger.error("Tenant KCI not delivered", extra={"tenant": message.tenant, "order_id": message.orderId,
                     "kci_id": message.kci.id, "http_status": http_status, "detail": detail, "attempts": attempt})
        return DeliveryResult.FAILED

    def _post(self, message: TenantKciMessage, delivered_on: str) -> PartnerReply:
        """The reply to one delivery attempt (the partner client's, within its deadline); a tenant with no endpoint
        configured is unreachable (retried: it may be registered meanwhile)."""
        try:
            endpoint = self.directory.endpoint(message.tenant)
        except UnknownPartner as exc:
            return PartnerReply(failure=CallFailure.UNREACHABLE, detail=str(exc))
        headers = {
            "Content-Type": "application/json",
            "X-Request-ID": new_id(),
            "X-Conversation-ID": message.conversationId or new_id(),
        }
        return self.client.post(endpoint, "/kcis", message.kci.body(delivered_on), headers)

    @staticmethod
    def _detail(reply: PartnerReply) -> str:
        if reply.unauthorised:
            return "401 from the tenant: token refreshed for the next attempt"
        return reply.detail
