"""Fixtures of the security tests: one local stack per module (free ports, no pollers, no schedules), its
tokens, extra orders, and the capture of what the stack logs."""

from __future__ import annotations

import pytest

from local_stack.seed import DemoOrder, seed_orders
from tests.security.support import LogCapture


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
