"""Faults: throttling, timeouts, AWS errors, lost sends and crashes, concurrent order changes.

Failures are injected into the handler's real moto-backed clients, one operation at a time
(botocore ``before-call`` hooks answering with an AWS error, or raising), so everything else
still runs against moto. What must hold: a transient failure answers 503 GATEWAY_FAULT with
Retry-After and leaves nothing half-written; anything else unexpected answers 500 GATEWAY_FAULT
with its uuid in the log; once a cancellation is stored it reaches the queue or becomes visibly
FAILED_TO_SEND (README: forwarding guarantee).
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from datetime import timedelta

import pytest
from botocore.exceptions import ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from fibre_cafe.clock import utc_now
from fibre_cafe.logic.forwarding_sweeper import sweep
from fibre_cafe.models.cancellation import CancellationStatus
from tests.unit.tenant_api_checks import assert_created, assert_error, is_uuid4

PATH = "/service-order-cancellations"
EXAMPLE = {"supplier": "DUMMY_SUPPLIER", "orderId": 123, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}
RETRY = {"X-Request-ID": "retry-me"}
ENDPOINT = "https://dynamodb.eu-west-2.amazonaws.com"
# The Powertools logger of every function (POWERTOOLS_SERVICE_NAME); its level depends on which handler configured it first.
SERVICE_LOGGER = "service-order-cancellations"


@pytest.fixture
def order_123(orders):
    return orders(123)


def assert_nothing_written(aws_view, order_id: int = 123) -> None:
    """No cancellation, no idempotency record, the order as registered, no message."""
    assert aws_view.cancellation_items() == []
    assert aws_view.request_items() == []
    order = aws_view.order_item(order_id)
    assert order["status"] == "ACKNOWLEDGED" and order["version"] == 1 and "openCancellationId" not in order
    assert aws_view.messages() == []


def assert_retry_later(answer) -> None:
    assert_error(answer, 503, "GATEWAY_FAULT")
    retry_after = answer[2].get("Retry-After")
    assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, answer[2]


def later(minutes: int):
    moment = utc_now() + timedelta(minutes=minutes)
    return lambda: moment


def sweeper_args(tenant_api):
    return tenant_api.deps.cancellations, tenant_api.deps.create_cancellation.queue


# ---------------------------------------------------------------------------------------------- throttling -> 503


THROTTLING = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]


@pytest.mark.parametrize("operation", ["BatchGetItem", "TransactWriteItems"])
def test_throttling_is_503_with_retry_after_and_nothing_written(api, order_123, faults, aws_view, subtests, operation):
    """Each case fails one request; nothing it wrote survives, so the next case starts from the same state."""
    for code, status in [(code, 400) for code in THROTTLING] + [("InternalServerError", 500), ("ServiceUnavailable", 503)]:
        with subtests.test(code=code):
            faults.fail(operation, code, status=status, times=1)
            assert_retry_later(api("POST", PATH, body=EXAMPLE))
            assert_nothing_written(aws_view)


def test_transaction_cancelled_by_throttling_is_503_and_nothing_written(api, order_123, faults, aws_view, subtests):
    cases = {"request-item": ["None", "ThrottlingError", "None"], "cancellation-item": ["ThrottlingError", "None", "None"],
             "order-item": ["None", "None", "ProvisionedThroughputExceeded"], "all": ["ThrottlingError"] * 3}
    for case, reasons in cases.items():
        with subtests.test(case=case):
            faults.fail("TransactWriteItems", "TransactionCanceledException", times=1,
                        CancellationReasons=[{"Code": code, **({"Message": "Throughput exceeds the limit"} if code != "None" else {})}
                                             for code in reasons])
            assert_retry_later(api("POST", PATH, body=EXAMPLE))
            assert_nothing_written(aws_view)


def test_throttled_id_block_reservation_is_503_and_the_next_request_works(api, order_123, faults, aws_view):
    faults.fail("UpdateItem", "ThrottlingException", times=1)
    assert_retry_later(api("POST", PATH, body=EXAMPLE, headers=RETRY))
    assert_nothing_written(aws_view)
    created = assert_created(api("POST", PATH, body=EXAMPLE, headers=RETRY))
    assert [item["id"] for item in aws_view.cancellation_items()] == [created["id"]]


def test_read_whose_keys_stay_unprocessed_is_503(api, order_123, faults, aws_view):
    """DynamoDB throttles a batch read by returning the keys as UnprocessedKeys instead of failing."""
    faults.answer("BatchGetItem", lambda params: {"Responses": {}, "UnprocessedKeys": json.loads(params["body"])["RequestItems"]})
    assert_retry_later(api("POST", PATH, body=EXAMPLE))
    assert_nothing_written(aws_view)


def test_read_with_keys_unprocessed_once_is_retried_and_succeeds(api, order_123, faults, aws_view):
    faults.answer("BatchGetItem", lambda params: {"Responses": {}, "UnprocessedKeys": json.loads(params["body"])["RequestItems"]}, times=1)
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    assert [item["id"] for item in aws_view.cancellation_items()] == [created["id"]]


def test_get_throttled_is_503(api, order_123, faults):
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    faults.fail("GetItem", "ProvisionedThroughputExceededException")
    assert_retry_later(api("GET", f"{PATH}/{created['id']}"))


# ---------------------------------------------------------------------------------------------- timeouts -> 503


CONNECTION_FAILURES = [
    ReadTimeoutError(endpoint_url=ENDPOINT),
    ConnectTimeoutError(endpoint_url=ENDPOINT),
    EndpointConnectionError(endpoint_url=ENDPOINT),
    ConnectionClosedError(endpoint_url=ENDPOINT),
]
FAILURE_IDS = ["read-timeout", "connect-timeout", "endpoint-unreachable", "connection-closed"]


@pytest.mark.parametrize("operation", ["BatchGetItem", "TransactWriteItems"])
def test_connection_failure_is_503_and_nothing_written(api, order_123, faults, aws_view, subtests, operation):
    for case, failure in zip(FAILURE_IDS, CONNECTION_FAILURES, strict=True):
        with subtests.test(case=case):
            faults.fail(operation, raises=failure, times=1)
            assert_retry_later(api("POST", PATH, body=EXAMPLE))
            assert_nothing_written(aws_view)


def test_timeout_after_the_transaction_committed_is_safe_to_retry(api, order_123, tenant_api, aws_view):
    """The ambiguous case: the write landed but the answer was lost (503). The tenant's retry replays the
    stored 201, and the sweeper forwards the cancellation the lost answer never queued."""
    client = tenant_api.deps.orders.client

    def lose_the_answer(**_kwargs):
        client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", lose_the_answer)
        raise ReadTimeoutError(endpoint_url=ENDPOINT)

    client.meta.events.register("after-call.dynamodb.TransactWriteItems", lose_the_answer)
    assert_retry_later(api("POST", PATH, body=EXAMPLE, headers=RETRY))
    (item,) = aws_view.cancellation_items()
    assert aws_view.messages() == []

    replay = api("POST", PATH, body=EXAMPLE, headers=RETRY)
    assert_created(replay)
    assert replay[1]["id"] == item["id"]
    report = sweep(*sweeper_args(tenant_api), clock=later(5))
    assert report.resent == [item["id"]]
    assert [m["body"]["cancellationId"] for m in aws_view.messages()] == [item["id"]]


# ---------------------------------------------------------------------------------------------- non-transient -> 500


@contextmanager
def service_logs_at_info(caplog):
    """Capture the service's INFO lines. Powertools gives each child logger the level of the environment it was
    created in, so a suite that imported another handler first may have left some at WARNING."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith(SERVICE_LOGGER)]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO):
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def error_log_lines(caplog, uuid: str) -> list[dict]:
    """The service's JSON log lines (Powertools formatter) that carry ``uuid`` as error_uuid."""
    formatter = logging.getLogger(SERVICE_LOGGER).handlers[0].formatter
    lines = [json.loads(formatter.format(record)) for record in caplog.records if getattr(record, "error_uuid", None) == uuid]
    return lines


