"""The dispatcher's time budget (issue 12, item 4): a slow supplier never lets Lambda cut a batch off halfway.

A record starts only while the invocation has time for one supplier call at its overall deadline plus the
record's own AWS work; the others are handed back untouched (batch item failures, visible again at once).
Records already done are not reported, so the queue never sends them again. The Lambda context here reports
a short remaining time that runs down with the real clock, as Lambda's does.
"""

from __future__ import annotations

import time

from fibre_cafe.dal.errors import NoAnswer
from fibre_cafe.dal.partner_call import TimeBudget, call_with_deadline
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorCode
from testing.events import acknowledge, receive_event
from testing.lambda_context import lambda_context
from tests.lifecycle.test_supplier_dispatcher import accepted_cancellation, failures

DEADLINE = 1.0  # PARTNER_CALL_DEADLINE_SECONDS for these tests
OVERHEAD = 1.0  # RECORD_OVERHEAD_SECONDS: a record starts only with 2 s left
SLOW = 4.0  # the slow supplier answers after this long: past the deadline, and past the fake function timeout


def budgeted(lifecycle):
    lifecycle.dispatcher_env.update(PARTNER_CALL_DEADLINE_SECONDS=str(DEADLINE), RECORD_OVERHEAD_SECONDS=str(OVERHEAD))
    return lifecycle.dispatcher


def invoke(lifecycle, seconds: float) -> tuple[dict, dict, float]:
    url = lifecycle.queue("SupplierRequestsQueue")
    event = receive_event(url, max_messages=10, visibility_timeout=30)
    started = time.monotonic()
    result = lifecycle.dispatcher.lambda_handler(event, lambda_context("SupplierDispatcherFunction", seconds=seconds))
    elapsed = time.monotonic() - started
    acknowledge(url, event, result)
    return event, result, elapsed


def message_ids_by_cancellation(event: dict) -> dict[int, str]:
    import json

    return {json.loads(r["body"])["cancellationId"]: r["messageId"] for r in event["Records"]}


def test_a_slow_supplier_leaves_the_records_not_started_to_the_next_invocation(lifecycle, supplier_stub):
    budgeted(lifecycle)
    for order_id in (301, 302, 303):
        accepted_cancellation(lifecycle, order_id)
    supplier_stub.answers.extend([(201, "", 0.0), (201, "", SLOW)])  # the first call answers at once, the second is slow

    event, result, elapsed = invoke(lifecycle, seconds=3.0)

    by_id = message_ids_by_cancellation(event)
    assert len(by_id) == 3
    first, second, third = sorted(by_id, key=lambda cid: [r["messageId"] for r in event["Records"]].index(by_id[cid]))
    # The first record succeeded: not reported, so never sent again. The second hit its call's overall deadline
    # (a timeout, retried later). The third was not started: there was no longer time for a worst case.
    assert failures(result) == [by_id[second], by_id[third]]
    assert elapsed < 3.0, "the invocation ended within the time Lambda gave it"
    assert len(supplier_stub.requests) == 2
    assert lifecycle.cancellation(first).status is CancellationStatus.COMPLETED
    timed_out = lifecycle.cancellation(second)
    assert timed_out.status is CancellationStatus.RECEIVED_BY_GATEWAY and timed_out.dispatchAttempts == 1
    untouched = lifecycle.cancellation(third)
    assert untouched.status is CancellationStatus.RECEIVED_BY_GATEWAY and untouched.dispatchAttempts == 0
    # Not lost: the record not started is visible again at once; the timed-out one waits for its backoff.
    assert lifecycle.queued("SupplierRequestsQueue") == 2
    assert lifecycle.visible("SupplierRequestsQueue") == 1

    # The next invocation, with plenty of time, sends the one not started: the supplier sees it exactly once.
    supplier_stub.answers.append((201, "", 0.0))
    event, result, _ = invoke(lifecycle, seconds=30.0)
    assert [message_ids_by_cancellation(event)] == [{third: by_id[third]}] and result == {"batchItemFailures": []}
    assert lifecycle.cancellation(third).status is CancellationStatus.COMPLETED
    assert len(supplier_stub.requests) == 3
    assert [r["body"]["id"] for r in supplier_stub.requests] == [first, second, third]  # each once


