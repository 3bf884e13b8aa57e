"""What a newcomer meets first: the README's opening and walkthrough, the banner, and the API's answers to
the mistakes people make (issue 13, "newcomer polish"). Against the local stack over HTTP."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from local_stack.seed import DEMO_ORDERS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CANCELLATIONS = "/service-order-cancellations"


def trace() -> dict[str, str]:
    return {"X-Request-ID": f"newcomer-{uuid.uuid4()}", "X-Conversation-ID": "newcomer"}


def test_the_readme_opening_shows_the_api_docs_and_they_are_served(stack, http):
    opening = README.split("\n## ", 1)[0]
    assert "http://127.0.0.1:3000/docs" in opening and "http://127.0.0.1:3000/openapi.json" in opening
    assert "tenantOAuth2" in opening and "supplierOAuth2" in opening
    assert http.get(f"{stack.base_url}/docs", timeout=10).status_code == 200
    document = http.get(f"{stack.base_url}/openapi.json", timeout=10).json()
    assert {"tenantOAuth2", "supplierOAuth2"} <= set(document["components"]["securitySchemes"])


def test_the_readme_demo_table_and_the_banner_say_the_same(stack):
    rows = re.findall(r"^\| (\d+) \| (\w+) \| (\w+) \| (\w+) \| (\w+) \| (.+?) \|$", README, re.M)
    assert [tuple(row) for row in rows] == [(str(o.id), o.order_type, o.tenant, o.supplier, o.status, o.note) for o in DEMO_ORDERS]
    banner = stack.describe()
    for order in DEMO_ORDERS:
        assert f"{order.id} {order.order_type} {order.tenant} {order.supplier} {order.status}: {order.note}" in banner
    assert "README's walkthrough" not in banner.replace('README "Try it"', "")
    walkthrough = next(line for line in banner.splitlines() if line.strip().startswith("walkthrough"))
    assert "4242" in walkthrough and "1003" in walkthrough
    try_it = README.split("## Try it", 1)[1].split("\n## ", 1)[0]
    assert '"id":4242' in try_it and '"orderId":1003' in try_it and '"orderId":1001' not in try_it
    assert f"{stack.base_url}/docs" in banner and f"{stack.base_url}/openapi.json" in banner


def readme_token_lines() -> str:
    block = re.search(r"```bash\n(SUPPLIER_TOKEN=.*?)```", README, re.S)
    assert block is not None, "README has no token lines"
    return block.group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's lines use curl")
def test_the_readme_token_lines_fail_with_the_servers_message(stack):
    lines = readme_token_lines().replace("http://127.0.0.1:3000", stack.base_url)
    good = subprocess.run(["bash", "-c", f'set -e\n{lines}\necho "$SUPPLIER_TOKEN" "$TOKEN"'], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    assert len(good.stdout.split()) == 2 and all(token.count(".") == 2 for token in good.stdout.split())

    wrong = subprocess.run(["bash", "-c", "set -e\n" + lines.replace("client_secret=local-dev-secret", "client_secret=wrong")],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0
    assert "token endpoint: Client authentication failed" in wrong.stderr
    assert "KeyError" not in wrong.stderr and "Traceback" not in wrong.stderr


def test_a_method_a_resource_lacks_is_405_not_implemented(stack, http, tenant1_token):
    answer = http.delete(f"{stack.base_url}{CANCELLATIONS}/1", headers={"Authorization": f"Bearer {tenant1_token}", **trace()}, timeout=10)
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET"
    assert answer.json()["code"] == "NOT_IMPLEMENTED"
    answer = http.get(f"{stack.base_url}/auth/tenant/access-token", timeout=10)
    assert answer.status_code == 405 and answer.json()["code"] == "NOT_IMPLEMENTED"


@pytest.mark.parametrize("path_id", ["1.0", "01", "+1", "1e0", "%201", "0x1"])
def test_a_path_id_must_be_canonical_decimal_digits(stack, http, tenant1_token, path_id):
    created = http.post(f"{stack.base_url}{CANCELLATIONS}", json={"orderId": 1001, "reasonCode": "OTHER"},
                        headers={"Authorization": f"Bearer {tenant1_token}", **trace()}, timeout=10)
    assert created.status_code in (201, 422), created.text  # cancellation 1 exists (made now or by an earlier test)
    assert http.get(f"{stack.base_url}{CANCELLATIONS}/1", headers={"Authorization": f"Bearer {tenant1_token}", **trace()},
                    timeout=10).status_code == 200
    answer = http.get(
        f"{stack.base_url}{CANCELLATIONS}/{path_id}", headers={"Authorization": f"Bearer {tenant1_token}", **trace()}, timeout=10
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "MALFORMED_REQUEST" and "path parameter id" in answer.json()["messages"][0]


@pytest.mark.parametrize(("order_id", "expected"), [
    ("999999.00000000000001", "Invalid value for field orderId - accepted values are a JSON integer (no fraction or exponent)"),
    ("1001.0", "Invalid value for field orderId - accepted values are a JSON integer (no fraction or exponent)"),
    ("9" * 5000, "Request body is not valid JSON: a number with 5000 digits is longer than the 100 digits accepted"),
])
def test_integer_fields_take_json_integers_only_with_clean_messages(stack, http, tenant1_token, order_id, expected):
    answer = http.post(f"{stack.base_url}{CANCELLATIONS}", data=f'{{"orderId": {order_id}, "reasonCode": "OTHER"}}',
                       headers={"Authorization": f"Bearer {tenant1_token}", "Content-Type": "application/json", **trace()}, timeout=10)
    assert answer.status_code == 400, answer.text
    [message] = answer.json()["messages"]
    assert message.startswith(expected)
    assert "sys." not in message and "set_int_max_str_digits" not in message and "Exceeds the limit" not in message
