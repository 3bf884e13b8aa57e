"""template.yaml, read as data: the authorizer and scope of every route, API Gateway's own error answers,
least-privilege IAM, encryption at rest and point-in-time recovery (issue 4, domain.md section 5).

Parsed with local_stack.template.load_template (the loader the local stack uses, so both read the same
file the same way). Nothing here deploys or calls AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fibre_cafe.models.errors import ErrorCode
from local_stack.proxy_events import SUPPLIER_SCOPE, TENANT_SCOPE
from local_stack.template import ROOT, api_routes, load_template, resources_of_type

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
TABLES = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")
QUEUES = resources_of_type(TEMPLATE, "AWS::SQS::Queue")
API_ID = "FibreCafeApi"
AUTHORIZER = "CognitoAuthorizer"
CONTRACT_CODES = {code.value for code in ErrorCode}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Which scope each route needs: the Supplier Updates API takes supplier tokens, everything else is the Tenant API.
SUPPLIER_PATHS = {"/kcis"}


def api_events() -> list[tuple[str, str, dict[str, Any]]]:
    """(function, event name, event properties) of every Api event in the template."""
    return [(function, name, event.get("Properties") or {})
            for function, res in FUNCTIONS.items()
            for name, event in (res["Properties"].get("Events") or {}).items() if event["Type"] == "Api"]


def event_ids() -> list[str]:
    return [f"{function}.{name}" for function, name, _ in api_events()]


# ---------------------------------------------------------------------------------------------- authorizer and scopes


def test_there_are_api_routes_and_only_rest_api_events():
    assert {(props["Method"].upper(), props["Path"]) for _, _, props in api_events()} >= {
        ("POST", "/service-order-cancellations"), ("GET", "/service-order-cancellations/{id}"), ("POST", "/kcis")}
    other = [(function, name) for function, res in FUNCTIONS.items() for name, event in (res["Properties"].get("Events") or {}).items()
             if event["Type"] in ("HttpApi", "FunctionUrl") or "FunctionUrlConfig" in res["Properties"]]
    assert other == [], "every HTTP entry point goes through the REST API's authorizer"
    assert not resources_of_type(TEMPLATE, "AWS::ApiGateway::Method"), "no hand-written methods beside SAM's"
    assert not resources_of_type(TEMPLATE, "AWS::Lambda::Url")


@pytest.mark.parametrize(("function", "name", "props"), api_events(), ids=event_ids())
def test_every_route_has_the_cognito_authorizer_and_exactly_its_scope(function, name, props):
    assert props.get("RestApiId") == {"Ref": API_ID}, "the route must belong to the API that has the authorizer"
    auth = props.get("Auth") or {}
    assert auth.get("Authorizer") == AUTHORIZER
    expected = SUPPLIER_SCOPE if props["Path"] in SUPPLIER_PATHS else TENANT_SCOPE
    assert auth.get("AuthorizationScopes") == [expected]


def test_every_scope_a_route_needs_exists_on_the_resource_server():
    servers = resources_of_type(TEMPLATE, "AWS::Cognito::UserPoolResourceServer")
    assert len(servers) == 1
    (server,) = servers.values()
    assert server["Properties"]["UserPoolId"] == {"Ref": "UserPool"}
    defined = {f"{server['Properties']['Identifier']}/{scope['ScopeName']}" for scope in server["Properties"]["Scopes"]}
    assert defined == {TENANT_SCOPE, SUPPLIER_SCOPE}
    needed = {scope for _, _, props in api_events() for scope in props["Auth"]["AuthorizationScopes"]}
    assert needed <= defined


def test_the_api_has_a_default_authorizer_on_the_user_pool():
    auth = RESOURCES[API_ID]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == AUTHORIZER
    authorizer = auth["Authorizers"][AUTHORIZER]
    assert authorizer["UserPoolArn"] == {"Fn::GetAtt": ["UserPool", "Arn"]}
    assert authorizer["Identity"]["Header"] == "Authorization"
    assert auth.get("AddDefaultAuthorizerToCorsPreflight") is False or "Cors" not in RESOURCES[API_ID]["Properties"]


def test_the_user_pool_is_closed_and_has_a_token_endpoint():
    pool = RESOURCES["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # no self sign-up
    assert resources_of_type(TEMPLATE, "AWS::Cognito::UserPoolDomain")
    assert "oauth2/token" in json.dumps(TEMPLATE["Outputs"]["TokenEndpoint"]["Value"])


def test_the_principal_mapping_is_the_partner_registry_and_fails_closed():
    """App client -> principal lives in the partner registry table (a new stack's is empty: every call is 403), not
    in a parameter or an environment variable; only the API functions read it, and only with GetItem."""
    assert not any("Principal" in name for name in TEMPLATE["Parameters"])
    api_functions = {function for function, _, _ in api_events()}
    for function in api_functions:
        variables = FUNCTIONS[function]["Properties"]["Environment"]["Variables"]
        assert "CLIENT_PRINCIPALS" not in variables
        assert variables["PARTNER_REGISTRY_TABLE_NAME"] == {"Ref": "PartnerRegistryTable"}
        assert grants(function)["PartnerRegistryTable"] == {"dynamodb:GetItem"}


def test_the_local_front_applies_the_templates_scopes():
    """Local parity: the local stack's authorizer (local_stack/front.py) demands what the template demands."""
    local = {(route.method, route.path): (route.scopes, route.public) for route in api_routes()}
    for _, _, props in api_events():
        assert local[(props["Method"].upper(), props["Path"])] == (tuple(props["Auth"]["AuthorizationScopes"]), False)


# ---------------------------------------------------------------------------------------------- API Gateway's own answers

REQUIRED_RESPONSES = {"UNAUTHORIZED": 401, "ACCESS_DENIED": 403, "MISSING_AUTHENTICATION_TOKEN": None, "DEFAULT_4XX": None,
                      "DEFAULT_5XX": None}
GATEWAY_RESPONSES = RESOURCES[API_ID]["Properties"]["GatewayResponses"]
SAMPLE_REQUEST_ID = "6c1b7a2e-3f4d-4e5a-9b8c-0d1e2f3a4b5c"
SAMPLE_CONTEXT = {"$context.requestId": SAMPLE_REQUEST_ID, "$context.extendedRequestId": "KxqA9FZ2LPEFXyg=",
                  "$context.error.message": "Missing Authentication Token"}


def render(template: str, message: str = 'Say "hello" \\ and leave') -> str:
    """A mapping template with its $context variables replaced as API Gateway would: messageString is the
    message as a quoted (JSON) string; every other variable a plain sample value."""
    rendered = template.replace("$context.error.messageString", json.dumps(message))
    for name, value in SAMPLE_CONTEXT.items():
        rendered = rendered.replace(name, value)
    leftover = re.findall(r"\$(?:context|input|util|stageVariables)\.[\w.]+", rendered)
    assert not leftover, f"variables without a sample value: {leftover}"
    return rendered


def test_gateway_responses_cover_auth_failures_and_every_default():
    assert set(REQUIRED_RESPONSES) <= set(GATEWAY_RESPONSES)
    for name, status in REQUIRED_RESPONSES.items():
        if status is not None:
            assert int(GATEWAY_RESPONSES[name]["StatusCode"]) == status, name
    assert GATEWAY_RESPONSES["UNAUTHORIZED"]["ResponseParameters"]["Headers"]["WWW-Authenticate"] == "'Bearer'"


@pytest.mark.parametrize("name", sorted(GATEWAY_RESPONSES))
def test_every_gateway_response_renders_the_contract_error_body(name):
    response = GATEWAY_RESPONSES[name]
    templates = response["ResponseTemplates"]
    assert set(templates) == {"application/json"}
    body = json.loads(render(templates["application/json"]))
    assert set(body) == {"uuid", "code", "messages"}
    assert body["uuid"] == SAMPLE_REQUEST_ID and UUID4.match(body["uuid"]), "the uuid is the request id API Gateway logs"
    assert body["code"] in CONTRACT_CODES
    assert isinstance(body["messages"], list) and body["messages"] and all(isinstance(m, str) and m for m in body["messages"])
    status = int(response["StatusCode"]) if "StatusCode" in response else None
    if name == "DEFAULT_5XX" or (status or 0) >= 500:
        assert body["code"] == "GATEWAY_FAULT"
    if status in (401, 403):
        assert body["code"] == "NOT_AUTHORISED"
    for header, value in (response.get("ResponseParameters") or {}).get("Headers", {}).items():
        assert re.fullmatch(r"'[^'\r\n]*'", value), f"{name} header {header} must be a quoted static value"


def test_default_4xx_message_survives_quotes_and_backslashes():
    """messageString arrives quoted; the template must not add its own quotes around it."""
    body = json.loads(render(GATEWAY_RESPONSES["DEFAULT_4XX"]["ResponseTemplates"]["application/json"], message='a "b" \\ c'))
    assert body["messages"] == ['a "b" \\ c']


# ---------------------------------------------------------------------------------------------- IAM: least privilege

# SAM policy templates: the definitions of samtranslator/policy_templates_data/policy_templates.json (aws-sam-translator,
# as installed with SAM CLI 1.170), for the templates this project could plausibly use. A template not listed here
# fails the test until its definition is added; test_embedded_policy_templates_match_sam_translator checks the copies.
_SQS_ARN = "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}"
_TABLE_ARN = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}"
_QUEUE = {"queueName": {"Ref": "QueueName"}}
_TABLE = {"tableName": {"Ref": "TableName"}}
SAM_POLICY_TEMPLATES: dict[str, dict[str, Any]] = {
    "SQSSendMessagePolicy": {
        "Statement": [{"Action": ["sqs:SendMessage*"], "Effect": "Allow", "Resource": {"Fn::Sub": [_SQS_ARN, _QUEUE]}}]
    },
    "SQSPollerPolicy": {
        "Statement": [
            {
                "Action": [
                    "sqs:ChangeMessageVisibility",
                    "sqs:ChangeMessageVisibilityBatch",
                    "sqs:DeleteMessage",
                    "sqs:DeleteMessageBatch",
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage",
                ],
                "Effect": "Allow",
                "Resource": {"Fn::Sub": [_SQS_ARN, _QUEUE]},
            }
        ]
    },
    "DynamoDBReadPolicy": {
        "Statement": [
            {
                "Action": ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"],
                "Effect": "Allow",
                "Resource": [{"Fn::Sub": [_TABLE_ARN, _TABLE]}, {"Fn::Sub": [_TABLE_ARN + "/index/*", _TABLE]}],
            }
        ]
    },
    "DynamoDBWritePolicy": {
        "Statement": [
            {
                "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"],
                "Effect": "Allow",
                "Resource": [{"Fn::Sub": [_TABLE_ARN, _TABLE]}, {"Fn::Sub": [_TABLE_ARN + "/index/*", _TABLE]}],
            }
        ]
    },
    "DynamoDBCrudPolicy": {
        "Statement": [
            {
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:PutItem",
                    "dynamodb:Scan",
                    "dynamodb:Query",
                    "dynamodb:UpdateItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:DescribeTable",
                    "dynamodb:ConditionCheckItem",
                ],
                "Effect": "Allow",
                "Resource": [{"Fn::Sub": [_TABLE_ARN, _TABLE]}, {"Fn::Sub": [_TABLE_ARN + "/index/*", _TABLE]}],
            }
        ]
    },
}


