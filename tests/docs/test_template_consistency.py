"""Values the code must agree on with template.yaml (one source of truth, checked)."""

from __future__ import annotations

from local_stack.template import load_template


def _resources() -> dict:
    return load_template()["Resources"]


def test_kci_processor_knows_the_kci_queue_receive_limit():
    resources = _resources()
    env = resources["KciProcessorFunction"]["Properties"]["Environment"]["Variables"]
    assert int(env["KCI_MAX_RECEIVE_COUNT"]) == int(resources["KciQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"])


def test_dispatcher_gives_up_before_the_queue_dead_letters():
    """The dispatcher marks FAILED_TO_SEND itself; the DLQ is only for failures outside the supplier call."""
    resources = _resources()
    env = resources["SupplierDispatcherFunction"]["Properties"]["Environment"]["Variables"]
    assert int(env["MAX_DISPATCH_ATTEMPTS"]) < int(resources["SupplierRequestsQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"])


def test_delivery_gives_up_before_the_queue_dead_letters():
    resources = _resources()
    env = resources["TenantKciDeliveryFunction"]["Properties"]["Environment"]["Variables"]
    assert int(env["MAX_DELIVERY_ATTEMPTS"]) < int(resources["TenantUpdatesQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"])


def test_queue_visibility_covers_six_times_the_consumer_timeout():
    resources = _resources()
    for function, queue in (("SupplierDispatcherFunction", "SupplierRequestsQueue"), ("KciProcessorFunction", "KciQueue"),
                            ("TenantKciDeliveryFunction", "TenantUpdatesQueue")):
        timeout = int(resources[function]["Properties"].get("Timeout", load_template()["Globals"]["Function"]["Timeout"]))
        assert int(resources[queue]["Properties"]["VisibilityTimeout"]) >= 6 * timeout, (function, queue)
