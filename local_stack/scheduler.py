"""Run the template's scheduled functions (``Schedule`` / ``ScheduleV2`` events) on background threads.

Each enabled ``rate(...)`` schedule gets a thread that invokes its function every period (first run
one period after start, as a new rate schedule does). ``LOCAL_SCHEDULE_SECONDS`` (or the stack's
``schedule_seconds``) replaces every period, for demos and tests; with it, ``cron()`` schedules run
too, at that period. Invocations go through the function's lock, like any other.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

from local_stack.functions import ACCOUNT_ID, LocalFunction
from local_stack.template import ScheduledEvent

log = logging.getLogger("local_stack")


def scheduled_event(schedule: ScheduledEvent, region: str) -> Any:
    """What the function receives: the event's Input if the template sets one, else an EventBridge scheduled event."""
    if schedule.input is not None:
        return json.loads(schedule.input)
    source, resource = (
        ("aws.scheduler", f"arn:aws:scheduler:{region}:{ACCOUNT_ID}:schedule/default/{schedule.function}{schedule.name}")
        if schedule.type == "ScheduleV2"
        else ("aws.events", f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{schedule.function}{schedule.name}")
    )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": source,
        "account": ACCOUNT_ID,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [resource],
        "detail": {},
    }


class Scheduler:
    def __init__(self, jobs: list[tuple[ScheduledEvent, LocalFunction, float]], region: str):
        self.jobs = jobs
        self.region = region
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for schedule, function, period in self.jobs:
            thread = threading.Thread(target=self._loop, args=(schedule, function, period), daemon=True,
                                      name=f"schedule-{schedule.function}-{schedule.name}")
            thread.start()
            self._threads.append(thread)

    def run_once(self, schedule: ScheduledEvent, function: LocalFunction) -> Any:
        try:
            result = function.invoke(scheduled_event(schedule, self.region))
        except Exception:  # a failed run is logged; the schedule goes on, as in AWS
            log.exception("Scheduled run of %s failed", schedule.function)
            return None
        log.info("Scheduled run of %s: %s", schedule.function, json.dumps(result, default=str)[:500])
        return result

    def _loop(self, schedule: ScheduledEvent, function: LocalFunction, period: float) -> None:
        while not self._stop.wait(period):
            self.run_once(schedule, function)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