def test_non_transient_aws_error_is_500_gateway_fault_and_its_uuid_is_logged(api, order_123, faults, aws_view, caplog, subtests):
    cases = [("BatchGetItem", "AccessDeniedException"), ("BatchGetItem", "ResourceNotFoundException"),
             ("TransactWriteItems", "ValidationException"), ("TransactWriteItems", "AccessDeniedException")]
    for operation, code in cases:
        with subtests.test(operation=operation, code=code):
            faults.fail(operation, code, times=1)
            with service_logs_at_info(caplog):
                answer = api("POST", PATH, body=EXAMPLE)
            assert_error(answer, 500, "GATEWAY_FAULT")
            assert "Retry-After" not in answer[2]
            lines = error_log_lines(caplog, answer[1]["uuid"])
            assert lines and lines[0]["level"] == "ERROR" and lines[0]["error_code"] == "GATEWAY_FAULT"
            assert code not in json.dumps(answer[1]), "internal details stay in the log, not in the answer"
            assert_nothing_written(aws_view)


def test_missing_credentials_is_500_not_503(api, order_123, faults):
    faults.fail("BatchGetItem", raises=NoCredentialsError())
    assert_error(api("POST", PATH, body=EXAMPLE), 500, "GATEWAY_FAULT")


def test_client_errors_log_their_uuid_too(api, caplog):
    """Support finds any error body in the log by its uuid, 4xx included."""
    with service_logs_at_info(caplog):
        answer = api("POST", PATH, body={**EXAMPLE, "orderId": 0})
    assert_error(answer, 400, "MALFORMED_REQUEST")
    assert error_log_lines(caplog, answer[1]["uuid"])


