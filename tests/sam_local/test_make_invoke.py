"""`make invoke FN=... EVENT=...` (python -m tools.lambda_runtime.invoke): the response is stdout's last line, logs come
before it, the file's setup is applied on the stack it starts, and a function that raises makes it exit non-zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_invoke(function: str, event: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.lambda_runtime.invoke", function, event, "--moto-port", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_the_answer_is_the_last_line_and_the_setup_is_applied(docker_env):
    done = make_invoke("SupplierDispatcherFunction", "events/supplier_dispatcher/batch-with-poison.json")
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    expected = json.loads((ROOT / "events/supplier_dispatcher/expected.json").read_text())["batch-with-poison.json"]
    assert [failure["itemIdentifier"] for failure in answer["batchItemFailures"]] == expected["batchItemFailures"]
    for step in ("Docker: engine, network and runtime image", "applying the file's setup", "sam local invoke SupplierDispatcherFunction",
                 "stopping the local stack started for this call"):
        assert step in done.stderr


def test_a_function_that_raises_fails_the_command(docker_env, tmp_path):
    event = tmp_path / "not-a-stream-event.json"
    event.write_text(json.dumps({"Records": 5}))
    done = make_invoke("TenantKciRelayFunction", str(event))
    assert done.returncode == 1, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["errorType"] and "errorMessage" in answer
    assert "the function raised" in done.stderr
