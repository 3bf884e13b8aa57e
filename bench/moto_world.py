"""An in-process moto world with the template's tables and queues (testing.aws), and handler modules loaded into it."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import testing.aws
from bench.common import handler_paths
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
    """Import a function's handler module with its template environment, its clients built in this world."""
    from local_stack.template import function_environment

    env = function_environment(logical_id, resources)
    env.update(CLIENT_PRINCIPALS=json.dumps(DEV_PRINCIPALS), **extra_env)
    os.environ.update(env)
    paths, module_name, _attribute = handler_paths(logical_id)
    for path in reversed(paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    identity = sys.modules.get("fibre_cafe.api.identity")
    if identity is not None:
        identity.client_principals.cache_clear()
    module = importlib.import_module(module_name)
    module.deps = module.Dependencies()
    return module