def test_with_no_time_for_even_one_record_nothing_is_started_and_nothing_is_lost(lifecycle, supplier_stub):
    budgeted(lifecycle)
    ids = [accepted_cancellation(lifecycle, order_id) for order_id in (311, 312)]

    event, result, _ = invoke(lifecycle, seconds=1.5)  # less than the 2 s worst case of one record

    assert sorted(failures(result)) == sorted(r["messageId"] for r in event["Records"])
    assert supplier_stub.requests == []
    for cancellation_id in ids:
        record = lifecycle.cancellation(cancellation_id)
        assert record.status is CancellationStatus.RECEIVED_BY_GATEWAY and record.dispatchAttempts == 0
    assert lifecycle.visible("SupplierRequestsQueue") == 2


class TricklingSupplier:
    """Answers 201 one byte at a time, a byte every 0.2 s: no socket read ever waits long enough to time out."""

    def __init__(self, seconds: float):
        import socket
        import threading

        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = 0
        body = b'{"supplierReference":"R-1"}'
        answer = (
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        self.pause = seconds / len(answer)

        def serve():
            while True:
                try:
                    connection, _ = self.listener.accept()
                except OSError:
                    return
                self.requests += 1
                with connection:
                    connection.recv(65536)
                    try:
                        for byte in answer:
                            connection.sendall(bytes([byte]))
                            time.sleep(self.pause)
                    except OSError:
                        pass

        threading.Thread(target=serve, daemon=True).start()

    def close(self):
        self.listener.close()


def test_the_overall_deadline_bounds_a_supplier_that_trickles_its_answer(lifecycle, supplier_stub):
    """Each socket read gets a byte in time, so no read timeout trips; the call's overall deadline does."""
    from tests.lifecycle.test_supplier_dispatcher import point_dispatcher_at

    budgeted(lifecycle)
    cancellation_id = accepted_cancellation(lifecycle, 321)
    trickle = TricklingSupplier(seconds=SLOW * 2)
    try:
        point_dispatcher_at(lifecycle, trickle.url, read_timeout=0.5, deadline=DEADLINE)
        assert trickle.pause < 0.5  # every read gets its byte within the read timeout

        _, result, elapsed = invoke(lifecycle, seconds=30.0)
    finally:
        trickle.close()

    assert len(failures(result)) == 1 and elapsed < SLOW  # the trickle would take 8 s
    assert trickle.requests == 1
    record = lifecycle.cancellation(cancellation_id)
    assert record.status is CancellationStatus.RECEIVED_BY_GATEWAY and record.dispatchAttempts == 1  # retried later


def test_call_with_deadline_returns_results_and_exceptions_and_stops_waiting_at_the_deadline():
    assert call_with_deadline(lambda: 42, 1.0) == 42
    try:
        call_with_deadline(lambda: 1 / 0, 1.0)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("the call's exception passes through")
    started = time.monotonic()
    try:
        call_with_deadline(lambda: time.sleep(2.0), 0.2)
    except NoAnswer as exc:
        assert exc.timed_out and time.monotonic() - started < 1.0
    else:
        raise AssertionError("no NoAnswer (timed out)")


def test_without_a_context_the_budget_does_not_refuse():
    budget = TimeBudget(None, 15)
    budget.start_record()
    assert budget.started == 1 and budget.deferred == 0


def test_the_template_gives_each_partner_consumer_time_for_at_least_one_worst_case_record():
    from local_stack.template import load_template

    resources = load_template()["Resources"]
    for logical_id in ("SupplierDispatcherFunction", "TenantKciDeliveryFunction"):
        props = resources[logical_id]["Properties"]
        deadline = float(props["Environment"]["Variables"]["PARTNER_CALL_DEADLINE_SECONDS"])
        assert props["Timeout"] >= deadline + 3.0 + 1, logical_id
        # The deadline is shorter than connect + read timeouts: it, not a socket timeout, bounds the call.
        assert deadline <= 3.05 + 10
    assert ErrorCode.SUPPLIER_TIMED_OUT  # the timed-out call is reported as the supplier timing out
