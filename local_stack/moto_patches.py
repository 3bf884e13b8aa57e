"""Where moto (5.2.x) differs from AWS in a way the local stack's journeys would show, and the fix, while the stack runs.

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
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

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
            Queue.pending_message_groups = property(_in_flight_groups)  # type: ignore[method-assign]
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                Queue.pending_message_groups = _original  # type: ignore[method-assign]
                _original = None
