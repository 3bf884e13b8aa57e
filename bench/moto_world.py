"""An in-process moto world with the template's tables and queues (testing.aws), and handler modules loaded into it."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

import testing.aws
from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS as DEV_PRINCIPALS
from testing.aws import item_level_transaction_backups, template_without_streams  # noqa: F401 - re-exported for the benchmarks
from testing.recorders import AwsCallLog as CallLog  # noqa: F401 - re-exported for the benchmarks


@contextlib.contextmanager
def moto_world(streams: bool = True) -> Iterator[Any]:
    """Fake credentials and no endpoint override in os.environ, moto's mock, the template's resources (without the
    tables' streams unless ``streams``: see testing.aws.template_without_streams); os.environ is restored after."""
    saved = dict(os.environ)
    testing.aws.use_fake_aws()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    try:
        with testing.aws.moto_world(prefix="bench", template=None if streams else template_without_streams()) as resources:
            yield resources
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_handler(logical_id: str, resources, **extra_env: str):
    """A function's handler module with its template environment, its dependencies built in this world now
    (the product's factory, testing/functions.py; built now, so that a benchmark's first call is a warm one)."""
    from testing.functions import load_function

    module = load_function(logical_id, resources, CLIENT_PRINCIPALS=json.dumps(DEV_PRINCIPALS), **extra_env)
    module.deps.build()
    return module
