"""Read template.yaml, the single source of truth, and build its tables and queues on moto.

Used by the tests (moto in-process) and by the local stack (moto's ThreadedMotoServer): neither
has a second definition of a table, an index or a queue. Also resolves each function's
environment (Globals + its own variables, with !Ref/!GetAtt pointing at what was created), lists
the API routes with the token scope each needs, and the scheduled events, so the local stack runs
the same handlers on the same paths and schedules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from local_stack.proxy_events import SUPPLIER_SCOPE, TENANT_SCOPE

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _construct_tag(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # SafeLoader subclass


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == resource_type}


@dataclass
class LocalResources:
    """What was created, by logical id: table names, queue URLs and ARNs."""

    prefix: str
    tables: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    stream_arns: dict[str, str] = field(default_factory=dict)  # tables with a StreamSpecification
    parameters: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """Resolve !Ref / !GetAtt / !Sub against the local resources (enough for this template)."""
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                if arg in self.tables:
                    return self.tables[arg]
                if arg in self.queue_urls:
                    return self.queue_urls[arg]
                if arg in self.parameters:
                    return self.parameters[arg]
                raise KeyError(f"cannot resolve !Ref {arg} locally")
            if key == "Fn::GetAtt":
                logical_id, attribute = arg
                if attribute == "Arn" and logical_id in self.queue_arns:
                    return self.queue_arns[logical_id]
                if attribute == "QueueName" and logical_id in self.queue_urls:
                    return self.queue_urls[logical_id].rsplit("/", 1)[-1]
                if attribute == "Arn" and logical_id in self.tables:
                    return f"arn:aws:dynamodb:local:000000000000:table/{self.tables[logical_id]}"
                if attribute == "StreamArn" and logical_id in self.stream_arns:
                    return self.stream_arns[logical_id]
                raise KeyError(f"cannot resolve !GetAtt {logical_id}.{attribute} locally")
        return value


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


def create_resources(dynamodb, sqs, prefix: str = "local", parameters: dict[str, str] | None = None, template: dict[str, Any] | None = None,
                     visibility_timeout: int | None = None) -> LocalResources:
    """Create every AWS::DynamoDB::Table and AWS::SQS::Queue of the template on the given clients.

    ``visibility_timeout`` (seconds) replaces the VisibilityTimeout of every queue that sets one:
    the local stack's LOCAL_VISIBILITY_TIMEOUT, so a failed message comes back in seconds rather
    than the template's minutes. None keeps the template's values.
    """
    template = template or load_template()
    resources = LocalResources(prefix=prefix, parameters={**parameter_defaults(template), **(parameters or {})})

    for logical_id, res in resources_of_type(template, "AWS::DynamoDB::Table").items():
        props = res["Properties"]
        name = f"{prefix}-{logical_id}"
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "SSESpecification" in props:
            args["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
        if "StreamSpecification" in props:
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        created = dynamodb.create_table(**args)["TableDescription"]
        if created.get("LatestStreamArn"):
            resources.stream_arns[logical_id] = created["LatestStreamArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        resources.tables[logical_id] = name

    queues = resources_of_type(template, "AWS::SQS::Queue")
    # Dead-letter queues first: a queue's RedrivePolicy names its DLQ's ARN.
    pending = dict(queues)
    while pending:
        progressed = False
        for logical_id, res in list(pending.items()):
            props = dict(res.get("Properties", {}))
            redrive = props.get("RedrivePolicy")
            if redrive:
                target = redrive["deadLetterTargetArn"]
                if isinstance(target, dict) and target["Fn::GetAtt"][0] not in resources.queue_arns:
                    continue
            fifo = bool(props.get("FifoQueue"))
            name = f"{prefix}-{logical_id}" + (".fifo" if fifo else "")
            attributes: dict[str, str] = {}
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
                if key in props:
                    attributes[key] = str(props[key])
            if visibility_timeout is not None and "VisibilityTimeout" in attributes:
                attributes["VisibilityTimeout"] = str(int(visibility_timeout))
            if fifo:
                attributes["FifoQueue"] = "true"
                if props.get("ContentBasedDeduplication"):
                    attributes["ContentBasedDeduplication"] = "true"
            if redrive:
                attributes["RedrivePolicy"] = json.dumps(
                    {
                        "deadLetterTargetArn": resources.resolve(redrive["deadLetterTargetArn"]),
                        "maxReceiveCount": int(redrive["maxReceiveCount"]),
                    }
                )
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            resources.queue_urls[logical_id] = url
            resources.queue_arns[logical_id] = arn
            del pending[logical_id]
            progressed = True
        if not progressed:
            raise ValueError(f"queues with unresolvable redrive targets: {sorted(pending)}")
    return resources


def function_environment(logical_id: str, resources: LocalResources, template: dict[str, Any] | None = None) -> dict[str, str]:
    """The environment the template gives ``logical_id``: Globals first, then its own variables."""
    template = template or load_template()
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    function = template["Resources"][logical_id]["Properties"]
    own_env = function.get("Environment", {}).get("Variables", {})
    # An empty value means "unset" (AWS_ENDPOINT_URL: "" exists only so sam local invoke can override it):
    # leaving it out keeps the endpoint the local stack or the tests set.
    return {key: str(resources.resolve(value)) for key, value in {**globals_env, **own_env}.items() if value != ""}


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    module: str
    attribute: str
    layer_dirs: tuple[Path, ...] = ()  # ContentUri of each layer the function uses (Globals + its own)
    timeout: int = 3
    memory_size: int = 128


def _function_property(template: dict[str, Any], logical_id: str, name: str, default: Any = None) -> Any:
    """A function property, falling back to Globals.Function as SAM does."""
    props = template["Resources"][logical_id]["Properties"]
    if name in props:
        return props[name]
    return template.get("Globals", {}).get("Function", {}).get(name, default)


def function_spec(logical_id: str, template: dict[str, Any] | None = None) -> FunctionSpec:
    template = template or load_template()
    props = template["Resources"][logical_id]["Properties"]
    module, attribute = props["Handler"].rsplit(".", 1)
    layer_dirs = []
    for layer in _function_property(template, logical_id, "Layers", []) or []:
        target = template["Resources"].get(layer.get("Ref")) if isinstance(layer, dict) else None
        if target and target["Type"] == "AWS::Serverless::LayerVersion":
            layer_dirs.append(ROOT / target["Properties"]["ContentUri"])
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=ROOT / props["CodeUri"],
        module=module,
        attribute=attribute,
        layer_dirs=tuple(layer_dirs),
        timeout=int(_function_property(template, logical_id, "Timeout", 3)),
        memory_size=int(_function_property(template, logical_id, "MemorySize", 128)),
    )


# Scope a route needs when template.yaml names none (no Auth.AuthorizationScopes on the event or its
# authorizer): the Tenant API takes tenant tokens; every other API function (KCIs, ...) supplier tokens.
DEFAULT_FUNCTION_SCOPES: dict[str, tuple[str, ...]] = {"TenantApiFunction": (TENANT_SCOPE,)}
DEFAULT_SCOPES: tuple[str, ...] = (SUPPLIER_SCOPE,)


@dataclass(frozen=True)
class ApiRoute:
    method: str  # upper case; ANY matches every method
    path: str  # API Gateway resource path, e.g. /service-order-cancellations/{id}
    function: str  # logical id
    # The token must carry at least one of these (API Gateway's rule for AuthorizationScopes).
    scopes: tuple[str, ...] = ()
    # Auth.Authorizer: NONE on the event: no token is checked and no claims are passed.
    public: bool = False


def _api_auth(template: dict[str, Any], event_props: dict[str, Any]) -> dict[str, Any]:
    """The Auth block of the API an event belongs to (its RestApiId, else Globals.Api)."""
    rest_api = event_props.get("RestApiId")
    if isinstance(rest_api, dict) and rest_api.get("Ref") in template["Resources"]:
        auth = template["Resources"][rest_api["Ref"]].get("Properties", {}).get("Auth")
        if auth is not None:
            return auth
    return template.get("Globals", {}).get("Api", {}).get("Auth") or {}


def _route_auth(template: dict[str, Any], logical_id: str, event_props: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    auth = event_props.get("Auth") or {}
    api_auth = _api_auth(template, event_props)
    authorizer = auth.get("Authorizer", api_auth.get("DefaultAuthorizer"))
    if authorizer == "NONE":
        return (), True
    scopes = auth.get("AuthorizationScopes")
    if scopes is None and authorizer:
        scopes = (api_auth.get("Authorizers") or {}).get(authorizer, {}).get("AuthorizationScopes")
    if not scopes:
        scopes = DEFAULT_FUNCTION_SCOPES.get(logical_id, DEFAULT_SCOPES)
    return tuple(str(scope) for scope in scopes), False


def api_routes(template: dict[str, Any] | None = None) -> list[ApiRoute]:
    template = template or load_template()
    routes = []
    for logical_id, res in resources_of_type(template, "AWS::Serverless::Function").items():
        for event in (res["Properties"].get("Events") or {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                scopes, public = _route_auth(template, logical_id, props)
                routes.append(ApiRoute(props["Method"].upper(), props["Path"], logical_id, scopes=scopes, public=public))
    return routes


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(second|minute|hour|day)s?\s*\)$")
_RATE_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of ``rate(N unit)``; None for cron()/at() and anything else."""
    found = _RATE.match(expression.strip())
    if not found or int(found.group(1)) < 1:
        return None
    return int(found.group(1)) * _RATE_SECONDS[found.group(2)]


