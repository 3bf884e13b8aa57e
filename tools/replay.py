"""Replay event files against the handlers in-process, the local stack, or a deployed API.

    python -m tools.replay events/tenant_api/*.json                       # in-process (the Docker-free sam local invoke)
    python -m tools.replay --target local events/tenant_api/post-valid.json   # the running `make run` stack over HTTP
    python -m tools.replay --target https://abc.execute-api.eu-west-2.amazonaws.com/dev \\
        --token-url https://<domain>.auth.eu-west-2.amazoncognito.com/oauth2/token \\
        --client-id ... --client-secret ... recorded.jsonl                 # a deployed stack
    python -m tools.replay --function TenantApiFunction events/...        # name the function as the template does

Files: a JSON document or JSON lines (``.jsonl``: recorded production traffic), each entry one of
an API Gateway REST proxy event (``httpMethod``), an SQS event (``Records`` from ``aws:sqs``), a
DynamoDB stream event, a scheduled event (``detail-type``), or a bare request body (a JSON object
POSTed to ``--path``, default /service-order-cancellations, with fresh trace headers).

An answer is *unexpected* when it is a 5xx, a transport error, a handler exception, an SQS batch
with failures, or differs from the expectation for that file (``expected.json`` beside the files,
as in events/tenant_api/, or ``--expect-status``). The command prints progress on long runs, a
summary (sent, succeeded, failed by status), writes each response with ``--out DIR``, and exits 1
when anything was unexpected.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from local_stack.stack import LocalStack
    from local_stack.template import ScheduledEvent

DEFAULT_PATH = "/service-order-cancellations"
LOCAL_URL = "http://127.0.0.1:3000"
LOCAL_MOTO_URL = "http://127.0.0.1:4566"
LOCAL_LAMBDA_URL = "http://127.0.0.1:3003"  # the running stack's function runner (local_stack/lambda_api.py)


@dataclass
class Replay:
    source: str  # file[:line]
    event: Any
    expected_status: int | None = None
    expected_code: str | None = None
    expected_failures: int | None = None  # queue events: how many records expected.json says fail
    setup: dict[str, Any] | None = None  # expected.json's "setup": what must exist first (applied by the target's prepare)
    dependency: bool = False  # run only because another file names it in "after" (not given on the command line)


@dataclass
class Outcome:
    status: int | str  # HTTP status, or "OK"/"BATCH_FAILURES"/"ERROR" for non-HTTP events
    body: Any
    unexpected: str | None = None


@dataclass
class Summary:
    sent: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ reading files

def _kind(event: Any) -> str:
    if isinstance(event, dict):
        if "httpMethod" in event:
            return "api"
        records = event.get("Records")
        if isinstance(records, list) and records:
            source = records[0].get("eventSource") or records[0].get("EventSource")
            return {"aws:sqs": "sqs", "aws:dynamodb": "stream"}.get(source, "unknown")
        if "detail-type" in event:
            return "scheduled"
    return "body"


def _ordered(paths: list[Path]) -> list[Path]:
    """Files in the given order, except that a file runs after the files its expected.json entry names in ``after``
    (added when not given: a file replays on its own)."""
    ordered: list[Path] = []

    def place(path: Path, seen: tuple[Path, ...] = ()) -> None:
        if path in ordered or path in seen:
            return
        expected_file = path.parent / "expected.json"
        if expected_file.exists():
            for name in json.loads(expected_file.read_text()).get(path.name, {}).get("after", []):
                place(path.parent / name, (*seen, path))
        ordered.append(path)

    for path in paths:
        place(path)
    return ordered


def read_replays(paths: list[Path], expect_status: int | None, over_http: bool = False) -> Iterator[Replay]:
    """``over_http``: an entry's ``httpStatus``, when it has one, replaces ``status`` (an answer API Gateway's
    authorizer gives before any function runs, e.g. 401 for a token without the route's scope)."""
    given = set(paths)
    for path in _ordered(paths):
        expectations = {}
        expected_file = path.parent / "expected.json"
        if expected_file.exists() and path.name != "expected.json":
            expectations = json.loads(expected_file.read_text())
        if path.name in ("expected.json", "env.json"):
            continue
        expected = expectations.get(path.name, {})
        status_key = "httpStatus" if over_http and "httpStatus" in expected else "status"
        status = expect_status if expect_status is not None else expected.get(status_key)
        if path.suffix == ".jsonl":
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if line.strip():
                    yield Replay(f"{path}:{number}", json.loads(line), status, expected.get("code"))
        else:
            failures = expected.get("batchItemFailures")
            yield Replay(str(path), json.loads(path.read_text()), status, expected.get("code"),
                         len(failures) if isinstance(failures, list) else None, expected.get("setup"), path not in given)


