"""The deployed-stack smoke test (tools/smoke.py) passes against the local stack, so it is known to work before a deploy."""

from __future__ import annotations

import pytest

from local_stack.stack import LocalStack
from tools import smoke

pytestmark = pytest.mark.http


def settings_for(stack, *, tenant_secret: str = "local-dev-secret", **fields) -> smoke.Settings:
    """The smoke test's settings for the local stack's token endpoints, as TENANT1 and DUMMY_SUPPLIER."""
    return smoke.Settings(base_url=stack.base_url, tenant_token_url=f"{stack.base_url}/auth/tenant/access-token",
                          supplier_token_url=f"{stack.base_url}/auth/supplier/access-token", tenant_client=("TENANT1", tenant_secret),
                          supplier_client=("DUMMY_SUPPLIER", "local-dev-secret"), tenant="TENANT1", supplier="DUMMY_SUPPLIER", **fields)


def test_smoke_test_passes_against_the_local_stack_and_cleans_up():
    with LocalStack(port=0, moto_port=0, run_schedules=False, visibility_timeout=5) as stack:
        settings = settings_for(stack, tables={"orders": stack.resources.tables["OrdersTable"],
                                               "cancellations": stack.resources.tables["CancellationsTable"]},
                                dynamodb_endpoint=stack.moto_url, poll_seconds=30)
        steps: list[str] = []
        created = smoke.run(settings, log=steps.append)
        assert [step.split(".")[0] for step in steps] == ["1", "2", "3", "4", "5", "6"]
        dynamodb = stack.client("dynamodb")
        left = dynamodb.query(TableName=settings.tables["orders"], KeyConditionExpression="pk = :pk",
                              ExpressionAttributeValues={":pk": {"S": f"ORDER#{created['order_id']}"}})["Items"]
        assert left == []
        assert "Item" not in dynamodb.get_item(TableName=settings.tables["cancellations"],
                                               Key={"pk": {"S": f"CANCELLATION#{created['cancellation_id']}"}})


def test_smoke_test_reports_a_broken_stack():
    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False) as stack:
        settings = settings_for(stack, tenant_secret="wrong-secret", tables=None, dynamodb_endpoint=None)
        with pytest.raises(smoke.SmokeFailure, match="token from .*tenant/access-token: HTTP 401"):
            smoke.run(settings, log=lambda _: None)