def _substitute(value: Any, params: dict[str, Any]) -> Any:
    """A policy template's definition with its parameters (``{"Ref": "QueueName"}``) replaced by the given values."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in params:
            return params[value["Ref"]]
        return {key: _substitute(item, params) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, params) for item in value]
    return value


def policy_statements(function: str) -> Iterator[dict[str, Any]]:
    """Every statement the function's ``Policies`` give it: inline statements and expanded SAM policy templates."""
    policies = FUNCTIONS[function]["Properties"].get("Policies") or []
    if isinstance(policies, (str, dict)):
        policies = [policies]
    for policy in policies:
        assert not isinstance(policy, str), f"{function}: managed policy {policy} (its resources are not scoped by this template)"
        if "Statement" in policy:
            document = policy
        else:
            ((name, params),) = policy.items()
            assert name in SAM_POLICY_TEMPLATES, f"{function}: SAM policy template {name} - add its definition to this test"
            document = _substitute(SAM_POLICY_TEMPLATES[name], params or {})
        statements = document["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            # A statement present only under a condition (``!If [Cond, statement, !Ref AWS::NoValue]``): checked as if present.
            if isinstance(statement, dict) and "Fn::If" in statement:
                _, present, absent = statement["Fn::If"]
                assert absent == {"Ref": "AWS::NoValue"}, statement
                statement = present
            yield statement


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def resource_logical_id(resource: Any) -> str:
    """The template resource (or parameter, as ``parameter:<Name>``) an IAM Resource entry points at."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        logical_id, attribute = resource["Fn::GetAtt"]
        return logical_id if attribute in ("Arn", "StreamArn") else f"{logical_id}.{attribute}"
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), list):
        # A SAM policy template's ARN: arn:...:${queueName} with queueName = !GetAtt Queue.QueueName (or !Ref Table).
        text, variables = resource["Fn::Sub"]
        named = re.fullmatch(
            r"arn:\$\{AWS::Partition\}:(?:sqs|dynamodb):\$\{AWS::Region\}:\$\{AWS::AccountId\}:(?:table/)?\$\{(\w+)\}(/index/[\w.-]+)?",
            text,
        )
        value = variables.get(named.group(1)) if named else None
        if isinstance(value, dict) and ("Fn::GetAtt" in value or "Ref" in value):
            return (value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value["Ref"]) + (named.group(2) or "")
    if isinstance(resource, dict) and resource.get("Ref") in TEMPLATE["Parameters"]:
        # A key ARN given as a parameter (a customer-managed KMS key): ``kms-key:<Parameter>``.
        assert TEMPLATE["Parameters"][resource["Ref"]]["AllowedPattern"].startswith("^$|^arn:aws[a-z-]*:kms:"), resource
        return f"kms-key:{resource['Ref']}"
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        text = resource["Fn::Sub"]
        arn = re.fullmatch(r"\$\{(\w+)\.Arn\}(/index/[\w.-]+)?", text)
        if arn:
            return arn.group(1) + (arn.group(2) or "")
        parameter = re.fullmatch(r"arn:\$\{AWS::Partition\}:ssm:\$\{AWS::Region\}:\$\{AWS::AccountId\}:parameter\$\{(\w+)\}", text)
        if parameter:
            return f"parameter:{parameter.group(1)}"
        secrets = re.fullmatch(SECRETS_PREFIX_ARN, text)
        if secrets:
            return f"secrets:{secrets.group(1)}"
    raise AssertionError(f"IAM resource of unknown shape: {resource!r}")


# The one wildcard allowed: the partners' credential secrets, one per partner, created at onboarding (no deploy), so
# named by a prefix parameter whose pattern ends with "/" (so the prefix cannot run into another name).
SECRETS_PREFIX_ARN = r"arn:\$\{AWS::Partition\}:secretsmanager:\$\{AWS::Region\}:\$\{AWS::AccountId\}:secret:\$\{(\w+)\}\*"


def grants(function: str) -> dict[str, set[str]]:
    """Actions per resource (logical id) the function's policies allow."""
    allowed: dict[str, set[str]] = {}
    for statement in policy_statements(function):
        for resource in as_list(statement["Resource"]):
            allowed.setdefault(resource_logical_id(resource), set()).update(as_list(statement["Action"]))
    return allowed


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_no_statement_has_a_wildcard_resource_or_action(function):
    statements = list(policy_statements(function))
    for statement in statements:
        assert statement.get("Effect") == "Allow", statement
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        for resource in as_list(statement["Resource"]):
            assert resource != "*", f"{function}: Resource '*'"
            if resource_logical_id(resource).startswith("secrets:"):  # a named resource of this template, or the secrets prefix
                prefix = TEMPLATE["Parameters"][resource_logical_id(resource).removeprefix("secrets:")]
                assert prefix["AllowedPattern"].endswith("/$") and prefix["Default"].endswith("/"), prefix
                assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"], statement
                continue
            assert "*" not in json.dumps(resource), f"{function}: wildcard in {resource}"
        for action in as_list(statement["Action"]):
            assert isinstance(action, str) and "*" not in action and "?" not in action, f"{function}: action wildcard {action}"
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action), action