def _bare_body_event(body: Any, path: str) -> dict[str, Any]:
    from local_stack.proxy_events import proxy_event

    return proxy_event("POST", path, headers={"Content-Type": "application/json", "X-Request-ID": str(uuid.uuid4()),
                                              "X-Conversation-ID": str(uuid.uuid4())}, body=json.dumps(body))


# ------------------------------------------------------------------ targets

SETUP_CONVERSATION_ID = "events-conversation-1"


def scheduled_function(event: dict[str, Any], schedules: list[ScheduledEvent]) -> str:
    """The function a scheduled event is for: its rule or schedule ARN ends with <LogicalId><EventName> (scheduler.py)."""
    resources = event.get("resources") or []
    name = str(resources[0]).rsplit("/", 1)[-1] if resources else ""
    for schedule in schedules:
        if name == f"{schedule.function}{schedule.name}":
            return schedule.function
    for schedule in schedules:
        if name.startswith(schedule.function):
            return schedule.function
    if len({schedule.function for schedule in schedules}) == 1:
        return schedules[0].function
    raise LookupError(f"cannot tell which scheduled function {name or 'this event'} is for: pass --function")


def apply_setup(stack: LocalStack, setup: dict[str, Any], event: Any,
                tenant_api_invoke: Callable[[dict[str, Any]], Any] | None = None) -> None:
    """What an events/ file needs before it runs (its expected.json ``setup``), on a fresh local stack (demo orders seeded).

    ``cancellations``: made by TENANT1 through the tenant API, in order, so they get the ids the file names;
    ``outbox``: the tenant KCIs of the file's records written to the orders table's outbox, as the KCI processor
    writes them; ``tenantFailNext``: TENANT1's stub answers 503 that many times.
    """
    from local_stack.proxy_events import claims_for, proxy_event

    invoke = tenant_api_invoke or stack.functions["TenantApiFunction"].invoke
    for wanted in setup.get("cancellations", []):
        body = {"orderId": wanted["orderId"], "reasonCode": wanted["reasonCode"]}
        headers = {"Content-Type": "application/json", "X-Request-ID": f"setup-{wanted['id']}", "X-Conversation-ID": SETUP_CONVERSATION_ID}
        answer = invoke(proxy_event("POST", DEFAULT_PATH, headers=headers, body=json.dumps(body), claims=claims_for("TENANT1")))
        made = json.loads(answer.get("body") or "null") if isinstance(answer, dict) else None
        if not (isinstance(made, dict) and answer.get("statusCode") == 201 and made.get("id") == wanted["id"]):
            raise RuntimeError(f"setup: cancelling order {wanted['orderId']} should give cancellation {wanted['id']}, got {answer}")
    if setup.get("outbox"):
        from fibre_cafe.dal.tenant_kci_outbox import TenantKciOutbox
        from fibre_cafe.models.tenant_kci import TenantKciMessage

        assert stack.resources is not None, "apply_setup needs a started stack"
        outbox = TenantKciOutbox(stack.client("dynamodb"), stack.resources.tables["OrdersTable"])
        wanted = {(entry["orderId"], entry["sequenceNumber"]) for entry in setup["outbox"]}
        for record in event.get("Records", []):
            message = TenantKciMessage.model_validate_json(record["body"])
            if (message.orderId, message.kci.sequenceNumber) in wanted:
                outbox.client.transact_write_items(TransactItems=[outbox.put(message, "2026-01-01T12:00:00Z")])
    if setup.get("tenantFailNext"):
        assert stack.tenant_stub is not None, "apply_setup needs a started stack"
        stack.tenant_stub.fail_next("TENANT1", int(setup["tenantFailNext"]), 503)


