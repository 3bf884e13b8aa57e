"""Fixtures for the cancellation's life after the 201: every function in-process against moto."""

from __future__ import annotations

import importlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import boto3
import pytest

from fibre_cafe.api.identity import client_principals
from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS, claims_for, proxy_event
from local_stack.template import function_environment, function_spec


class Context:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-2:000000000000:function:test"
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def load_function(aws, monkeypatch) -> Callable:
    """Import a template function's handler with its template environment, clients built inside this moto world."""

    def load(logical_id: str, **extra_env: str):
        env = function_environment(logical_id, aws)
        env.update(CLIENT_PRINCIPALS=json.dumps(DEV_CLIENT_PRINCIPALS), **extra_env)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        client_principals.cache_clear()
        module = importlib.import_module(function_spec(logical_id).module)
        monkeypatch.setattr(module, "deps", module.Dependencies())
        return module

    yield load
    client_principals.cache_clear()


def api_call(module, method: str, path: str, *, client: str, body=None, headers=None, resource=None):
    all_headers = {"Content-Type": "application/json", "X-Request-ID": str(uuid.uuid4()), "X-Conversation-ID": "conv-1", **(headers or {})}
    event = proxy_event(method, path, resource=resource or path, headers=all_headers,
                        body=json.dumps(body) if body is not None else None, claims=claims_for(client))
    answer = module.lambda_handler(event, Context())
    text = answer.get("body")
    return answer["statusCode"], (json.loads(text) if text else None)


def drain(queue_url: str, max_messages: int = 10) -> dict:
    """Receive what is on a queue as the SQS event a Lambda event source mapping would deliver."""
    sqs = boto3.client("sqs")
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=max_messages, AttributeNames=["All"],
                                 MessageAttributeNames=["All"], VisibilityTimeout=30)
    records = []
    for message in answer.get("Messages", []):
        records.append({
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-2:000000000000:" + queue_url.rsplit("/", 1)[-1],
            "awsRegion": "eu-west-2",
        })
    return {"Records": records}


def acknowledge(queue_url: str, event: dict, result: dict) -> None:
    """Delete the records the handler did not report as failed (what the event source mapping does)."""
    failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
    sqs = boto3.client("sqs")
    for record in event["Records"]:
        if record["messageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])


class SupplierStubServer:
    """A tiny Supplier API on 127.0.0.1 that answers from a script: a list of (status, body, delay_seconds)."""

    def __init__(self):
        self.answers: list[tuple[int, str, float]] = []
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body) if body else None})
                status, text, delay = stub.answers.pop(0) if stub.answers else (202, "", 0.0)
                if delay:
                    import time

                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(text.encode())))
                    self.end_headers()
                    self.wfile.write(text.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def supplier_stub():
    with SupplierStubServer() as stub:
        yield stub
