"""local_stack/containers.py without Docker: a failing setup is an error that says why (never a skip), a function
error in a container raises as a handler's exception would, and the one seam in functions.load_functions."""

from __future__ import annotations

import io

import pytest

from local_stack import containers
from local_stack.template import function_spec


def test_a_docker_setup_that_fails_raises_with_the_failing_step(tmp_path, monkeypatch):
    script = tmp_path / "setup.sh"
    script.write_text('echo "docker setup: FAILED: dockerd did not answer within 60 s" >&2; exit 1\n')
    monkeypatch.setattr(containers, "SETUP_SCRIPT", script)
    with pytest.raises(containers.DockerUnavailable, match="dockerd did not answer"):
        containers.docker_setup(stream=io.StringIO())


def test_the_setup_answer_names_image_network_and_gateway(tmp_path, monkeypatch):
    script = tmp_path / "setup.sh"
    script.write_text('echo "docker setup: image present" >&2; echo "IMAGE=repo:abc NETWORK=net GATEWAY=10.213.213.1"\n')
    monkeypatch.setattr(containers, "SETUP_SCRIPT", script)
    log = io.StringIO()
    assert containers.docker_setup(stream=log) == containers.DockerEnv("repo:abc", "net", "10.213.213.1")
    assert "image present" in log.getvalue()


class FakeRunner:
    def __init__(self, answers):
        self.answers = list(answers)
        self.events = []

    def invoke(self, logical_id, event):
        self.events.append((logical_id, event))
        return self.answers.pop(0)


def test_a_container_function_answers_or_raises_the_functions_error():
    runner = FakeRunner([({"statusCode": 200}, None), ({"errorType": "KeyError", "errorMessage": "'Records'"}, "Unhandled")])
    function = containers.ContainerFunction(function_spec("TenantApiFunction"), runner)
    assert function.invoke({"a": 1}) == {"statusCode": 200}
    with pytest.raises(containers.FunctionError) as raised:
        function.invoke({"b": 2})
    assert raised.value.error_type == "KeyError" and "'Records'" in str(raised.value)
    assert (function.invocations, function.errors) == (2, 1)
    assert function.wait_idle(0.1)


def test_load_functions_hands_every_environment_to_the_container_runtime():
    from local_stack.functions import load_functions
    from local_stack.template import LocalResources

    class Runtime:
        def functions(self, envs):
            self.envs = envs
            return {name: "container" for name in envs}

    runtime = Runtime()
    queues = ["SupplierRequestsQueue", "KciQueue", "TenantUpdatesQueue", "SupplierRequestsDeadLetterQueue", "KciDeadLetterQueue",
              "TenantUpdatesDeadLetterQueue"]
    resources = LocalResources(
        prefix="local",
        tables={"CancellationsTable": "t1", "OrdersTable": "t2"},
        queue_urls={name: f"http://q/{name}" for name in queues},
        queue_arns={name: f"arn:{name}" for name in queues},
        stream_arns={"OrdersTable": "arn:stream"},
    )
    loaded = load_functions(["ForwardingSweeperFunction"], resources, "eu-west-2", set_env=lambda env: pytest.fail("nothing imported"),
                            containers=runtime)
    assert loaded == {"ForwardingSweeperFunction": "container"}
    assert runtime.envs["ForwardingSweeperFunction"]["CANCELLATIONS_TABLE_NAME"] == "t1"
