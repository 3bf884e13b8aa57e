"""Transactions with named items (fibre_cafe/dal/transactions.py): reasons by name, conflicts retried then given up.

The reasons come from moto's own TransactWriteItems (a real failed condition) or, for a conflict, which moto
cannot produce, from botocore's Stubber answering with DynamoDB's TransactionCanceledException shape.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from fibre_cafe.dal import transactions
from fibre_cafe.dal.errors import LostRace
from fibre_cafe.dal.transactions import (
    CONFLICT_BACKOFF_CAP_SECONDS,
    TransactionCancelled,
    conflict_pause,
    retry_conflicts,
    transact_write,
)


class Taken(Exception):
    pass


class Moved(Exception):
    pass


def put(table: str, pk: str, condition: str = "attribute_not_exists(pk)") -> dict:
    return {"Put": {"TableName": table, "Item": {"pk": {"S": pk}}, "ConditionExpression": condition}}


@pytest.fixture
def table(aws) -> str:
    return aws.tables["CancellationsTable"]


def test_a_failed_condition_is_named_whatever_the_items_order(aws, table):
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "taken"}})
    named = {"taken": put(table, "taken"), "fresh": put(table, "fresh")}
    for order in (["taken", "fresh"], ["fresh", "taken"]):
        items = {name: named[name] for name in order}
        with pytest.raises(ClientError) as raised:
            dynamodb.transact_write_items(TransactItems=list(items.values()))
        assert TransactionCancelled.of(order, raised.value).reasons == {"taken": "ConditionalCheckFailed", "fresh": "None"}
        with pytest.raises(Taken):
            transact_write(dynamodb, items, {"fresh": Moved, "taken": Taken})
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "fresh"}}).get("Item") is None  # all or nothing


def test_the_first_named_failure_in_the_mapping_wins_and_unnamed_failures_reraise_the_aws_error(aws, table):
    dynamodb = boto3.client("dynamodb")
    for pk in ("a", "b"):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}})
    items = {"a": put(table, "a"), "b": put(table, "b")}
    with pytest.raises(Moved):
        transact_write(dynamodb, items, {"b": Moved, "a": Taken})
    with pytest.raises(ClientError) as raised:
        transact_write(dynamodb, items, {"other": Moved})
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"


def stubbed_client(answers: list[list[str] | None], items: dict[str, dict]):
    """A DynamoDB client whose TransactWriteItems answers, in turn, cancelled with these reasons (None: success)."""
    client = boto3.client("dynamodb")
    stubber = Stubber(client)
    expected = {"TransactItems": list(items.values())}
    for reasons in answers:
        if reasons is None:
            stubber.add_response("transact_write_items", {}, expected)
        else:
            stubber.add_client_error("transact_write_items", "TransactionCanceledException", "Transaction cancelled",
                                     400, expected_params=expected,
                                     modeled_fields={"CancellationReasons": [{"Code": code} for code in reasons]})
    stubber.activate()
    return client, stubber


ITEMS = {"request": put("t", "r"), "order": put("t", "o")}


def test_a_conflict_is_a_write_conflict_and_throttling_the_aws_error(aws):
    client, _ = stubbed_client([["None", "TransactionConflict"], ["ThrottlingError", "None"]], ITEMS)
    with pytest.raises(LostRace):
        transact_write(client, ITEMS, {"request": Taken})
    with pytest.raises(ClientError):
        transact_write(client, ITEMS, {"request": Taken})


def test_conflicts_are_retried_with_jittered_pauses_then_succeed(aws):
    client, stubber = stubbed_client([["TransactionConflict", "None"], ["None", "TransactionConflict"], None], ITEMS)
    pauses: list[float] = []
    attempts: list[int] = []

    def attempt(number: int) -> str:
        attempts.append(number)
        transact_write(client, ITEMS, {"order": LostRace})
        return "written"

    assert retry_conflicts(attempt, 5, give_up=lambda: Moved("gave up"), sleep=pauses.append) == "written"
    assert attempts == [0, 1, 2] and len(pauses) == 2
    assert all(0 <= pause <= CONFLICT_BACKOFF_CAP_SECONDS for pause in pauses)
    stubber.assert_no_pending_responses()


def test_conflicts_that_go_on_are_given_up_with_the_callers_error(aws):
    client, stubber = stubbed_client([["TransactionConflict", "None"], ["None", "ConditionalCheckFailed"],
                                      ["TransactionConflict", "TransactionConflict"]], ITEMS)
    pauses: list[float] = []
    with pytest.raises(Moved, match="gave up"):
        retry_conflicts(lambda _: transact_write(client, ITEMS, {"order": LostRace}), 3,
                        give_up=lambda: Moved("gave up"), sleep=pauses.append)
    assert len(pauses) == 2  # no pause after the last attempt
    stubber.assert_no_pending_responses()


def test_other_failures_are_not_retried(aws):
    client, stubber = stubbed_client([["None", "ConditionalCheckFailed"]], ITEMS)
    with pytest.raises(Taken):
        retry_conflicts(lambda _: transact_write(client, ITEMS, {"order": Taken}), 3,
                        give_up=lambda: Moved("gave up"), sleep=lambda _: pytest.fail("no pause expected"))
    stubber.assert_no_pending_responses()


def test_pauses_are_full_jitter_capped():
    assert conflict_pause(0, rng=lambda low, high: low) == 0.0  # full jitter: may be no pause at all
    ceilings = [conflict_pause(attempt, rng=lambda low, high: high) for attempt in range(12)]
    assert ceilings == sorted(ceilings) and ceilings[0] == transactions.CONFLICT_BACKOFF_BASE_SECONDS
    assert ceilings[-1] == CONFLICT_BACKOFF_CAP_SECONDS
