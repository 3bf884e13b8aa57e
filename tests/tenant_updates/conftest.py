"""Fixtures for telling the tenant (issue 7): ``world``, a ``testing.lifecycle.TenantWorld`` (the lifecycle harness
plus the orders table's stream, the tenant-KCI relay and delivery functions, and the scripted tenant ``tenant_stub``).

The moto world, ``load_function``, the scripted partners and the moto patches are testing/'s (testing.pytest_plugin,
registered by tests/conftest.py); the item-level transaction backups also make a cancelled TransactWriteItems leave
no stream record, as in DynamoDB (plain moto 5.2 keeps the records of its partial writes, so the relay would see a
phantom tenant KCI). Nothing here talks to real AWS, and HTTP goes to 127.0.0.1 only.
"""

from __future__ import annotations

import pytest

from testing.lifecycle import TenantWorld


@pytest.fixture
def world(aws, load_function, supplier_stub, tenant_stub, monkeypatch):
    harness = TenantWorld(aws, load_function, supplier_stub.url, monkeypatch, tenant_stub)
    yield harness
    harness.close()
