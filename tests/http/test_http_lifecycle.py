"""Starting and stopping the local stack: in-process (tests) and as ``python -m local_stack`` (``make run``)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from local_stack.stack import LocalStack
from local_stack.tokens import DEV_CLIENT_SECRET

pytestmark = pytest.mark.http

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = {"supplier": "DUMMY_SUPPLIER", "orderId": 1001, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}
HEADERS = {"X-Request-ID": "lifecycle-1", "X-Conversation-ID": "lifecycle"}


def cancel_order_1001(stack: LocalStack) -> requests.Response:
    token = requests.post(f"{stack.base_url}/auth/tenant/access-token", timeout=10,
                          data={"grant_type": "client_credentials", "client_id": "TENANT1", "client_secret": DEV_CLIENT_SECRET}).json()
    return requests.post(f"{stack.base_url}/service-order-cancellations", json=EXAMPLE, timeout=10,
                         headers={"Authorization": f"Bearer {token['access_token']}", **HEADERS})


def test_a_second_stack_in_the_same_process_starts_fresh_and_the_environment_is_restored():
    before = {key: os.environ.get(key) for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "CANCELLATIONS_TABLE_NAME")}
    for _ in range(2):
        with LocalStack(port=0, moto_port=0, run_schedules=False) as stack:
            assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_url
            # Order 1001 is cancellable in each: the second stack does not see the first one's data,
            # and the handlers' clients talk to the new moto.
            answer = cancel_order_1001(stack)
            assert answer.status_code == 201, answer.text
            assert answer.json()["id"] == 1
            # Each function runs in worker processes of its own (local_stack/functions.py), none shared.
            assert len({id(function.runner) for function in stack.functions.values()}) == len(stack.functions)
            # One stack at a time: the environment and the handler modules are process-wide.
            with pytest.raises(RuntimeError, match="already running"):
                LocalStack(port=0, moto_port=0).start()
    assert {key: os.environ.get(key) for key in before} == before


def test_scheduled_function_runs_on_its_schedule():
    with LocalStack(port=0, moto_port=0, seed=False, schedule_seconds=0.2) as stack:
        sweeper = stack.functions["ForwardingSweeperFunction"]
        deadline = time.monotonic() + 5
        while sweeper.invocations < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sweeper.invocations >= 2
        assert sweeper.errors == 0
        assert set(stack.run_scheduled("ForwardingSweeperFunction")) >= {"resent", "failed_to_send", "skipped"}


def readme_walkthrough() -> str:
    """The curl commands of the README's "Try it" section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Try it\n(.*?)(?=^## )", text, re.S | re.M)
    if section is None:
        pytest.skip("README has no Try it section")
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", section.group(1), re.S)
    return "\n".join(block for block in blocks if "curl" in block)


def start_cli(stderr) -> tuple[subprocess.Popen, str, list[str]]:
    env = {**os.environ, "PORT": "0", "MOTO_PORT": "0", "SUPPLIER_STUB_PORT": "0", "TENANT_STUB_PORT": "0", "LOCAL_SCHEDULES": "0",
           "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "local_stack"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=stderr, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Ready."):
            break
    output = "".join(lines)
    found = re.search(r"API\s+(http://127\.0\.0\.1:\d+)", output)
    if found is None or not lines or not lines[-1].startswith("Ready."):
        process.kill()
        process.wait()
        stderr.seek(0)
        pytest.fail(f"local stack did not start:\n{output}\n{stderr.read()}")
    return process, found.group(1), lines


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_prints_where_it_listens_serves_the_readme_walkthrough_and_stops_cleanly(stop_signal, tmp_path):
    with open(tmp_path / "stderr.log", "w+") as stderr:
        process, base_url, lines = start_cli(stderr)
        try:
            banner = "".join(lines)
            for expected in ("moto (AWS)", "local-CancellationsTable", "local-SupplierRequestsQueue", "TENANT1", "FIBRECO", "1001",
                             "queue poller", "stream poller", "supplier stub", "tenant stub"):
                assert expected in banner
            assert "not run locally" not in banner
            if stop_signal == signal.SIGINT and shutil.which("curl"):
                supplier_stub = re.search(r"supplier stub\s+(http://127\.0\.0\.1:\d+)", banner).group(1)
                tenant_stub = re.search(r"tenant stub\s+(http://127\.0\.0\.1:\d+)", banner).group(1)
                script = "set -e\n" + (readme_walkthrough().replace("http://127.0.0.1:3000", base_url)
                                        .replace("http://127.0.0.1:3001", supplier_stub).replace("http://127.0.0.1:3002", tenant_stub))
                ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
                assert ran.returncode == 0, ran.stderr
                out = ran.stdout
                # 1. the ACKNOWLEDGED KCI is accepted; 2. the cancellation of order 4242 is created;
                assert out.splitlines()[0] == "204", out
                assert '{"id":1,"status":"RECEIVED_BY_GATEWAY","supplier":"DUMMY_SUPPLIER","orderId":4242' in out
                # 3. the GETs show PENDING (the supplier's 202), then COMPLETED (its CANCELLED KCI);
                statuses = re.findall(r'"id":1,"supplierReference":"DUMMY_SUPPLIER-1","status":"(\w+)"', out)
                assert "PENDING" in statuses and statuses[-1] == "COMPLETED", statuses
                # 4. the tenant stub received ACKNOWLEDGED then CANCELLED for the order;
                assert re.search(r'"type": "ACKNOWLEDGED".*"type": "CANCELLED"', out, re.S), out
                assert '"X-Conversation-ID": "try-it"' in out
                # the other scenario: REJECTED at once, and the tenant is asked to resubmit.
                assert '{"id":2,"status":"REJECTED"' in out and '"type": "RESUBMIT"' in out
            else:
                assert requests.get(f"{base_url}/auth/.well-known/jwks.json", timeout=10).status_code == 200
        finally:
            process.send_signal(stop_signal)
            try:
                rest, _ = process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
        stderr.seek(0)
        log = stderr.read()
    assert process.returncode == 0, log
    assert "Stopped." in rest
    assert "Traceback" not in log, log