def test_corrupt_order_snapshot_is_a_gateway_fault_not_the_tenants(api, aws_view, caplog):
    """A registry item the code cannot read is the gateway's problem: 500 GATEWAY_FAULT, never 400 MALFORMED_REQUEST."""
    aws_view.dynamodb.put_item(TableName=aws_view.orders_table, Item={
        "pk": {"S": "ORDER#123"}, "sk": {"S": "SNAPSHOT"}, "id": {"N": "123"}, "tenant": {"S": "TENANT1"},
        "supplier": {"S": "DUMMY_SUPPLIER"}, "orderType": {"S": "MIGRATE"}, "status": {"S": "ACKNOWLEDGED"},
        "supplierStatus": {"S": "ACKNOWLEDGED"}, "version": {"N": "1"}})
    with service_logs_at_info(caplog):
        answer = api("POST", PATH, body=EXAMPLE)
    assert_error(answer, 500, "GATEWAY_FAULT")
    assert error_log_lines(caplog, answer[1]["uuid"])


def test_corrupt_cancellation_record_is_a_gateway_fault_on_get(api, aws_view):
    aws_view.dynamodb.put_item(TableName=aws_view.cancellations_table, Item={
        "pk": {"S": "CANCELLATION#7"}, "id": {"N": "7"}, "tenant": {"S": "TENANT1"}, "status": {"S": "LOST"}})
    assert_error(api("GET", f"{PATH}/7"), 500, "GATEWAY_FAULT")


# ---------------------------------------------------------------------------------------------- lost sends


@pytest.mark.parametrize(
    "failure",
    [("AWS.SimpleQueueService.NonExistentQueue", None), ("ThrottlingException", None), ("InternalError", None),
     (None, ReadTimeoutError(endpoint_url="https://sqs.eu-west-2.amazonaws.com"))],
    ids=["no-queue", "throttled", "internal", "timeout"],
)
def test_send_failure_after_the_write_still_answers_201_and_the_sweeper_forwards(api, order_123, faults, tenant_api, aws_view, failure):
    code, raises = failure
    faults.fail("SendMessage", code, raises=raises, times=1)
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    (item,) = aws_view.cancellation_items()
    assert item["id"] == created["id"] and item["status"] == "RECEIVED_BY_GATEWAY"
    assert item["dispatchStatus"] == "RECEIVED_BY_GATEWAY", "findable by the sweeper"
    assert aws_view.messages() == []

    report = sweep(*sweeper_args(tenant_api), clock=later(3))
    assert report.resent == [created["id"]]
    (message,) = aws_view.messages()
    assert message["body"]["cancellationId"] == created["id"] and message["body"]["requestId"] == item["requestId"]
    assert tenant_api.deps.cancellations.get(created["id"]).forwardAttempts == 1


