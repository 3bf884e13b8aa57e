"""Numeric cancellation ids: block allocation from an atomic DynamoDB counter.

Each container reserves a block of ``block_size`` ids with one atomic ``UpdateItem ADD`` on a
counter item and hands them out from memory. Two containers can never receive overlapping
blocks (the ADD is atomic), so ids are unique under any concurrency; the counter item sees one
write per block, not one per cancellation, so it does not cap the service's write rate
(with blocks of 100, one item's ~1,000 writes/s allow ~100,000 cancellations/s).

Ids are positive and at most 2**53 - 1 (a JavaScript client holds them exactly). Ids of a
block not used before a container ends are skipped: ids are unique and increasing per
container, not gap-free.

A refill can start in the background (``prefetch``) while the request's first read is in
flight, so a container's first request costs no extra sequential round trip.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from fibre_cafe.dal.errors import IdSpaceExhausted
from fibre_cafe.models.cancellation import MAX_SAFE_INTEGER

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBClient

COUNTER_KEY = "COUNTER#serviceOrderCancellationId"


class BlockIdAllocator:
    def __init__(self, client: DynamoDBClient, table_name: str, block_size: int = 100, counter_key: str = COUNTER_KEY):
        if block_size < 1:
            raise ValueError("block_size must be at least 1")
        self._client = client
        self._table_name = table_name
        self._block_size = block_size
        self._counter_key = counter_key
        self._lock = threading.Lock()
        self._next = 0
        self._last = -1  # empty block
        self._refill: Future[tuple[int, int]] | None = None
        self._executor: ThreadPoolExecutor | None = None

    def _reserve_block(self) -> tuple[int, int]:
        answer = self._client.update_item(
            TableName=self._table_name,
            Key={"pk": {"S": self._counter_key}},
            UpdateExpression="ADD #last :size",
            ExpressionAttributeNames={"#last": "lastAllocatedId"},
            ExpressionAttributeValues={":size": {"N": str(self._block_size)}},
            ReturnValues="UPDATED_NEW",
        )
        last = int(answer["Attributes"]["lastAllocatedId"]["N"])
        if last > MAX_SAFE_INTEGER:
            raise IdSpaceExhausted(f"id counter passed {MAX_SAFE_INTEGER}")
        return last - self._block_size + 1, last

    def prefetch(self) -> None:
        """Start reserving the next block in the background if the current one is used up."""
        with self._lock:
            if self._next <= self._last or self._refill is not None:
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="id-block")
            self._refill = self._executor.submit(self._reserve_block)

    def settle(self, timeout: float = 10.0) -> BaseException | None:
        """Wait (up to ``timeout`` seconds) for a background refill to finish; its exception, None when it succeeded
        or none was running (its block stays reserved for the next ``next_id``)."""
        refill = self._refill
        return refill.exception(timeout=timeout) if refill is not None else None

    def next_id(self) -> int:
        with self._lock:
            if self._next > self._last:
                refill, self._refill = self._refill, None
                try:
                    self._next, self._last = refill.result() if refill else self._reserve_block()
                except BaseException:
                    self._next, self._last = 0, -1
                    raise
            allocated = self._next
            self._next += 1
            return allocated