class StackTarget:
    """The template's functions against a fresh local stack (moto, demo orders, stubs), run in this process
    (``in-process``) or as the built artifact in SAM CLI's Lambda emulation (``containers``, local_stack/containers.py).

    A file whose expected.json entry has a ``setup``, and the first file of each folder, get a fresh world first
    (LocalStack.reset), then the setup (apply_setup), so each replays on its own; the other files of a folder share
    the state their folder's earlier files left (``after`` orders them, as in events/tenant_api/)."""

    def __init__(self, function: str | None, client_id: str | None, verbose: bool = False, lambda_runtime: str = "in-process",
                 function_env: dict[str, dict[str, str]] | None = None):
        from local_stack.stack import LocalStack
        from local_stack.template import load_template, resources_of_type

        self.function = function
        self.client_id = client_id
        self.verbose = verbose
        # The summary says what each file got; the functions' own logs (the poison records' ERROR lines too) with --verbose.
        quiet = {} if verbose else {"POWERTOOLS_LOG_LEVEL": "CRITICAL"}
        functions = [name for name, res in resources_of_type(load_template(), "AWS::Serverless::Function").items()
                     if res["Properties"].get("Events")]  # the functions the local stack runs
        # Each id straight from the counter: a world made fresh by reset() numbers cancellations from 1 again, though a
        # warm function (module or container) would still hold the rest of a block of ids from the world before.
        fresh_ids = {"TenantApiFunction": {"ID_BLOCK_SIZE": "1"}}
        env = {name: {**quiet, **fresh_ids.get(name, {}), **(function_env or {}).get(name, {})} for name in functions}
        self.stack = LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False, function_env=env,
                                lambda_runtime=lambda_runtime, warm_containers="LAZY").start()
        self._fresh = True
        self._folder: str | None = None

    def close(self) -> None:
        self.stack.stop()

    def prepare(self, replay: Replay) -> None:
        """A fresh world for a file with a setup and for the first file of another folder; then the file's setup."""
        folder = str(Path(replay.source.split(":", 1)[0]).parent)
        if (replay.setup is not None or folder != self._folder) and not self._fresh:
            self.stack.reset()
        self._folder = folder
        if replay.setup:
            with contextlib.nullcontext() if self.verbose else contextlib.redirect_stdout(io.StringIO()):  # metric lines
                apply_setup(self.stack, replay.setup, replay.event)
        self._fresh = False

    def _function_for(self, replay_kind: str, event: dict[str, Any]) -> str:
        if self.function:
            return self.function
        if replay_kind == "api":
            from local_stack.proxy_events import match_route

            for route in self.stack.routes:
                if route.method == event["httpMethod"].upper() and (
                        route.path == event.get("resource") or match_route(route.path, event.get("path", "")) is not None):
                    return route.function
            raise LookupError(f"no route for {event['httpMethod']} {event.get('path')}")
        if replay_kind == "sqs":
            queue = event["Records"][0]["eventSourceARN"].rsplit(":", 1)[-1]
            for source in self.stack.sqs_sources:
                if queue.split("-", 1)[-1].removesuffix(".fifo") == source.queue:  # <prefix>-<LogicalId>[.fifo]
                    return source.function
            raise LookupError(f"no function reads queue {queue}")
        if replay_kind == "stream":
            return self.stack.stream_sources[0].function
        if replay_kind == "scheduled":
            return scheduled_function(event, [schedule for schedule, _ in self.stack.schedules])
        raise LookupError("cannot tell which function this event is for: pass --function")

    def send(self, replay: Replay, path: str) -> Outcome:
        event = replay.event
        kind = _kind(event)
        if kind == "body":
            event, kind = _bare_body_event(event, path), "api"
        if kind == "api" and self.client_id:
            from local_stack.proxy_events import claims_for

            event = {**event, "requestContext": {**event.get("requestContext", {}), "authorizer": {"claims": claims_for(self.client_id)}}}
        function = self.stack.functions[self._function_for(kind, event)]
        try:
            with contextlib.nullcontext() if self.verbose else contextlib.redirect_stdout(io.StringIO()):  # metric lines
                answer = function.invoke(event)
        except Exception as exc:  # noqa: BLE001 - a handler exception is what Lambda would report
            error_type = getattr(exc, "error_type", None) or type(exc).__name__  # containers.FunctionError: the function's own type
            return Outcome("ERROR", {"errorType": error_type, "errorMessage": str(exc)}, f"handler raised {error_type}")
        if kind == "api":
            body = answer.get("body")
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = body
            return Outcome(int(answer["statusCode"]), parsed)
        failures = (answer or {}).get("batchItemFailures") if isinstance(answer, dict) else None
        if failures:
            if replay.expected_failures == len(failures):
                return Outcome("BATCH_FAILURES", answer)  # as expected.json says (a poison record)
            return Outcome("BATCH_FAILURES", answer, f"{len(failures)} record(s) failed")
        if replay.expected_failures:
            return Outcome("OK", answer, f"no record failed, expected {replay.expected_failures}")
        return Outcome("OK", answer)


