"""Apply one supplier KCI from the KCI queue, in its order's sequence (rules in domain/kci_rules.py).

Sequencing (domain.md section 3; issue 10). Each order expects ``lastSequenceNumber + 1`` next:

- the expected KCI is applied at once, then any held successors, in order (``drain``);
- a KCI ahead of a missing number is **held**: an item ``HELD#<seq>#<kci id>`` on its order (operators see it,
  and the snapshot counts it in ``heldKcis``) until the gap fills or the supplier's hold window passes
  (``kciHoldWindowSeconds``, dal/kci_hold_window.py; 0 = apply at once, past the gap). When the window passes
  the held KCIs are applied in order past the gap; a metric (KciSequenceGaps) and a warning name the missing
  numbers, and the history item of the KCI applied past the gap keeps them (``missingBefore``);
- a KCI whose place was already passed is **stale**: kept in the order's history (outcome STALE), changes
  nothing, counted (KcisStale);
- **where the sequence starts**: an order first seen through a KCI (not yet in the registry) starts at that
  KCI, whatever its number: it is applied at once. Orders are created elsewhere in the gateway with their
  sequence so far; a KCI for an unknown order means the gateway did not see the order's beginning, so lower
  numbers are not expected to follow, and holding would delay every such first KCI by the window for numbers
  that normally never come. A lower number arriving later is stale.

**The deadline mechanism on AWS: a delayed SQS message on the KCI queue** (``{"holdExpiry": {"orderId": N}}``,
DelaySeconds = the window, dal/kci_queue.py), handled by this same processor (``expire``). Why: it needs no new
infrastructure or permissions beyond SendMessage on a queue the processor already reads; it costs one
SendMessage per *gap* (not per held KCI: the snapshot's ``holdTimerUntil`` says a timer is pending, and later
held KCIs of the same gap share it); it is durable and retried like any KCI (with the queue's DLQ); and it fires
within about a second of the deadline. The alternatives cost more per hold or are coarser: an EventBridge
Scheduler schedule per hold (create + delete calls, a role, cleanup), a periodic sweeper (a minute's
granularity, and it must find held orders: an index or a scan), or a FIFO queue grouped by order (ordering by
arrival is not ordering by sequence number, and a gap would block the group). SQS delays at most 15 minutes,
hence the window's cap (900 s). The timer is sent *before* the write that records it, so a crash in between
leaves an extra harmless timer, never a held KCI without one; and any later KCI of an order whose timer is
long overdue drains it as well.

AWS round trips per KCI (measured in tests/lifecycle/test_kci_sequencing.py):
- in order, nothing held: GetItem + TransactWriteItems (2);
- held: GetItem + TransactWriteItems, plus one SendMessage for the first KCI of a gap (2-3);
- the KCI that fills a gap: its 2, plus a GetItem and a Query, then one TransactWriteItems per held KCI
  released (a drained KCI costs 1 more call);
- stale: GetItem + PutItem (2).
A duplicate costs the same as its first arrival and changes nothing. Extra calls happen only on contention
(the order changed between read and write: read again) or when the cancellation update is refused (read the
cancellation to learn why).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from fibre_cafe.clock import Clock, iso, utc_now
from fibre_cafe.dal.aws_errors import error_code
from fibre_cafe.dal.errors import CancellationNotMovable, DuplicateKci, RetryLater
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.transactions import retry_conflicts
from fibre_cafe.domain import cancellation_outcomes, cancellation_state_machine
from fibre_cafe.domain.errors import KciNotApplicableYet, KciRejected
from fibre_cafe.domain.kci_rules import KciOutcomeKind, KciPlan, plan_kci
from fibre_cafe.ids import new_id
from fibre_cafe.models.kci import KciEnvelope, SupplierKci
from fibre_cafe.models.order import Order
from fibre_cafe.observability import count

logger = Logger(child=True)

HELD = "HELD"
DUPLICATE = "DUPLICATE"
REFUSED = "REFUSED"  # a held KCI that could no longer apply when its turn came (kept in history with the reason)
# A later KCI of an order whose hold timer is this overdue drains the order itself (the timer was lost).
TIMER_OVERDUE = timedelta(seconds=60)
MAX_MISSING_LISTED = 100


class HoldTimers(Protocol):
    def schedule_hold_expiry(self, order_id: int, delay_seconds: int) -> Any: ...


@dataclass(frozen=True)
class KciOutcome:
    kci_id: str
    order_id: int
    duplicate: bool
    effect: Any
    kind: str = KciOutcomeKind.APPLIED


def _no_hold(_supplier: str) -> int:
    return 0


class ApplyKci:
    def __init__(self, store: GatewayStore, clock: Clock = utc_now, max_attempts: int = 6,
                 hold_window: Callable[[str], int] = _no_hold, timers: HoldTimers | None = None,
                 new_id: Callable[[], str] = new_id):
        self.store = store
        self.clock = clock
        self.max_attempts = max_attempts
        self.hold_window = hold_window
        self.timers = timers
        self.new_id = new_id

    # ------------------------------------------------------------------------------------------ entry points
    def __call__(self, envelope: KciEnvelope) -> KciOutcome:
        try:
            kci = envelope.parsed()
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            raise KciRejected(f"KCI does not match the Supplier Updates API schema: {exc}") from exc

        def attempt(_: int) -> tuple[KciOutcome, Order | None, datetime]:
            order = self.store.orders.get(kci.order.id)
            now = self.clock()
            return (*self._place(kci, envelope, order, now), now)

        try:
            outcome, order_after, now = retry_conflicts(attempt, self.max_attempts, give_up=lambda: RetryLater(
                f"order {kci.order.id} kept changing while applying KCI {kci.id}"))
        except DuplicateKci:
            logger.info("Duplicate KCI ignored", extra={"kci_id": str(kci.id), "order_id": kci.order.id})
            return KciOutcome(str(kci.id), kci.order.id, duplicate=True, effect=None, kind=DUPLICATE)
        if order_after is not None and order_after.heldKcis > 0:
            overdue = order_after.holdTimerUntil is not None and order_after.holdTimerUntil < iso(now - TIMER_OVERDUE)
            if outcome.kind != HELD or overdue:
                self.drain(kci.order.id)
        return outcome

    def expire(self, order_id: int) -> int:
        """A hold-expiry timer fired: apply the order's held KCIs whose window passed (and what follows them)."""
        return self.drain(order_id)

    # ------------------------------------------------------------------------------------------ one KCI
    def _place(self, kci: SupplierKci, envelope: KciEnvelope, order: Order | None, now: datetime) -> tuple[KciOutcome, Order | None]:
        sequence = kci.sequenceNumber
        if order is not None and sequence <= order.lastSequenceNumber:
            plan_kci(kci, envelope.supplier, order, self.new_id)  # a KCI that can never apply still fails (retried, dead-lettered)
            self._record_stale(kci, envelope, order, iso(now))
            return KciOutcome(str(kci.id), kci.order.id, duplicate=False, effect=None, kind=KciOutcomeKind.STALE), None
        missing: list[int] = []
        if order is not None and sequence > order.lastSequenceNumber + 1:
            window = self.hold_window(envelope.supplier)
            if window > 0:
                plan_kci(kci, envelope.supplier, order, self.new_id)  # refuse now what could never apply, rather than hold it
                self._hold(kci, envelope, order, now, window)
                return KciOutcome(str(kci.id), kci.order.id, duplicate=False, effect=None, kind=HELD), order.model_copy(
                    update={"heldKcis": order.heldKcis + 1})
            missing = list(range(order.lastSequenceNumber + 1, sequence))
        plan = self._apply(plan_kci(kci, envelope.supplier, order, self.new_id), kci, envelope, iso(now), missing=missing)
        if missing:
            self._report_gap(kci, missing, "the supplier's hold window is 0")
        return KciOutcome(str(kci.id), kci.order.id, duplicate=False, effect=plan.effect, kind=plan.outcome), plan.order_after

    def _apply(self, plan: KciPlan, kci: SupplierKci, envelope: KciEnvelope, now: str, *, missing: list[int] | None = None,
               released: dict[str, Any] | None = None) -> KciPlan:
        """Write the plan (with the tenant KCI reporting it); when the cancellation update is refused, learn why
        and write what is left. ``released``: the held item this KCI came from (deleted in the same write)."""
        try:
            return self._write(plan, kci, envelope, now, missing, released)
        except CancellationNotMovable:
            return self._write(self._after_refusal(plan), kci, envelope, now, missing, released)

    def _write(self, plan: KciPlan, kci: SupplierKci, envelope: KciEnvelope, now: str, missing: list[int] | None,
               released: dict[str, Any] | None) -> KciPlan:
        extra: list[dict[str, Any]] = []
        if released is not None:
            extra.append(self.store.orders.held_delete(kci.order.id, kci.sequenceNumber, str(kci.id)))
            after = plan.order_after
            plan = replace(plan, order_after=after.model_copy(update={"heldKcis": max(0, after.heldKcis - 1)}))
        tenant_update = None
        if plan.applied:
            plan, tenant_update = cancellation_outcomes.with_tenant_update(plan, envelope.receivedOn, envelope.conversationId,
                                                                              self.new_id())
        entry = self._history_entry(kci, envelope, plan.outcome, plan, missing=missing, released=released)
        self.store.apply_kci(plan, entry, now, tenant_update, extra_items=extra)
        return plan

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

    def _record_stale(self, kci: SupplierKci, envelope: KciEnvelope, order: Order, now: str) -> None:
        entry = self._history_entry(kci, envelope, KciOutcomeKind.STALE, None)
        entry["staleAfter"] = order.lastSequenceNumber
        try:
            self.store.orders.put_history(kci.order.id, entry)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise DuplicateKci() from exc
            raise
        count("KcisStale")
        logger.info("Stale KCI kept in the order's history; its place was already passed",
                    extra={"kci_id": str(kci.id), "order_id": kci.order.id, "kci_sequence": kci.sequenceNumber,
                           "last_sequence_number": order.lastSequenceNumber})

    def _hold(self, kci: SupplierKci, envelope: KciEnvelope, order: Order, now: datetime, window: int) -> None:
        deadline = iso(now + timedelta(seconds=window))
        updates: dict[str, Any] = {"version": order.version + 1, "heldKcis": order.heldKcis + 1}
        if order.holdTimerUntil is None or order.holdTimerUntil <= iso(now):
            if self.timers is None:
                raise RuntimeError("ApplyKci was built without hold-expiry timers")
            self.timers.schedule_hold_expiry(order.id, window)  # before the write: see the module docstring
            updates["holdTimerUntil"] = deadline
        missing = list(range(order.lastSequenceNumber + 1, kci.sequenceNumber))
        entry = {
            "kciId": str(kci.id), "sequenceNumber": kci.sequenceNumber, "supplier": envelope.supplier,
            "heldAt": iso(now), "heldUntil": deadline, "missing": missing[:MAX_MISSING_LISTED],
            "envelope": envelope.model_dump_json(),
        }
        self.store.hold_kci(order.model_copy(update=updates), order.version, self.store.orders.held_put(order.id, entry))
        count("KcisHeld")
        logger.info("KCI held until the gap before it fills or its window passes",
                    extra={"kci_id": str(kci.id), "order_id": order.id, "kci_sequence": kci.sequenceNumber,
                           "missing_sequence_numbers": missing[:MAX_MISSING_LISTED], "held_until": deadline})

    # ------------------------------------------------------------------------------------------ held KCIs
    def drain(self, order_id: int) -> int:
        """Apply the order's held KCIs that may go now, in sequence order: the next expected one, one whose place
        has passed (stale), or, once its window has passed, the next one past the gap. Returns how many went."""
        released = 0

        def attempt(_: int) -> int:
            nonlocal released
            order = self.store.orders.get(order_id)
            if order is None or order.heldKcis <= 0:
                return released
            held = self.store.orders.held(order_id)
            now = self.clock()
            remaining: list[dict[str, Any]] = []
            for index, item in enumerate(held):
                envelope = KciEnvelope.model_validate_json(item["envelope"])
                went = self._release(item, envelope, order, now)
                if went is None:
                    remaining = held[index:]
                    break
                order = went
                released += 1
            if not held:  # the counter and the items disagree (cannot happen with transactions): trust the items
                self.store.update_snapshot(order.model_copy(update={"version": order.version + 1, "heldKcis": 0}), order.version)
            elif remaining:
                self._rearm(order, remaining, now)
            return released

        return retry_conflicts(attempt, self.max_attempts * 2, give_up=lambda: RetryLater(
            f"order {order_id} kept changing while releasing its held KCIs"))

    def _release(self, item: dict[str, Any], envelope: KciEnvelope, order: Order, now: datetime) -> Order | None:
        """Release one held KCI if its turn has come; the order after it (None: it must wait)."""
        sequence, expected = int(item["sequenceNumber"]), order.lastSequenceNumber + 1
        if sequence > expected and item["heldUntil"] > iso(now):
            return None
        try:
            kci = envelope.parsed()
        except ValueError as exc:
            return self._refuse_held(item, envelope, order, now, f"KCI does not match the schema: {exc}")
        try:
            if sequence < expected:
                plan = plan_kci(kci, envelope.supplier, order, self.new_id).recorded_only(KciOutcomeKind.STALE)
                plan = replace(plan, order_after=plan.order_after.model_copy(update={"lastSequenceNumber": order.lastSequenceNumber}))
                plan = self._write(plan, kci, envelope, iso(now), None, item)
                count("KcisStale")
                return plan.order_after
            missing = list(range(expected, sequence))
            plan = self._apply(plan_kci(kci, envelope.supplier, order, self.new_id), kci, envelope, iso(now), missing=missing,
                               released=item)
        except (KciRejected, KciNotApplicableYet) as exc:
            return self._refuse_held(item, envelope, order, now, str(exc))
        except DuplicateKci:
            # Already in the history (cannot normally happen: ids are claimed at POST /kcis): just release it.
            after = order.model_copy(update={"version": order.version + 1, "heldKcis": max(0, order.heldKcis - 1)})
            self.store.update_snapshot(after, order.version, [self.store.orders.held_delete(order.id, sequence, str(item["kciId"]))])
            return after
        if missing:
            self._report_gap(kci, missing, "the hold window passed")
        return plan.order_after

    def _refuse_held(self, item: dict[str, Any], envelope: KciEnvelope, order: Order, now: datetime, reason: str) -> Order:
        """A held KCI that can no longer apply: kept in the history with the reason (outcome REFUSED), released,
        counted, logged as an error, so it never blocks its order's sequence and is never silently lost."""
        entry = {
            "kciId": str(item["kciId"]), "sequenceNumber": int(item["sequenceNumber"]), "outcome": REFUSED, "reason": reason,
            "receivedOn": envelope.receivedOn, "supplier": envelope.supplier, "requestId": envelope.requestId,
            "kci": envelope.kci,
        }
        after = order.model_copy(update={"version": order.version + 1, "heldKcis": max(0, order.heldKcis - 1),
                                         "lastSequenceNumber": max(order.lastSequenceNumber, int(item["sequenceNumber"]))})
        self.store.update_snapshot(after, order.version, [
            self.store.orders.history_put(order.id, entry),
            self.store.orders.held_delete(order.id, int(item["sequenceNumber"]), str(item["kciId"])),
        ])
        count("KcisRefused")
        logger.error("Held KCI could not be applied; kept in the order's history with the reason",
                     extra={"kci_id": item["kciId"], "order_id": order.id, "kci_sequence": item["sequenceNumber"], "reason": reason})
        return after

    def _rearm(self, order: Order, remaining: list[dict[str, Any]], now: datetime) -> None:
        """KCIs still wait: make sure a timer fires at the earliest deadline among them."""
        earliest = min(item["heldUntil"] for item in remaining)
        # A pending timer that fires first will look again. Not the one firing now: a timer may arrive a moment
        # before its deadline (clocks), and its holdTimerUntil is then still (just) ahead.
        if order.holdTimerUntil is not None and iso(now + timedelta(seconds=1)) < order.holdTimerUntil <= earliest:
            return
        delay = max(1, math.ceil((datetime.fromisoformat(earliest.replace("Z", "+00:00")) - now).total_seconds()))
        if self.timers is None:
            raise RuntimeError("ApplyKci was built without hold-expiry timers")
        self.timers.schedule_hold_expiry(order.id, delay)
        after = order.model_copy(update={"version": order.version + 1, "holdTimerUntil": iso(now + timedelta(seconds=delay))})
        self.store.update_snapshot(after, order.version)

    # ------------------------------------------------------------------------------------------ helpers
    @staticmethod
    def _report_gap(kci: SupplierKci, missing: list[int], why: str) -> None:
        count("KciSequenceGaps")
        logger.warning("KCI applied past a gap in its order's sequence; missing sequence numbers listed",
                       extra={"order_id": kci.order.id, "kci_id": str(kci.id), "kci_sequence": kci.sequenceNumber,
                              "missing_sequence_numbers": missing[:MAX_MISSING_LISTED], "missing_count": len(missing), "why": why})

    @staticmethod
    def _history_entry(kci: SupplierKci, envelope: KciEnvelope, outcome: str, plan: KciPlan | None, *,
                       missing: list[int] | None = None, released: dict[str, Any] | None = None) -> dict[str, Any]:
        effect = plan.effect if plan is not None else None
        entry = {
            "outcome": outcome,
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
        if missing:
            entry["missingBefore"] = missing[:MAX_MISSING_LISTED]
        if released is not None:
            entry["heldAt"] = released.get("heldAt")
        if plan is not None and plan.contradicts is not None:
            entry["contradicts"] = plan.contradicts
        if effect is not None:
            entry["cancellationEffect"] = {"cancellationId": effect.cancellation_id, "status": effect.status.value}
        return entry
