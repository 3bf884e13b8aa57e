"""Run the template's Lambda functions in this process: one warm "container" each, one invocation at a time.

Each function's handler module is imported the way Lambda would import it: its code directory and
its layers' directories on ``sys.path``, and its environment (template.yaml's Globals + own
variables, ``!Ref``/``!GetAtt`` resolved to the local resources) in ``os.environ`` **before** the
import, because handler modules build their boto3 clients at import.

Concurrency: one Lambda container handles one event at a time, and the handlers rely on that.
Powertools' resolver keeps the current event in a class attribute, so a handler is not
thread-safe: two threads in one handler would read each other's request. Per-function locks (one
warm container per function) would not be enough in one process either: the attribute is set on
``BaseRouter`` itself (``BaseRouter.current_event = ...`` in ``resolve``), shared by the resolvers
of *every* API function, and Powertools Loggers with one service name share one formatter, so
``append_keys``/``clear_state`` of one function's invocation would leak into another's log lines.
So every ``LocalFunction`` of a stack holds the same lock: one invocation at a time in the whole
process. Locally that costs nothing that matters (an API call takes milliseconds); parallel
requests queue in the front's threads, as they would wait for a free container.

Environment: ``os.environ`` is one per process. Today the functions share every variable name with
the same value, so applying each function's environment before importing it is exact. If two
functions ever need different values for one name that a handler reads at call time (not only at
import), ``invoke`` would have to apply its function's environment per call (safe under the shared
lock); until then the loader warns about such conflicts instead of hiding them.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from local_stack.template import FunctionSpec, LocalResources, function_environment, function_spec

log = logging.getLogger("local_stack")

ACCOUNT_ID = "000000000000"


class LambdaContext:
    """The context object the Python runtime passes to a handler (the attributes Powertools reads)."""

    def __init__(self, spec: FunctionSpec, region: str):
        self.function_name = spec.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{spec.logical_id}"
        self.memory_limit_in_mb = spec.memory_size
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.logical_id}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    spec: FunctionSpec
    module: ModuleType
    handler: Callable[[dict, Any], Any]
    region: str
    lock: threading.Lock = field(default_factory=threading.Lock)  # load_functions gives all one lock
    invocations: int = 0
    errors: int = 0

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    def invoke(self, event: dict) -> Any:
        """Call the handler as Lambda would; an exception propagates (the caller maps it as Lambda's service would)."""
        with self.lock:
            context = LambdaContext(self.spec, self.region)
            started = time.monotonic()
            self.invocations += 1
            try:
                return self.handler(event, context)
            except BaseException:
                self.errors += 1
                raise
            finally:
                elapsed = time.monotonic() - started
                if elapsed > self.spec.timeout:
                    # Lambda would have stopped the function; locally it ran to the end.
                    log.warning("%s ran %.1f s, over its %d s timeout", self.logical_id, elapsed, self.spec.timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait for an invocation in flight to finish (used when stopping)."""
        if self.lock.acquire(timeout=timeout):
            self.lock.release()
            return True
        return False


def environments(logical_ids: list[str], resources: LocalResources,
                 overrides: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
    """Each function's template environment, with the local stack's ``overrides`` (logical id -> variables) on top."""
    envs = {}
    for logical_id in logical_ids:
        env = function_environment(logical_id, resources)
        # Partners come from the partner registry, seeded like AWS's (seed.py). Blank the test seams of
        # partner_registry.py, so that a value left in the process environment cannot stand in for it.
        env.update(CLIENT_PRINCIPALS="", SUPPLIERS_CONFIG="", TENANTS_CONFIG="")
        env.update({key: str(value) for key, value in ((overrides or {}).get(logical_id) or {}).items()})
        envs[logical_id] = env
    return envs


def env_conflicts(envs: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    """Variable names that functions set to different values (see the module docstring)."""
    values: dict[str, set[str]] = {}
    for env in envs.values():
        for key, value in env.items():
            values.setdefault(key, set()).add(value)
    return {key: found for key, found in values.items() if len(found) > 1}


def put_on_path(directories: list[Path]) -> None:
    for directory in reversed(directories):
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))


def _import_handler_module(spec: FunctionSpec) -> ModuleType:
    put_on_path([*spec.layer_dirs, spec.code_dir])
    module = sys.modules.get(spec.module)
    if module is None:
        module = importlib.import_module(spec.module)
    elif hasattr(module, "Dependencies") and hasattr(module, "deps"):
        # Imported before (an earlier stack in this process, or unit tests): its clients point at
        # another endpoint. Rebuild them with the environment just set, as the unit tests do.
        module.deps = module.Dependencies()
    else:
        module = importlib.reload(module)
    origin = Path(getattr(module, "__file__", "") or "").resolve().parent
    if origin != spec.code_dir.resolve():
        raise RuntimeError(
            f"{spec.logical_id}: module {spec.module!r} was imported from {origin}, not {spec.code_dir}; "
            "two functions' handler modules share a name, which one process cannot host"
        )
    return module


def load_functions(logical_ids: list[str], resources: LocalResources, region: str,
                   set_env: Callable[[dict[str, str]], None] = os.environ.update,
                   overrides: dict[str, dict[str, str]] | None = None, containers: Any = None) -> dict[str, LocalFunction]:
    """Import each function's handler with its environment set (through ``set_env``); returns them by logical id.

    With ``containers`` (a local_stack.containers.ContainerRuntime) nothing is imported: each function runs the
    built artifact in SAM CLI's Lambda emulation instead, with the same environment and the same ``invoke``.
    """
    envs = environments(logical_ids, resources, overrides)
    if containers is not None:
        return containers.functions(envs)
    for key, found in env_conflicts(envs).items():
        log.warning("Functions give %s different values %s; a handler reading it at call time sees the last one", key, sorted(found))
    loaded = {}
    invocation_lock = threading.Lock()  # shared: see "Concurrency" in the module docstring
    for logical_id in logical_ids:
        spec = function_spec(logical_id)
        set_env(envs[logical_id])
        clear_env_caches()
        module = _import_handler_module(spec)
        loaded[logical_id] = LocalFunction(spec=spec, module=module, handler=getattr(module, spec.attribute), region=region,
                                          lock=invocation_lock)
    return loaded


def clear_env_caches() -> None:
    """Caches in the layer that hold environment values read earlier in this process."""
    identity = sys.modules.get("fibre_cafe.api.identity")
    if identity is not None:
        identity.client_principals.cache_clear()