def template_env(function: str) -> dict[str, Any]:
    globals_env = TEMPLATE.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = FUNCTIONS[function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**globals_env, **own}


def settings_variables(function: str) -> set[str]:
    """The variables the function's settings read (its handler's ``Settings``, fibre_cafe/settings.py)."""
    from testing.functions import import_handler

    settings = import_handler(function).Settings
    return {field.alias or name for name, field in settings.model_fields.items()}


def used_resources(function: str) -> set[str]:
    """Tables and queues the function's code uses: those whose environment variable is one of its settings (the
    handlers build their clients from these), and the queues and streams of its event sources."""
    read = settings_variables(function)
    used = set()
    for variable, value in template_env(function).items():
        if isinstance(value, dict) and value.get("Ref") in {**TABLES, **QUEUES} and variable in read:
            used.add(value["Ref"])
        if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][0] in TABLES and variable in read:
            used.add(value["Fn::GetAtt"][0])  # e.g. a table's StreamArn
    for event in (FUNCTIONS[function]["Properties"].get("Events") or {}).values():
        props = event.get("Properties") or {}
        for key in ("Queue", "Stream"):
            if isinstance(props.get(key), dict) and "Fn::GetAtt" in props[key]:
                used.add(props[key]["Fn::GetAtt"][0])
        # The event source mapping's on-failure destination (Lambda sends to it with the function's role).
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if isinstance(destination, dict) and "Fn::GetAtt" in destination:
            used.add(destination["Fn::GetAtt"][0])
    return used


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_may_touch_only_the_tables_and_queues_its_code_uses(function):
    named = {resource.split("/")[0] for resource in grants(function) if not resource.startswith(("parameter:", "kms-key:", "secrets:"))}
    assert named <= {*TABLES, *QUEUES}, f"{function}: permissions on {sorted(named - {*TABLES, *QUEUES})}"
    assert named <= used_resources(function), f"{function}: permissions on {sorted(named - used_resources(function))} it never uses"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_kms_key_permission_is_decrypt_through_the_partner_configuration_services_only(function):
    for statement in policy_statements(function):
        keys = [resource for resource in as_list(statement["Resource"]) if resource_logical_id(resource).startswith("kms-key:")]
        if keys:
            assert as_list(statement["Action"]) == ["kms:Decrypt"], statement
            via = statement["Condition"]["StringEquals"]["kms:ViaService"]
            for service in as_list(via):
                assert re.fullmatch(r"secretsmanager\.\$\{AWS::Region\}\.amazonaws\.com", service["Fn::Sub"]), service


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_only_the_partner_callers_read_partner_secrets_and_the_registry(function):
    allowed = grants(function)
    reads_secrets = any(resource.startswith("secrets:") for resource in allowed)
    assert reads_secrets == (function in ("SupplierDispatcherFunction", "TenantKciDeliveryFunction"))
    if reads_secrets:
        assert allowed["PartnerRegistryTable"] == {"dynamodb:GetItem"}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_parameter_permission_is_the_functions_own_parameter(function):
    parameters = {resource.removeprefix("parameter:") for resource in grants(function) if resource.startswith("parameter:")}
    own = {
        value["Ref"] for value in template_env(function).values() if isinstance(value, dict) and value.get("Ref") in TEMPLATE["Parameters"]
    }
    assert parameters <= own
    for parameter in parameters:
        assert grants(function)[f"parameter:{parameter}"] == {"ssm:GetParameter"}


