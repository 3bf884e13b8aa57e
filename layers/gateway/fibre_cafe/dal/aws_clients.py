"""AWS clients with explicit timeouts and bounded retries, created once per container.

Clients honour ``AWS_ENDPOINT_URL`` (botocore does natively), which is how the local stack and
``sam local invoke`` point the functions at moto.

They come from one botocore session per process, as ``boto3.client`` would give them from boto3's default
session, but without importing boto3: its package import (boto3.session, boto3.compat, s3transfer) costs
about 90 ms CPU of every cold start and the functions use none of it.
"""

from __future__ import annotations

import threading

import botocore.session
from botocore.config import Config

# API Gateway gives a request 29 s; a tenant should get a 503 long before that.
API_CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=3,
    retries={"mode": "standard", "max_attempts": 3},
)


_session: botocore.session.Session | None = None
_session_lock = threading.Lock()


def _botocore_session() -> botocore.session.Session:
    """The process's session, made on first use (like boto3's default session): credentials, region and endpoint
    come from the environment."""
    global _session
    with _session_lock:
        if _session is None:
            _session = botocore.session.get_session()
        return _session


def client(service: str, config: Config = API_CLIENT_CONFIG):
    return _botocore_session().create_client(service, config=config)


def dynamodb_client(config: Config = API_CLIENT_CONFIG):
    return client("dynamodb", config=config)


def sqs_client(config: Config = API_CLIENT_CONFIG):
    return client("sqs", config=config)
