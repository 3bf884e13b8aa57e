"""The local stack serves the generated OpenAPI document and a Swagger UI page for it (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from local_stack.stack import LocalStack

pytestmark = pytest.mark.http


def test_openapi_document_and_swagger_ui_are_served():
    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False) as stack:
        document = requests.get(f"{stack.base_url}/openapi.json", timeout=10)
        assert document.status_code == 200 and document.headers["Content-Type"] == "application/json"
        assert document.json() == json.loads(Path("docs/openapi.json").read_text())
        page = requests.get(f"{stack.base_url}/docs", timeout=10)
        assert page.status_code == 200 and "SwaggerUIBundle" in page.text and "/openapi.json" in page.text
        for asset, kind in (("swagger-ui-bundle.min.js", "application/javascript"), ("swagger-ui.min.css", "text/css")):
            answer = requests.get(f"{stack.base_url}/docs/{asset}", timeout=10)
            assert answer.status_code == 200 and answer.headers["Content-Type"] == kind and len(answer.content) > 10_000
        assert requests.post(f"{stack.base_url}/openapi.json", timeout=10).status_code == 405
