"""Fake AWS credentials for every suite, and the shared fixtures of testing/ (nothing imports a conftest)."""

from __future__ import annotations

from testing.aws import use_fake_aws

# Nothing may reach real AWS: fake credentials and a region (no profile, no endpoint override) before anything
# creates a client.
use_fake_aws(POWERTOOLS_SERVICE_NAME="service-order-cancellations", POWERTOOLS_METRICS_NAMESPACE="FibreCafe",
             POWERTOOLS_LOG_LEVEL="WARNING")

# The shared fixtures (moto worlds from template.yaml, scripted partners, the lifecycle harness): testing/.
pytest_plugins = ["testing.pytest_plugin"]
