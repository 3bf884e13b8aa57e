"""The tenant KCI delivery's time budget (issue 12, item 4), as the dispatcher's (tests/lifecycle/test_time_budget.py).

A slow tenant: the attempt (token fetch and POST) stops at its overall deadline; a record starts only while the
invocation has time for one worst-case attempt; the rest are handed back untouched, and nothing delivered is
delivered twice.
"""

from __future__ import annotations

import json
import time

from testing.events import failures
from testing.lambda_context import lambda_context
from tests.lifecycle.test_time_budget import DEADLINE, OVERHEAD, SLOW
from tests.tenant_updates.test_delivery import queued


def test_a_slow_tenant_leaves_the_records_not_started_to_the_next_invocation(world, tenant_stub):
    world.delivery_env.update(PARTNER_CALL_DEADLINE_SECONDS=str(DEADLINE), RECORD_OVERHEAD_SECONDS=str(OVERHEAD))
    queued(world, 401, 402, 403)  # three orders: three message groups, none waits for another
    tenant_stub.answers.extend([(204, 0.0), (204, SLOW)])
    url = world.queue("TenantUpdatesQueue")
    event = world.receive(url)
    assert len(event["Records"]) == 3
    order_of = {r["messageId"]: json.loads(r["body"])["orderId"] for r in event["Records"]}

    started = time.monotonic()
    result = world.delivery.lambda_handler(event, lambda_context("TenantKciDeliveryFunction", seconds=3.0))
    elapsed = time.monotonic() - started
    world.acknowledge(url, event, result)

    first, second, third = (order_of[r["messageId"]] for r in event["Records"])
    assert sorted(order_of[m] for m in failures(result)) == sorted([second, third])
    assert elapsed < 3.0
    assert len(tenant_stub.requests) == 2  # the third was never sent
    assert world.statuses(first)[0][1] == "DELIVERED"
    assert world.statuses(second)[0][1:] == ("PENDING", 1)  # timed out: one attempt, retried later
    assert world.statuses(third)[0][1:] == ("PENDING", 0)  # not started: no attempt counted

    # The next invocation with time to spare delivers the one not started; the delivered one is not sent again.
    event = world.receive(url)
    assert [order_of.get(r["messageId"]) for r in event["Records"]] == [third]
    result = world.delivery.lambda_handler(event, lambda_context("TenantKciDeliveryFunction", seconds=30.0))
    world.acknowledge(url, event, result)
    assert result == {"batchItemFailures": []}
    assert world.statuses(third)[0][1] == "DELIVERED"
    assert [r["body"]["id"] for r in tenant_stub.requests].count(tenant_stub.requests[0]["body"]["id"]) == 1
