"""The README's `sam local invoke` lines, copied from it as they are, work against a local stack on the project's
Docker network (moto on 10.213.213.1:4566, as events/env.json says) and give the answer events/README.md promises."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- sam-local-invoke -->\s*```bash\n(.*?)```\s*<!-- /sam-local-invoke -->", text, re.S)
    assert match, "README.md lost its <!-- sam-local-invoke --> block"
    return match.group(1)


def test_the_block_is_the_one_users_read():
    block = readme_block()
    assert "sam local invoke TenantApiFunction" in block and "--env-vars events/env.json" in block
    assert "--docker-network fibre-cafe-lambda" in block and "fibre-cafe/lambda-python3.12:current" in block


def test_the_readme_lines_work_as_written(docker_env):
    from local_stack.stack import LocalStack

    with LocalStack(port=0, moto_port=4566, run_pollers=False, run_schedules=False, host=docker_env.gateway) as stack:
        assert stack.moto_url == json.loads((ROOT / "events" / "env.json").read_text())["TenantApiFunction"]["AWS_ENDPOINT_URL"]
        env = {key: value for key, value in os.environ.items() if key not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block()], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        assert answer["statusCode"] == 201, answer
        body = json.loads(answer["body"])
        assert body["id"] == 1 and body["status"] == "RECEIVED_BY_GATEWAY" and body["orderId"] == 1001
        stored = stack.client("dynamodb").scan(TableName=stack.resources.tables["CancellationsTable"])["Items"]
        assert any(item.get("id", {}).get("N") == "1" for item in stored), "the container wrote to this stack's moto"