def test_send_failure_is_logged_with_the_cancellation_id(api, order_123, faults, caplog):
    faults.fail("SendMessage", "InternalError", times=1)
    with service_logs_at_info(caplog):
        created = assert_created(api("POST", PATH, body=EXAMPLE))
    assert any(getattr(r, "cancellation_id", None) == created["id"] and r.levelno >= logging.WARNING for r in caplog.records)


def test_repeated_send_failures_end_visibly_failed_to_send(api, order_123, faults, tenant_api, aws_view):
    faults.fail("SendMessage", "InternalError")
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    table, queue = sweeper_args(tenant_api)
    for attempt in range(1, 4):
        report = sweep(table, queue, max_attempts=3, clock=later(3 * attempt))
        assert report.resent == [] and report.failed_to_send == []
        assert table.get(created["id"]).forwardAttempts == attempt
    report = sweep(table, queue, max_attempts=3, clock=later(12))
    assert report.failed_to_send == [created["id"]]

    record = table.get(created["id"])
    assert record.status is CancellationStatus.FAILED_TO_SEND
    assert record.error is not None and record.error.code.value == "GATEWAY_FAULT" and is_uuid4(record.error.uuid)
    assert record.error.messages and all(isinstance(m, str) and m for m in record.error.messages)
    (item,) = aws_view.cancellation_items()
    assert item["dispatchStatus"] == "FAILED_TO_SEND", "operators find it through the index"
    status, body, _ = api("GET", f"{PATH}/{created['id']}")
    assert (status, body["status"]) == (200, "FAILED_TO_SEND")
    # Done with it: later sweeps leave it alone.
    assert sweep(table, queue, max_attempts=3, clock=later(30)).failed_to_send == []
    assert aws_view.messages() == []


class Crash(BaseException):
    """The process dies (timeout, OOM): nothing in the code gets to handle it."""


def test_crash_between_write_and_send_is_still_forwarded(tenant_api, order_123, create, aws_view, monkeypatch):
    queue = tenant_api.deps.create_cancellation.queue
    real_send = queue.send

    def die(_message):
        raise Crash()

    monkeypatch.setattr(queue, "send", die)
    with pytest.raises(Crash):
        create("crash-1")
    (item,) = aws_view.cancellation_items()
    assert item["status"] == "RECEIVED_BY_GATEWAY" and aws_view.messages() == []

    monkeypatch.setattr(queue, "send", real_send)  # the next container is healthy
    replay = create("crash-1")
    assert replay.cancellationId == item["id"] and replay.statusCode == 201
    assert aws_view.messages() == [], "a replay does not send"
    assert sweep(*sweeper_args(tenant_api), clock=later(3)).resent == [item["id"]]
    assert [m["body"]["cancellationId"] for m in aws_view.messages()] == [item["id"]]


def test_sweeper_leaves_recent_cancellations_alone(api, order_123, faults, tenant_api, aws_view):
    faults.fail("SendMessage", "InternalError", times=1)
    assert_created(api("POST", PATH, body=EXAMPLE))
    report = sweep(*sweeper_args(tenant_api))  # now: still inside the quiet period
    assert report.resent == [] and report.failed_to_send == []
    assert aws_view.messages() == []


def test_sweeper_does_not_resend_a_forwarded_or_answered_cancellation(api, orders, tenant_api, aws_view):
    orders(1)
    orders(2)
    pending = assert_created(api("POST", PATH, body={**EXAMPLE, "orderId": 1}))
    completed = assert_created(api("POST", PATH, body={**EXAMPLE, "orderId": 2}))
    table = tenant_api.deps.cancellations
    for cancellation_id, status in ((pending["id"], CancellationStatus.PENDING), (completed["id"], CancellationStatus.COMPLETED)):
        record = table.get(cancellation_id)
        table.replace(record.model_copy(update={"status": status}), expected_version=record.version)
    assert len(aws_view.messages()) == 2
    report = sweep(*sweeper_args(tenant_api), clock=later(10))
    assert report.resent == [] and report.failed_to_send == []
    assert len(aws_view.messages()) == 2


