"""Concurrency as Lambda has it (local_stack/functions.py): each function runs its own invocations, in parallel
up to its concurrency, and nothing is held across an outbound call but that invocation's own environment.

The issue's case: a supplier that never answers (the stub's TIMEOUT scenario) holds TENANT1's dispatcher
invocation for the dispatcher's read timeout; TENANT2's unrelated GETs used to wait behind it (one lock for
every function: ~10 s each). The bound here is generous (CI machines are noisy); the figures are in make bench.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid

import pytest
import requests

from local_stack.functions import FunctionError, LocalFunction, ProcessRunner, worker_setup
from local_stack.stack import LocalStack
from local_stack.template import FunctionSpec
from local_stack.tokens import DEV_CLIENT_SECRET

READ_TIMEOUT = 8.0  # the dispatcher waits this long for the silent supplier


def token(base: str, client_id: str) -> str:
    answer = requests.post(f"{base}/auth/tenant/access-token", timeout=30,
                           data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": DEV_CLIENT_SECRET})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def headers(bearer: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer}", "X-Request-ID": f"conc-{uuid.uuid4()}", "X-Conversation-ID": "conc", **extra}


@pytest.fixture(scope="module")
def stack():
    with LocalStack(port=0, moto_port=0, run_schedules=False, supplier_read_timeout=READ_TIMEOUT,
                    supplier_stub_timeout=READ_TIMEOUT + 2, prewarm=True) as running:
        yield running


def test_a_silent_supplier_for_one_tenant_does_not_slow_another_tenants_calls(stack):
    base = stack.base_url
    tenant1, tenant2 = token(base, "TENANT1"), token(base, "TENANT2")
    created = requests.post(f"{base}/service-order-cancellations", timeout=30, headers=headers(tenant2),
                            json={"orderId": 2001, "reasonCode": "OTHER"})
    assert created.status_code == 201, created.text
    own = f"{base}/service-order-cancellations/{created.json()['id']}"

    def timed_gets(count: int) -> list[float]:
        took = []
        for _ in range(count):
            started = time.perf_counter()
            answer = requests.get(own, headers=headers(tenant2), timeout=30)
            took.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
        return took

    before = timed_gets(10)
    stalled = requests.post(f"{base}/service-order-cancellations", timeout=30, headers=headers(tenant1, **{"X-Scenario": "TIMEOUT"}),
                            json={"orderId": 1001, "reasonCode": "OTHER"})
    assert stalled.status_code == 201, stalled.text
    # Wait until the dispatcher is inside its call to the silent supplier (for TENANT1's order).
    deadline = time.monotonic() + 20
    while not any("1001" in str(entry) and "TIMEOUT" in str(entry) for entry in stack.supplier_stub.received):
        assert time.monotonic() < deadline, "the dispatcher never called the supplier stub"
        time.sleep(0.05)
    stall_started = time.monotonic()
    during = timed_gets(10)
    # Still inside the dispatcher's wait: the GETs above ran while it was blocked.
    assert time.monotonic() - stall_started < READ_TIMEOUT, "the GETs were too slow to overlap the stalled dispatcher"
    assert max(during) < statistics.median(before) + 1.0, (before, during)


SLOW_HANDLER = """
import os, time

def handler(event, context):
    if event.get("raise"):
        raise ValueError("asked to fail")
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "remaining_ms": context.get_remaining_time_in_millis()}
"""


@pytest.fixture
def slow_function(tmp_path):
    (tmp_path / "slow_handler.py").write_text(SLOW_HANDLER)

    def make(concurrency: int, timeout: int = 30) -> LocalFunction:
        spec = FunctionSpec(logical_id="SlowFunction", code_dir=tmp_path, module="slow_handler", attribute="handler",
                            layer_dirs=(), timeout=timeout, memory_size=128)
        setup = worker_setup(spec, "eu-west-2", {}, set())
        return LocalFunction(spec=spec, region="eu-west-2", runner=ProcessRunner(setup, concurrency))

    made: list[LocalFunction] = []
    yield lambda *args, **kwargs: made.append(make(*args, **kwargs)) or made[-1]
    for function in made:
        function.close()


def test_a_function_runs_up_to_its_concurrency_in_parallel_each_in_its_own_environment(slow_function):
    function = slow_function(concurrency=2)
    function.invoke({})  # one cold start out of the way
    answers: list[dict] = []

    def invoke() -> None:
        answers.append(function.invoke({"sleep": 1.0}))

    started = time.perf_counter()
    threads = [threading.Thread(target=invoke) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    elapsed = time.perf_counter() - started
    assert len(answers) == 3
    assert len({answer["pid"] for answer in answers}) == 2  # two environments, reused
    assert elapsed >= 2.0  # the third waited for a free environment (concurrency 2)
    assert elapsed < 2.0 + 1.0 + 5.0  # the first two overlapped (generous: a cold start on a busy machine)
    assert function.invocations == 4 and function.errors == 0


def test_an_invocation_past_its_timeout_is_stopped_and_its_environment_replaced(slow_function):
    function = slow_function(concurrency=1, timeout=1)
    first = function.invoke({})
    assert 0 < first["remaining_ms"] <= 1000
    with pytest.raises(FunctionError, match="Task timed out after 1 seconds"):
        function.invoke({"sleep": 5})
    assert function.invoke({})["pid"] != first["pid"]
    with pytest.raises(FunctionError, match="ValueError: asked to fail"):
        function.invoke({"raise": True})
    assert function.errors == 2