def test_the_tenant_api_cannot_touch_kcis_or_tenant_updates():
    allowed = grants("TenantApiFunction")
    assert set(allowed) == {"CancellationsTable", "OrdersTable", "SupplierRequestsQueue", "PartnerRegistryTable"}
    assert allowed["PartnerRegistryTable"] == {"dynamodb:GetItem"}
    assert allowed["SupplierRequestsQueue"] == {"sqs:SendMessage"}
    assert all(action.startswith("dynamodb:") for table in ("CancellationsTable", "OrdersTable") for action in allowed[table])
    assert not {action for actions in allowed.values() for action in actions} & {
        "dynamodb:DeleteItem",
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteTable",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
    }


def test_the_supplier_updates_api_only_reads_the_registry_claims_kci_ids_and_queues_kcis():
    allowed = grants("SupplierUpdatesApiFunction")
    assert set(allowed) == {"OrdersTable", "CancellationsTable", "KciQueue", "PartnerRegistryTable"}
    # PutItem: the conditional KCI-id claim only (fibre_cafe/dal/kci_ids.py); no update, no delete.
    assert allowed["OrdersTable"] <= {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem"}
    assert allowed["CancellationsTable"] <= {"dynamodb:GetItem", "dynamodb:BatchGetItem"}, "it may not write cancellations"
    assert allowed["PartnerRegistryTable"] == {"dynamodb:GetItem"}
    assert allowed["KciQueue"] == {"sqs:SendMessage"}


def test_sam_adds_no_managed_policies_but_the_known_ones():
    """Beside ``Policies``, SAM gives each function AWSLambdaBasicExecutionRole (CloudWatch Logs) and, per pull event
    source, that source's AWS managed execution role (AWSLambdaSQSQueueExecutionRole, AWSLambdaDynamoDBExecutionRole:
    Resource "*"). Tightening those needs explicit roles (README, "Security and onboarding"). Recorded here so a new
    kind of event source, with its own implicit grants, does not slip in, and the API functions get none."""
    for function, res in FUNCTIONS.items():
        kinds = {event["Type"] for event in (res["Properties"].get("Events") or {}).values()}
        assert kinds <= {"Api", "SQS", "DynamoDB", "ScheduleV2"}, f"{function}: event source {kinds} - check what SAM grants it"
        assert "Role" not in res["Properties"], f"{function}: an explicit role is outside these checks - extend them"
    for function in {function for function, _, _ in api_events()}:
        assert {event["Type"] for event in FUNCTIONS[function]["Properties"]["Events"].values()} == {"Api"}


def test_embedded_policy_templates_match_sam_translator():
    """Against aws-sam-translator's own definitions: importable, or in the SAM CLI that ``make`` installs in .tools/sam."""
    try:
        import samtranslator

        candidates = [Path(samtranslator.__file__).parent]
    except ImportError:
        candidates = sorted(ROOT.glob(".tools/sam/lib/python3*/site-packages/samtranslator"))
    paths = [path / "policy_templates_data" / "policy_templates.json" for path in candidates]
    paths = [path for path in paths if path.is_file()]
    if not paths:
        pytest.skip("aws-sam-translator is not installed (make installs it with SAM CLI in .tools/sam)")
    published = json.loads(paths[0].read_text(encoding="utf-8"))["Templates"]
    for name, definition in SAM_POLICY_TEMPLATES.items():
        assert published[name]["Definition"] == definition, name


# ---------------------------------------------------------------------------------------------- encryption and recovery


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_is_encrypted_and_has_point_in_time_recovery(table):
    props = TABLES[table]["Properties"]
    assert props.get("SSESpecification", {}).get("SSEEnabled") is True
    assert props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True
    assert props.get("DeletionProtectionEnabled") in (None, True)


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_every_queue_is_encrypted(queue):
    props = QUEUES[queue]["Properties"]
    assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), queue
    assert not (props.get("SqsManagedSseEnabled") is False and not props.get("KmsMasterKeyId"))


def test_every_topic_is_encrypted():
    for topic, res in resources_of_type(TEMPLATE, "AWS::SNS::Topic").items():
        assert res["Properties"].get("KmsMasterKeyId"), topic


def test_the_template_file_is_the_one_the_tests_read():
    assert Path(ROOT / "template.yaml").is_file()
