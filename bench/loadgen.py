"""A small, bounded HTTP load generator (threads, one keep-alive connection each), for 127.0.0.1 only.

    results, elapsed = run_load("http://127.0.0.1:3000", requests, concurrency=8)

``requests`` is a list of :class:`Request`; each worker thread takes the next one until none are left,
so the run sends exactly ``len(requests)`` requests and stops by itself. Every request has a timeout.
Used by the local-stack benchmark and by the HTTP reliability tests.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class Result:
    request: Request
    status: int  # 0: no answer (connection error or timeout)
    body: bytes
    headers: dict[str, str]
    seconds: float
    error: str | None = None


def _local(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError(f"load goes to http://127.0.0.1 only, not {base_url}")
    return parts.hostname, parts.port or 80


def run_load(base_url: str, requests: list[Request], concurrency: int, timeout: float = 60.0,
             deadline_seconds: float = 600.0) -> tuple[list[Result], float]:
    """Send every request once, ``concurrency`` at a time. Returns (results in request order, elapsed seconds).

    Stops early (remaining requests unanswered, status 0) if ``deadline_seconds`` pass."""
    host, port = _local(base_url)
    results: list[Result | None] = [None] * len(requests)
    cursor = iter(range(len(requests)))
    cursor_lock = threading.Lock()
    started = time.perf_counter()
    stop_at = started + deadline_seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            while True:
                with cursor_lock:
                    index = next(cursor, None)
                if index is None:
                    return
                request = requests[index]
                if time.perf_counter() > stop_at:
                    results[index] = Result(request, 0, b"", {}, 0.0, "deadline passed")
                    continue
                sent = time.perf_counter()
                try:
                    connection.request(request.method, request.path, body=request.body, headers=request.headers)
                    answer = connection.getresponse()
                    body = answer.read()
                    results[index] = Result(request, answer.status, body, dict(answer.getheaders()), time.perf_counter() - sent)
                    if answer.will_close:
                        connection.close()
                except (OSError, http.client.HTTPException) as exc:
                    results[index] = Result(request, 0, b"", {}, time.perf_counter() - sent, repr(exc))
                    connection.close()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, name=f"load-{n}", daemon=True) for n in range(max(1, concurrency))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline_seconds + timeout + 5)
    elapsed = time.perf_counter() - started
    return [result or Result(requests[i], 0, b"", {}, 0.0, "not sent") for i, result in enumerate(results)], elapsed
