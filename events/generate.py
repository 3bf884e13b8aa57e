"""Generate the files in events/ (`make events`): proxy events for `sam local invoke -e` and env.json.

    python events/generate.py           # (re)write every file
    python events/generate.py --check   # exit 1, naming the files, if the committed ones differ

Every API Gateway event comes from ``local_stack.proxy_events.proxy_event``, the one builder the
local stack and the tests use, with fixed request ids, times and token claims so that the files
are the same on every run. ``tests/unit/test_event_files.py`` runs the real handler on each file
(expected status and error code from ``tenant_api/expected.json``) and checks that the committed
files equal what this script produces.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent
ROOT = EVENTS_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS, claims_for, proxy_event  # noqa: E402

# Fixed instants: the token was issued at 2026-01-01T00:00:00Z and expires at 2100-01-01T00:00:00Z
# (the handlers trust API Gateway's authorizer and do not check it, but a far-future exp keeps the
# claims plausible for anything that does); the requests were made at 2026-01-01T12:00:00Z.
TOKEN_ISSUED_AT = 1767225600
TOKEN_EXPIRES_AT = 4102444800
REQUEST_TIME = 1767268800
STAGE = "dev"  # template.yaml's default StageName
TENANT = "TENANT1"

# What the local stack (local_stack/stack.py) creates: moto on 127.0.0.1:4566 (MOTO_PORT), region
# eu-west-2, names "local-<LogicalId>". The queue URLs are the ones moto's server builds (checked
# by starting one, see local_resources()).
LOCAL_PREFIX = "local"
LOCAL_REGION = "eu-west-2"
LOCAL_MOTO_URL = "http://127.0.0.1:4566"
# A Lambda container started by `sam local invoke` reaches the host's moto here (events/README.md).
SAM_LOCAL_ENDPOINT_URL = "http://host.docker.internal:4566"

COLLECTION = "/service-order-cancellations"
ITEM = "/service-order-cancellations/{id}"
# The documented example request, for order 1001 (the local stack's demo order for TENANT1 / DUMMY_SUPPLIER).
EXAMPLE_BODY: dict[str, Any] = {"supplier": "DUMMY_SUPPLIER", "orderId": 1001, "reasonCode": "CUSTOMER_CHANGED_MIND", "text": "Delivery too long"}


def tenant_claims() -> dict[str, str]:
    return claims_for(TENANT, issued_at=TOKEN_ISSUED_AT, lifetime=TOKEN_EXPIRES_AT - TOKEN_ISSUED_AT)


def api_event(name: str, method: str, path: str, *, resource: str, headers: dict[str, str] | None = None,
              body: str | None = None, claims: dict[str, str] | None | bool = True) -> dict[str, Any]:
    return proxy_event(
        method, path, resource=resource, headers=headers, body=body,
        claims=tenant_claims() if claims is True else (claims or None),
        stage=STAGE, request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"events/tenant_api/{name}")), request_time=REQUEST_TIME,
    )


def post_headers(name: str, *, content_type: str | None = "application/json", drop: tuple[str, ...] = (),
                 request_id: str | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": content_type,
        "X-Request-ID": request_id or f"events-{name}",
        "X-Conversation-ID": "events-conversation-1",
    }
    return {key: value for key, value in headers.items() if value is not None and key not in drop}


def with_body(**changes: Any) -> str:
    """The example body with fields changed (a value of ``...`` removes the field)."""
    body = {**EXAMPLE_BODY, **changes}
    return json.dumps({key: value for key, value in body.items() if value is not ...})


MULTIPART_BOUNDARY = "----events-boundary-7MA4YWxkTrZu0gW"
MULTIPART_BODY = "".join(
    f"--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n{value}\r\n" for key, value in EXAMPLE_BODY.items()
) + f"--{MULTIPART_BOUNDARY}--\r\n"


def tenant_api_events() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(file name -> event, file name -> expectation). ``after``: files to invoke first, in a fresh stack."""
    events: dict[str, dict[str, Any]] = {}
    expected: dict[str, dict[str, Any]] = {}

    def add(name: str, status: int, code: str | None, description: str, event: dict[str, Any], **extra: Any) -> None:
        file = f"{name}.json"
        events[file] = event
        expected[file] = {"status": status, "code": code, "description": description, **extra}

    def bad_post(name: str, description: str, *, body: str | None = None, content_type: str | None = "application/json",
                 drop: tuple[str, ...] = ()) -> None:
        event = api_event(name, "POST", COLLECTION, resource=COLLECTION, body=with_body() if body is None else body,
                          headers=post_headers(name, content_type=content_type, drop=drop))
        add(name, 400, "MALFORMED_REQUEST", description, event)

    valid = "post-valid"
    add(valid, 201, None, "the documented example request for demo order 1001: a new cancellation, RECEIVED_BY_GATEWAY",
        api_event(valid, "POST", COLLECTION, resource=COLLECTION, body=with_body(), headers=post_headers(valid)))
    add("post-replay", 201, None, "post-valid again (same X-Request-ID and body): the identical answer, nothing new stored",
        api_event("post-replay", "POST", COLLECTION, resource=COLLECTION, body=with_body(), headers=post_headers("post-replay", request_id=f"events-{valid}")),
        after=[f"{valid}.json"], same_body_as=f"{valid}.json")

    bad_post("post-missing-x-request-id", "no X-Request-ID header", drop=("X-Request-ID",))
    bad_post("post-missing-x-conversation-id", "no X-Conversation-ID header", drop=("X-Conversation-ID",))
    bad_post("post-missing-order-id", "no orderId", body=with_body(orderId=...))
    bad_post("post-order-id-float", "orderId 1.5 (not a whole number)", body=with_body(orderId=1.5))
    bad_post("post-order-id-string", 'orderId "123" (a string, not a number)', body=with_body(orderId="123"))
    bad_post("post-order-id-zero", "orderId 0 (must be >= 1)", body=with_body(orderId=0))
    bad_post("post-order-id-2-pow-53", "orderId 2**53 (must be <= 2**53 - 1)", body=with_body(orderId=2**53))
    bad_post("post-reason-code-not-in-enum", "reasonCode not one of the ten codes", body=with_body(reasonCode="BORED"))
    bad_post("post-supplier-with-dash", "supplier with a dash (must match ^\\w{1,20}$)", body=with_body(supplier="DUMMY-SUPPLIER"))
    bad_post("post-text-1001-chars", "text of 1001 characters (at most 1000)", body=with_body(text="x" * 1001))
    bad_post("post-text-empty", "empty text (at least 1 character)", body=with_body(text=""))
    bad_post("post-unknown-field", "an unknown field (orderID, a typo of orderId)", body=with_body(orderID=1001))
    bad_post("post-body-not-json", "a body that is not JSON (cut short)", body=with_body()[:40])
    bad_post("post-body-json-array", "a JSON array holding the example object", body=f"[{with_body()}]")
    bad_post("post-body-empty", "no body at all", body="")
    bad_post("post-content-type-multipart", "multipart/form-data with the example's fields",
             body=MULTIPART_BODY, content_type=f"multipart/form-data; boundary={MULTIPART_BOUNDARY}")
    bad_post("post-content-type-text-plain", "the example body sent as text/plain", content_type="text/plain")

    add("get-cancellation-1", 200, None, "GET of cancellation 1, the one post-valid created on a fresh stack",
        api_event("get-cancellation-1", "GET", f"{COLLECTION}/1", resource=ITEM, headers={"X-Request-ID": "events-get-cancellation-1"}),
        after=[f"{valid}.json"])
    add("get-non-numeric-id", 400, "MALFORMED_REQUEST", "GET with an id that is not a number",
        api_event("get-non-numeric-id", "GET", f"{COLLECTION}/abc", resource=ITEM, headers={"X-Request-ID": "events-get-non-numeric-id"}))
    add("post-without-claims", 401, "NOT_AUTHORISED", "the example request with no authorizer claims (no verified token)",
        api_event("post-without-claims", "POST", COLLECTION, resource=COLLECTION, body=with_body(),
                  headers=post_headers("post-without-claims"), claims=None))
    # An empty body reaches the Lambda as null, as API Gateway sends it.
    events["post-body-empty.json"]["body"] = None
    return events, expected


