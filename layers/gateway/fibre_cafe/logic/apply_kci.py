"""Apply one supplier KCI from the KCI queue (rules in domain/kci_rules.py).

AWS round trips per KCI: one GetItem (the order snapshot) and one TransactWriteItems (history item,
snapshot, and the cancellation if the KCI decides one). A duplicate costs the same two calls and
changes nothing. Extra calls happen only on contention (the order changed between read and write:
read again) or when the cancellation update is refused (read the cancellation to learn why).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable

from aws_lambda_powertools import Logger

from fibre_cafe.clock import iso, utc_now
from fibre_cafe.dal.gateway_store import CancellationNotMovable, DuplicateKci, GatewayStore, OrderChanged, WriteConflict
from fibre_cafe.domain.errors import DependencyUnavailable
from fibre_cafe.domain import cancellation_outcomes, cancellation_state_machine
from fibre_cafe.domain.kci_rules import CancellationEffect, KciNotApplicableYet, KciOutcomeKind, KciPlan, KciRejected, plan_kci
from fibre_cafe.models.kci import KciEnvelope, SupplierKci
from fibre_cafe.observability import count

logger = Logger(child=True)


@dataclass(frozen=True)
class KciOutcome:
    kci_id: str
    order_id: int
    duplicate: bool
    effect: CancellationEffect | None


class ApplyKci:
    def __init__(self, store: GatewayStore, clock: Callable = utc_now, max_attempts: int = 6):
        self.store = store
        self.clock = clock
        self.max_attempts = max_attempts

    def __call__(self, envelope: KciEnvelope) -> KciOutcome:
        try:
            kci = envelope.parsed()
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            raise KciRejected(f"KCI does not match the Supplier Updates API schema: {exc}") from exc
        for attempt in range(self.max_attempts):
            order = self.store.orders.get(kci.order.id)
            plan = plan_kci(kci, envelope.supplier, order)
            now = iso(self.clock())
            try:
                try:
                    self._apply(plan, kci, envelope, now)
                except CancellationNotMovable:
                    plan = self._after_refusal(plan)
                    self._apply(plan, kci, envelope, now)
            except DuplicateKci:
                logger.info("Duplicate KCI ignored", extra={"kci_id": str(kci.id), "order_id": kci.order.id})
                return KciOutcome(str(kci.id), kci.order.id, duplicate=True, effect=None)
            except (OrderChanged, WriteConflict):
                time.sleep(random.uniform(0.005, 0.03) * (attempt + 1))
                continue
            return KciOutcome(str(kci.id), kci.order.id, duplicate=False, effect=plan.effect)
        raise DependencyUnavailable(f"order {kci.order.id} kept changing while applying KCI {kci.id}")

    def _apply(self, plan: KciPlan, kci: SupplierKci, envelope: KciEnvelope, now: str) -> None:
        """Apply the plan together with the tenant KCI that reports it (domain/cancellation_outcomes.py).

        A KCI that is only recorded (stale, contradicting) tells the tenant nothing."""
        tenant_update = None
        if plan.applied:
            plan, tenant_update = cancellation_outcomes.with_tenant_update(plan, envelope.receivedOn, envelope.conversationId)
        self.store.apply_kci(plan, self._history_entry(kci, envelope, plan), now, tenant_update)

    def _after_refusal(self, plan: KciPlan) -> KciPlan:
        """The cancellation update was refused: unknown id (retry later), another order's (never), or decided.

        Decided the same way: apply the KCI without touching the cancellation. Decided the other way: the KCI
        contradicts what the tenant was told; keep it in the history, count it, warn, change nothing."""
        effect = plan.effect
        assert effect is not None
        record = self.store.cancellations.get(effect.cancellation_id)
        if record is None:
            if effect.named:
                raise KciNotApplicableYet(f"cancellation {effect.cancellation_id} does not exist (yet)")
            return plan.without_effect()
        if record.orderId != effect.order_id:
            raise KciRejected(f"cancellation {effect.cancellation_id} belongs to order {record.orderId}, not {effect.order_id}")
        if effect.named and record.status in cancellation_state_machine.TERMINAL and record.status is not effect.status:
            count("KciContradictions")
            logger.warning(
                "KCI contradicts a decided cancellation; recorded in the order's history, not applied",
                extra={"kci_id": effect.kci_id, "order_id": effect.order_id, "cancellation_id": record.id,
                       "cancellation_status": record.status.value, "kci_would_set": effect.status.value,
                       "kci_sequence": effect.sequence_number, "decided_by": record.decidedBy,
                       "decided_by_kci_id": record.decidedByKciId},
            )
            return plan.recorded_only(KciOutcomeKind.CONTRADICTS, {"cancellationId": record.id, "status": record.status.value})
        logger.info(
            "KCI does not move an already decided cancellation",
            extra={"cancellation_id": record.id, "status": record.status.value, "kci_sequence": effect.sequence_number},
        )
        return plan.without_effect()

    @staticmethod
    def _history_entry(kci: SupplierKci, envelope: KciEnvelope, plan: KciPlan) -> dict:
        effect = plan.effect
        entry = {
            "outcome": plan.outcome,
            "kciId": str(kci.id),
            "sequenceNumber": kci.sequenceNumber,
            "reasonCode": kci.reasonCode.value,
            "issuedOn": kci.issuedOn.isoformat(),
            "receivedOn": envelope.receivedOn,
            "supplier": envelope.supplier,
            "requestId": envelope.requestId,
            "conversationId": envelope.conversationId,
            "serviceOrderCancellationId": kci.serviceOrderCancellationId,
            "kci": kci.model_dump(mode="json", exclude_none=True),
        }
        if plan.contradicts is not None:
            entry["contradicts"] = plan.contradicts
        if effect is not None:
            entry["cancellationEffect"] = {"cancellationId": effect.cancellation_id, "status": effect.status.value}
        return entry
