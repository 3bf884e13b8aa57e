"""`make invoke FN=<LogicalId> EVENT=<file>`: `sam local invoke` of the built artifact in the Lambda runtime image.

    make invoke FN=TenantApiFunction EVENT=events/tenant_api/post-valid.json
    python -m tools.lambda_runtime.invoke TenantApiFunction events/tenant_api/post-valid.json

What it does, saying each step on stderr (all of it idempotent):
  1. Docker: tools/lambda_runtime/docker_setup.sh (engine installed and started when needed, the project's
     network, the offline python3.12 image built only when its recipe's hash changes);
  2. `make build` when .aws-sam/build is older than template.yaml, functions/, layers/ or the layer's requirements;
  3. the local stack's AWS (moto) and stubs: a running `make run LAMBDA=containers` (found on the network's
     gateway address, MOTO_PORT), else one started for this call on that address, with the demo orders and
     the file's `setup` from its expected.json (the cancellations, outbox rows, tenant failures it names);
  4. `sam local invoke <FN> -t .aws-sam/build/template.yaml -e <EVENT> --env-vars <events/env.json, with the
     endpoint of the stack in use> --invoke-image <image> --skip-pull-image --docker-network <network>`.

The function's response is the last line of stdout (one JSON document); SAM CLI's and the function's logs
come before it on stderr. The exit status is non-zero when any step fails or the function raised.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_stack.containers import DockerEnv
    from local_stack.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-2"
SOURCES = ("template.yaml", "functions", "layers", "requirements/layer.in")


def say(message: str) -> None:
    print(f"make invoke: {message}", file=sys.stderr, flush=True)


def build_is_stale(build_template: Path) -> bool:
    if not build_template.exists():
        return True
    built = build_template.stat().st_mtime
    for name in SOURCES:
        path = ROOT / name
        paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        if any(p.stat().st_mtime > built for p in paths):
            return True
    return False


def ensure_build(build_template: Path) -> None:
    if build_is_stale(build_template):
        say(".aws-sam/build is missing or older than the sources: make build")
        subprocess.run(["make", "--no-print-directory", "build"], cwd=ROOT, check=True, stdout=sys.stderr)
    else:
        say(".aws-sam/build is up to date")


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def env_file_for(moto_url: str, directory: Path) -> Path:
    """events/env.json with AWS_ENDPOINT_URL naming the moto this call uses."""
    env = json.loads((ROOT / "events" / "env.json").read_text())
    for variables in env.values():
        if "AWS_ENDPOINT_URL" in variables:
            variables["AWS_ENDPOINT_URL"] = moto_url
    path = directory / "env.json"
    path.write_text(json.dumps(env, indent=2))
    return path


def setup_of(event_path: Path) -> dict[str, Any] | None:
    expected = event_path.parent / "expected.json"
    if not expected.exists():
        return None
    setup: dict[str, Any] | None = json.loads(expected.read_text()).get(event_path.name, {}).get("setup")
    return setup


def sam_local_invoke(function: str, event_path: Path, env_file: Path, docker: DockerEnv, build_template: Path) -> tuple[int, str]:
    from local_stack.containers import SAM, sam_env

    command = [str(SAM), "local", "invoke", function, "--template", str(build_template), "--event", str(event_path),
               "--env-vars", str(env_file), "--invoke-image", docker.image, "--skip-pull-image", "--docker-network", docker.network,
               "--container-host-interface", "127.0.0.1", "--region", REGION]
    say(" ".join(["sam local invoke", function, "-e", str(event_path), "--invoke-image", docker.image, "--skip-pull-image",
                  "--docker-network", docker.network]))
    started = time.monotonic()
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, env=sam_env(REGION), cwd=ROOT)
    say(f"sam local invoke took {time.monotonic() - started:.1f} s (exit {process.returncode})")
    lines = [line for line in process.stdout.splitlines() if line.strip()]
    return process.returncode, (lines[-1] if lines else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lambda_runtime.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("function", help="the function's logical id in template.yaml, e.g. TenantApiFunction")
    parser.add_argument("event", type=Path, help="an event file, e.g. events/tenant_api/post-valid.json")
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", "4566")),
                        help="where a running `make run LAMBDA=containers` has moto (env MOTO_PORT, default 4566)")
    parser.add_argument("--no-build", action="store_true", help="use .aws-sam/build as it is")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    event_path = args.event if args.event.is_absolute() else (Path.cwd() / args.event)
    if not event_path.is_file():
        parser.error(f"no event file {args.event}")

    from local_stack.containers import BUILD_TEMPLATE, DockerUnavailable, docker_setup
    from local_stack.template import load_template, resources_of_type

    if args.function not in resources_of_type(load_template(), "AWS::Serverless::Function"):
        parser.error(f"{args.function} is not a function of template.yaml")
    try:
        say("Docker: engine, network and runtime image (tools/lambda_runtime/docker_setup.sh)")
        docker = docker_setup()
        if not args.no_build:
            ensure_build(BUILD_TEMPLATE)
    except (DockerUnavailable, subprocess.CalledProcessError) as exc:
        say(f"FAILED: {exc}")
        return 2

    stack = None
    with tempfile.TemporaryDirectory(prefix="fibre-cafe-invoke-") as directory:
        try:
            if answers(docker.gateway, args.moto_port):
                moto_url = f"http://{docker.gateway}:{args.moto_port}"
                say(f"using the running local stack's moto at {moto_url} (its state; the file's setup is not applied)")
            else:
                if answers("127.0.0.1", args.moto_port):
                    say(f"a local stack on 127.0.0.1:{args.moto_port} only (containers cannot reach loopback); "
                        "`make run LAMBDA=containers` shares one with make invoke")
                stack = start_stack_for(event_path, docker.gateway)
                moto_url = stack.moto_url
            code, response = sam_local_invoke(args.function, event_path, env_file_for(moto_url, Path(directory)), docker, BUILD_TEMPLATE)
        finally:
            if stack is not None:
                say("stopping the local stack started for this call")
                stack.stop()
    try:
        document = json.loads(response)
    except ValueError:
        say(f"FAILED: no JSON response from sam local invoke (exit {code})")
        return code or 1
    print(json.dumps(document, separators=(",", ":")), flush=True)
    if code != 0:
        return code
    if isinstance(document, dict) and "errorType" in document and "errorMessage" in document:
        say(f"the function raised {document['errorType']}")
        return 1
    return 0


def start_stack_for(event_path: Path, host: str) -> LocalStack:
    """moto + stubs on the network's gateway address, demo orders, and what the file needs (its expected.json setup)."""
    import contextlib
    import io
    import logging

    from local_stack.stack import LocalStack
    from tools.replay import apply_setup

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    say(f"starting a local stack for this call: moto and stubs on {host} (free ports), demo orders")
    stack = LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False, host=host).start()
    setup = setup_of(event_path)
    if setup:
        say(f"applying the file's setup from expected.json: {json.dumps(setup)[:300]}")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                apply_setup(stack, setup, json.loads(event_path.read_text()))
        except BaseException:
            stack.stop()
            raise
    return stack


if __name__ == "__main__":
    sys.exit(main())