def scheduled_event() -> dict[str, Any]:
    """EventBridge Scheduler's default payload for a Lambda target with no Input (the sweeper's schedule sets none)."""
    return {
        "version": "0",
        "id": "6f4d3c2b-1a09-4e8d-9c7b-5a4f3e2d1c0b",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": "2026-01-01T12:00:00Z",
        "region": LOCAL_REGION,
        "resources": [f"arn:aws:scheduler:{LOCAL_REGION}:123456789012:schedule/default/ForwardingSweeperFunctionEveryTwoMinutes"],
        "detail": "{}",
    }


def local_resources():
    """The tables and queues the local stack creates, named as it names them: made on a moto server
    (a free port, then written as MOTO_PORT's default 4566) so the queue URLs are moto's own."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from local_stack.template import create_resources

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        kwargs = {"endpoint_url": endpoint, "region_name": LOCAL_REGION, "aws_access_key_id": "testing",
                  "aws_secret_access_key": "testing", "aws_session_token": "testing"}
        resources = create_resources(boto3.client("dynamodb", **kwargs), boto3.client("sqs", **kwargs), prefix=LOCAL_PREFIX)
    finally:
        server.stop()
    resources.queue_urls = {key: url.replace(endpoint, LOCAL_MOTO_URL, 1) for key, url in resources.queue_urls.items()}
    return resources


def env_vars() -> dict[str, dict[str, str]]:
    """events/env.json: for each function of template.yaml, its variables pointing at the local stack."""
    from local_stack.template import function_environment, load_template, resources_of_type

    resources = local_resources()
    env: dict[str, dict[str, str]] = {}
    for logical_id in sorted(resources_of_type(load_template(), "AWS::Serverless::Function")):
        variables = function_environment(logical_id, resources)
        if "CLIENT_PRINCIPALS" in variables:
            variables["CLIENT_PRINCIPALS"] = json.dumps(DEV_CLIENT_PRINCIPALS, separators=(",", ":"))
        variables["AWS_ENDPOINT_URL"] = SAM_LOCAL_ENDPOINT_URL
        env[logical_id] = dict(sorted(variables.items()))
    return env


def render(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def build() -> dict[str, str]:
    """Every generated file: path relative to events/ -> content."""
    events, expected = tenant_api_events()
    files = {f"tenant_api/{name}": render(event) for name, event in events.items()}
    files["tenant_api/expected.json"] = render(expected)
    files["forwarding_sweeper/scheduled.json"] = render(scheduled_event())
    files["env.json"] = render(env_vars())
    return files


def generated_dirs() -> tuple[str, ...]:
    return ("tenant_api", "forwarding_sweeper")


def stale_files(files: dict[str, str]) -> list[str]:
    """Committed .json files in the generated folders that the generator no longer makes."""
    present = {str(path.relative_to(EVENTS_DIR)) for folder in generated_dirs() for path in (EVENTS_DIR / folder).glob("*.json")}
    return sorted(present - set(files))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        differ = [name for name, text in files.items() if not (EVENTS_DIR / name).is_file() or (EVENTS_DIR / name).read_text() != text]
        problems = differ + stale_files(files)
        for name in problems:
            print(f"events/{name} is not what events/generate.py makes: run `make events`", file=sys.stderr)
        return 1 if problems else 0
    for name in stale_files(files):
        (EVENTS_DIR / name).unlink()
        print(f"removed events/{name}")
    for name, text in files.items():
        path = EVENTS_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote events/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
