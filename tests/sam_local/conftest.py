"""The sam_local suite: the built artifact (.aws-sam/build) in the offline Lambda runtime image through SAM CLI.

Run by `make test-sam-local` (which `make test` calls once, after the main suite): `pytest tests/sam_local -m sam_local`.
Deselected from the plain pytest runs (pyproject's addopts has `-m "not sam_local"`), so CI's Python 3.12 run does
not repeat it. Docker is set up by the fixtures (tools/lambda_runtime/docker_setup.sh); when the engine cannot be
installed or started, every test here errors with the reason: there is no skip.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the marker must be there already
def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/sam_local/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.sam_local)


@pytest.fixture(scope="session")
def docker_env():
    from local_stack.containers import BUILD_TEMPLATE, docker_setup

    env = docker_setup()  # raises DockerUnavailable with the failing step: the suite fails loudly
    assert BUILD_TEMPLATE.exists(), "run `make build` first (make test-sam-local does)"
    return env
