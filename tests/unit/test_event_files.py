"""The files in events/ can never rot: each runs through the real handler with the answer it promises,
and the committed files are exactly what events/generate.py makes (`make events` rewrites them)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from testing.lambda_context import lambda_context

EVENTS = Path(__file__).resolve().parents[2] / "events"
TENANT_API_EVENTS = EVENTS / "tenant_api"
EXPECTED: dict[str, dict] = json.loads((TENANT_API_EVENTS / "expected.json").read_text())


def _generator():
    spec = importlib.util.spec_from_file_location("events_generate", EVENTS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _invoke(tenant_api, name: str) -> tuple[int, dict | None]:
    event = json.loads((TENANT_API_EVENTS / name).read_text())
    answer = tenant_api.lambda_handler(event, lambda_context("TenantApiFunction"))
    body = answer.get("body")
    return answer["statusCode"], json.loads(body) if body else None


def test_every_event_file_has_an_expectation():
    files = {path.name for path in TENANT_API_EVENTS.glob("*.json")} - {"expected.json"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_file_gets_its_expected_answer(name, tenant_api, orders):
    # The local stack's demo order 1001 (local_stack/seed.py), which the events are written for.
    orders(1001, tenant="TENANT1", supplier="DUMMY_SUPPLIER")
    expected = EXPECTED[name]
    earlier: dict[str, dict | None] = {}
    for before in expected.get("after", []):
        status, earlier[before] = _invoke(tenant_api, before)
        assert status == EXPECTED[before]["status"], f"{before} (run before {name}) answered {status}: {earlier[before]}"

    status, body = _invoke(tenant_api, name)

    assert status == expected["status"], f"{name}: {expected['description']}: answered {status}: {body}"
    if expected["code"] is None:
        assert body is not None and "code" not in body, body
    else:
        assert body is not None and body["code"] == expected["code"], body
        assert body["messages"] and all(isinstance(message, str) for message in body["messages"]), body
    if status == 201:
        assert body["status"] == "RECEIVED_BY_GATEWAY" and isinstance(body["id"], int) and body["orderId"] == 1001
    if "same_body_as" in expected:
        assert body == earlier[expected["same_body_as"]]


def test_get_event_reads_the_cancellation_post_valid_creates(tenant_api, orders):
    """get-cancellation-1 names id 1: the first id a fresh stack hands out, as the README's walkthrough says."""
    orders(1001)
    _, created = _invoke(tenant_api, "post-valid.json")
    status, read = _invoke(tenant_api, "get-cancellation-1.json")
    assert created["id"] == 1
    assert status == 200 and read["id"] == 1 and read["orderId"] == 1001


def test_scheduled_event_runs_the_forwarding_sweeper(aws):
    from testing.functions import load_function

    forwarding_sweeper_handler = load_function("ForwardingSweeperFunction", aws)
    event = json.loads((EVENTS / "forwarding_sweeper" / "scheduled.json").read_text())
    report = forwarding_sweeper_handler.lambda_handler(event, lambda_context("ForwardingSweeperFunction"))
    assert isinstance(report, dict)


def test_env_json_covers_every_function_and_points_at_the_local_stack():
    from local_stack.template import load_template, resources_of_type

    env = json.loads((EVENTS / "env.json").read_text())
    assert set(env) == set(resources_of_type(load_template(), "AWS::Serverless::Function"))
    assert {"TenantApiFunction", "ForwardingSweeperFunction"} <= set(env)
    tenant_api = env["TenantApiFunction"]
    assert tenant_api["CANCELLATIONS_TABLE_NAME"] == "local-CancellationsTable"
    assert tenant_api["ORDERS_TABLE_NAME"] == "local-OrdersTable"
    assert tenant_api["SUPPLIER_REQUESTS_QUEUE_URL"] == "http://127.0.0.1:4566/123456789012/local-SupplierRequestsQueue"
    assert tenant_api["PARTNER_REGISTRY_TABLE_NAME"] == "local-PartnerRegistryTable"  # the local stack seeds it
    assert "CLIENT_PRINCIPALS" not in tenant_api
    # moto on the project's Docker network's gateway (local_stack/containers.py), where sam local's containers reach it.
    from local_stack.containers import LAMBDA_GATEWAY

    assert all(variables["AWS_ENDPOINT_URL"] == f"http://{LAMBDA_GATEWAY}:4566" for variables in env.values())


def test_committed_event_files_are_what_the_generator_makes():
    generator = _generator()
    files = generator.build()
    differ = [name for name, text in files.items() if not (EVENTS / name).is_file() or (EVENTS / name).read_text() != text]
    assert not differ, f"events/ is out of date, run `make events`: {differ}"
    assert not generator.stale_files(files), "events/ has files the generator no longer makes: run `make events`"
