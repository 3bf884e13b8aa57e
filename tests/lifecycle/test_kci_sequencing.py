"""Each order's KCIs are applied in sequence (issue 10, item 1; domain.md section 3; logic/apply_kci.py).

In order: applied at once, then any held successors. Ahead of a gap: held (visible: HELD# items, heldKcis on the
snapshot) until the gap fills or the supplier's hold window passes; then applied in order past the gap, with a
metric and a warning naming the missing numbers. After its place: stale, kept in history, changes nothing.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from fibre_cafe.clock import utc_now
from fibre_cafe.dal.kci_hold_window import DEFAULT_SECONDS, MAX_SECONDS, kci_hold_window_seconds
from fibre_cafe.dal.partner_directory import PartnerDirectory
from testing.events import make_kci, sqs_event_from_bodies
from testing.lambda_context import lambda_context
from testing.recorders import AwsCallLog

ORDER_ID = 123


def post(lifecycle, *kcis: dict) -> None:
    for kci in kcis:
        status, body = lifecycle.post_kci(kci)
        assert status == 204, body


def process(lifecycle) -> None:
    while lifecycle.visible("KciQueue"):
        assert lifecycle.process_kcis() == {"batchItemFailures": []}


def tenant_kcis(lifecycle, order_id: int = ORDER_ID) -> list[dict]:
    from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox

    return [item["kci"] for item in TenantKciOutbox(lifecycle.orders.client, lifecycle.orders.name).list(order_id)]


def outcomes(lifecycle, order_id: int = ORDER_ID) -> dict[int, str]:
    return {entry["sequenceNumber"]: entry["outcome"] for entry in lifecycle.orders.history(order_id)}


def delayed(lifecycle) -> int:
    attributes = lifecycle.sqs.get_queue_attributes(
        QueueUrl=lifecycle.queue("KciQueue"), AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])


def later(lifecycle, seconds: float) -> None:
    """Move the processor's clock ``seconds`` ahead (its hold deadlines are compared with it)."""
    target = utc_now() + timedelta(seconds=seconds)
    lifecycle.kci_processor.deps.apply_kci.clock = lambda: target


def fire_timer(lifecycle, order_id: int = ORDER_ID) -> dict:
    """The hold-expiry timer as SQS delivers it once its delay has passed."""
    event = sqs_event_from_bodies([{"holdExpiry": {"orderId": order_id}}], "KciQueue", message_ids=["timer-1"])
    return lifecycle.kci_processor.lambda_handler(event, lambda_context())


@pytest.fixture
def ordered(lifecycle):
    lifecycle.hold_window(30)
    lifecycle.register_order_by_kci(ORDER_ID)  # seq 1 applied: 2 is expected next
    return lifecycle


def test_a_kci_ahead_of_a_gap_is_held_visibly_and_applied_in_order_when_the_gap_fills(ordered):
    lifecycle = ordered
    third, fourth = make_kci(ORDER_ID, 3, "UPDATE", status="PENDING"), make_kci(ORDER_ID, 4, "DELAY", status="HELD")
    post(lifecycle, fourth, third)
    process(lifecycle)

    order = lifecycle.order(ORDER_ID)
    assert order.lastSequenceNumber == 1 and order.heldKcis == 2 and order.holdTimerUntil
    held = lifecycle.orders.held(ORDER_ID)
    assert [(item["sequenceNumber"], item["missing"]) for item in held] == [(3, [2]), (4, [2, 3])]
    assert all(item["heldUntil"] > item["heldAt"] for item in held)
    assert outcomes(lifecycle) == {1: "APPLIED"} and len(tenant_kcis(lifecycle)) == 1  # nothing told yet
    assert delayed(lifecycle) == 1  # one timer for the gap, shared by both held KCIs

    post(lifecycle, make_kci(ORDER_ID, 2, "COMMITTED", status="IN_PROGRESS"))
    process(lifecycle)

    order = lifecycle.order(ORDER_ID)
    assert order.lastSequenceNumber == 4 and order.heldKcis == 0 and order.supplierStatus == "HELD"
    assert lifecycle.orders.held(ORDER_ID) == []
    assert outcomes(lifecycle) == {1: "APPLIED", 2: "APPLIED", 3: "APPLIED", 4: "APPLIED"}
    told = tenant_kcis(lifecycle)
    assert [kci["information"]["type"] for kci in told] == ["ACKNOWLEDGED", "COMMITTED", "UPDATE", "DELAY"]
    assert [kci["sequenceNumber"] for kci in told] == [1, 2, 3, 4]

    # The timer still fires later: nothing left to do.
    assert fire_timer(lifecycle) == {"batchItemFailures": []}
    assert lifecycle.order(ORDER_ID).version == order.version


