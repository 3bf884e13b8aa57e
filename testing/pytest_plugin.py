"""The suites' shared fixtures, registered once by tests/conftest.py (``pytest_plugins``): no suite imports another's
conftest. The moto speed and atomicity patches are autouse for every test.

- ``aws``: a fresh moto world per test with every table and queue of template.yaml (testing.aws.moto_world);
- ``load_function``: a template function's handler module with its template environment, clients in this world;
- ``supplier_stub`` / ``tenant_stub``: scripted partners on 127.0.0.1 (testing.stub_servers);
- ``lifecycle``: every function of the cancellation's life in-process (testing.lifecycle.Lifecycle);
- ``stack`` / ``http``: one local stack per test module (free ports, no pollers, no schedules) and a requests session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testing import functions
from testing.aws import cheap_kms_keys, item_level_transaction_backups, moto_world, serialised_moto_requests
from testing.lifecycle import Lifecycle
from testing.stub_servers import ScriptedSupplier, ScriptedTenant


@pytest.fixture(autouse=True, scope="session")
def _moto_kms_keys_are_cheap() -> Iterator[None]:
    with cheap_kms_keys():
        yield


@pytest.fixture(autouse=True, scope="session")
def _moto_transactions_back_up_items_not_tables() -> Iterator[None]:
    """moto deep-copies whole tables (with their streams) on every TransactWriteItems, so a write's cost grows with
    everything written before it; the local stack's fix (local_stack/moto_patches.py) backs up only the items a
    transaction names, and a cancelled transaction leaves no stream record, as in DynamoDB."""
    with item_level_transaction_backups():
        yield


@pytest.fixture(autouse=True)
def _moto_requests_are_atomic() -> Iterator[None]:
    with serialised_moto_requests():
        yield


@pytest.fixture
def aws() -> Iterator[Any]:
    """A fresh moto world per test, with every table and queue of template.yaml."""
    with moto_world() as resources:
        yield resources


@pytest.fixture
def load_function(aws: Any) -> Iterator[Callable[..., Any]]:
    """A template function's handler with its template environment (plus ``extra_env``), its dependencies built
    inside this moto world by the product's factory (testing.functions)."""
    loaded: list[Any] = []

    def load(logical_id: str, **extra_env: str) -> Any:
        loaded.append(functions.load_function(logical_id, aws, **extra_env))
        return loaded[-1]

    yield load
    functions.release(*loaded)  # a background id-block refill must not outlive this moto world


@pytest.fixture
def supplier_stub() -> Iterator[ScriptedSupplier]:
    with ScriptedSupplier() as stub:
        yield stub


@pytest.fixture
def tenant_stub() -> Iterator[ScriptedTenant]:
    with ScriptedTenant() as stub:
        yield stub


@pytest.fixture
def lifecycle(aws: Any, load_function: Callable[..., Any], supplier_stub: ScriptedSupplier,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Lifecycle]:
    harness = Lifecycle(aws, load_function, supplier_stub.url, monkeypatch)
    yield harness
    harness.close()


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    """The local stack for one test module, on free ports. Without the event source pollers or schedules: nothing takes
    a message off a queue, so the tests see what the APIs stored and queued (tests/http/test_e2e_lifecycle.py runs the
    whole journey with its own stack)."""
    from local_stack.stack import LocalStack

    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[Any]:
    import requests

    with requests.Session() as session:
        yield session
