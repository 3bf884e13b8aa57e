"""python -m tools.replay: event files against the handlers in-process and against the local stack over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import replay

EVENTS = sorted(Path("events/tenant_api").glob("*.json"))


def test_every_tenant_api_event_file_gives_its_expected_answer_in_process(tmp_path, capsys):
    exit_code = replay.main([*map(str, EVENTS), "--out", str(tmp_path), "--quiet"])
    printed = capsys.readouterr().out
    assert exit_code == 0, printed
    files = [path for path in EVENTS if path.name not in ("expected.json",)]
    assert f"sent {len(files)}, succeeded {len(files)}, unexpected 0" in printed
    written = sorted(tmp_path.iterdir())
    assert len(written) == len(files)
    first = json.loads(written[0].read_text())
    assert first["source"].endswith("post-valid.json") and first["status"] == 201 and first["body"]["status"] == "RECEIVED_BY_GATEWAY"


def test_an_answer_other_than_expected_makes_the_command_fail(capsys):
    exit_code = replay.main(["events/tenant_api/post-order-id-float.json", "--expect-status", "201", "--quiet"])
    printed = capsys.readouterr().out
    assert exit_code == 1
    assert "UNEXPECTED events/tenant_api/post-order-id-float.json: status 400, expected 201" in printed


def test_recorded_traffic_as_json_lines_of_bare_bodies(tmp_path, capsys):
    recorded = tmp_path / "recorded.jsonl"
    lines = [
        {"orderId": 1001, "reasonCode": "CUSTOMER_CHANGED_MIND"},
        {"orderId": 1001, "reasonCode": "OTHER"},  # a second open cancellation: 422
        {"orderId": 1.5, "reasonCode": "OTHER"},  # malformed: 400
        {"orderId": 2001, "reasonCode": "OTHER"},  # TENANT2's order, seen as TENANT1: 422 NOT_FOUND
    ]
    recorded.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    exit_code = replay.main([str(recorded), "--client-id", "TENANT1", "--quiet"])
    printed = capsys.readouterr().out
    assert exit_code == 0, printed  # 4xx answers are answers, not failures
    assert "sent 4, succeeded 4, unexpected 0 (201: 1, 400: 1, 422: 2)" in printed


@pytest.mark.http
def test_the_same_files_against_the_local_stack_over_http(capsys):
    from local_stack.stack import LocalStack

    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False) as stack:
        exit_code = replay.main([*map(str, EVENTS), "--target", stack.base_url, "--moto-url", stack.moto_url, "--quiet"])
    printed = capsys.readouterr().out
    assert exit_code == 0, printed
    assert "unexpected 0" in printed


@pytest.mark.http
def test_a_dead_target_is_an_unexpected_failure(capsys):
    exit_code = replay.main(["events/tenant_api/post-valid.json", "--target", "http://127.0.0.1:9", "--token", "x", "--quiet",
                             "--timeout", "2"])
    printed = capsys.readouterr().out
    assert exit_code == 1
    assert "transport error" in printed


def _files_without_setup(folder: str) -> list[str]:
    """Queue events whose expected.json needs no prepared cancellations (replay starts from a fresh stack)."""
    expected = json.loads(Path(folder, "expected.json").read_text())
    return [str(Path(folder, name)) for name, entry in sorted(expected.items()) if not (entry.get("setup") or {}).get("cancellations")]


def test_supplier_kci_files_and_queue_events_replay_in_process(capsys):
    files = sorted(map(str, Path("events/supplier_updates_api").glob("*.json"))) + _files_without_setup("events/kci_processor")
    assert len(files) >= 8
    exit_code = replay.main([*files, "--quiet"])
    printed = capsys.readouterr().out
    assert exit_code == 0, printed
    assert "BATCH_FAILURES" in printed  # the poison record fails alone, as expected.json says


@pytest.mark.http
def test_supplier_kci_files_against_the_local_stack(capsys):
    from local_stack.stack import LocalStack

    files = sorted(map(str, Path("events/supplier_updates_api").glob("*.json")))
    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False) as stack:
        exit_code = replay.main([*files, "--target", stack.base_url, "--moto-url", stack.moto_url, "--quiet"])
    printed = capsys.readouterr().out
    assert exit_code == 0, printed