def test_sweeper_trusts_the_table_over_a_stale_index(api, order_123, tenant_api, aws_view, monkeypatch):
    """The index is eventually consistent: an id it still lists but whose record was answered is skipped."""
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    table = tenant_api.deps.cancellations
    record = table.get(created["id"])
    table.replace(record.model_copy(update={"status": CancellationStatus.PENDING}), expected_version=record.version)
    monkeypatch.setattr(table, "ids_by_dispatch_status", lambda *_args, **_kwargs: iter([created["id"], 999]))
    report = sweep(table, tenant_api.deps.create_cancellation.queue, clock=later(10))
    assert report.resent == [] and sorted(report.skipped) == sorted([created["id"], 999])
    assert len(aws_view.messages()) == 1


# ---------------------------------------------------------------------------------------------- the order changes under us


def bump_order(aws_view, order_id: int = 123, **changes):
    """A concurrent writer (a KCI, another cancellation) changes the order and its version."""
    names = {f"#a{i}": key for i, key in enumerate(changes)}
    values = {f":v{i}": ({"N": str(v)} if isinstance(v, int) else {"S": v}) for i, v in enumerate(changes.values())}
    sets = ", ".join(f"#a{i} = :v{i}" for i in range(len(changes)))
    aws_view.dynamodb.update_item(
        TableName=aws_view.orders_table, Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "SNAPSHOT"}},
        UpdateExpression=f"SET #version = #version + :one{', ' + sets if sets else ''}",
        ExpressionAttributeNames={"#version": "version", **names}, ExpressionAttributeValues={":one": {"N": "1"}, **values})


def test_order_changed_between_read_and_write_is_retried_and_accepted(api, order_123, faults, aws_view, aws_calls):
    faults.before("TransactWriteItems", lambda: bump_order(aws_view, lastSequenceNumber=2), times=1)
    aws_calls.clear()
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    order = aws_view.order_item(123)
    assert order["status"] == "PENDING_CANCELLATION" and order["openCancellationId"] == created["id"]
    assert order["version"] == 3 and order["lastSequenceNumber"] == 2, "the concurrent change is kept"
    assert [item["id"] for item in aws_view.cancellation_items()] == [created["id"]]
    assert [m["body"]["cancellationId"] for m in aws_view.messages()] == [created["id"]]
    assert aws_calls.operations("dynamodb").count("TransactWriteItems") == 2


def test_order_completed_between_read_and_write_is_refused_on_retry(api, order_123, faults, aws_view):
    faults.before("TransactWriteItems", lambda: bump_order(aws_view, status="COMPLETED", supplierStatus="COMPLETED"), times=1)
    assert_error(api("POST", PATH, body=EXAMPLE), 422, "INVALID_REQUEST")
    assert aws_view.cancellation_items() == [] and aws_view.request_items() == [] and aws_view.messages() == []


def test_other_cancellation_opened_between_read_and_write_is_refused_on_retry(api, order_123, faults, aws_view):
    faults.before("TransactWriteItems", lambda: bump_order(aws_view, status="PENDING_CANCELLATION", openCancellationId=999), times=1)
    messages = assert_error(api("POST", PATH, body=EXAMPLE), 422, "INVALID_REQUEST")
    assert any("999" in message for message in messages)
    assert aws_view.cancellation_items() == [] and aws_view.messages() == []


def test_order_that_keeps_changing_ends_in_503_with_nothing_written(api, order_123, faults, aws_view):
    faults.before("TransactWriteItems", lambda: bump_order(aws_view), times=None)
    assert_retry_later(api("POST", PATH, body=EXAMPLE))
    assert aws_view.cancellation_items() == [] and aws_view.request_items() == [] and aws_view.messages() == []
    assert "openCancellationId" not in aws_view.order_item(123)


def test_transaction_conflict_is_retried(api, order_123, faults, aws_view):
    faults.fail("TransactWriteItems", "TransactionCanceledException", times=2,
                CancellationReasons=[{"Code": "None"}, {"Code": "TransactionConflict"}, {"Code": "None"}])
    created = assert_created(api("POST", PATH, body=EXAMPLE))
    assert [item["id"] for item in aws_view.cancellation_items()] == [created["id"]]
    assert faults.injected["TransactWriteItems"] == 2
