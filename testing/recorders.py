"""Botocore call recorders: which AWS operations a client made, on which thread, when (no moto internals).

``AwsCallLog().watch(client, ...)`` records every call of the watched clients from botocore's ``before-call`` and
``after-call`` events, registered first, so a call a fault injector (testing.faults) answers is recorded too.
``take()`` hands over the operation names recorded since the last take; ``calls`` keeps ``AwsCall`` entries.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AwsCall", "AwsCallLog", "summarise"]


@dataclass
class AwsCall:
    service: str
    operation: str
    thread: str
    started: float
    finished: float | None = None


@dataclass
class AwsCallLog:
    """Every AWS API call the watched clients make, in the order they started."""

    calls: list[AwsCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, *clients: Any) -> AwsCallLog:
        for client in clients:
            self._watch(client)
        return self

    def _watch(self, client: Any) -> None:
        service = client.meta.service_model.service_id.hyphenize()
        local = threading.local()

        def before(model: Any, **_kwargs: Any) -> None:
            entry = AwsCall(service, model.name, threading.current_thread().name, time.perf_counter())
            local.__dict__.setdefault("open", []).append(entry)
            with self._lock:
                self.calls.append(entry)

        def after(**_kwargs: Any) -> None:
            opened = local.__dict__.get("open") or []
            if opened:
                opened.pop().finished = time.perf_counter()

        # Registered first, so they run before any fault injected later answers the call.
        client.meta.events.register_first(f"before-call.{service}.*", before)
        client.meta.events.register_first(f"after-call.{service}.*", after)

    def operations(self, service: str | None = None) -> list[str]:
        with self._lock:
            return [c.operation for c in self.calls if service is None or c.service == service]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def take_calls(self) -> list[AwsCall]:
        """The calls recorded since the last take (and forget them)."""
        with self._lock:
            taken, self.calls = self.calls, []
        return taken

    def take(self) -> list[str]:
        """The operation names recorded since the last take (and forget them)."""
        return [call.operation for call in self.take_calls()]


def summarise(calls: list[AwsCall], caller_thread: str) -> dict:
    """Sequential calls are those the caller's thread made (it waits for each); others ran beside them."""
    sequential = [c.operation for c in calls if c.thread == caller_thread]
    parallel = [c.operation for c in calls if c.thread != caller_thread]
    return {"sequential": len(sequential), "sequential_calls": sequential, "parallel_calls": parallel, "total": len(calls)}
