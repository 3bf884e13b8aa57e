"""Test support shared by tests/, local_stack/ and bench/: one place for each way of faking the world.

Modules (one owner per kind of fake; add here, never copy into a conftest):

- ``testing.aws``: moto worlds with the tables and queues of template.yaml (in-process), moto's speed patches.
- ``testing.functions``: a template function's handler with its settings and dependencies, built by the
  product's own factory inside a moto world.
- ``testing.lambda_context``: Powertools' ``LambdaContext`` for handler calls.
- ``testing.events``: API Gateway proxy events, SQS events (from a queue or from bodies), stream records.
- ``testing.stub_servers``: scripted HTTP partners (supplier, tenant) on 127.0.0.1.
- ``testing.recorders``: botocore call recorders; ``testing.faults``: fault injectors (Stubber, error-raising fakes).

Tests import from here, never from a conftest.
"""
