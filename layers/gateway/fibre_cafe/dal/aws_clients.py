"""boto3 clients with explicit timeouts and bounded retries, created once per container.

Clients honour ``AWS_ENDPOINT_URL`` (boto3 does natively), which is how the local stack and
``sam local invoke`` point the functions at moto.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import boto3
from botocore.config import Config

# boto3 ships no type information (and the lock has no stubs for it): to mypy a client is Any. The aliases say which
# client a parameter takes; modules that only annotate with them import them under TYPE_CHECKING (no import cost).
DynamoDBClient: TypeAlias = Any
SqsClient: TypeAlias = Any
DynamoDBStreamsClient: TypeAlias = Any
SecretsManagerClient: TypeAlias = Any

# API Gateway gives a request 29 s; a tenant should get a 503 long before that.
API_CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=3,
    retries={"mode": "standard", "max_attempts": 3},
)


def dynamodb_client(config: Config = API_CLIENT_CONFIG) -> DynamoDBClient:
    return boto3.client("dynamodb", config=config)


def sqs_client(config: Config = API_CLIENT_CONFIG) -> SqsClient:
    return boto3.client("sqs", config=config)



def secrets_client(config: Config = API_CLIENT_CONFIG) -> SecretsManagerClient:
    """Secrets Manager, for the partners' credentials (only the functions that call partners build it)."""
    return boto3.client("secretsmanager", config=config)