def test_hold_window_expiry_applies_the_held_kcis_in_order_and_reports_the_gap(ordered, caplog, capsys):
    lifecycle = ordered
    fifth, third = make_kci(ORDER_ID, 5, "DELAY", status="HELD"), make_kci(ORDER_ID, 3, "UPDATE", status="PENDING")
    post(lifecycle, fifth, third)
    process(lifecycle)
    assert lifecycle.order(ORDER_ID).heldKcis == 2

    fire_timer(lifecycle)  # early (the window has not passed): nothing moves
    assert lifecycle.order(ORDER_ID).heldKcis == 2 and lifecycle.order(ORDER_ID).lastSequenceNumber == 1
    capsys.readouterr()

    later(lifecycle, 31)
    assert fire_timer(lifecycle) == {"batchItemFailures": []}

    order = lifecycle.order(ORDER_ID)
    assert order.lastSequenceNumber == 5 and order.heldKcis == 0 and order.supplierStatus == "HELD"
    history = {entry["sequenceNumber"]: entry for entry in lifecycle.orders.history(ORDER_ID)}
    assert history[3]["outcome"] == "APPLIED" and history[3]["missingBefore"] == [2]
    assert history[5]["outcome"] == "APPLIED" and history[5]["missingBefore"] == [4]
    assert [kci["information"]["type"] for kci in tenant_kcis(lifecycle)] == ["ACKNOWLEDGED", "UPDATE", "DELAY"]
    gaps = [r for r in caplog.records if r.levelname == "WARNING" and "gap" in r.getMessage()]
    assert [(r.missing_sequence_numbers, r.kci_sequence) for r in gaps] == [([2], 3), ([4], 5)]
    assert capsys.readouterr().out.count('"KciSequenceGaps":[') == 2

    # The stragglers arrive after their place was passed: kept in history, nothing changes, counted.
    version = order.version
    post(lifecycle, make_kci(ORDER_ID, 2, "CANCELLED", problem_code="X"), make_kci(ORDER_ID, 4, "UPDATE"))
    process(lifecycle)
    assert lifecycle.order(ORDER_ID).version == version and lifecycle.order(ORDER_ID).status == "HELD"
    assert outcomes(lifecycle) == {1: "APPLIED", 2: "STALE", 3: "APPLIED", 4: "STALE", 5: "APPLIED"}
    assert len(tenant_kcis(lifecycle)) == 3
    assert capsys.readouterr().out.count('"KcisStale":[') == 2


def test_the_timer_is_a_delayed_message_the_processor_handles_when_it_arrives(lifecycle):
    lifecycle.hold_window(1)
    lifecycle.register_order_by_kci(ORDER_ID)
    post(lifecycle, make_kci(ORDER_ID, 3, "UPDATE"))
    process(lifecycle)
    assert lifecycle.order(ORDER_ID).heldKcis == 1 and delayed(lifecycle) == 1

    time.sleep(1.2)
    process(lifecycle)

    assert lifecycle.order(ORDER_ID).lastSequenceNumber == 3 and lifecycle.order(ORDER_ID).heldKcis == 0
    assert lifecycle.queued("KciQueue") == 0


def test_a_hold_window_of_0_applies_at_once_past_the_gap(lifecycle, caplog):
    lifecycle.hold_window(0)
    lifecycle.register_order_by_kci(ORDER_ID)
    post(lifecycle, make_kci(ORDER_ID, 4, "UPDATE"))
    process(lifecycle)
    assert lifecycle.order(ORDER_ID).lastSequenceNumber == 4 and lifecycle.orders.held(ORDER_ID) == []
    assert delayed(lifecycle) == 0
    [gap] = [r for r in caplog.records if "gap" in r.getMessage()]
    assert gap.missing_sequence_numbers == [2, 3]


