"""Run the template's Lambda functions locally, as Lambda runs them: execution environments per function.

``LocalFunction.invoke(event)`` is the one invoke path (front, pollers, scheduler, replay, tests). It
counts the invocation and hands the event to the function's *runner*. A runner is anything with
``invoke(event, request_id, timeout_seconds) -> result``, ``wait_idle(timeout) -> bool``, ``prewarm()``
and ``close()`` (``Runner`` below); ``ProcessRunner`` is today's, a second one (a container runner, say)
plugs in through ``LocalFunction.runner`` / ``load_functions(runner_factory=...)`` without touching the callers.

``ProcessRunner``: each function has its own pool of worker processes (local_stack/worker.py), each
one execution environment: its own interpreter, its handler module imported with its own
environment (template.yaml's Globals + own variables, ``!Ref``/``!GetAtt`` resolved to the local
resources, on top of the stack's moto endpoint and fake credentials), one invocation at a time. Up to
``concurrency`` invocations of a function run in parallel (like reserved concurrency; the stack sets
it, default ``DEFAULT_CONCURRENCY``, LOCAL_FUNCTION_CONCURRENCY); a further one waits for a free
environment, as a throttled invocation would be retried. Workers start on demand (a cold start: the
handler's import) and stay warm; nothing is shared between functions, and nothing is held across a
function's outbound call but that one environment. An invocation that runs past the function's
Timeout is stopped and its environment discarded, as Lambda does ("Task timed out").

Why processes, not threads: a handler is not thread-safe and need not be (one Lambda environment runs
one event at a time). Powertools' resolver keeps the current event on ``BaseRouter`` itself, shared by
every API function's resolver, and Loggers with one service name share formatter keys: two threads in
one interpreter read each other's request. Separate interpreters also give each function its own
``os.environ``, which one process cannot.

The stack's own process also sets each function's variables in its ``os.environ`` (restored at stop),
for code there that reads them (tests, tools).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from local_stack.template import FunctionSpec, LocalResources, function_environment, function_spec

log = logging.getLogger("local_stack")

ACCOUNT_ID = "000000000000"
ROOT = Path(__file__).resolve().parent.parent
# Parallel invocations per function unless the stack says otherwise (LOCAL_FUNCTION_CONCURRENCY) or the
# template reserves fewer (ReservedConcurrentExecutions).
DEFAULT_CONCURRENCY = 4
# How long a worker may take to import its handler (Lambda's init phase is limited to 10 s; a busy CI
# machine starting several interpreters at once needs more).
INIT_TIMEOUT_SECONDS = 60.0
# What an invocation may run past the function's Timeout before it is stopped (IPC and scheduling).
TIMEOUT_GRACE_SECONDS = 1.0


class FunctionError(Exception):
    """An invocation failed: the handler raised, timed out, or its environment could not start or died.
    The message is for logs (the front answers a failed invocation with its own 502, as API Gateway does)."""

    def __init__(self, message: str, error_type: str = "Unhandled"):
        super().__init__(message)
        self.error_type = error_type


class Runner(Protocol):
    """What runs a function's invocations (see the module docstring)."""

    def invoke(self, event: dict, request_id: str, timeout_seconds: float) -> Any: ...

    def wait_idle(self, timeout: float) -> bool: ...

    def prewarm(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class WorkerSetup:
    """What a worker needs to become one function's execution environment."""

    function_name: str
    paths: list[str]
    module: str
    attribute: str
    memory_size: int
    region: str
    env: dict[str, str]  # the whole environment of the worker process

    def message(self) -> dict[str, Any]:
        return {"function_name": self.function_name, "paths": self.paths, "module": self.module, "attribute": self.attribute,
                "memory_size": self.memory_size, "region": self.region}


# A worker writes this line (and the request id) after each invocation's output: see _Worker._relay.
END_OF_INVOCATION = "\x00local-stack-end-of-invocation "
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


class _Worker:
    """One worker process, its connection, and the thread relaying its output.

    What a function prints (Powertools' JSON log lines, tracebacks) comes back through a pipe and is
    logged, line by line, on the logger ``local_stack.function.<LogicalId>`` (the level a JSON line names,
    else WARNING): as CloudWatch collects a function's output. An invocation returns only after its
    output has been relayed, so a caller that reads the logs after the answer finds the lines there.
    """

    def __init__(self, setup: WorkerSetup):
        parent_end, child_end = socket.socketpair()
        try:
            self.process = subprocess.Popen([sys.executable, "-m", "local_stack.worker", str(child_end.fileno())],
                                            pass_fds=[child_end.fileno()], env={**setup.env, "PYTHONUNBUFFERED": "1"}, cwd=ROOT,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        finally:
            child_end.close()
        self.conn = Connection(parent_end.detach())
        self.log = logging.getLogger(f"local_stack.function.{setup.function_name}")
        self._relayed: dict[str, threading.Event] = {}
        self._relayed_lock = threading.Lock()
        threading.Thread(target=self._relay, name=f"output-{setup.function_name}", daemon=True).start()
        self.conn.send(setup.message())
        self.ready = False

    def _relay(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith(END_OF_INVOCATION):
                self._event(line[len(END_OF_INVOCATION):]).set()
                continue
            level = logging.WARNING
            if line.startswith("{"):
                try:
                    level = _LEVELS.get(str(json.loads(line).get("level", "INFO")).upper(), logging.INFO)
                except (ValueError, AttributeError):
                    pass
            self.log.log(level, "%s", line)
        with self._relayed_lock:
            for event in self._relayed.values():
                event.set()  # the process is gone: nobody waits for more output

    def _event(self, request_id: str) -> threading.Event:
        with self._relayed_lock:
            return self._relayed.setdefault(request_id, threading.Event())

    def _wait_relayed(self, request_id: str) -> None:
        self._event(request_id).wait(5)
        with self._relayed_lock:
            self._relayed.pop(request_id, None)

    def wait_ready(self, function_name: str) -> None:
        answer = self._receive(
            INIT_TIMEOUT_SECONDS, f"{function_name}: the execution environment did not start in {INIT_TIMEOUT_SECONDS:g} s"
        )
        if answer[0] != "ready":
            self.stop()
            raise FunctionError(f"{function_name}: init failed: {answer[1]}", "Runtime.ImportModuleError")
        self.ready = True

    def call(self, function_name: str, event: dict, request_id: str, timeout_seconds: float) -> Any:
        try:
            self.conn.send((json.dumps(event), request_id, timeout_seconds))
        except (OSError, ValueError) as exc:
            self.stop()
            raise FunctionError(f"{function_name}: the execution environment is gone ({exc})", "Runtime.ExitError") from exc
        status, payload = self._receive(
            timeout_seconds + TIMEOUT_GRACE_SECONDS,
            f"{function_name}: Task timed out after {timeout_seconds:g} seconds",
            "Sandbox.Timedout",
        )
        self._wait_relayed(request_id)
        if status == "ok":
            return json.loads(payload)
        raise FunctionError(f"{function_name}: {payload['type']}: {payload['message']}", payload["type"])

    def _receive(self, timeout: float, timed_out: str, error_type: str = "Runtime.InitError") -> Any:
        try:
            if self.conn.poll(timeout):
                return self.conn.recv()
        except (EOFError, OSError) as exc:
            self.stop()
            raise FunctionError(timed_out.split(":")[0] + ": the execution environment exited", "Runtime.ExitError") from exc
        self.stop()  # as Lambda does: the environment that timed out is not reused
        raise FunctionError(timed_out, error_type)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, wait: float = 0) -> None:
        try:
            if wait and self.alive():
                try:
                    self.conn.send(None)
                    self.process.wait(wait)
                except (OSError, ValueError, subprocess.TimeoutExpired):
                    pass
            if self.alive():
                self.process.kill()
                self.process.wait(5)
        finally:
            self.conn.close()


class ProcessRunner:
    """A function's pool of worker processes, at most ``concurrency`` of them busy at once."""

    def __init__(self, setup: WorkerSetup, concurrency: int = DEFAULT_CONCURRENCY):
        if concurrency < 1:
            raise ValueError(f"{setup.function_name}: concurrency must be at least 1")
        self.setup = setup
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy = 0
        self._closed = False

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise FunctionError(f"{self.setup.function_name}: the local stack is stopping", "Runtime.ExitError")
            self._busy += 1
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.stop()
        try:
            worker = _Worker(self.setup)  # a cold start
            worker.wait_ready(self.setup.function_name)
            return worker
        except BaseException:
            self._give_back(None)
            raise

    def _give_back(self, worker: _Worker | None) -> None:
        with self._lock:
            self._busy -= 1
            if worker is not None:
                if self._closed:
                    worker.stop()
                else:
                    self._idle.append(worker)
            self._lock.notify_all()

    def invoke(self, event: dict, request_id: str, timeout_seconds: float) -> Any:
        with self._slots:
            worker = self._take()
            try:
                result = worker.call(self.setup.function_name, event, request_id, timeout_seconds)
            except FunctionError:
                self._give_back(worker if worker.alive() else None)
                raise
            except BaseException:
                worker.stop()
                self._give_back(None)
                raise
            self._give_back(worker)
            return result

    def prewarm(self) -> None:
        """Start one environment now (in the background), so the first invocation is warm."""

        def start() -> None:
            try:
                with self._slots:
                    self._give_back(self._take())
            except FunctionError as exc:
                log.error("%s", exc)

        threading.Thread(target=start, name=f"prewarm-{self.setup.function_name}", daemon=True).start()

    def wait_idle(self, timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._busy == 0, timeout)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop(wait=2)

    @property
    def warm(self) -> int:
        with self._lock:
            return len(self._idle)


@dataclass
class LocalFunction:
    spec: FunctionSpec
    region: str
    runner: Runner
    env: dict[str, str] = field(default_factory=dict)  # the function's own variables (template + overrides)
    invocations: int = 0
    errors: int = 0
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    def invoke(self, event: dict) -> Any:
        """Run one invocation as Lambda would; a failure raises FunctionError (the caller maps it as Lambda's service would)."""
        with self._count_lock:
            self.invocations += 1
        try:
            return self.runner.invoke(event, str(uuid.uuid4()), float(self.spec.timeout))
        except BaseException:
            with self._count_lock:
                self.errors += 1
            raise

    def wait_idle(self, timeout: float) -> bool:
        """Wait for the invocations in flight to finish (used when stopping)."""
        return self.runner.wait_idle(timeout)

    def close(self) -> None:
        self.runner.close()


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


def put_on_path(directories: list[Path]) -> None:
    for directory in reversed(directories):
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))


