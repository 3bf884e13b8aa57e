"""`make deploy` as the README writes it, through SAM CLI up to its first AWS call, which a local endpoint answers.

The exact recipe of `make deploy` runs (``make -o build``: the build step is not repeated; the template SAM is given
is a copy of template.yaml in a scratch BUILD_DIR, so nothing in the repository changes). AWS is never reached:
fake credentials, ``AWS_ENDPOINT_URL`` at a closed 127.0.0.1 port (or at a moto server for the guided run, which
must get past its first AWS call to save its answers). ``SAM_DEBUG=true`` makes SAM CLI log the configuration file
it read and the parameters it parsed, without changing the command line.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import socket
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from local_stack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
README = (ROOT / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(not SAM.exists() or shutil.which("make") is None,
                                reason="needs make and SAM CLI in .tools/sam (make sam-venv installs it)")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket goes: connections are refused


def readme_parameters() -> dict[str, str]:
    """The README's table of deploy parameters (between the deploy-parameters markers): name -> value."""
    block = README.split("<!-- deploy-parameters:", 1)[1].split("<!-- /deploy-parameters -->", 1)[0]
    values = {}
    for row in re.findall(r"^\| `(\w+)` \| ([^|]+) \|", block, flags=re.M):
        name, value = row
        value = value.strip()
        values[name] = "" if value == "(empty)" else value.strip("`")
    return values


def aws_env(endpoint: str, home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SAM_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
               AWS_ENDPOINT_URL=endpoint, AWS_EC2_METADATA_DISABLED="true", SAM_CLI_TELEMETRY="0", SAM_DEBUG="true",
               HOME=str(home), AWS_CONFIG_FILE=str(home / "none"), AWS_SHARED_CREDENTIALS_FILE=str(home / "none"))
    return env


def run_make_deploy(tmp_path: Path, endpoint: str, *extra: str, stdin: str = "") -> subprocess.CompletedProcess:
    build_dir = tmp_path / "build"
    build_dir.mkdir(exist_ok=True)
    shutil.copy(ROOT / "template.yaml", build_dir / "template.yaml")
    return subprocess.run(["make", "--no-print-directory", "-o", "build", "deploy", f"BUILD_DIR={build_dir}", *extra],
                          cwd=ROOT, env=aws_env(endpoint, tmp_path), input=stdin, capture_output=True, text=True, timeout=240)


def parsed_parameters(output: str) -> dict[str, str]:
    match = re.search(r"Converted \d+ parameters: (\{.*\})", output)
    assert match, output[-3000:]
    return ast.literal_eval(match.group(1))


def test_make_deploy_reads_the_root_samconfig_and_passes_every_parameter_with_the_readmes_value(tmp_path):
    result = run_make_deploy(tmp_path, f"http://127.0.0.1:{closed_port()}")
    output = result.stdout + result.stderr
    assert "Missing option" not in output
    assert f"Config file location: {ROOT / 'samconfig.toml'}" in output
    assert "--stack_name=fibre-cafe-cancellations-dev" in output
    parameters = parsed_parameters(output)
    documented = readme_parameters()
    assert parameters == documented
    # Every template parameter is saved, so a guided run offers the saved value, not the template's default.
    assert set(parameters) == set(load_template()["Parameters"])
    # It stopped at its first AWS call, on the refusing endpoint (the managed S3 bucket's stack lookup).
    assert "Could not connect to the endpoint URL" in output
    assert result.returncode != 0


def saved_deploy_settings(path: Path) -> dict:
    """What `sam deploy` reads from a samconfig.toml: its deploy section over its global section."""
    config = tomllib.loads(path.read_text(encoding="utf-8"))["default"]
    return {**config.get("global", {}).get("parameters", {}), **config["deploy"]["parameters"]}


def test_samconfig_toml_is_what_the_readme_says(tmp_path):
    config = saved_deploy_settings(ROOT / "samconfig.toml")
    assert config["stack_name"] == "fibre-cafe-cancellations-dev"
    assert config["region"] == "eu-west-2"
    assert "fibre-cafe-cancellations-dev" in README.split("## Deploying to AWS", 1)[1]


def test_guided_deploy_offers_the_saved_values_and_writes_them_back_to_the_root_samconfig(tmp_path):
    """GUIDED=1 against a moto server: Enter at every prompt keeps every saved value and saves to the given file."""
    from moto.server import ThreadedMotoServer

    samconfig = tmp_path / "samconfig.toml"
    shutil.copy(ROOT / "samconfig.toml", samconfig)
    original = saved_deploy_settings(samconfig)
    samconfig.write_text(samconfig.read_text(encoding="utf-8").replace('AlarmEmail=\\"\\"', 'AlarmEmail=\\"ops@example.com\\"'),
                         encoding="utf-8")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # SAM's managed bucket stack, as `sam deploy` creates it in an account the first time (moto's CloudFormation
        # cannot build SAM's own template for it: no bucket policy support).
        import boto3

        boto3.client("cloudformation", endpoint_url=f"http://{host}:{port}", region_name="eu-west-2").create_stack(
            StackName="aws-sam-cli-managed-default", Tags=[{"Key": "ManagedStackSource", "Value": "AwsSamCli"}],
            TemplateBody=yaml.safe_dump({"Resources": {"SamCliSourceBucket": {"Type": "AWS::S3::Bucket"}},
                                         "Outputs": {"SourceBucket": {"Value": {"Ref": "SamCliSourceBucket"}}}}))
        result = run_make_deploy(tmp_path, f"http://{host}:{port}", "GUIDED=1", f"SAMCONFIG={samconfig}", stdin="\n" * 40)
    finally:
        server.stop()
    output = result.stdout + result.stderr
    assert "Missing option" not in output
    # The prompts offer the saved answers (the template's defaults would be "" for AlarmEmail).
    assert "Stack Name [fibre-cafe-cancellations-dev]" in output
    assert "Parameter AlarmEmail [ops@example.com]" in output
    assert "Parameter StageName [dev]" in output
    # The answers went back to the file it was given, every parameter kept.
    saved = saved_deploy_settings(samconfig)
    assert saved["s3_prefix"] == "fibre-cafe-cancellations-dev"  # written by this run (the repository's file has none)
    assert saved["stack_name"] == original["stack_name"]
    assert saved["region"] == original["region"]
    overrides = dict(re.findall(r'(\w+)=\\?"([^"\\]*)\\?"', saved["parameter_overrides"]))
    assert overrides == {**readme_parameters(), "AlarmEmail": "ops@example.com"}


def test_make_smoke_with_a_stack_name_finds_the_outputs_in_samconfigs_region(monkeypatch):
    """`make smoke STACK=...` passes samconfig.toml: the outputs are looked up where `make deploy` deployed."""
    from moto import mock_aws

    from tools import smoke

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--stack-name $(STACK) --config-file $(abspath $(SAMCONFIG))" in makefile
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # not the deploy region
    region = smoke.deploy_region(str(ROOT / "samconfig.toml"))
    assert region == "eu-west-2"
    with mock_aws():
        import boto3

        template = {"Resources": {"T": {"Type": "AWS::SQS::Queue"}},
                    "Outputs": {"ApiUrl": {"Value": "https://x.example/dev"}}}
        boto3.client("cloudformation", region_name="eu-west-2").create_stack(StackName="s1", TemplateBody=yaml.safe_dump(template))
        assert smoke._stack_outputs("s1", region) == {"ApiUrl": "https://x.example/dev"}
