"""The outbox re-relay sweeper (TenantKciOutboxSweeperFunction, logic/outbox_sweeper.py): the stream is the fast
path, the sweeper the guarantee. With the stream stopped (the relay never runs), the tenant KCIs still reach the
tenant, in order, once the sweeper finds them PENDING a few minutes after they were written."""

from __future__ import annotations

from datetime import timedelta

from fibre_cafe.clock import utc_now
from testing.events import make_kci
from testing.lambda_context import lambda_context

ORDER_ID = 321


def sweep(world, monkeypatch, minutes_from_now: float) -> dict:
    module = world.outbox_sweeper
    later = utc_now() + timedelta(minutes=minutes_from_now)
    monkeypatch.setattr(module.deps(), "clock", lambda: later)
    return module.lambda_handler({}, lambda_context())


def test_with_the_stream_stopped_the_sweeper_still_brings_the_kcis_to_the_tenant(world, monkeypatch):
    world.register_order_by_kci(ORDER_ID)
    for n, reason in ((2, "COMMITTED"), (3, "DELAY")):
        assert world.post_kci(make_kci(ORDER_ID, n, reason))[0] == 204
    assert world.process_kcis() == {"batchItemFailures": []}
    assert [status for _, status, _ in world.statuses(ORDER_ID)] == ["PENDING"] * 3  # the relay never ran

    assert sweep(world, monkeypatch, 1) == {"relayed": [], "failed": []}  # too recent: the stream may still carry them
    report = sweep(world, monkeypatch, 5)
    assert report["relayed"] == [f"{ORDER_ID}/1", f"{ORDER_ID}/2", f"{ORDER_ID}/3"]

    world.deliver_until_empty()
    assert [kci["sequenceNumber"] for kci in world.tenant.accepted if kci.get("entity", {}).get("id") == ORDER_ID] == [1, 2, 3]
    assert world.statuses(ORDER_ID) == [(1, "DELIVERED", 1), (2, "DELIVERED", 1), (3, "DELIVERED", 1)]
    assert sweep(world, monkeypatch, 10) == {"relayed": [], "failed": []}  # delivered items leave the index


def test_a_kci_relayed_by_both_the_stream_and_the_sweeper_reaches_the_tenant_once(world, monkeypatch):
    world.register_order_by_kci(ORDER_ID)
    world.relay()
    assert sweep(world, monkeypatch, 5)["relayed"] == [f"{ORDER_ID}/1"]  # the stream's copy is not delivered yet
    world.deliver_until_empty()
    assert len([kci for kci in world.tenant.accepted if kci.get("entity", {}).get("id") == ORDER_ID]) == 1


def test_a_kci_delivery_is_retrying_is_left_to_delivery(world, monkeypatch):
    world.register_order_by_kci(ORDER_ID)
    world.tenant.answers.append((503, 0))
    world.pump()  # relayed, one failed attempt: delivery retries it with backoff
    assert world.statuses(ORDER_ID) == [(1, "PENDING", 1)]
    assert sweep(world, monkeypatch, 5)["relayed"] == []
