"""Each function's settings (fibre_cafe/settings.py) and the one factory of its dependencies (fibre_cafe/wiring.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fibre_cafe.settings import SettingsError
from fibre_cafe.wiring import Wiring
from local_stack.template import function_environment, load_template, resources_of_type
from testing.functions import function_env, import_handler

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(resources_of_type(load_template(), "AWS::Serverless::Function"))
# Variables a function's template declares that are not the function's own settings: boto3's and Powertools'.
NOT_SETTINGS = {"AWS_ENDPOINT_URL", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


def variables(settings_type) -> set[str]:
    return {field.alias or name for name, field in settings_type.model_fields.items()}


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_function_reads_its_template_environment_into_its_settings(logical_id, aws):
    handler = import_handler(logical_id)
    env = function_environment(logical_id, aws)
    settings = handler.Settings.from_environ(env)
    for name, field in handler.Settings.model_fields.items():
        if field.alias in env and isinstance(getattr(settings, name), str):
            assert getattr(settings, name) == env[field.alias]


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_each_variable_the_template_gives_a_function_is_one_it_reads_or_a_global(logical_id, aws):
    """Globals (tables and the supplier-requests queue) reach every function; a function's own variables are all settings."""
    template = load_template()
    own = set(template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {}))
    assert own - NOT_SETTINGS <= variables(import_handler(logical_id).Settings)


def test_a_missing_variable_is_one_line_naming_it_and_the_form_it_must_have(aws):
    handler = import_handler("TenantApiFunction")
    env = function_env("TenantApiFunction", aws)
    del env["ORDERS_TABLE_NAME"]
    with pytest.raises(SettingsError) as raised:
        handler.Settings.from_environ(env)
    message = str(raised.value)
    assert "\n" not in message
    assert message == ("Settings: ORDERS_TABLE_NAME is missing "
                       "(expected a DynamoDB table name: 3-255 characters of A-Z a-z 0-9 _ . -)")


@pytest.mark.parametrize(("logical_id", "variable", "value", "expected"), [
    ("TenantApiFunction", "ID_BLOCK_SIZE", "lots", "a whole number, 1 or more"),
    ("TenantApiFunction", "ID_BLOCK_SIZE", "0", "a whole number, 1 or more"),
    ("TenantApiFunction", "SUPPLIER_REQUESTS_QUEUE_URL", "supplier-requests", "an SQS queue URL, http(s)://host/account/name"),
    ("TenantApiFunction", "CLIENT_PRINCIPALS", '{"TENANT1": "tenant"}', 'a JSON object, app client id -> "tenant:<ID>"'),
    ("SupplierDispatcherFunction", "PARTNER_CALL_DEADLINE_SECONDS", "0", "a number of seconds, more than 0 and at most 900"),
    ("SupplierDispatcherFunction", "SUPPLIER_READ_TIMEOUT_SECONDS", "ten", "a number of seconds, more than 0 and at most 900"),
    ("SupplierDispatcherFunction", "MAX_DISPATCH_ATTEMPTS", "0", "a whole number from 1 to 100"),
    ("TenantKciDeliveryFunction", "DELIVERY_BACKOFF_BASE_SECONDS", "5.5", "a whole number of seconds from 1 to 900"),
    ("KciProcessorFunction", "KCI_MAX_RECEIVE_COUNT", "-1", "a whole number from 1 to 1000"),
    ("TenantKciOutboxSweeperFunction", "OUTBOX_SWEEP_AFTER_SECONDS", "3m", "a whole number of seconds from 1 to 86400"),
])
def test_a_bad_variable_is_one_line_naming_it_its_value_and_the_form_it_must_have(logical_id, variable, value, expected, aws):
    handler = import_handler(logical_id)
    with pytest.raises(SettingsError) as raised:
        handler.Settings.from_environ({**function_env(logical_id, aws), variable: value})
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"Settings: {variable}={value!r} is not valid (expected {expected}")


def test_an_empty_variable_is_unset(aws):
    handler = import_handler("SupplierDispatcherFunction")
    settings = handler.Settings.from_environ({**function_env("SupplierDispatcherFunction", aws), "SUPPLIERS_CONFIG": "",
                                              "MAX_DISPATCH_ATTEMPTS": ""})
    assert settings.suppliers_config is None and settings.max_dispatch_attempts == 4


