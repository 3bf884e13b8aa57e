"""Test support shared by tests/, local_stack/ and bench/: one place for each way of faking the world.

Modules (one owner per kind of fake; add here, never copy into a conftest):

- ``testing.aws``: fake credentials, moto worlds with the tables and queues of template.yaml (in-process), moto's
  speed and atomicity patches.
- ``testing.functions``: a template function's handler with its settings and dependencies, built by the
  product's own factory inside a moto world.
- ``testing.lambda_context``: Powertools' ``LambdaContext`` for handler calls (also the local stack's workers').
- ``testing.events``: API Gateway proxy calls, SQS events (from a queue or from bodies), stream records, KCI bodies.
- ``testing.stub_servers``: ``StubServer`` (werkzeug's threaded server) and the scripted partners on 127.0.0.1; the
  local stack's supplier and tenant stubs and its Lambda Invoke API are StubServers too.
- ``testing.recorders``: the botocore call recorder; ``testing.faults``: fault injectors (before-call hooks that
  answer with an AWS error, raise, or answer canned success).
- ``testing.lifecycle``: the in-process lifecycle harnesses (``Lifecycle``, ``TenantWorld``).
- ``testing.pytest_plugin``: the shared fixtures, registered once by tests/conftest.py (``pytest_plugins``).

Tests import from here, never from a conftest.
"""
