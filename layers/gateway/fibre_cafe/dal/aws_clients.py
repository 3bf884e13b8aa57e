"""AWS clients with explicit timeouts and bounded retries, created once per container.

The clients are botocore's, from one botocore session per container: the same clients ``boto3.client`` returns
(boto3 adds nothing to a DynamoDB, SQS or Secrets Manager client), without importing boto3, whose import (s3transfer
and boto3's own session) would be most of a cold start's cost above the clients themselves. Region, credentials and
``AWS_ENDPOINT_URL`` come from the environment, as with boto3: that is how the local stack and ``sam local invoke``
point the functions at moto.
"""

from __future__ import annotations

import threading
from typing import Any, TypeAlias

import botocore.session
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


_session: botocore.session.Session | None = None
_session_lock = threading.Lock()


def client(service: str, config: Config = API_CLIENT_CONFIG) -> Any:
    """A client of ``service`` from the container's botocore session (made on first use; its service models and
    credentials are then loaded once for every client)."""
    global _session
    with _session_lock:
        if _session is None:
            _session = botocore.session.get_session()
        session = _session
    return session.create_client(service, config=config)


def dynamodb_client(config: Config = API_CLIENT_CONFIG) -> DynamoDBClient:
    return client("dynamodb", config)


def sqs_client(config: Config = API_CLIENT_CONFIG) -> SqsClient:
    return client("sqs", config)


def dynamodb_streams_client(config: Config = API_CLIENT_CONFIG) -> DynamoDBStreamsClient:
    return client("dynamodbstreams", config)


def secrets_client(config: Config = API_CLIENT_CONFIG) -> SecretsManagerClient:
    """Secrets Manager, for the partners' credentials (only the functions that call partners build it)."""
    return client("secretsmanager", config)
