"""Where moto (5.2.x) differs from AWS in a way the local stack's journeys would show, and the fix, while the stack runs.

ONE implementation of each fix, shared by the local stack (``LocalStack`` enters all of them, so what
``make run`` runs is what ``make bench`` measures), the test suites (testing/pytest_plugin.py, via testing/aws.py) and the
benchmarks (bench/). Each is a context manager that patches moto's classes in this process (in-process
``mock_aws`` and a ``ThreadedMotoServer`` alike) while it lasts; nested and concurrent uses are counted.

**FIFO redelivery order.** When several messages of one message group were received together and
all came back (their visibility timeout passed, as after a failed delivery: Powertools' FIFO
processor fails the rest of the group), moto's ``ReceiveMessage`` hands out the *last* of them
first. Its loop takes a visible-again message out of the pending set, then recomputes the groups
"in flight" from the pending set, which still holds the group's other visible-again messages, so it
skips the group's earlier messages and delivers the last one. SQS delivers the group's oldest
message first. Reproduction (plain moto, no patch)::

    for body in ("A1", "A2", "A3"): send(body, MessageGroupId="A")
    receive(10)                      # A1, A2, A3: not deleted
    sleep(visibility timeout)
    receive(10)                      # moto: A3 (SQS: A1, A2, A3)

The fix counts a group as in flight only while one of its messages is *invisible*, which is what
"in flight" means. Within one receive a group then yields one message (SQS may give several, in
order): order is kept; a group just drains one message per receive after a failure.

**Whole-table transaction backups.** moto's ``TransactWriteItems`` backs up each table it names with a
``deepcopy`` of the whole table (every item, and every stream record the table ever produced), once per
entry, to roll back a failed condition. Each write then costs in proportion to everything written before:
on the local stack POST p50 went from 37 ms to 169 ms after a few hundred cancellations, and kept
growing. ``item_level_transaction_backups`` backs up only the items the transaction names (and the length
of each table's stream), with the same all-or-nothing result: a cancelled transaction leaves no item
change and no stream record, as in moto and DynamoDB.

**Atomic requests.** DynamoDB applies each request atomically (a condition is checked and the write made
as one step). moto's server runs each request on a thread of its own with no lock, so two concurrent
conditional writes could both pass their condition, and a rolled-back transaction is visible half-way.
``atomic_dynamodb_requests`` serialises moto's DynamoDB backend operations (a re-entrant lock; SQS is not
touched, so a long poll never holds it). DynamoDB operations take moto well under a millisecond of CPU
each, and they hold the GIL while they run anyway: the lock costs no parallelism that existed.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_users = 0
_original = None


def _in_flight_groups(self) -> set[str]:
    return {message.group_id for message in self._pending_messages if message.group_id is not None and not message.visible}


@contextmanager
def fifo_redelivery_order() -> Iterator[None]:
    """Patch moto's SQS queues for as long as the context lasts (nested and concurrent uses are counted)."""
    global _users, _original
    from moto.sqs.models import Queue

    with _lock:
        if _users == 0:
            _original = Queue.__dict__["pending_message_groups"]
            Queue.pending_message_groups = property(_in_flight_groups)  # type: ignore[method-assign]  # moto patched while in use
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                Queue.pending_message_groups = _original  # type: ignore[method-assign]  # restored by the last user
                _original = None


class _CountedPatch:
    """Apply ``install`` on first entry, ``uninstall`` on last exit (nested and concurrent uses are counted)."""

    def __init__(self, install: Callable[[], Callable[[], None]]):
        self._install = install
        self._uninstall: Callable[[], None] | None = None
        self._users = 0
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._uninstall = self._install()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._uninstall is not None:
                    self._uninstall()
                    self._uninstall = None


def _install_item_level_backups() -> Callable[[], None]:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.__dict__["transact_write_items"]
    original_deepcopy = Table.__dict__.get("__deepcopy__")
    live = threading.local()

    def table_deepcopy(self: Any, memo: dict) -> Any:
        if getattr(live, "active", False):
            return self  # moto's whole-table "backup": the live table (the named items are backed up below)
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return clone

    def item_key(table: Any, attrs: dict) -> tuple | None:
        if table.hash_key_attr not in attrs or (table.range_key_attr and table.range_key_attr not in attrs):
            return None
        return DynamoType(attrs[table.hash_key_attr]), DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list) -> Any:
        saved, streams = [], {}
        for entry in transact_items:
            op = next(iter(entry.values()), None) or {}
            table = self.tables.get(op.get("TableName"))
            key = item_key(table, op.get("Item") or op.get("Key") or {}) if table is not None else None
            if key is not None:
                saved.append((table, *key, copy.deepcopy(table.get_item(*key))))
            if table is not None and table.stream_shard is not None:
                streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
        live.active = True
        try:
            return original(self, transact_items)
        except Exception:
            for shard, length in streams.values():
                del shard.items[length:]  # a stream is append-only: drop what the cancelled writes added
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

    Table.__deepcopy__ = table_deepcopy  # type: ignore[attr-defined]  # moto's Table, patched until uninstall()
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]  # as above

    def uninstall() -> None:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]  # restored
        if original_deepcopy is None:
            del Table.__deepcopy__
        else:
            Table.__deepcopy__ = original_deepcopy  # type: ignore[attr-defined]  # restored

    return uninstall


# The DynamoDB backend operations a request maps to (moto 5.2).
ATOMIC_OPERATIONS = (
    "batch_execute_statement", "batch_get_item", "batch_write_item", "delete_item", "execute_statement", "execute_transaction",
    "get_item", "put_item", "query", "scan", "transact_get_items", "transact_write_items", "update_item",
)


def _install_atomic_requests() -> Callable[[], None]:
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    originals = {name: DynamoDBBackend.__dict__[name] for name in ATOMIC_OPERATIONS if name in DynamoDBBackend.__dict__}

    def atomic(method: Callable) -> Callable:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(self, *args, **kwargs)

        return call

    for name in originals:
        setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))

    def uninstall() -> None:
        for name, method in originals.items():
            setattr(DynamoDBBackend, name, method)

    return uninstall


def _install_dynamodb_fixes() -> Callable[[], None]:
    # One patch for both, so they always nest the same way: the lock is outermost, a transaction's
    # item backups and rollback happen inside it.
    undo_backups = _install_item_level_backups()
    undo_atomic = _install_atomic_requests()

    def uninstall() -> None:
        undo_atomic()
        undo_backups()

    return uninstall


# Item-level transaction backups and atomic DynamoDB requests (both above), counted as one patch.
item_level_transaction_backups = _CountedPatch(_install_dynamodb_fixes)


@contextmanager
def moto_fixes() -> Iterator[None]:
    """Every fix above (what ``LocalStack`` and the benchmarks enter)."""
    with fifo_redelivery_order(), item_level_transaction_backups():
        yield
