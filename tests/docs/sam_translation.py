"""template.yaml as CloudFormation receives it: translated by SAM's own translator (aws-sam-translator in .tools/sam).

The translator runs in SAM CLI's venv (it pins its own dependencies), in a subprocess, once per test session.
Managed policy ARNs are resolved without IAM (``arn:<partition>:iam::aws:policy/<name>``).
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"

_SCRIPT = r"""
import json, sys
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

class NoIam:
    # transform() looks managed policy names up through this; ours are full ARNs or SAM's known ones.
    def load(self):
        from samtranslator.translator.arn_generator import ArnGenerator
        names = ["AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole", "AWSLambdaDynamoDBExecutionRole",
                 "AWSXrayWriteOnlyAccess", "AmazonAPIGatewayPushToCloudWatchLogs"]
        return {name: f"arn:aws:iam::aws:policy/service-role/{name}" for name in names}

with open(sys.argv[1], encoding="utf-8") as handle:
    template = yaml_parse(handle.read())
# As `sam package` leaves it: local code directories become S3 objects.
for resource in template["Resources"].values():
    for key in ("CodeUri", "ContentUri"):
        value = resource.get("Properties", {}).get(key)
        if isinstance(value, str) and not value.startswith("s3://"):
            resource["Properties"][key] = "s3://package-bucket/" + value.strip("/")
print(json.dumps(transform(template, json.loads(sys.argv[2]), NoIam())))
"""


@cache
def translated(parameters: str = "{}") -> dict:
    if not SAM_PYTHON.exists():
        pytest.skip("SAM CLI's venv (.tools/sam) is not installed: make sam-venv")
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-2", "AWS_DEFAULT_REGION": "eu-west-2",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}
    result = subprocess.run([str(SAM_PYTHON), "-c", _SCRIPT, str(ROOT / "template.yaml"), parameters],
                            capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def translated_resources(**parameters: str) -> dict[str, dict]:
    return translated(json.dumps(parameters, sort_keys=True))["Resources"]