def test_a_handler_with_a_bad_environment_fails_with_the_settings_line_not_a_key_error(aws, monkeypatch):
    """Where nothing built them at import, the settings come from os.environ on the first invocation."""
    handler = import_handler("ForwardingSweeperFunction")
    monkeypatch.delenv("SUPPLIER_REQUESTS_QUEUE_URL", raising=False)
    for key, value in function_environment("ForwardingSweeperFunction", aws).items():
        if key != "SUPPLIER_REQUESTS_QUEUE_URL":
            monkeypatch.setenv(key, value)
    cold = Wiring(handler.Settings, handler.Dependencies)  # a new container's
    with pytest.raises(SettingsError, match=r"^Settings: SUPPLIER_REQUESTS_QUEUE_URL is missing \(expected an SQS queue URL"):
        cold()
    monkeypatch.setenv("SUPPLIER_REQUESTS_QUEUE_URL", function_environment("ForwardingSweeperFunction", aws)["SUPPLIER_REQUESTS_QUEUE_URL"])
    assert cold().queue is cold().queue


def test_dependencies_are_built_once_on_first_use_and_again_only_when_configured_or_reset(aws):
    handler = import_handler("TenantKciRelayFunction")
    built = []

    def factory(settings):
        built.append(settings)
        return handler.Dependencies(settings)

    wiring = Wiring(handler.Settings, factory)
    wiring.configure(function_env("TenantKciRelayFunction", aws))
    assert built == []  # lazily
    first = wiring()
    assert wiring() is first and wiring.queue is first.queue and len(built) == 1
    wiring.reset()  # a cold container: the same settings
    assert wiring() is not first and built[1] is built[0]
    wiring.configure(function_env("TenantKciRelayFunction", aws, TENANT_UPDATES_QUEUE_URL="https://sqs.example/1/other"))
    assert wiring().queue.url == "https://sqs.example/1/other" and len(built) == 3


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_the_sam_local_environment_of_every_function_is_valid_settings(logical_id):
    """events/env.json (``sam local invoke --env-vars``) gives each function settings its model accepts."""
    env = json.loads((ROOT / "events" / "env.json").read_text())[logical_id]
    import_handler(logical_id).Settings.from_environ({key: str(value) for key, value in env.items()})


LAMBDA_INIT = """\
import json, os, sys
from testing.functions import import_handler
results, base = {}, dict(os.environ)
for logical_id, env in json.loads(sys.argv[1]).items():
    os.environ.clear()
    os.environ.update({**base, **env})
    try:
        module = import_handler(logical_id)  # the init phase
    except Exception as exc:
        results[logical_id] = f"{type(exc).__name__}: {exc}"
        continue
    results[logical_id] = "built" if module.deps.built else "not built"
print(json.dumps(results))
"""


def lambda_init(environments: dict[str, dict[str, str]]) -> dict[str, str]:
    """Import each handler in a fresh process as Lambda's init phase does (AWS_LAMBDA_INITIALIZATION_TYPE set)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(AWS_LAMBDA_INITIALIZATION_TYPE="on-demand", AWS_REGION="eu-west-2", AWS_DEFAULT_REGION="eu-west-2",
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL="http://127.0.0.1:9",
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", LAMBDA_INIT, json.dumps(environments)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_in_lambda_every_function_builds_its_dependencies_in_the_init_phase(aws):
    """Clients are made at import where Lambda runs the code (init's CPU, not the first request's bill)."""
    assert lambda_init({logical_id: function_env(logical_id, aws) for logical_id in FUNCTIONS}) == dict.fromkeys(FUNCTIONS, "built")


def test_in_lambda_a_bad_variable_fails_the_init_with_its_one_line(aws):
    env = function_env("TenantApiFunction", aws)
    del env["ORDERS_TABLE_NAME"]
    assert lambda_init({"TenantApiFunction": env}) == {"TenantApiFunction": (
        "SettingsError: Settings: ORDERS_TABLE_NAME is missing "
        "(expected a DynamoDB table name: 3-255 characters of A-Z a-z 0-9 _ . -)")}
