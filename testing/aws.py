"""Fake AWS for tests and benchmarks: fake credentials, moto worlds built from template.yaml, moto's speed patches.

- ``FAKE_AWS_ENV`` / ``UNSET_AWS_ENV`` / ``use_fake_aws()``: nothing started here can reach real AWS.
- ``moto_world()``: in-process moto (``mock_aws``) with every table and queue of template.yaml (or of a
  trimmed copy: ``tables_only_template()``, ``template_without_streams()``); yields the created resources.
- ``cheap_kms_keys()``, ``serialised_moto_requests()`` and (from local_stack/moto_patches.py, the one
  implementation) ``item_level_transaction_backups()``: context managers that make moto fast and atomic
  as DynamoDB is; tests get them as autouse fixtures (testing/pytest_plugin.py).
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local_stack.moto_patches import item_level_transaction_backups

__all__ = [
    "FAKE_AWS_ENV", "REGION", "ACCOUNT", "UNSET_AWS_ENV", "use_fake_aws", "moto_world", "tables_only_template",
    "template_without_streams", "cheap_kms_keys", "serialised_moto_requests", "item_level_transaction_backups",
]

REGION = "eu-west-2"
ACCOUNT = "000000000000"
# Fake credentials and a region: with these (and no endpoint, or one on 127.0.0.1) no call can reach AWS.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Each could send a client elsewhere than moto (or to a real account).
UNSET_AWS_ENV = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


def use_fake_aws(environ: Any = None, **extra: str) -> None:
    """Put the fake credentials (and ``extra``) in ``environ`` (os.environ), and drop profiles and endpoint overrides."""
    environ = os.environ if environ is None else environ
    for key in [*UNSET_AWS_ENV, *(k for k in environ if k.startswith("AWS_ENDPOINT_URL"))]:
        environ.pop(key, None)
    environ.update(FAKE_AWS_ENV, **extra)


_BOTOCORE_SESSION: list[Any] = []


@contextmanager
def moto_world(prefix: str = "test", template: dict | None = None) -> Iterator[Any]:
    """A fresh moto world with every table and queue of ``template`` (template.yaml); yields the created resources.

    moto gives each world a new boto3 default session, which reloads every service model from disk
    (0.2-0.5 s per world); here every world shares one botocore session, so models load once.
    """
    import boto3
    import botocore.session
    from moto import mock_aws

    from local_stack.template import create_resources

    with mock_aws():
        if not _BOTOCORE_SESSION:
            _BOTOCORE_SESSION.append(botocore.session.get_session())
        boto3.setup_default_session(botocore_session=_BOTOCORE_SESSION[0])  # undone when the mock stops
        yield create_resources(boto3.client("dynamodb", region_name=REGION), boto3.client("sqs", region_name=REGION),
                               prefix=prefix, template=template)


def tables_only_template() -> dict:
    """template.yaml with only its DynamoDB tables (for tests that need fresh tables many times over)."""
    from local_stack.template import load_template

    template = load_template()
    return {**template, "Resources": {name: res for name, res in template["Resources"].items() if res["Type"] == "AWS::DynamoDB::Table"}}


def template_without_streams() -> dict:
    """template.yaml without the tables' StreamSpecification.

    moto's TransactWriteItems deep-copies every table it touches (to roll back), and a table's copy includes its
    whole stream: with the orders table's stream on, each call costs time and memory in proportion to every
    write made so far, which DynamoDB does not. Benchmarks that do not read the stream leave it off.
    """
    from local_stack.template import load_template

    template = copy.deepcopy(load_template())
    for res in template["Resources"].values():
        if res["Type"] == "AWS::DynamoDB::Table":
            res["Properties"].pop("StreamSpecification", None)
    return template


@contextmanager
def cheap_kms_keys() -> Iterator[None]:
    """SSE-enabled tables make moto generate an RSA key pair per table (0.1-1 s each); nothing reads the key
    material, so generate one pair per key spec and reuse it while this lasts."""
    import moto.kms.models

    original = moto.kms.models.generate_private_key
    cache: dict[str, Any] = {}

    def generate_private_key(key_spec: str) -> Any:
        if key_spec not in cache:
            cache[key_spec] = original(key_spec)
        return cache[key_spec]

    moto.kms.models.generate_private_key = generate_private_key
    try:
        yield
    finally:
        moto.kms.models.generate_private_key = original


@contextmanager
def serialised_moto_requests() -> Iterator[None]:
    """DynamoDB applies each request atomically; in-process moto does not when several threads call it (its
    TransactWriteItems restores a whole-table snapshot on a failed condition, its UpdateItem ADD is a
    read-modify-write). Serialise in-process moto's request processing while this lasts, so threaded tests get
    DynamoDB's per-request atomicity (the code under test still runs concurrently between requests)."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__dict__["process_request"]
    lock = threading.RLock()

    def process_request(self: Any, request: Any) -> Any:
        with lock:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]  # patched while the context lasts
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]  # and restored
