"""What CloudFormation would create, checked where AWS's behaviour would otherwise surprise a deploy (issue 12, items 3-9).

Most assertions read the template after SAM's own translation (tests/docs/sam_translation.py), because the
surprises come from it: the extra ``Stage`` stage, the schedule's default name.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from local_stack.template import load_template
from tests.docs.sam_translation import translated_resources

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()


def of_type(resources: dict, kind: str) -> dict[str, dict]:
    return {name: resource for name, resource in resources.items() if resource["Type"] == kind}


def test_the_api_has_exactly_one_stage_the_configured_one():
    resources = translated_resources()
    stages = of_type(resources, "AWS::ApiGateway::Stage")
    assert [stage["Properties"]["StageName"] for stage in stages.values()] == [{"Ref": "StageName"}]
    # Without an OpenApiVersion, SAM's Deployment also carries StageName "Stage": a second, unthrottled stage.
    for deployment in of_type(resources, "AWS::ApiGateway::Deployment").values():
        assert "StageName" not in deployment["Properties"]
    (stage,) = stages.values()
    assert stage["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] == 100


def test_the_5xx_alarm_watches_that_stage():
    alarm = TEMPLATE["Resources"]["Api5xxAlarm"]["Properties"]
    assert {"Name": "Stage", "Value": {"Ref": "StageName"}} in alarm["Dimensions"]


def test_every_schedule_is_named_after_its_stack():
    schedules = of_type(translated_resources(), "AWS::Scheduler::Schedule")
    assert schedules, "the forwarding sweeper's schedule"
    for schedule in schedules.values():
        name = schedule["Properties"]["Name"]
        assert isinstance(name, dict) and "${AWS::StackName}" in name["Fn::Sub"], name
        # Schedule names: at most 64 characters of [0-9a-zA-Z-_.]; the suffix leaves room for the stack's name.
        assert re.fullmatch(r"\$\{AWS::StackName\}[-\w.]{1,24}", name["Fn::Sub"]), name


STATEFUL = ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Cognito::UserPool", "AWS::KMS::Key")


def test_what_holds_data_or_clients_is_retained_on_deletion_and_replacement():
    resources = translated_resources()
    stateful = {name: resource for name, resource in resources.items() if resource["Type"] in STATEFUL}
    assert {"CancellationsTable", "OrdersTable", "PartnerRegistryTable", "UserPool", "SupplierRequestsQueue", "KciDeadLetterQueue"} <= set(
        stateful
    )
    for name, resource in stateful.items():
        assert resource.get("DeletionPolicy") == "Retain", name
        assert resource.get("UpdateReplacePolicy") == "Retain", name
    assert resources["UserPool"]["Properties"]["DeletionProtection"] == "ACTIVE"
    for name, resource in of_type(resources, "AWS::Logs::LogGroup").items():
        assert resource.get("DeletionPolicy") in ("Retain", "Delete"), name  # an explicit choice (cfn-lint I3011)


def test_the_alarm_topic_key_lets_cloudwatch_publish():
    resources = TEMPLATE["Resources"]
    key_ref = resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    assert key_ref != "alias/aws/sns"  # CloudWatch cannot use the AWS-managed SNS key
    key = resources[key_ref["Ref"]]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"]
    assert len(cloudwatch) == 1
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # The account keeps control of its key (without this statement nobody could administer it).
    assert any(s.get("Principal", {}).get("AWS", {}).get("Fn::Sub", "").endswith(":root") for s in statements)
    for alarm in (r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"):
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def access_log_format() -> dict:
    (stage,) = of_type(translated_resources(), "AWS::ApiGateway::Stage").values()
    setting = stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    return json.loads(setting["Format"])  # one JSON object per request


def test_stage_access_logs_are_json_with_the_request_id_and_the_callers_client_id():
    fields = access_log_format()
    assert fields["requestId"] == "$context.requestId"  # the uuid of API Gateway's own error bodies
    assert fields["clientId"] == "$context.authorizer.claims.client_id"
    assert fields["integrationRequestId"] == "$context.integration.requestId"  # the function's function_request_id
    assert fields["status"] == "$context.status"
    # Nothing secret: no header, token or body variables.
    assert not any(re.search(r"header|authorization|body|requestOverride", value, re.I) for value in fields.values())
    resources = TEMPLATE["Resources"]
    assert resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # API Gateway needs the account's CloudWatch role to write them (created unless the account has one).
    assert resources["ApiGatewayAccount"]["Condition"] == "CreateApiGatewayAccountRole"


def test_the_api_handlers_log_api_gateways_request_id_as_correlation_id():
    for function in ("tenant_api/tenant_api_handler.py", "supplier_updates_api/supplier_updates_api_handler.py"):
        source = (ROOT / "functions" / function).read_text(encoding="utf-8")
        assert "correlation_id_path=correlation_paths.API_GATEWAY_REST" in source, function


def test_the_secrets_prefix_parameter_ends_with_a_slash():
    """The functions may read secrets named <prefix>*: a prefix without its final "/" would also match other names."""
    parameter = TEMPLATE["Parameters"]["PartnerSecretsPrefix"]
    pattern = parameter["AllowedPattern"]
    assert re.fullmatch(pattern, parameter["Default"])
    assert re.fullmatch(pattern, "fibre-cafe/prod/partners/")
    for bad in ("fibre-cafe/partners", "/fibre-cafe/partners/", "", "fibre cafe/", "a//b/", "arn:aws:secretsmanager:x/"):
        assert not re.fullmatch(pattern, bad), bad


def test_kms_key_parameter_accepts_a_key_arn_or_nothing():
    pattern = TEMPLATE["Parameters"]["PartnerSecretsKmsKeyArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, "")
    assert re.fullmatch(pattern, "arn:aws:kms:eu-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    for bad in ("alias/aws/ssm", "arn:aws:kms:eu-west-2:123456789012:alias/mine", "1234abcd"):
        assert not re.fullmatch(pattern, bad), bad


def test_cfn_lint_with_informational_checks_is_clean():
    """`.cfnlintrc` turns the informational checks on for `make lint`; every remaining finding would be listed there."""
    cfn_lint = ROOT / ".venv" / "bin" / "cfn-lint"
    if not cfn_lint.exists():
        pytest.skip("cfn-lint is not installed in .venv")
    config = (ROOT / ".cfnlintrc").read_text(encoding="utf-8")
    assert re.search(r"^include_checks:\n  - I$", config, re.M)
    result = subprocess.run([str(cfn_lint), "--include-checks", "I", "--", "template.yaml"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "eu-west-2"})
    assert result.returncode == 0, result.stdout + result.stderr