@dataclass(frozen=True)
class ScheduledEvent:
    function: str  # logical id
    name: str  # the event's name in template.yaml
    type: str  # Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler)
    expression: str
    enabled: bool
    input: str | None = None  # the event's Input, passed instead of the scheduled event when set

    @property
    def rate_seconds(self) -> int | None:
        return rate_seconds(self.expression)


def function_events(template: dict[str, Any], *types: str) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(function logical id, event name, event type, event properties) of every function event of one of ``types``."""
    for logical_id, res in resources_of_type(template, "AWS::Serverless::Function").items():
        for name, event in (res["Properties"].get("Events") or {}).items():
            if event["Type"] in types:
                yield logical_id, name, event["Type"], event.get("Properties") or {}


def scheduled_events(template: dict[str, Any] | None = None) -> list[ScheduledEvent]:
    template = template or load_template()
    found = []
    for logical_id, name, kind, props in function_events(template, "Schedule", "ScheduleV2"):
        enabled = props.get("Enabled", True) is not False and str(props.get("State", "ENABLED")).upper() != "DISABLED"
        input_ = props.get("Input")
        found.append(ScheduledEvent(logical_id, name, kind, str(props["ScheduleExpression"]), enabled,
                                    input_ if isinstance(input_, str) else None))
    return found


# ------------------------------------------------------------------------------------------------
# Event source mappings: SQS queues and DynamoDB streams that invoke a function (local_stack/pollers.py).
# ------------------------------------------------------------------------------------------------


def _logical_id_of(value: Any, attribute: str) -> str:
    """The logical id in ``!GetAtt X.<attribute>`` (the only form this template uses for event sources)."""
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == attribute:
        return value["Fn::GetAtt"][0]
    raise ValueError(f"event source {value!r}: only !GetAtt <LogicalId>.{attribute} is supported locally")


def _response_types(props: dict[str, Any]) -> bool:
    return "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])


def _filter_patterns(props: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    filters = ((props.get("FilterCriteria") or {}).get("Filters")) or []
    return tuple(json.loads(entry["Pattern"]) for entry in filters if entry.get("Pattern"))


def _on_failure_queue(props: dict[str, Any]) -> str | None:
    destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    return _logical_id_of(destination, "Arn") if destination is not None else None


def _enabled(props: dict[str, Any]) -> bool:
    return props.get("Enabled", True) is not False


@dataclass(frozen=True)
class SqsEventSource:
    function: str  # logical id
    name: str  # the event's name in template.yaml
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = False
    filters: tuple[dict[str, Any], ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class StreamEventSource:
    function: str
    name: str
    table: str  # logical id of the AWS::DynamoDB::Table whose stream it reads
    starting_position: str = "LATEST"  # TRIM_HORIZON or LATEST
    batch_size: int = 100
    batching_window_seconds: float = 0.0
    maximum_retry_attempts: int = -1  # -1: until the record expires (24 h in AWS)
    maximum_record_age_seconds: int = -1  # -1: until the record expires
    bisect_batch_on_function_error: bool = False
    on_failure_queue: str | None = None  # logical id of the SQS queue in DestinationConfig.OnFailure
    report_batch_item_failures: bool = False
    filters: tuple[dict[str, Any], ...] = ()
    enabled: bool = True


def _mapping_fields(logical_id: str, name: str, props: dict[str, Any], default_batch_size: int) -> dict[str, Any]:
    """What an SQS and a DynamoDB event source mapping have in common."""
    return {"function": logical_id, "name": name, "batch_size": int(props.get("BatchSize", default_batch_size)),
            "batching_window_seconds": float(props.get("MaximumBatchingWindowInSeconds", 0)),
            "report_batch_item_failures": _response_types(props), "filters": _filter_patterns(props), "enabled": _enabled(props)}


def sqs_event_sources(template: dict[str, Any] | None = None) -> list[SqsEventSource]:
    """Every function event of ``Type: SQS``, as Lambda's event source mapping would read it."""
    return [SqsEventSource(queue=_logical_id_of(props["Queue"], "Arn"), **_mapping_fields(logical_id, name, props, 10))
            for logical_id, name, _kind, props in function_events(template or load_template(), "SQS")]


def stream_event_sources(template: dict[str, Any] | None = None) -> list[StreamEventSource]:
    """Every function event of ``Type: DynamoDB`` (a table's stream)."""
    return [StreamEventSource(
        table=_logical_id_of(props["Stream"], "StreamArn"), starting_position=str(props.get("StartingPosition", "LATEST")).upper(),
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        maximum_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
        bisect_batch_on_function_error=bool(props.get("BisectBatchOnFunctionError", False)), on_failure_queue=_on_failure_queue(props),
        **_mapping_fields(logical_id, name, props, 100),
    ) for logical_id, name, _kind, props in function_events(template or load_template(), "DynamoDB")]