InProcessTarget = StackTarget  # the name before containers existed


class HttpTarget:
    """The local stack (``local``) or a deployed stage over HTTP(S); SQS events go to the local stack's queues."""

    def __init__(self, base_url: str, token: str | None, token_url: str | None, client_id: str | None, client_secret: str | None,
                 moto_url: str | None, timeout: float, lambda_url: str | None = None):
        import requests

        self.requests = requests
        self.session = requests.Session()
        self.base_url = base_url.rstrip("/")
        self.static_token = token
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.moto_url = moto_url
        self.lambda_url = lambda_url
        self.timeout = timeout
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self.session.close()

    def _token(self, supplier_route: bool, event_client: str | None = None) -> str | None:
        if self.static_token:
            return self.static_token
        if self.token_url:
            if not (self.client_id and self.client_secret):
                raise ValueError("--token-url needs --client-id and --client-secret")
            client, secret = self.client_id, self.client_secret
            url = self.token_url
        elif self.moto_url:  # the local stack's development clients
            # The client the event's authorizer claims name (a recorded event replays as its caller), else by route.
            client = self.client_id or event_client or ("DUMMY_SUPPLIER" if supplier_route else "TENANT1")
            secret = self.client_secret or "local-dev-secret"
            kind = "supplier" if client in ("DUMMY_SUPPLIER", "FIBRECO") else "tenant"
            url = f"{self.base_url}/auth/{kind}/access-token"
        else:
            return None
        if client not in self._tokens:
            answer = self.session.post(url, data={"grant_type": "client_credentials"}, auth=(client, secret), timeout=self.timeout)
            answer.raise_for_status()
            self._tokens[client] = str(answer.json()["access_token"])
        return self._tokens[client]

    def send(self, replay: Replay, path: str) -> Outcome:
        event = replay.event
        kind = _kind(event)
        if kind == "body":
            event, kind = _bare_body_event(event, path), "api"
        if kind == "sqs":
            return self._to_queue(event)
        if kind in ("stream", "scheduled"):
            return self._to_function(kind, event)
        if kind != "api":
            return Outcome("SKIPPED", None, f"a {kind} event cannot be sent over HTTP")
        headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() not in ("host", "content-length")}
        if not any(k.lower() == "authorization" for k in headers):
            authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
            token = self._token(event["path"].startswith("/kcis"), (authorizer.get("claims") or {}).get("client_id"))
            if token and authorizer:
                headers["Authorization"] = f"Bearer {token}"
        body = event.get("body")
        if body is not None and event.get("isBase64Encoded"):
            import base64

            body = base64.b64decode(body)
        try:
            answer = self.session.request(event["httpMethod"], self.base_url + event["path"], headers=headers,
                                          params=event.get("queryStringParameters") or None, data=body, timeout=self.timeout)
        except self.requests.RequestException as exc:
            return Outcome("ERROR", {"error": str(exc)}, f"transport error {type(exc).__name__}")
        try:
            parsed = answer.json() if answer.content else None
        except ValueError:
            parsed = answer.text
        return Outcome(answer.status_code, parsed)

    def _to_function(self, kind: str, event: dict[str, Any]) -> Outcome:
        """A stream or scheduled event: the running stack's function runner invokes the function its stream or schedule names."""
        if not self.lambda_url:
            return Outcome("SKIPPED", None, f"a {kind} event goes to the local stack's function runner only (--lambda-url)")
        from local_stack.template import scheduled_events, stream_event_sources

        functions = [source.function for source in stream_event_sources()] if kind == "stream" else \
            [scheduled_function(event, scheduled_events())]
        if not functions:
            return Outcome("ERROR", None, f"template.yaml has no {kind} event source")
        try:
            answer = self.session.post(f"{self.lambda_url.rstrip('/')}/2015-03-31/functions/{functions[0]}/invocations",
                                       data=json.dumps(event), timeout=self.timeout)
        except self.requests.RequestException as exc:
            return Outcome("ERROR", {"error": str(exc)}, f"transport error {type(exc).__name__} (is the local stack's function runner up?)")
        body = answer.json() if answer.content else None
        if answer.status_code != 200 or answer.headers.get("X-Amz-Function-Error"):
            error = answer.headers.get("X-Amz-Function-Error") or ""
            return Outcome("ERROR", body, f"{functions[0]} answered {answer.status_code} {error}".strip())
        failures = (body or {}).get("batchItemFailures") if isinstance(body, dict) else None
        return Outcome("BATCH_FAILURES" if failures else "OK", body, f"{len(failures)} record(s) failed" if failures else None)

    def _to_queue(self, event: dict[str, Any]) -> Outcome:
        if not self.moto_url:
            return Outcome("SKIPPED", None, "SQS events are replayed only against the local stack")
        import boto3

        sqs = boto3.client("sqs", endpoint_url=self.moto_url, region_name="eu-west-2", aws_access_key_id="local",
                           aws_secret_access_key="local")
        queue_name = event["Records"][0]["eventSourceARN"].rsplit(":", 1)[-1]
        names = [url.rsplit("/", 1)[-1] for url in sqs.list_queues().get("QueueUrls", [])]
        logical_id = queue_name.split("-", 1)[-1]  # events name queues <prefix>-<LogicalId>[.fifo]
        match = next((name for name in names if name.split("-", 1)[-1] == logical_id), None)
        if match is None:
            return Outcome("ERROR", None, f"no local queue like {queue_name}")
        url = sqs.get_queue_url(QueueName=match)["QueueUrl"]
        for record in event["Records"]:
            extra = {}
            if match.endswith(".fifo"):
                attributes = record.get("attributes") or {}
                extra = {"MessageGroupId": attributes.get("MessageGroupId", "replay"),
                         "MessageDeduplicationId": attributes.get("MessageDeduplicationId", str(uuid.uuid4()))}
            sqs.send_message(QueueUrl=url, MessageBody=record["body"], **extra)
        return Outcome("OK", {"queued": len(event["Records"]), "queue": match})


