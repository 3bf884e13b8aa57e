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


@contextlib.contextmanager
def item_level_transaction_backups():
    """moto's TransactWriteItems backs up each named table with a deepcopy of the whole table (every item, and
    every stream record it ever produced) to roll back a failed condition, so each write costs in proportion to
    everything written before it: a benchmark would time moto's copies, growing as it runs. This backs up only
    the items the transaction names, with the same all-or-nothing result (the fix tests/lifecycle/conftest.py
    applies to its suites). Applies to in-process moto and to a ThreadedMotoServer in this process.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    original_deepcopy = Table.__dict__.get("__deepcopy__")
    live = threading.local()

    def table_deepcopy(self, memo):
        if getattr(live, "active", False):
            return self  # moto's whole-table "backup": the live table (the named items are backed up below)
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return clone

    def item_key(table, attrs):
        if table.hash_key_attr not in attrs or (table.range_key_attr and table.range_key_attr not in attrs):
            return None
        return DynamoType(attrs[table.hash_key_attr]), DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None

    def transact_write_items(self, transact_items):
        saved = []
        for entry in transact_items:
            op = next(iter(entry.values()), None) or {}
            table = self.tables.get(op.get("TableName"))
            key = item_key(table, op.get("Item") or op.get("Key") or {}) if table is not None else None
            if key is not None:
                saved.append((table, *key, copy.deepcopy(table.get_item(*key))))
        live.active = True
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                if range_key is None:
                    table.items.pop(hash_key, None) if item is None else table.items.__setitem__(hash_key, item)
                elif item is None:
                    table.items[hash_key].pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = item
            raise
        finally:
            live.active = False

    Table.__deepcopy__ = table_deepcopy
    DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original
        if original_deepcopy is None:
            del Table.__deepcopy__
        else:
            Table.__deepcopy__ = original_deepcopy
