"""Reliability suites (issue 6): sizes for CI by default, larger with SOAK=1 (``make soak``).

Each size is an environment variable, so a soak run can go further still, e.g.
``SOAK=1 SCHEMATHESIS_CASES=5000 make soak``. Defaults (make test / SOAK=1):

| variable                 | make test | soak  | what |
|--------------------------|-----------|-------|------|
| SCHEMATHESIS_CASES       | 150       | 1200  | generated cases in all, over every operation, positive and negative |
| SCHEMATHESIS_SEED        | 6         | 6     | hypothesis seed (the cases are the same on every run) |
| LOAD_POSTS               | 300       | 2000  | POSTs at concurrency LOAD_CONCURRENCY across distinct orders |
| LOAD_CONCURRENCY         | 32        | 32    | |
| CHAOS_ORDERS             | 20        | 80    | orders in the KCI chaos stream |
| CHAOS_KCIS_PER_ORDER     | 6         | 10    | distinct KCIs per order (before duplicates) |
| CHAOS_DUPLICATES         | 0.3       | 0.3   | share of KCIs sent again |
| CHAOS_SEED               | 6         | 6     | |
"""

from __future__ import annotations

import os
import threading

import pytest

# moto's TransactWriteItems deep-copies whole tables (with their streams) to roll back: a write's cost grows with
# everything written before it. The lifecycle suite's fix (back up only the named items) applies here too, also to
# the local stack's moto server, which runs in this process.
from tests.lifecycle.conftest import _moto_transactions_back_up_items_not_tables  # noqa: F401,E402 - an autouse fixture

SOAK = os.environ.get("SOAK", "") not in ("", "0")

_DEFAULTS = {
    "SCHEMATHESIS_CASES": (150, 1200),
    "SCHEMATHESIS_SEED": (6, 6),
    "LOAD_POSTS": (300, 2000),
    "LOAD_CONCURRENCY": (32, 32),
    "CHAOS_ORDERS": (20, 80),
    "CHAOS_KCIS_PER_ORDER": (6, 10),
    "CHAOS_DUPLICATES": (0.3, 0.3),
    "CHAOS_SEED": (6, 6),
}


def size(name: str):
    """The configured size: the environment's value, else the soak or CI default."""
    ci, soak = _DEFAULTS[name]
    default = soak if SOAK else ci
    value = os.environ.get(name)
    return type(default)(value) if value not in (None, "") else default


@pytest.fixture(autouse=True, scope="session")
def _moto_kms_keys_are_cheap():
    """SSE-enabled tables make moto generate an RSA key pair per table: reuse one per key spec (as the other suites do)."""
    import moto.kms.models

    original = moto.kms.models.generate_private_key
    cache: dict = {}

    def generate_private_key(key_spec: str):
        if key_spec not in cache:
            cache[key_spec] = original(key_spec)
        return cache[key_spec]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(moto.kms.models, "generate_private_key", generate_private_key)
        yield


@pytest.fixture(autouse=True)
def _moto_requests_are_atomic(monkeypatch):
    """DynamoDB applies each request atomically; in-process moto does not when threads call it: serialise its requests."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    lock = threading.RLock()

    def process_request(self, request):
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)
