"""The template's functions in SAM CLI's Lambda emulation: the built artifact in a Lambda runtime container.

    python -m local_stack --lambda containers          # make run LAMBDA=containers
    LocalStack(lambda_runtime="containers")            # the same in tests

``functions.load_functions(..., containers=ContainerRuntime(...))`` is the one seam: it returns a
``ContainerFunction`` per logical id instead of importing the handler, with the same ``invoke(event)``
that the front, the pollers, the scheduler and the replay tool call. Each ``invoke`` goes through
``sam local start-lambda`` (the Lambda Invoke API on 127.0.0.1) to a container of the offline
python3.12 image (tools/lambda_runtime/) that runs ``.aws-sam/build``: the same zip and layer that
``sam deploy`` uploads, so a packaging fault (a module missing from the layer, a wrong handler string,
a dependency the runtime lacks) shows here and not in-process.

Docker and networking (tools/lambda_runtime/docker_setup.sh does it, idempotently): the engine, an
``--internal`` bridge network of the project's own (``fibre-cafe-lambda``, 10.213.213.0/24), and a
firewall rule so that nothing the engine's bridges send is forwarded off this machine. moto and the
stubs then listen on that network's gateway address (10.213.213.1): a host address, reachable from
this machine and from the project's containers, and from nothing else. The front stays on 127.0.0.1.

What differs from in-process, as in AWS: only the variables that template.yaml declares reach a
function (SAM CLI drops the rest; LOCAL_FUNCTION_ENV can only change declared ones). The partners come
from the partner registry the stack seeds in moto, with the stubs at the address they listen on (the
gateway), as for the in-process functions. ``LOCAL_SUPPLIER_READ_TIMEOUT`` cannot reach the
dispatcher (its setting SUPPLIER_READ_TIMEOUT_SECONDS is not a template variable) and is refused.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.template import FunctionSpec, function_spec

log = logging.getLogger("local_stack")

ROOT = Path(__file__).resolve().parent.parent
SETUP_SCRIPT = ROOT / "tools" / "lambda_runtime" / "docker_setup.sh"
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
BUILD_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
# The project's Docker network (docker_setup.sh creates it; events/env.json names its gateway).
LAMBDA_NETWORK = "fibre-cafe-lambda"
LAMBDA_GATEWAY = "10.213.213.1"

# Nothing SAM CLI runs may reach AWS: fake credentials (passed into the containers), no telemetry.
OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAM_CLI_TELEMETRY": "0",
    "SAM_CLI_CONTEXT": "",
}


class DockerUnavailable(RuntimeError):
    """Docker could not be installed, started or prepared: the message says which step and why."""


class FunctionError(RuntimeError):
    """The function raised (Lambda's Unhandled error): what the invoke's FunctionError payload says."""

    def __init__(self, logical_id: str, payload: Any):
        self.payload = payload
        error_type = payload.get("errorType") if isinstance(payload, dict) else None
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        super().__init__(f"{logical_id}: {error_type or 'error'}: {message}")
        self.error_type = error_type or "Unhandled"


@dataclass(frozen=True)
class DockerEnv:
    image: str
    network: str
    gateway: str


def docker_setup(stream=None) -> DockerEnv:
    """Run tools/lambda_runtime/docker_setup.sh (install / start / network / image as needed); its log goes to ``stream``."""
    stream = stream or sys.stderr
    process = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True,
                             env={**os.environ, "LAMBDA_NETWORK": os.environ.get("LAMBDA_NETWORK", LAMBDA_NETWORK),
                                  "LAMBDA_GATEWAY": os.environ.get("LAMBDA_GATEWAY", LAMBDA_GATEWAY)})
    if process.stderr:
        stream.write(process.stderr)
        stream.flush()
    last = (process.stdout.strip().splitlines() or [""])[-1]
    values = dict(part.split("=", 1) for part in last.split() if "=" in part)
    if process.returncode != 0 or not {"IMAGE", "NETWORK", "GATEWAY"} <= set(values):
        raise DockerUnavailable(f"Docker is not usable (tools/lambda_runtime/docker_setup.sh exit {process.returncode}):\n"
                                f"{process.stderr.strip()[-3000:]}")
    return DockerEnv(values["IMAGE"], values["NETWORK"], values["GATEWAY"])


def sam_env(region: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("AWS_") and key not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
    return {**env, **OFFLINE_ENV, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class StartLambda:
    """``sam local start-lambda`` on 127.0.0.1 with the offline image, the project's network and warm containers."""

    def __init__(self, docker: DockerEnv, env_vars: dict[str, dict[str, str]], region: str, *, warm: str = "EAGER",
                 template: Path = BUILD_TEMPLATE, port: int = 0, log_path: Path | None = None):
        self.docker = docker
        self.env_vars = env_vars
        self.region = region
        self.warm = warm
        self.template = template
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="fibre-cafe-start-lambda-")
        self.log_path = log_path or Path(self._dir.name) / "start-lambda.log"
        self._process: subprocess.Popen | None = None
        self._client = None
        self._client_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, env_file: Path) -> list[str]:
        return [str(SAM), "local", "start-lambda", "--template", str(self.template), "--host", "127.0.0.1", "--port", str(self.port),
                "--env-vars", str(env_file), "--invoke-image", self.docker.image, "--skip-pull-image",
                "--docker-network", self.docker.network, "--container-host-interface", "127.0.0.1",
                "--warm-containers", self.warm, "--region", self.region]

    def start(self, timeout: float = 300.0) -> StartLambda:
        if not self.template.exists():
            raise DockerUnavailable(f"{self.template} is missing: run `make build` first")
        env_file = Path(self._dir.name) / "env.json"
        env_file.write_text(json.dumps(self.env_vars, indent=2))
        log.info("sam local start-lambda on %s (warm containers %s, image %s, network %s; log %s)", self.url, self.warm,
                 self.docker.image, self.docker.network, self.log_path)
        self._log = open(self.log_path, "w")  # open while the process runs
        self._process = subprocess.Popen(self.command(env_file), stdout=self._log, stderr=subprocess.STDOUT, env=sam_env(self.region),
                                         cwd=str(ROOT), start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DockerUnavailable(f"sam local start-lambda exited with {self._process.returncode}:\n{self.log_tail()}")
            if "Running on" in self.log_path.read_text(errors="replace"):
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return self
                except OSError:
                    pass
            time.sleep(0.3)
        self.stop()
        raise DockerUnavailable(f"sam local start-lambda did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def client(self):
        with self._client_lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client("lambda", endpoint_url=self.url, region_name=self.region, aws_access_key_id="testing",
                                            aws_secret_access_key="testing", aws_session_token="testing",
                                            config=Config(read_timeout=900, connect_timeout=5, retries={"max_attempts": 1},
                                                          max_pool_connections=32))
            return self._client

    def invoke(self, logical_id: str, event: Any) -> tuple[Any, str | None]:
        """The function's answer (parsed JSON) and its FunctionError (None when it returned)."""
        answer = self.client().invoke(FunctionName=logical_id, Payload=json.dumps(event).encode())
        raw = answer["Payload"].read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return payload, answer.get("FunctionError")

    def container_ids(self) -> list[str]:
        try:
            return re.findall(r"SAM_CONTAINER_ID: ([0-9a-f]{12,64})", self.log_path.read_text(errors="replace"))
        except OSError:
            return []

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # SAM CLI stops its warm containers on Ctrl-C
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        leftover = self.container_ids()
        if leftover:  # the containers this process started, if SAM CLI left any
            subprocess.run(["docker", "rm", "-f", *leftover], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None


@dataclass
class ContainerFunction:
    """A template function run by ``StartLambda``: the interface of functions.LocalFunction."""

    spec: FunctionSpec
    runner: StartLambda
    invocations: int = 0
    errors: int = 0
    module: Any = None  # no handler module in this process
    _in_flight: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition)

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    def invoke(self, event: dict) -> Any:
        """Invoke through start-lambda; a function error raises FunctionError (as an in-process handler's exception would)."""
        with self._idle:
            self._in_flight += 1
            self.invocations += 1
        try:
            payload, error = self.runner.invoke(self.logical_id, event)
        except BaseException:
            self.errors += 1
            raise
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
        if error:
            self.errors += 1
            raise FunctionError(self.logical_id, payload)
        return payload

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)


class ContainerRuntime:
    """What functions.load_functions needs to run functions in containers: the Docker setup and a start-lambda."""

    def __init__(self, docker: DockerEnv, region: str, *, endpoint_url: str, warm: str = "EAGER"):
        self.docker = docker
        self.region = region
        self.endpoint_url = endpoint_url
        self.warm = warm
        self.start_lambda: StartLambda | None = None

    def functions(self, envs: dict[str, dict[str, str]]) -> dict[str, ContainerFunction]:
        # In-process the endpoint is the process's AWS_ENDPOINT_URL; a container gets it as a (declared) variable.
        env_vars = {logical_id: {**env, "AWS_ENDPOINT_URL": self.endpoint_url} for logical_id, env in envs.items()}
        self.start_lambda = StartLambda(self.docker, env_vars, self.region, warm=self.warm).start()
        return {logical_id: ContainerFunction(function_spec(logical_id), self.start_lambda) for logical_id in envs}

    def stop(self) -> None:
        if self.start_lambda is not None:
            self.start_lambda.stop()
            self.start_lambda = None
