"""Every file of every events/ folder, through the built artifact in Lambda runtime containers (`sam local start-lambda`,
warm containers), gets the same answer as the in-process replay: the same status code, the same body apart from
uuids and timestamps, the same batch item failures, the same function errors.

Both runs are tools.replay's StackTarget over the same sequence (replay.read_replays: `after` files first, a fresh
world and the file's expected.json setup for each file that has one), so both sides start every file from the same
state. A difference is a packaging or runtime fault of the artifact (or of the emulation), not noise.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tools import replay

EVENTS = Path(__file__).resolve().parents[2] / "events"
FILES = sorted(str(path.relative_to(EVENTS.parent)) for path in EVENTS.glob("*/*.json") if path.name != "expected.json")

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


def normalised(value: Any) -> Any:
    """The answer with every uuid and timestamp replaced by a placeholder (they differ between any two runs)."""
    if isinstance(value, dict):
        return {key: normalised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalised(item) for item in value]
    if isinstance(value, str):
        return TIMESTAMP.sub("<timestamp>", UUID.sub("<uuid>", value))
    return value


def comparable(outcome: replay.Outcome) -> tuple[Any, Any]:
    if outcome.status == "ERROR":  # a function error: its type (the message may name a path that differs)
        return "ERROR", (outcome.body or {}).get("errorType")
    return outcome.status, normalised(outcome.body)


def replay_all(lambda_runtime: str) -> tuple[dict[str, replay.Outcome], float, replay.StackTarget | None]:
    replays = list(replay.read_replays([Path(name) for name in FILES], None))
    target = replay.StackTarget(None, None, lambda_runtime=lambda_runtime)
    answers: dict[str, replay.Outcome] = {}
    started = time.monotonic()
    try:
        for item in replays:
            target.prepare(item)
            answers[item.source] = target.send(item, replay.DEFAULT_PATH)
        elapsed = time.monotonic() - started
        if lambda_runtime == "containers":
            runner = target.stack._containers.start_lambda
            answers["__containers__"] = replay.Outcome("OK", runner.container_ids())
    finally:
        target.close()
    return answers, elapsed, target


@pytest.fixture(scope="module")
def in_process():
    answers, elapsed, _ = replay_all("in-process")
    print(f"\nin-process: {len(FILES)} files in {elapsed:.1f} s")
    return answers


@pytest.fixture(scope="module")
def in_containers(docker_env, in_process):  # in_process first: one LocalStack per process at a time
    answers, elapsed, _ = replay_all("containers")
    print(f"\ncontainers (sam local start-lambda, warm LAZY): {len(FILES)} files in {elapsed:.1f} s")
    return answers


def test_the_files_are_every_folders_files():
    assert {Path(name).parent.name for name in FILES} == {path.name for path in EVENTS.iterdir() if path.is_dir()}
    assert len(FILES) >= 42


def test_the_answers_came_from_lambda_containers(in_containers):
    assert in_containers["__containers__"].body, "start-lambda started no container"


@pytest.mark.parametrize("name", FILES)
def test_same_answer_in_a_container_as_in_process(name, in_process, in_containers):
    here, there = in_process[name], in_containers[name]
    assert comparable(there) == comparable(here), (
        f"{name}: in a container {there.status} {there.body!r}\nin-process {here.status} {here.body!r}"
    )
    # Both are also what expected.json promises (the replay's own judgement).
    expected = next(item for item in replay.read_replays([Path(name)], None) if item.source == name)
    assert replay.judge(expected, there) is None, replay.judge(expected, there)


def test_the_normalisation_keeps_what_matters():
    body = {"uuid": "8bb03d63-93c0-472e-96d3-888f2f5110a7", "code": "MALFORMED_REQUEST", "at": "2026-12-02T10:26:01.589Z", "id": 1}
    assert normalised(body) == {"uuid": "<uuid>", "code": "MALFORMED_REQUEST", "at": "<timestamp>", "id": 1}
    assert comparable(replay.Outcome(400, body)) != comparable(replay.Outcome(400, {**body, "id": 2}))
    assert comparable(replay.Outcome("BATCH_FAILURES", {"batchItemFailures": [{"itemIdentifier": "a"}]})) != \
        comparable(replay.Outcome("OK", {"batchItemFailures": []}))