# ------------------------------------------------------------------ running

def judge(replay: Replay, outcome: Outcome) -> str | None:
    if outcome.unexpected:
        return outcome.unexpected
    if isinstance(outcome.status, int):
        if replay.expected_status is not None and outcome.status != replay.expected_status:
            return f"status {outcome.status}, expected {replay.expected_status}"
        if replay.expected_code and (not isinstance(outcome.body, dict) or outcome.body.get("code") != replay.expected_code):
            return f"code {outcome.body.get('code') if isinstance(outcome.body, dict) else None}, expected {replay.expected_code}"
        if replay.expected_status is None and outcome.status >= 500:
            return f"status {outcome.status}"
    return None


class Target(Protocol):
    def send(self, replay: Replay, path: str) -> Outcome: ...

    def close(self) -> None: ...


def run(replays: list[Replay], target: Target, path: str, out: Path | None, progress_every: int, stream: IO[str] = sys.stderr) -> Summary:
    summary = Summary()
    started = time.monotonic()
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for index, replay in enumerate(replays, start=1):
        prepare = getattr(target, "prepare", None)
        if prepare is not None:
            prepare(replay)
        outcome = target.send(replay, path)
        summary.sent += 1
        summary.by_status[str(outcome.status)] += 1
        problem = judge(replay, outcome)
        if problem:
            summary.unexpected.append(f"{replay.source}: {problem}")
        if out:
            name = replay.source.replace("/", "_").replace(":", "_")
            (out / f"{index:06d}-{name}.json").write_text(json.dumps({"source": replay.source, "status": outcome.status,
                                                                       "body": outcome.body, "unexpected": problem}, indent=2))
        if progress_every and (index % progress_every == 0 or index == len(replays)):
            rate = index / max(time.monotonic() - started, 1e-9)
            print(f"\r{index}/{len(replays)} sent, {len(summary.unexpected)} unexpected, {rate:.0f}/s", end="", file=stream, flush=True)
    if progress_every:
        print(file=stream)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--target", default="in-process",
                        help="in-process (default), containers (the built artifact in SAM CLI's Lambda emulation), local, or a base URL")
    parser.add_argument("--function", help="template logical id to invoke in-process (default: by route or queue)")
    parser.add_argument("--path", default=DEFAULT_PATH, help="route for bare request bodies")
    parser.add_argument("--token", help="bearer token to send (HTTP targets)")
    parser.add_argument("--token-url", help="OAuth2 token endpoint (client credentials) for a deployed stack")
    parser.add_argument("--client-id", help="client id for the token (local: a development client, e.g. TENANT2)")
    parser.add_argument("--client-secret")
    parser.add_argument("--moto-url", default=None,
                        help=f"the local stack's moto server for SQS replays (default {LOCAL_MOTO_URL} with --target local)")
    parser.add_argument("--lambda-url", default=None,
                        help=f"the local stack's function runner for stream and scheduled events "
                             f"(default {LOCAL_LAMBDA_URL} with --target local)")
    parser.add_argument("--expect-status", type=int, help="the status every replay should get")
    parser.add_argument("--out", type=Path, help="write each response to this folder")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--verbose", action="store_true", help="in-process: show the functions' INFO logs and metrics")
    args = parser.parse_args(argv)

    replays = list(read_replays(args.files, args.expect_status, over_http=args.target not in ("in-process", "containers")))
    target: Target
    if args.target in ("in-process", "containers"):
        target = StackTarget(args.function, args.client_id, args.verbose, lambda_runtime=args.target)
    else:
        base = LOCAL_URL if args.target == "local" else args.target
        moto = args.moto_url or (LOCAL_MOTO_URL if args.target == "local" else None)
        lambda_url = args.lambda_url or (LOCAL_LAMBDA_URL if args.target == "local" else None)
        target = HttpTarget(base, args.token, args.token_url, args.client_id, args.client_secret, moto, args.timeout, lambda_url)
    try:
        summary = run(replays, target, args.path, args.out, 0 if args.quiet else max(1, len(replays) // 20))
    finally:
        target.close()
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(summary.by_status.items()))
    print(f"sent {summary.sent}, succeeded {summary.sent - len(summary.unexpected)}, unexpected {len(summary.unexpected)} ({statuses})")
    for line in summary.unexpected:
        print(f"  UNEXPECTED {line}")
    return 1 if summary.unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())
