"""Waiting for something a running stack does in the background (pollers, stubs, containers): one helper for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(probe: Callable[[], Any], timeout: float = 30.0, what: str = "the condition", interval: float = 0.2) -> Any:
    """probe()'s first truthy answer, polling every ``interval`` seconds; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
