"""DynamoDB transactions built from named items, and one way to retry a write that lost a race.

``transact_write`` sends its items (a dict: name -> TransactWriteItem, in the order given) as one
TransactWriteItems. When DynamoDB cancels the transaction, its ``CancellationReasons`` come back one per item,
in the order of the items; they are paired with the names here and nowhere else, so a caller asks "did the
``order`` item's condition fail?" and never "did item 2's?", and reordering or adding items cannot change what a
failure means.

What a cancelled transaction raises:

1. ``on_condition_failed`` (name -> exception class or factory), in the mapping's order: the first named item
   whose condition failed decides the exception (so list the more specific meaning first);
2. otherwise ``LostRace`` (dal/errors.py) when any item met a concurrent transaction (``TransactionConflict``);
3. otherwise the original ``ClientError`` (throttling, a condition on an item nobody named, validation): the
   caller's usual AWS error handling (``aws_errors.is_transient``) applies.

``retry_conflicts`` runs one read-then-write attempt again after a lost race (``LostRace``: a concurrent
transaction, or a condition the caller mapped to it, e.g. the order changed under it), pausing between attempts
with exponential backoff and full jitter, and gives up with the caller's exception once the attempts are spent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from fibre_cafe.dal.aws_errors import cancellation_reason_codes, error_code
from fibre_cafe.dal.errors import LostRace

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBClient

T = TypeVar("T")

CONDITION_FAILED = "ConditionalCheckFailed"
CONFLICT = "TransactionConflict"

# Pauses between attempts: full jitter, uniform(0, min(CAP, BASE * 2**attempt)).
CONFLICT_BACKOFF_BASE_SECONDS = 0.01
CONFLICT_BACKOFF_CAP_SECONDS = 0.2


@dataclass(frozen=True)
class TransactionCancelled:
    """A cancelled transaction's reasons, by item name ("None" where the item was fine)."""

    reasons: dict[str, str]

    @classmethod
    def of(cls, names: list[str], exc: ClientError) -> TransactionCancelled:
        codes = cancellation_reason_codes(exc)
        return cls({name: codes[index] if index < len(codes) else "None" for index, name in enumerate(names)})

    def condition_failed(self, name: str) -> bool:
        return self.reasons.get(name) == CONDITION_FAILED

    @property
    def conflict(self) -> bool:
        return CONFLICT in self.reasons.values()


def transact_write(client: DynamoDBClient, items: Mapping[str, dict[str, Any]],
                   on_condition_failed: Mapping[str, Callable[[], Exception]] | None = None) -> None:
    """One TransactWriteItems of the named ``items``; a cancellation is decoded by name (module docstring)."""
    names = list(items)
    try:
        client.transact_write_items(TransactItems=[items[name] for name in names])
    except ClientError as exc:
        if error_code(exc) != "TransactionCanceledException":
            raise
        cancelled = TransactionCancelled.of(names, exc)
        for name, failure in (on_condition_failed or {}).items():
            if cancelled.condition_failed(name):
                raise failure() from exc
        if cancelled.conflict:
            raise LostRace("a concurrent transaction touched the same items") from exc
        raise


def conflict_pause(attempt: int, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds to wait after losing race number ``attempt`` (0-based): full jitter, capped."""
    return rng(0.0, min(CONFLICT_BACKOFF_CAP_SECONDS, CONFLICT_BACKOFF_BASE_SECONDS * 2**attempt))


def retry_conflicts(attempt: Callable[[int], T], attempts: int, give_up: Callable[[], Exception],
                    retry_on: tuple[type[Exception], ...] = (LostRace,),
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """``attempt(n)``'s result; after a ``retry_on`` failure pause (``conflict_pause``) and run it again, up to
    ``attempts`` times in all, then raise ``give_up()``. ``attempt`` should read what it writes afresh each time."""
    for number in range(attempts):
        try:
            return attempt(number)
        except retry_on:
            if number + 1 < attempts:
                sleep(conflict_pause(number))
    raise give_up()