def test_an_order_first_seen_through_a_kci_above_1_starts_its_sequence_there(ordered):
    lifecycle = ordered
    post(lifecycle, make_kci(777, 5, "ACKNOWLEDGED"))
    process(lifecycle)
    assert lifecycle.order(777).lastSequenceNumber == 5 and lifecycle.orders.held(777) == []
    post(lifecycle, make_kci(777, 3, "UPDATE"), make_kci(777, 6, "COMMITTED"))
    process(lifecycle)
    assert outcomes(lifecycle, 777) == {3: "STALE", 5: "APPLIED", 6: "APPLIED"}


def test_a_duplicate_of_a_held_kci_changes_nothing(ordered):
    lifecycle = ordered
    held = make_kci(ORDER_ID, 3, "UPDATE")
    post(lifecycle, held, held)
    process(lifecycle)
    assert lifecycle.order(ORDER_ID).heldKcis == 1 and len(lifecycle.orders.held(ORDER_ID)) == 1


def test_aws_calls_per_kci_in_order_held_draining_and_stale(ordered, record_property):
    """The issue's measure. In order: at most 2 (GetItem + TransactWriteItems)."""
    lifecycle = ordered
    processor = lifecycle.kci_processor
    counter = AwsCallLog().watch(processor.deps.apply_kci.store.client)
    counter.watch(processor.deps.apply_kci.timers.client)  # the same counter on the SQS client too

    def cost(*kcis: dict) -> list[str]:
        post(lifecycle, *kcis)
        counter.take()
        process(lifecycle)
        return counter.take()

    in_order = cost(make_kci(ORDER_ID, 2, "COMMITTED"))
    first_held = cost(make_kci(ORDER_ID, 4, "UPDATE"))
    next_held = cost(make_kci(ORDER_ID, 5, "UPDATE"))
    filling = cost(make_kci(ORDER_ID, 3, "UPDATE"))  # releases 4 and 5
    stale = cost(make_kci(ORDER_ID, 2, "DELAY"))

    assert in_order == ["GetItem", "TransactWriteItems"]
    assert first_held == ["GetItem", "SendMessage", "TransactWriteItems"]
    assert next_held == ["GetItem", "TransactWriteItems"]
    assert filling == ["GetItem", "TransactWriteItems", "GetItem", "Query", "TransactWriteItems", "TransactWriteItems"]
    assert stale == ["GetItem", "PutItem"]
    for name, calls in (("in_order", in_order), ("held_first_of_gap", first_held), ("held_same_gap", next_held),
                        ("gap_filled_plus_2_drained", filling), ("stale", stale)):
        record_property(f"aws_calls_{name}", len(calls))
    print(f"\nAWS calls per KCI: in order {len(in_order)}, held {len(first_held)} (first of a gap) / {len(next_held)}, "
          f"filling a gap and draining 2 {len(filling)} (= 2 + 2 + 1 per drained KCI), stale {len(stale)}")


def test_the_hold_window_is_a_per_supplier_setting_with_a_default():
    config = {"FIBRECO": {"baseUrl": "https://x", "kciHoldWindowSeconds": 45}, "DUMMY_SUPPLIER": {"baseUrl": "https://y"},
              "OFF": {"baseUrl": "https://z", "kciHoldWindowSeconds": 0}, "HUGE": {"baseUrl": "https://z", "kciHoldWindowSeconds": 99999}}
    directory = PartnerDirectory(lambda: json.dumps(config))
    assert kci_hold_window_seconds(directory, "FIBRECO") == 45
    assert kci_hold_window_seconds(directory, "DUMMY_SUPPLIER") == DEFAULT_SECONDS == 30
    assert kci_hold_window_seconds(directory, "OFF") == 0
    assert kci_hold_window_seconds(directory, "HUGE") == MAX_SECONDS == 900
    assert kci_hold_window_seconds(directory, "UNKNOWN") == DEFAULT_SECONDS


def test_a_timer_arriving_a_moment_early_sets_another_rather_than_leaving_the_kcis_held(ordered):
    lifecycle = ordered
    post(lifecycle, make_kci(ORDER_ID, 3, "UPDATE"))
    process(lifecycle)
    assert delayed(lifecycle) == 1

    later(lifecycle, 29.6)  # the window is 30 s: the timer came 0.4 s early (clocks)
    fire_timer(lifecycle)

    assert lifecycle.order(ORDER_ID).heldKcis == 1
    assert delayed(lifecycle) == 2  # a new timer, a second from now
    later(lifecycle, 31)
    fire_timer(lifecycle)
    assert lifecycle.order(ORDER_ID).heldKcis == 0 and lifecycle.order(ORDER_ID).lastSequenceNumber == 3