def worker_setup(spec: FunctionSpec, region: str, env: dict[str, str], all_function_keys: set[str]) -> WorkerSetup:
    """The worker's environment: this process's (the stack's endpoint, credentials, region), without other
    functions' variables, with the function's own on top."""
    base = {key: value for key, value in os.environ.items() if key not in all_function_keys}
    return WorkerSetup(function_name=spec.logical_id, paths=[str(path) for path in (*spec.layer_dirs, spec.code_dir)],
                       module=spec.module, attribute=spec.attribute, memory_size=spec.memory_size, region=region,
                       env={**base, **env})


def load_functions(logical_ids: list[str], resources: LocalResources, region: str,
                   set_env: Callable[[dict[str, str]], None] = os.environ.update,
                   overrides: dict[str, dict[str, str]] | None = None, containers: Any = None,
                   concurrency: Callable[[str], int] | None = None,
                   runner_factory: Callable[[WorkerSetup, int], Runner] = ProcessRunner) -> dict[str, LocalFunction]:
    """Each function with its environment and a runner (workers start on first use, or ``prewarm``).

    With ``containers`` (a local_stack.containers.ContainerRuntime) nothing runs here: each function runs the
    built artifact in SAM CLI's Lambda emulation instead, with the same environment and the same ``invoke``.
    """
    envs = environments(logical_ids, resources, overrides)
    if containers is not None:
        return containers.functions(envs)
    all_keys = {key for env in envs.values() for key in env}
    for logical_id in logical_ids:
        set_env(envs[logical_id])  # for code in this process that reads them (see the module docstring)
    loaded = {}
    for logical_id in logical_ids:
        spec = function_spec(logical_id)
        setup = worker_setup(spec, region, envs[logical_id], all_keys)
        limit = concurrency(logical_id) if concurrency else DEFAULT_CONCURRENCY
        loaded[logical_id] = LocalFunction(spec=spec, region=region, runner=runner_factory(setup, limit), env=envs[logical_id])
    return loaded
