"""Re-relay tenant KCIs the orders stream did not carry (the guarantee behind the stream's fast path).

An outbox item (dal/tenant_kci_outbox.py) is written in the same transaction as the change it reports and
normally reaches the tenant-updates FIFO queue through the orders stream within a second or two. If the
relay gave up on its stream record (poison batch, retries or record age spent, stream retention passed),
the item stays PENDING with no delivery attempt. Every run, this sweeper sends again each PENDING item
written more than ``after`` ago that delivery has never attempted (an attempted one is delivery's: it is in
the queue, waiting for its retry). A second copy is harmless: the FIFO queue deduplicates on the tenant KCI
id within 5 minutes, and delivery skips a KCI already DELIVERED or FAILED.

Cost: one Query of the sparse ByOutboxPending index (only undecided items are in it), one SendMessage per
re-relayed item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from aws_lambda_powertools import Logger

from fibre_cafe.clock import Clock, iso, utc_now
from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox
from fibre_cafe.dal.tenant_updates_queue import TenantUpdatesQueue
from fibre_cafe.observability import count

logger = Logger(child=True)

DEFAULT_AFTER = timedelta(minutes=3)


@dataclass
class OutboxSweepReport:
    relayed: list[str] = field(default_factory=list)  # "<order id>/<sequence>"
    failed: list[str] = field(default_factory=list)


def sweep_outbox(outbox: TenantKciOutbox, queue: TenantUpdatesQueue, after: timedelta = DEFAULT_AFTER,
                 clock: Clock = utc_now, limit: int = 1000) -> OutboxSweepReport:
    report = OutboxSweepReport()
    for item in outbox.pending_before(iso(clock() - after)):
        if len(report.relayed) + len(report.failed) >= limit:
            break
        if int(item.get("deliveryAttempts", {}).get("N", "0")) > 0:
            continue  # delivery has it (retrying with backoff)
        name = f"{item['orderId']['N']}/{item['sk']['S'].rsplit('#', 1)[-1].lstrip('0')}"
        try:
            queue.send(TenantKciOutbox.message_from_item(item))
        except Exception:  # one unreadable item must not stop the sweep; it is reported
            logger.exception("Outbox item could not be re-relayed", extra={"outbox_item": name})
            report.failed.append(name)
            continue
        count("TenantKcisReRelayed")
        report.relayed.append(name)
    if report.relayed:
        logger.warning("Tenant KCIs the stream did not relay were relayed by the sweeper", extra={"relayed": report.relayed[:100]})
    return report
