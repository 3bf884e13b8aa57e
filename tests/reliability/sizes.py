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
