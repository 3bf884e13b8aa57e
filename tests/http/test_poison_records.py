"""A poison record never blocks anyone else (issue 10, item 4), through the local stack with its pollers behaving
as Lambda's event source mappings do (local_stack/pollers.py):

- in the KCI processor (an SQS message no one can read): retried up to the KCI queue's maxReceiveCount, then in
  the KCI dead-letter queue, while other orders' KCIs are applied and relayed;
- in the tenant-KCI relay (an outbox item no one can read, on the orders stream): retried, bisected down to
  itself, then described on the relay's on-failure queue and skipped, while other tenants' KCIs reach them.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from local_stack import pollers
from local_stack.stack import LocalStack
from local_stack.tokens import DEV_CLIENT_SECRET
from tests.polling import wait_for

pytestmark = pytest.mark.http


@pytest.fixture(scope="module")
def stack():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pollers, "STREAM_RETRY_PAUSE_SECONDS", 0.02)
        patch.setattr(pollers, "STREAM_RETRY_PAUSE_CAP_SECONDS", 0.1)
        with LocalStack(port=0, moto_port=0, run_schedules=False, visibility_timeout=1) as running:
            yield running


def token(stack, client_id: str, kind: str) -> str:
    answer = requests.post(f"{stack.base_url}/auth/{kind}/access-token", timeout=10,
                           data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": DEV_CLIENT_SECRET})
    return answer.json()["access_token"]


def post_kci(stack, supplier_token: str, order_id: int, tenant: str) -> None:
    body = {"id": str(uuid.uuid4()), "sequenceNumber": 1, "issuedOn": "2024-04-10T09:53:39.144Z", "reasonCode": "ACKNOWLEDGED",
            "provideServiceOrder": {"id": order_id, "tenant": tenant, "status": "ACKNOWLEDGED"}}
    answer = requests.post(f"{stack.base_url}/kcis", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {supplier_token}", "X-Request-ID": str(uuid.uuid4())})
    assert answer.status_code == 204, answer.text


def count(stack, logical_id: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resources.queue_urls[logical_id],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_poison_in_the_processor_and_in_the_relay_blocks_no_other_order_or_tenant(stack):
    supplier = token(stack, "DUMMY_SUPPLIER", "supplier")
    # The poisons go in first, so everything else queues up behind them.
    stack.client("sqs").send_message(QueueUrl=stack.resources.queue_urls["KciQueue"], MessageBody="{not a KCI")
    stack.client("dynamodb").put_item(TableName=stack.resources.tables["OrdersTable"], Item={
        "pk": {"S": "ORDER#7000"}, "sk": {"S": "TENANT_KCI#000000000001"}, "tenant": {"S": "TENANT1"},
        "orderId": {"N": "7000"}, "kci": {"M": {"garbage": {"S": "x"}}}, "deliveryStatus": {"S": "PENDING"}})
    for order_id, tenant in ((7001, "TENANT1"), (7002, "TENANT2"), (7003, "TENANT1")):
        post_kci(stack, supplier, order_id, tenant)

    def received(tenant: str, order_id: int) -> bool:
        return bool(stack.tenant_stub.received_by(tenant, order_id=order_id))

    wait_for(lambda: received("TENANT1", 7001) and received("TENANT2", 7002) and received("TENANT1", 7003), 45.0,
             "every other order's tenant KCIs")
    wait_for(lambda: count(stack, "KciDeadLetterQueue") == 1 and count(stack, "TenantKciRelayFailureQueue") == 1, 45.0,
             "each poison on its dead-letter destination")

    [dead] = stack.client("sqs").receive_message(QueueUrl=stack.resources.queue_urls["KciDeadLetterQueue"])["Messages"]
    assert dead["Body"] == "{not a KCI"
    [described] = stack.client("sqs").receive_message(QueueUrl=stack.resources.queue_urls["TenantKciRelayFailureQueue"])["Messages"]
    info = json.loads(described["Body"])["DDBStreamBatchInfo"]
    # From the poison on (Lambda gives up on the batch it was retrying from the failed record; the other orders'
    # records in it had been relayed already, and the outbox sweeper covers any that were not).
    assert info["batchSize"] >= 1 and info["streamArn"] == stack.resources.stream_arns["OrdersTable"]
    assert count(stack, "KciQueue") == 0
