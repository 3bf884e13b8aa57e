"""Shared fixtures: fake AWS credentials, moto in-process with the template's tables and queues."""

from __future__ import annotations

import os

# Nothing may reach real AWS: fake credentials and a region before anything creates a client.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="eu-west-2",
    AWS_REGION="eu-west-2",
    POWERTOOLS_SERVICE_NAME="service-order-cancellations",
    POWERTOOLS_METRICS_NAMESPACE="FibreCafe",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

import boto3  # noqa: E402
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from local_stack.template import create_resources, function_environment  # noqa: E402

# Handler modules read their environment at import; give them names that exist in each fresh mock.
_PREFIX = "test"


@pytest.fixture
def aws():
    """A fresh moto world per test, with every table and queue of template.yaml."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        resources = create_resources(dynamodb, sqs, prefix=_PREFIX)
        yield resources
