"""Fixtures of the security tests: one local stack per module (free ports, no pollers, no schedules), its
tokens, extra orders, and the capture of what the stack logs."""

from __future__ import annotations

import pytest
import requests

from local_stack.seed import DemoOrder, seed_orders
from local_stack.stack import LocalStack
from tests.security.support import LogCapture


@pytest.fixture(scope="module")
def stack():
    """The local stack for one test module. Without pollers or schedules: nothing takes a message off a
    queue, so a queue's depth says exactly what the requests of the module queued."""
    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False) as running:
        yield running


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def good_tokens(stack) -> dict[str, str]:
    """An access token of each development client, from the stack's own signer."""
    return {client: stack.tokens.issue(client) for client in ("TENANT1", "TENANT2", "DUMMY_SUPPLIER", "FIBRECO")}


@pytest.fixture(scope="module")
def register_orders(stack):
    """``register_orders(DemoOrder(...), ...)``: put orders in the stack's registry (as the demo orders are)."""
    from fibre_cafe.dal.orders_table import OrdersTable

    orders = OrdersTable(stack.client("dynamodb"), stack.resources.tables["OrdersTable"])

    def register(*demo_orders: DemoOrder) -> None:
        seed_orders(orders, tuple(demo_orders))

    return register


@pytest.fixture(scope="module")
def log_capture(stack):
    """Every INFO+ line the stack's code logs while the module runs (``logs`` clears it per test)."""
    capture = LogCapture().attach()
    yield capture
    capture.detach()


@pytest.fixture
def logs(log_capture) -> LogCapture:
    log_capture.clear()
    return log_capture
