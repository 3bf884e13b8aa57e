"""The local stack: moto + the template's tables and queues + the real handlers behind an HTTP front.

    with LocalStack(port=0, moto_port=0) as stack:      # 0 = a free port
        requests.post(f"{stack.base_url}/auth/tenant/access-token", ...)

Start order: the sockets (HTTP front, supplier stub, tenant stub: a busy port fails first), moto's
ThreadedMotoServer (fresh state), the process environment (endpoint, fake credentials, region:
nothing can reach AWS), the tables and queues from template.yaml, each function's handler imported
with its environment (functions.py), the partner registry (the development clients, and the stubs as
the partners, seed.py: as an operator onboards them in AWS), the demo orders, the token authority (its issuer names
the front's port), the HTTP front, the stubs, the schedules, the event source pollers (pollers.py: the SQS queues
and the orders table's stream).
``stop`` undoes it in reverse and restores every environment variable it changed.

Local-only knobs (the CLI reads them from the environment, see __main__.py and the README):
``visibility_timeout`` replaces the queues' VisibilityTimeout (LOCAL_VISIBILITY_TIMEOUT),
``function_env`` adds or replaces function variables (LOCAL_FUNCTION_ENV), ``supplier_read_timeout``
shortens the dispatcher's read timeout (its setting SUPPLIER_READ_TIMEOUT_SECONDS; LOCAL_SUPPLIER_READ_TIMEOUT),
``supplier_stub_timeout`` is how long the supplier stub's TIMEOUT scenario stays silent (SUPPLIER_STUB_TIMEOUT_SECONDS),
``function_concurrency`` how many invocations of one function run in parallel, each in a worker
process of its own (an int for every function or ``{"LogicalId": n}``; LOCAL_FUNCTION_CONCURRENCY;
default ``functions.DEFAULT_CONCURRENCY``, template.yaml's ReservedConcurrentExecutions caps it),
``prewarm`` starts one worker per function at start, in the background (``python -m local_stack`` does).

One stack per process at a time: the environment and the handler modules are process-wide. A
later stack in the same process (tests) works: handler modules already imported get their
``deps`` rebuilt for the new endpoint.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.request
from contextlib import ExitStack
from typing import Any, TypeVar

import boto3
from moto.server import ThreadedMotoServer

from local_stack.front import FrontServer, Gateway
from local_stack.functions import DEFAULT_CONCURRENCY, LocalFunction, load_functions, put_on_path
from local_stack.moto_patches import moto_fixes
from local_stack.pollers import SqsPoller, StreamPoller
from local_stack.proxy_events import DEV_CLIENT_PRINCIPALS
from local_stack.scheduler import Scheduler
from local_stack.seed import DEMO_ORDERS, seed_orders, seed_partner_registry
from local_stack.supplier_stub import DEFAULT_TIMEOUT_SECONDS, SupplierStub
from local_stack.template import (
    ApiRoute,
    LocalResources,
    ScheduledEvent,
    SqsEventSource,
    StreamEventSource,
    api_routes,
    create_resources,
    function_spec,
    load_template,
    resources_of_type,
    scheduled_events,
    sqs_event_sources,
    stream_event_sources,
)
from local_stack.tenant_stub import TenantStub
from local_stack.tokens import DEV_CLIENT_SECRET, DEV_CLIENTS, JWKS_PATH, TOKEN_PATHS, TokenAuthority

# Fake credentials: with these and AWS_ENDPOINT_URL pointing at moto, no call can reach AWS; the unset variables could
# each send a client elsewhere than moto, so they are removed while the stack runs.
from testing.aws import FAKE_AWS_ENV, UNSET_AWS_ENV

log = logging.getLogger("local_stack")
_Part = TypeVar("_Part")

HOST = "127.0.0.1"
# How the functions run: imported into this process, or the built artifact in SAM CLI's Lambda emulation (containers.py).
LAMBDA_RUNTIMES = ("in-process", "containers")
REGION = "eu-west-2"
PREFIX = "local"
DEFAULT_PORT = 3000
DEFAULT_MOTO_PORT = 4566
# python -m local_stack's defaults; the programmatic default is 0 (a free port): only the stack needs to know them.
DEFAULT_SUPPLIER_STUB_PORT = 3001
DEFAULT_TENANT_STUB_PORT = 3002

def _started(part: _Part | None) -> _Part:
    """A part of the stack that exists once the stack has started."""
    assert part is not None, "start() first"
    return part


class _EnvPatch:
    """Changes to os.environ that can be undone exactly (only the keys it touched)."""

    _MISSING = object()

    def __init__(self) -> None:
        self._saved: dict[str, Any] = {}

    def _remember(self, key: str) -> None:
        if key not in self._saved:
            self._saved[key] = os.environ.get(key, self._MISSING)

    def update(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._remember(key)
            os.environ[key] = value

    def unset(self, key: str) -> None:
        self._remember(key)
        os.environ.pop(key, None)

    def restore(self) -> None:
        for key, value in self._saved.items():
            if value is self._MISSING:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()


class LocalStack:
    _running_lock = threading.Lock()
    _running: LocalStack | None = None

    def __init__(self, port: int = DEFAULT_PORT, moto_port: int = DEFAULT_MOTO_PORT, *, seed: bool = True,
                 schedule_seconds: float | None = None, run_schedules: bool = True, run_pollers: bool = True,
                 supplier_stub_port: int = 0, tenant_stub_port: int = 0, visibility_timeout: int | None = None,
                 function_env: dict[str, dict[str, str]] | None = None, supplier_read_timeout: float | None = None,
                 supplier_stub_timeout: float | None = None, lambda_runtime: str = "in-process", host: str | None = None,
                 warm_containers: str = "EAGER", lambda_api_port: int = 0,
                 function_concurrency: int | dict[str, int] | None = None, prewarm: bool = False):
        if lambda_runtime not in LAMBDA_RUNTIMES:
            raise ValueError(f"lambda_runtime must be one of {', '.join(LAMBDA_RUNTIMES)}, not {lambda_runtime!r}")
        if lambda_runtime == "containers" and supplier_read_timeout is not None:
            raise ValueError(
                "supplier_read_timeout cannot reach a function in a container (SUPPLIER_READ_TIMEOUT_SECONDS is not a template variable)"
            )
        self.lambda_runtime = lambda_runtime
        # moto and the stubs listen here: loopback, or (containers) the project's Docker network's gateway address.
        self.requested_host = host
        self.host = host or HOST
        self.warm_containers = warm_containers
        self.docker = None  # local_stack.containers.DockerEnv once started with lambda_runtime="containers"
        self._containers = None
        self.requested_port = port
        self.requested_lambda_api_port = lambda_api_port
        self._lambda_api = None
        self.requested_moto_port = moto_port
        self.seed = seed
        self.schedule_seconds = schedule_seconds
        self.run_schedules = run_schedules
        self.run_pollers = run_pollers
        self.requested_supplier_stub_port = supplier_stub_port
        self.requested_tenant_stub_port = tenant_stub_port
        self.visibility_timeout = visibility_timeout
        self.function_env = {key: dict(value) for key, value in (function_env or {}).items()}
        self.supplier_read_timeout = supplier_read_timeout
        if supplier_stub_timeout is None:
            # Silent for longer than the dispatcher waits (its read timeout), unless told otherwise.
            supplier_stub_timeout = DEFAULT_TIMEOUT_SECONDS if supplier_read_timeout is None else supplier_read_timeout + 2
        self.supplier_stub_timeout = supplier_stub_timeout
        self.function_concurrency = function_concurrency
        self.prewarm = prewarm
        self.resources: LocalResources | None = None
        self.functions: dict[str, LocalFunction] = {}
        self.routes: list[ApiRoute] = []
        self.schedules: list[tuple[ScheduledEvent, float | None]] = []
        self.sqs_sources: list[SqsEventSource] = []
        self.stream_sources: list[StreamEventSource] = []
        self.pollers: list[SqsPoller | StreamPoller] = []
        self.tokens: TokenAuthority | None = None
        self.supplier_stub: SupplierStub | None = None
        self.tenant_stub: TenantStub | None = None
        self._env = _EnvPatch()
        self._moto: ThreadedMotoServer | None = None
        self._front: FrontServer | None = None
        self._front_thread: threading.Thread | None = None
        self._scheduler: Scheduler | None = None
        self._patches = ExitStack()
        self._started = False

    # ---------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        return _started(self._front).port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def lambda_api_url(self) -> str:
        """Lambda's Invoke API for this stack's functions (lambda_api.py): boto3's lambda client with this endpoint_url."""
        return _started(self._lambda_api).url

    @property
    def moto_url(self) -> str:
        """moto's server (every AWS service of the stack): boto3's endpoint_url."""
        host, port = _started(self._moto).get_host_and_port()
        return f"http://{self.host}:{port}"

    def client(self, service: str):
        """A boto3 client on this stack's moto (fake credentials)."""
        return boto3.client(service, endpoint_url=self.moto_url, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing", aws_session_token="testing")

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def start(self) -> LocalStack:
        with LocalStack._running_lock:
            if LocalStack._running is not None:
                raise RuntimeError("A LocalStack is already running in this process (the environment and handler modules are process-wide)")
            LocalStack._running = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def _start(self) -> None:
        if self.lambda_runtime == "containers":
            from local_stack.containers import docker_setup

            self.docker = docker_setup()  # raises DockerUnavailable, loudly, when the engine cannot be used
            self.host = self.requested_host or self.docker.gateway
        # The HTTP servers bind first: a busy port fails before anything else is done.
        self._front = FrontServer(HOST, self.requested_port)
        from local_stack.lambda_api import LambdaApiServer

        self._lambda_api = LambdaApiServer(HOST, self.requested_lambda_api_port)
        self.supplier_stub = SupplierStub(self.host, self.requested_supplier_stub_port, timeout_seconds=self.supplier_stub_timeout)
        self.tenant_stub = TenantStub(self.host, self.requested_tenant_stub_port)
        werkzeug = logging.getLogger("werkzeug")  # moto's server logs a line per request at INFO unless told otherwise
        if werkzeug.level == logging.NOTSET:
            werkzeug.setLevel(logging.WARNING)
        # moto_patches.py: FIFO redelivery in SQS's order, item-level transaction backups, atomic DynamoDB requests.
        self._patches.enter_context(moto_fixes())
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.requested_moto_port, verbose=False)
        self._moto.start()
        # A fresh moto world: its backends are process-wide and may hold an earlier stack's tables.
        urllib.request.urlopen(urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST"), timeout=10).close()

        # Before any handler module is imported: every boto3 client made from here on talks to moto.
        for key in [key for key in os.environ if key.startswith("AWS_ENDPOINT_URL_")]:
            self._env.unset(key)  # a service-specific endpoint would win over AWS_ENDPOINT_URL
        for key in UNSET_AWS_ENV:
            self._env.unset(key)
        self._env.update({**FAKE_AWS_ENV, "AWS_ENDPOINT_URL": self.moto_url})

        self.resources = create_resources(self.client("dynamodb"), self.client("sqs"), prefix=PREFIX,
                                          visibility_timeout=self.visibility_timeout)
        self.routes = api_routes()
        self.schedules = [(schedule, self._period(schedule)) for schedule in scheduled_events() if schedule.enabled]
        self.sqs_sources = [source for source in sqs_event_sources() if source.enabled]
        self.stream_sources = [source for source in stream_event_sources() if source.enabled]
        needed = list(dict.fromkeys(
            [route.function for route in self.routes] + [schedule.function for schedule, _ in self.schedules]
            + [source.function for source in self.sqs_sources] + [source.function for source in self.stream_sources]
        ))
        put_on_path(list(dict.fromkeys(d for logical_id in needed for d in function_spec(logical_id).layer_dirs)))
        if self.lambda_runtime == "containers":
            from local_stack.containers import ContainerRuntime

            assert self.docker is not None
            self._containers = ContainerRuntime(self.docker, REGION, endpoint_url=self.moto_url, warm=self.warm_containers)
        self.functions = load_functions(
            needed,
            self.resources,
            REGION,
            set_env=self._env.update,
            overrides=self._function_overrides(needed),
            containers=self._containers,
            concurrency=self._concurrency,
        )
        if self.prewarm:
            for function in self.functions.values():
                runner = getattr(function, "runner", None)  # in-process workers (containers warm up on their own)
                if runner is not None:
                    runner.prewarm()

        # Always (LOCAL_SEED=0 only skips the demo orders): without it nobody could call anything.
        seed_partner_registry(self.client("dynamodb"), self.client("secretsmanager"), self.resources.tables["PartnerRegistryTable"],
                              principals=DEV_CLIENT_PRINCIPALS, suppliers=self.supplier_stub.suppliers_config(),
                              tenants=self.tenant_stub.tenants_config(), secrets_prefix=self.secrets_prefix)

        if self.seed:
            from fibre_cafe.dal.orders_table import OrdersTable

            seed_orders(OrdersTable(self.client("dynamodb"), self.resources.tables["OrdersTable"]))

        self.tokens = TokenAuthority(issuer=f"{self.base_url}/auth")
        self._front.gateway = Gateway(self.routes, self.functions, self.tokens)
        self._front_thread = threading.Thread(target=self._front.serve_forever, kwargs={"poll_interval": 0.2},
                                              name="local-stack-front", daemon=True)
        self._front_thread.start()
        self._lambda_api.serve(self.functions)

        from fibre_cafe.dal.orders_table import OrdersTable

        self.supplier_stub.configure(self.base_url, OrdersTable(self.client("dynamodb"), self.resources.tables["OrdersTable"]))
        self.supplier_stub.start()
        self.tenant_stub.start()

        jobs = [(schedule, self.functions[schedule.function], period) for schedule, period in self.schedules if period]
        self._scheduler = Scheduler(jobs, REGION)
        if self.run_schedules:
            self._scheduler.start()

        # Each poller gets its own clients, made here on the starting thread (making boto3 clients is not thread-safe).
        for source in self.sqs_sources:
            self.pollers.append(SqsPoller(self.functions[source.function], source, self.client("sqs"),
                                          self.resources.queue_urls[source.queue], self.resources.queue_arns[source.queue], REGION))
        for source in self.stream_sources:
            self.pollers.append(StreamPoller(self.functions[source.function], source, self.client("dynamodbstreams"),
                                             self.resources.stream_arns[source.table], REGION, sqs=self.client("sqs"),
                                             on_failure_url=self.resources.queue_urls.get(source.on_failure_queue or "")))
        if self.run_pollers:
            for poller in self.pollers:
                poller.start()

    @property
    def secrets_prefix(self) -> str:
        """The template's PartnerSecretsPrefix default: the partners' secrets are named <prefix><partner id>."""
        return str(load_template()["Parameters"]["PartnerSecretsPrefix"]["Default"])

    def _function_overrides(self, logical_ids: list[str]) -> dict[str, dict[str, str]]:
        """function_env on top of the template's variables (partners come from the seeded registry, not from here)."""
        assert self.resources is not None and self.supplier_stub is not None and self.tenant_stub is not None
        overrides: dict[str, dict[str, str]] = {}
        for logical_id in logical_ids:
            env: dict[str, str] = dict(self.function_env.get(logical_id, {}))
            if logical_id == "SupplierDispatcherFunction" and self.supplier_read_timeout is not None:
                # The dispatcher's setting SUPPLIER_READ_TIMEOUT_SECONDS (not a template variable: in-process only).
                env.setdefault("SUPPLIER_READ_TIMEOUT_SECONDS", str(float(self.supplier_read_timeout)))
            if env:
                overrides[logical_id] = env
        unknown = sorted(set(self.function_env) - set(logical_ids))
        if unknown:
            raise ValueError(f"function_env names functions the local stack does not run: {', '.join(unknown)}")
        return overrides

    def reset(self) -> None:
        """A fresh world on the running stack (tools.replay, between event files): moto emptied, the tables, queues,
        partner registry and demo orders made again, the stubs' records cleared. Pollers must be off (the
        stream's ARN changes); warm functions keep their containers / modules (caches of ids, tokens)."""
        assert self.resources is not None and self.supplier_stub is not None and self.tenant_stub is not None
        if self.run_pollers and self.pollers:
            raise RuntimeError("reset() needs a stack started with run_pollers=False")
        urllib.request.urlopen(urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST"), timeout=10).close()
        self.resources = create_resources(self.client("dynamodb"), self.client("sqs"), prefix=PREFIX,
                                          visibility_timeout=self.visibility_timeout)
        seed_partner_registry(self.client("dynamodb"), self.client("secretsmanager"), self.resources.tables["PartnerRegistryTable"],
                              principals=DEV_CLIENT_PRINCIPALS, suppliers=self.supplier_stub.suppliers_config(),
                              tenants=self.tenant_stub.tenants_config(), secrets_prefix=self.secrets_prefix)
        if self.seed:
            from fibre_cafe.dal.orders_table import OrdersTable

            seed_orders(OrdersTable(self.client("dynamodb"), self.resources.tables["OrdersTable"]))
        self.supplier_stub.reset()
        self.tenant_stub.reset()

    def _concurrency(self, logical_id: str) -> int:
        """Parallel invocations of a function: the stack's setting, capped by the template's reserved concurrency."""
        setting = self.function_concurrency
        limit = setting.get(logical_id, DEFAULT_CONCURRENCY) if isinstance(setting, dict) else (setting or DEFAULT_CONCURRENCY)
        reserved = load_template()["Resources"][logical_id]["Properties"].get("ReservedConcurrentExecutions")
        if isinstance(reserved, int) and reserved > 0:
            limit = min(limit, reserved)
        return int(limit)

    def _period(self, schedule: ScheduledEvent) -> float | None:
        if self.schedule_seconds is not None:
            return self.schedule_seconds
        return schedule.rate_seconds  # None for cron()/at(): not run locally unless a period is forced

    def stop(self) -> None:
        """Stop everything this stack started, in reverse order; safe to call more than once."""
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            if not poller.join(20):
                log.warning("%s still running at stop", poller.name)
        self.pollers = []
        if self.supplier_stub is not None:
            self.supplier_stub.stop()  # before the front: no KCI is posted to a closing front
            self.supplier_stub = None
        if self._front is not None:
            if self._front_thread is not None:
                self._front.shutdown()
                self._front_thread.join(10)
            self._front.server_close()
            self._front = None
            self._front_thread = None
        if self.tenant_stub is not None:
            self.tenant_stub.stop()
            self.tenant_stub = None
        if self._lambda_api is not None:
            self._lambda_api.stop()
            self._lambda_api = None
        for function in self.functions.values():
            if not function.wait_idle(timeout=15):
                log.warning("%s still running at stop", function.logical_id)
        if self._containers is not None:
            self._containers.stop()
            self._containers = None
        for function in self.functions.values():
            close = getattr(function, "close", None)  # in-process: its worker processes (containers stop above)
            if close is not None:
                close()
        if self._moto is not None:
            try:
                self._moto.stop()
            except Exception:  # noqa: BLE001 - stopping a server that failed to start
                pass
            server = getattr(self._moto, "_server", None)
            if server is not None:
                server.server_close()  # ThreadedMotoServer.stop leaves the listening socket open
            self._moto = None
        self._patches.close()
        self._env.restore()
        with LocalStack._running_lock:
            if LocalStack._running is self:
                LocalStack._running = None
        self._started = False

    def _describe_event_sources(self) -> list[str]:
        assert self.resources is not None
        state = "" if self.run_pollers else " (pollers off)"
        lines = []
        for source in self.sqs_sources:
            name = self.resources.queue_urls[source.queue].rsplit("/", 1)[-1]
            details = [f"batch {source.batch_size}"]
            if source.batching_window_seconds:
                details.append(f"window {source.batching_window_seconds:g} s")
            if source.report_batch_item_failures:
                details.append("partial batch failures")
            lines.append(f"  queue poller     {name} -> {source.function} ({', '.join(details)}){state}")
        for source in self.stream_sources:
            details = [source.starting_position, f"batch {source.batch_size}"]
            if source.batching_window_seconds:
                details.append(f"window {source.batching_window_seconds:g} s")
            if source.filters:
                details.append("filtered")
            lines.append(
                f"  stream poller    {self.resources.tables[source.table]} stream -> {source.function} ({', '.join(details)}){state}"
            )
        timeouts = sorted(
            {
                int(res["Properties"]["VisibilityTimeout"])
                for res in resources_of_type(load_template(), "AWS::SQS::Queue").values()
                if "VisibilityTimeout" in res.get("Properties", {})
            }
        )
        if self.visibility_timeout is None:
            lines.append(
                f"  visibility       template's VisibilityTimeout ({', '.join(f'{t} s' for t in timeouts)}); "
                "LOCAL_VISIBILITY_TIMEOUT shortens it"
            )
        else:
            lines.append(
                f"  visibility       {self.visibility_timeout} s on every queue that sets one (LOCAL_VISIBILITY_TIMEOUT; template: "
                f"{', '.join(f'{t} s' for t in timeouts)})"
            )
        return lines

    # ---------------------------------------------------------------- helpers for tests and people

    def run_scheduled(self, logical_id: str) -> Any:
        """Run a scheduled function now, as its schedule would (the result, or None if it raised)."""
        assert self._scheduler is not None, "start() first"
        schedule = next(schedule for schedule, _ in self.schedules if schedule.function == logical_id)
        return self._scheduler.run_once(schedule, self.functions[logical_id])

    def _runtime_line(self) -> str:
        if self.lambda_runtime == "containers" and self._containers is not None and self._containers.start_lambda is not None:
            runner = self._containers.start_lambda
            return (f"in containers: sam local start-lambda {runner.url} (warm {runner.warm}, image {runner.docker.image},"
                    f" network {runner.docker.network}; .aws-sam/build)")
        return "in this process (make run LAMBDA=containers runs the built artifact in SAM CLI's Lambda emulation)"

    def describe(self) -> str:
        """What is where: printed by ``python -m local_stack``."""
        assert self.resources is not None and self.tokens is not None
        lines = [
            f"Fibre Cafe local stack (no AWS: moto on {self.host}, fake credentials)",
            f"  functions        {self._runtime_line()}",
            f"  API              {self.base_url}",
        ]
        for route in self.routes:
            access = "no token" if route.public else f"token scope {' or '.join(route.scopes)}"
            lines.append(f"                   {route.method:6} {route.path}  ->  {route.function} ({access})")
        lines += [
            f"  token endpoints  POST {self.base_url}{next(p for p, k in TOKEN_PATHS.items() if k == 'tenant')}",
            f"                   POST {self.base_url}{next(p for p, k in TOKEN_PATHS.items() if k == 'supplier')}",
            f"  JWKS             {self.base_url}{JWKS_PATH}  (issuer {self.tokens.issuer}, audience {self.tokens.audience})",
            f"  API docs         {self.base_url}/docs (Swagger UI: Authorize as tenant or supplier), {self.base_url}/openapi.json",
            f"  moto (AWS)       {self.moto_url}  (AWS_ENDPOINT_URL for the AWS CLI / boto3, region {REGION})",
            f"  function runner  {self.lambda_api_url}  (Lambda's Invoke API: aws lambda invoke --endpoint-url ...)",
        ]
        lines += [f"  table            {logical_id}: {name}" for logical_id, name in self.resources.tables.items()]
        lines += [f"  queue            {logical_id}: {url}" for logical_id, url in self.resources.queue_urls.items()]
        for schedule, period in self.schedules:
            when = f"every {period:g} s" if period else f"{schedule.expression} (not run locally)"
            state = "" if self.run_schedules else " (schedules off)"
            lines.append(f"  schedule         {schedule.function}: {when}{state}")
        lines += self._describe_event_sources()
        assert self.supplier_stub is not None and self.tenant_stub is not None
        lines += [
            f"  supplier stub    {self.supplier_stub.url}/<SUPPLIER>/service-order-cancellations  "
            f"({', '.join(self.supplier_stub.suppliers)};"
            f" X-Scenario / X-Kci-Delay / X-Problem-Code; GET {self.supplier_stub.url}/requests)",
            f"  tenant stub      {self.tenant_stub.url}/<TENANT>/kcis  ({', '.join(self.tenant_stub.tenants)};"
            f" GET {self.tenant_stub.url}/received?tenant=TENANT1, POST {self.tenant_stub.url}/control)",
        ]
        ran = set(self.functions)
        by_hand = [logical_id for logical_id, res in resources_of_type(load_template(), "AWS::Serverless::Function").items()
                   if logical_id not in ran]
        if by_hand:
            lines.append(f"  no event source  {', '.join(by_hand)} (not loaded; locally, redrive with python -m local_stack.redrive)")
        clients = ", ".join(f"{c.client_id} ({c.kind})" for c in DEV_CLIENTS if c.client_id in DEV_CLIENT_PRINCIPALS)
        lines.append(f"  dev clients      {clients}; client_secret {DEV_CLIENT_SECRET} (development only)")
        if self.seed:
            for order in DEMO_ORDERS:
                lines.append(
                    f"  demo order       {order.id} {order.order_type} {order.tenant} {order.supplier} {order.status}: {order.note}"
                )
            lines.append("  walkthrough      README \"Try it\": order 4242 (registered by a supplier KCI), then 1003")
        else:
            lines.append("  demo orders      none (seeding off)")
        return "\n".join(lines)
