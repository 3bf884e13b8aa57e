"""``python -m local_stack`` (what ``make run`` calls): start the local stack and serve until Ctrl-C / SIGTERM.

Environment (each also a flag): PORT (HTTP front, default 3000), MOTO_PORT (moto, default 4566),
SUPPLIER_STUB_PORT (default 3001), TENANT_STUB_PORT (default 3002), LAMBDA_API_PORT (the function runner,
Lambda's Invoke API, default 3003) (0 picks a free port for any),
LOCAL_SEED=0 (no demo orders), LOCAL_SCHEDULE_SECONDS (run the scheduled functions at this period
instead of the template's rate), LOCAL_SCHEDULES=0 (do not run them), LOCAL_POLLERS=0 (do not poll the
queues and the stream), LOCAL_VISIBILITY_TIMEOUT (seconds, replaces the queues' VisibilityTimeout),
LOCAL_FUNCTION_ENV (JSON {"LogicalId": {"VAR": "value"}} on top of template.yaml's variables),
LOCAL_SUPPLIER_READ_TIMEOUT (seconds the dispatcher waits for a supplier's answer, instead of 10),
SUPPLIER_STUB_TIMEOUT_SECONDS (how long the supplier stub's TIMEOUT scenario stays silent),
LAMBDA=containers (every function runs the built artifact in SAM CLI's Lambda emulation, `sam local start-lambda`,
instead of in this process: Docker is set up as needed, moto and the stubs listen on the project's Docker network's
gateway address; see local_stack/containers.py), LOCAL_HOST (the address moto and the stubs listen on),
LOCAL_WARM_CONTAINERS (EAGER or LAZY, with LAMBDA=containers),
LOCAL_FUNCTION_CONCURRENCY (parallel invocations per function, each in its own worker process: a number
for all, or JSON {"LogicalId": n}; default 4).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "off", "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")), help="HTTP front port (env PORT, default 3000)")
    parser.add_argument(
        "--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", "4566")), help="moto port (env MOTO_PORT, default 4566)"
    )
    parser.add_argument(
        "--no-seed",
        dest="seed",
        action="store_false",
        default=_flag("LOCAL_SEED", True),
        help="start without demo orders (env LOCAL_SEED=0)",
    )
    schedule = os.environ.get("LOCAL_SCHEDULE_SECONDS")
    parser.add_argument("--schedule-seconds", type=float, default=float(schedule) if schedule else None,
                        help="run scheduled functions every N seconds (env LOCAL_SCHEDULE_SECONDS)")
    parser.add_argument("--no-schedules", dest="schedules", action="store_false", default=_flag("LOCAL_SCHEDULES", True),
                        help="do not run scheduled functions (env LOCAL_SCHEDULES=0)")
    parser.add_argument("--supplier-stub-port", type=int, default=int(os.environ.get("SUPPLIER_STUB_PORT", "3001")),
                        help="supplier stub port (env SUPPLIER_STUB_PORT, default 3001)")
    parser.add_argument("--tenant-stub-port", type=int, default=int(os.environ.get("TENANT_STUB_PORT", "3002")),
                        help="tenant stub port (env TENANT_STUB_PORT, default 3002)")
    parser.add_argument("--lambda-api-port", type=int, default=int(os.environ.get("LAMBDA_API_PORT", "3003")),
                        help="the function runner, Lambda's Invoke API (env LAMBDA_API_PORT, default 3003)")
    parser.add_argument("--no-pollers", dest="pollers", action="store_false", default=_flag("LOCAL_POLLERS", True),
                        help="do not poll the queues and the orders stream (env LOCAL_POLLERS=0)")
    visibility = os.environ.get("LOCAL_VISIBILITY_TIMEOUT")
    parser.add_argument("--visibility-timeout", type=int, default=int(visibility) if visibility else None,
                        help="seconds: replaces the VisibilityTimeout of every queue that sets one (env LOCAL_VISIBILITY_TIMEOUT)")
    parser.add_argument(
        "--function-env",
        type=_function_env,
        default=os.environ.get("LOCAL_FUNCTION_ENV") or "{}",  # a string default goes through type=, errors included
        help='JSON {"LogicalId": {"VAR": "value"}} on top of template.yaml (env LOCAL_FUNCTION_ENV)',
    )
    read_timeout = os.environ.get("LOCAL_SUPPLIER_READ_TIMEOUT")
    parser.add_argument("--supplier-read-timeout", type=float, default=float(read_timeout) if read_timeout else None,
                        help="seconds the dispatcher waits for a supplier's answer (env LOCAL_SUPPLIER_READ_TIMEOUT; default 10)")
    stub_timeout = os.environ.get("SUPPLIER_STUB_TIMEOUT_SECONDS")
    parser.add_argument("--supplier-stub-timeout", type=float, default=float(stub_timeout) if stub_timeout else None,
                        help="seconds the supplier stub's TIMEOUT scenario stays silent (env SUPPLIER_STUB_TIMEOUT_SECONDS)")
    parser.add_argument("--host", default=os.environ.get("LOCAL_HOST") or None,
                        help="address moto and the stubs listen on (env LOCAL_HOST; default 127.0.0.1, or with --lambda containers"
                             " the project's Docker network's gateway, 10.213.213.1, which sam local invoke's containers reach)")
    parser.add_argument("--lambda", dest="lambda_runtime", choices=("in-process", "containers"),
                        default=os.environ.get("LAMBDA") or "in-process",
                        help="where the functions run: in this process (default) or in SAM CLI's Lambda emulation (env LAMBDA)")
    parser.add_argument("--warm-containers", choices=("EAGER", "LAZY"), default=os.environ.get("LOCAL_WARM_CONTAINERS") or "EAGER",
                        help="with --lambda containers: start every function's container at once (EAGER) or on first use (LAZY)")
    parser.add_argument("--function-concurrency", type=_concurrency, default=os.environ.get("LOCAL_FUNCTION_CONCURRENCY") or None,
                        help='parallel invocations per function: N, or JSON {"LogicalId": N} (env LOCAL_FUNCTION_CONCURRENCY; default 4)')
    return parser.parse_args(argv)


def _concurrency(text: str) -> int | dict[str, int]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"LOCAL_FUNCTION_CONCURRENCY is not a number or JSON: {exc}") from exc
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, dict) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in value.values()):
        return {str(name): n for name, n in value.items()}
    raise argparse.ArgumentTypeError('LOCAL_FUNCTION_CONCURRENCY must be a whole number >= 1 or {"LogicalId": n}')


def _function_env(text: str) -> dict[str, dict[str, str]]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"LOCAL_FUNCTION_ENV is not JSON: {exc}") from exc
    if not isinstance(value, dict) or not all(isinstance(env, dict) for env in value.values()):
        raise argparse.ArgumentTypeError('LOCAL_FUNCTION_ENV must be {"LogicalId": {"VAR": "value"}}')
    return {str(name): {str(key): str(item) for key, item in env.items()} for name, env in value.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s local_stack %(levelname)s %(message)s"))
    stack_log = logging.getLogger("local_stack")
    stack_log.addHandler(handler)
    stack_log.setLevel(logging.INFO)
    stack_log.propagate = False
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines

    from local_stack.stack import LocalStack  # imports boto3/moto: after argument errors are out of the way

    stop = threading.Event()

    def request_stop(signum: int, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    stack = LocalStack(port=args.port, moto_port=args.moto_port, seed=args.seed, schedule_seconds=args.schedule_seconds,
                       run_schedules=args.schedules, run_pollers=args.pollers, supplier_stub_port=args.supplier_stub_port,
                       tenant_stub_port=args.tenant_stub_port, visibility_timeout=args.visibility_timeout,
                       function_env=args.function_env, supplier_read_timeout=args.supplier_read_timeout,
                       supplier_stub_timeout=args.supplier_stub_timeout, lambda_runtime=args.lambda_runtime, host=args.host,
                       warm_containers=args.warm_containers, lambda_api_port=args.lambda_api_port,
                       function_concurrency=args.function_concurrency, prewarm=True)
    try:
        stack.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"local_stack: a port is already in use ({exc}); set PORT / MOTO_PORT / SUPPLIER_STUB_PORT / TENANT_STUB_PORT"
                  " / LAMBDA_API_PORT to free ones", file=sys.stderr)
            return 1
        raise
    except ValueError as exc:
        print(f"local_stack: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # containers.DockerUnavailable: the message says which step failed
        print(f"local_stack: {exc}", file=sys.stderr)
        return 3
    try:
        print(stack.describe(), flush=True)
        print("Ready. Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
        print("Stopping...", flush=True)
    finally:
        stack.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
