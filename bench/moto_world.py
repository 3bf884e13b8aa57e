"""An in-process moto world with the template's tables and queues, and handler modules loaded into it."""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field

from bench.common import FAKE_AWS_ENV, REGION, UNSET_ENV, handler_paths

DEV_PRINCIPALS = {"TENANT1": "tenant:TENANT1", "TENANT2": "tenant:TENANT2",
                  "DUMMY_SUPPLIER": "supplier:DUMMY_SUPPLIER", "FIBRECO": "supplier:FIBRECO"}


def template_without_streams() -> dict:
    """template.yaml without the tables' StreamSpecification.

    moto's TransactWriteItems deep-copies every table it touches (to roll back), and a table's copy includes its
    whole stream: with the orders table's stream on, each call costs time and memory in proportion to every
    write made so far (hundreds of ms and GBs after a few hundred KCIs), which DynamoDB does not. Benchmarks that
    do not read the stream leave it off, so what they time is the code rather than moto's rollback copies.
    """
    from local_stack.template import load_template

    template = copy.deepcopy(load_template())
    for res in template["Resources"].values():
        if res["Type"] == "AWS::DynamoDB::Table":
            res["Properties"].pop("StreamSpecification", None)
    return template


@contextlib.contextmanager
def moto_world(streams: bool = True):
    """Fake credentials and no endpoint override in os.environ, moto's mock, the template's resources."""
    saved = dict(os.environ)
    for key in [*UNSET_ENV, *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL"))]:
        os.environ.pop(key, None)
    os.environ.update({k: v for k, v in FAKE_AWS_ENV.items() if k != "AWS_ENDPOINT_URL"})
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    import boto3
    from moto import mock_aws

    from local_stack.template import create_resources

    try:
        with mock_aws():
            yield create_resources(boto3.client("dynamodb", region_name=REGION), boto3.client("sqs", region_name=REGION), prefix="bench",
                                   template=None if streams else template_without_streams())
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


@dataclass
class Call:
    operation: str
    thread: str
    started: float
    finished: float | None = None


@dataclass
class CallLog:
    """Every API call of the watched clients, from botocore's before-call / after-call events."""

    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, client) -> "CallLog":
        service = client.meta.service_model.service_id.hyphenize()
        local = threading.local()

        def before(model, **_kwargs):
            call = Call(model.name, threading.current_thread().name, time.perf_counter())
            local.__dict__.setdefault("open", []).append(call)
            with self.lock:
                self.calls.append(call)

        def after(**_kwargs):
            opened = local.__dict__.get("open") or []
            if opened:
                opened.pop().finished = time.perf_counter()

        client.meta.events.register_first(f"before-call.{service}.*", before)
        client.meta.events.register_first(f"after-call.{service}.*", after)
        return self

    def take(self) -> list[Call]:
        with self.lock:
            taken, self.calls = self.calls, []
        return taken


def summarise(calls: list[Call], caller_thread: str) -> dict:
    """Sequential calls are those the caller's thread made (it waits for each); others ran beside them."""
    sequential = [c.operation for c in calls if c.thread == caller_thread]
    parallel = [c.operation for c in calls if c.thread != caller_thread]
    return {"sequential": len(sequential), "sequential_calls": sequential, "parallel_calls": parallel, "total": len(calls)}


# moto's whole-table transaction backups, fixed the way the local stack fixes them (one implementation).
from local_stack.moto_patches import item_level_transaction_backups  # noqa: E402,F401 - re-exported for the benchmarks
