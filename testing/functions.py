"""A template function's handler, its settings and dependencies built by the product's own factory (fibre_cafe/wiring.py).

``load_function("TenantApiFunction", resources)`` imports the handler module as Lambda does (the function's code
and layer directories on ``sys.path``) and configures its ``deps`` with the function's environment: template.yaml's
variables resolved to ``resources`` (a moto world's tables and queues), the development clients' principals
(``CLIENT_PRINCIPALS``) and ``extra`` on top. Nothing is patched and ``os.environ`` is not touched: the settings
come from that mapping (``deps.configure``), and the dependencies are built on first use, inside the caller's
moto world. Loading again (a new world) configures the same module afresh.

``release(module)`` lets the dependencies' background work end before the world goes (``deps.close``).
"""

from __future__ import annotations

import importlib
import json
import sys
from types import ModuleType
from typing import Any

from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS
from local_stack.template import function_environment, function_spec


def function_env(logical_id: str, resources: Any, **extra: str) -> dict[str, str]:
    """The function's environment in this world: the template's variables, the development principals, ``extra``."""
    return {**function_environment(logical_id, resources), "CLIENT_PRINCIPALS": json.dumps(DEV_CLIENT_PRINCIPALS), **extra}


def import_handler(logical_id: str) -> ModuleType:
    """The function's handler module, imported with its layers and code directory first on ``sys.path``."""
    spec = function_spec(logical_id)
    for directory in reversed((*spec.layer_dirs, spec.code_dir)):
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    return importlib.import_module(spec.module)


def load_function(logical_id: str, resources: Any, **extra: str) -> ModuleType:
    """The handler module, its settings from this world's environment, dependencies built on first use."""
    module = import_handler(logical_id)
    module.deps.configure(function_env(logical_id, resources, **extra))
    return module


def release(*modules: ModuleType) -> None:
    """Let the functions' background work (an id-block refill) end before their moto world does."""
    for module in modules:
        module.deps.close()
