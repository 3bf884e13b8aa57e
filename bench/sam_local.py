"""Time per event, side by side, for the three ways an event reaches a function (and warm containers as a fourth):

- ``sam local invoke``: the SAM CLI command of `make invoke` (a new container per call, SAM CLI rebuilding its image
  with the local layer each time), wall time of the command, moto and stubs already running;
- ``in-process replay``: tools.replay's in-process target, the handler call only (``StackTarget.send``);
- ``running stack``: one request to a running local stack, in-process functions: an API event over HTTP to the
  front, a queue event through the function runner (Lambda's Invoke API, local_stack/lambda_api.py);
- ``warm container``: the same invoke through ``sam local start-lambda`` with a warm container (make run
  LAMBDA=containers), after a first call that starts it.

Every event gets a fresh world and its expected.json setup before each timed call (not timed), so each call does
the same work. Medians; the ratios are against the in-process replay, measured in the same run.

    python -m bench.sam_local [--runs 3] [--events events/tenant_api/post-valid.json ...]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, report, table

DEFAULT_EVENTS = [
    "events/tenant_api/post-body-not-json.json",  # refused before any AWS call
    "events/tenant_api/post-valid.json",  # reads two tables, one transaction, one SQS send
    "events/kci_processor/one-record.json",  # an SQS batch of one KCI
    "events/supplier_dispatcher/one-record.json",  # an SQS batch, a call to the supplier stub
]


def _replays(events: list[str]):
    from tools import replay

    return [next(item for item in replay.read_replays([Path(name)], None) if item.source == name) for name in events]


def _fresh(target, item) -> None:
    target._fresh = False  # force LocalStack.reset: every timed call starts from the same world
    target._folder = None
    target.prepare(item)


def _runner_invoke(http, function: str, event: dict):
    """One request to the running stack's function runner (Lambda's Invoke API)."""
    from tools import replay

    answer = http.session.post(f"{http.lambda_url}/2015-03-31/functions/{function}/invocations", data=json.dumps(event), timeout=60)
    body = answer.json()
    failures = body.get("batchItemFailures") if isinstance(body, dict) else None
    return replay.Outcome("BATCH_FAILURES" if failures else "OK", body)


def measure_in_process_and_http(events: list[str], runs: int, functions: dict[str, str]) -> dict[str, dict[str, list[float]]]:
    from tools import replay

    times: dict[str, dict[str, list[float]]] = {name: {"in_process": [], "running_stack": []} for name in events}
    target = replay.StackTarget(None, None)
    http = replay.HttpTarget(target.stack.base_url, None, None, None, None, target.stack.moto_url, 60.0, target.stack.lambda_api_url)
    try:
        for item in _replays(events):
            kind = replay._kind(item.event)
            functions[item.source] = target._function_for(kind, item.event)
            for _ in range(runs):
                times[item.source]["in_process"].append(_timed_send(target, item))
                _fresh(target, item)
                if kind == "sqs":
                    send = functools.partial(_runner_invoke, http, functions[item.source], item.event)
                else:
                    http._token(item.event["path"].startswith("/kcis"))  # the token is fetched once, outside the timing
                    send = functools.partial(http.send, item, replay.DEFAULT_PATH)
                started = time.perf_counter()
                outcome = send()
                times[item.source]["running_stack"].append(time.perf_counter() - started)
                assert replay.judge(item, outcome) is None, (item.source, outcome)
    finally:
        http.close()
        target.close()
    return times


def measure_sam_local_invoke(events: list[str], runs: int, times: dict, functions: dict[str, str]) -> str:
    from local_stack.containers import BUILD_TEMPLATE, SAM, docker_setup, sam_env
    from local_stack.stack import LocalStack
    from tools.lambda_runtime.invoke import env_file_for
    from tools.replay import apply_setup

    docker = docker_setup(stream=io.StringIO())
    # Ids straight from the counter, so that each reset world numbers the setup's cancellations from 1 (tools.replay does the same).
    stack = LocalStack(port=0, moto_port=0, run_pollers=False, run_schedules=False, host=docker.gateway,
                       function_env={"TenantApiFunction": {"ID_BLOCK_SIZE": "1"}}).start()
    try:
        with tempfile.TemporaryDirectory() as directory:
            env_file = env_file_for(stack.moto_url, Path(directory))
            for item in _replays(events):
                function = functions[item.source]
                for _ in range(runs):
                    stack.reset()
                    if item.setup:
                        with contextlib.redirect_stdout(io.StringIO()):
                            apply_setup(stack, item.setup, item.event)
                    command = [str(SAM), "local", "invoke", function, "--template", str(BUILD_TEMPLATE), "--event", item.source,
                               "--env-vars", str(env_file), "--invoke-image", docker.image, "--skip-pull-image",
                               "--docker-network", docker.network, "--region", "eu-west-2"]
                    started = time.perf_counter()
                    done = subprocess.run(command, cwd=ROOT, env=sam_env("eu-west-2"), capture_output=True, text=True, timeout=600)
                    times[item.source]["sam_local_invoke"].append(time.perf_counter() - started)
                    if done.returncode != 0:
                        raise RuntimeError(f"sam local invoke {function} {item.source} failed:\n{done.stderr[-2000:]}")
    finally:
        stack.stop()
    return docker.image


def _timed_send(target, item) -> float:
    """Seconds to replay ``item`` on a fresh world of ``target`` (which must answer as the file expects)."""
    from tools import replay

    _fresh(target, item)
    started = time.perf_counter()
    outcome = target.send(item, replay.DEFAULT_PATH)
    elapsed = time.perf_counter() - started
    assert replay.judge(item, outcome) is None, (item.source, outcome)
    return elapsed


def measure_warm_container(events: list[str], runs: int, times: dict) -> None:
    from tools import replay

    target = replay.StackTarget(None, None, lambda_runtime="containers")
    try:
        for item in _replays(events):
            _fresh(target, item)
            target.send(item, replay.DEFAULT_PATH)  # starts the function's container
            for _ in range(runs):
                times[item.source]["warm_container"].append(_timed_send(target, item))
    finally:
        target.close()


def measure(events: list[str], runs: int, container_runs: int) -> dict:
    functions: dict[str, str] = {}
    with contextlib.redirect_stdout(io.StringIO()):  # the in-process functions' metric lines
        times = measure_in_process_and_http(events, runs, functions)
    for name in events:
        times[name].update(sam_local_invoke=[], warm_container=[])
    image = measure_sam_local_invoke(events, container_runs, times, functions)
    measure_warm_container(events, runs, times)
    rows = {}
    for name, series in times.items():
        medians = {key: statistics.median(values) * 1000 for key, values in series.items() if values}
        base = medians["in_process"]
        rows[name] = {"median_ms": {key: round(value, 2) for key, value in medians.items()},
                      "ratio_to_in_process": {key: round(value / base, 1) for key, value in medians.items()},
                      "runs": {key: len(values) for key, values in series.items()}}
    return {"image": image, "events": rows}


COLUMNS = [("sam_local_invoke", "sam local invoke"), ("in_process", "in-process replay"), ("running_stack", "running stack"),
           ("warm_container", "warm container")]


def render(result: dict) -> str:
    rows = []
    for name, row in result["events"].items():
        cells = [name.removeprefix("events/")]
        for key, _ in COLUMNS:
            cells.append(f"{row['median_ms'][key]:.1f} ms ({row['ratio_to_in_process'][key]:g}x)")
        rows.append(cells)
    ratios = {key: statistics.median(row["ratio_to_in_process"][key] for row in result["events"].values()) for key, _ in COLUMNS}
    note = (
        "  median ratios to the in-process replay: "
        + ", ".join(f"{label} {ratios[key]:g}x" for key, label in COLUMNS if key != "in_process")
        + f"\n  (image {result['image']}; sam local invoke is the whole command: a container per call, "
        "SAM CLI's image build with the layer)"
    )
    return ("Time per event: sam local invoke, in-process replay, running local stack, warm start-lambda container (median)\n"
            + table(rows, ["event", *[label for _, label in COLUMNS]]) + "\n" + note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--runs", type=int, default=15, help="timed calls per event in-process, over HTTP and warm")
    parser.add_argument("--container-runs", type=int, default=2, help="sam local invoke commands per event")
    parser.add_argument("--events", nargs="*", default=DEFAULT_EVENTS)
    args = parser.parse_args(argv)
    result = measure(args.events, args.runs, args.container_runs)
    return report(result, render, args.json)


if __name__ == "__main__":
    sys.exit(main())
