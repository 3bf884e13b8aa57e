"""Business metrics as CloudWatch embedded-metric-format log lines (Powertools), one helper for every function.

Metrics (namespace POWERTOOLS_METRICS_NAMESPACE, default FibreCafe; dimension in brackets):

- CancellationsAccepted [reasonCode], RequestsRefused [code], GatewayFaults [code]
- SupplierOutcomes [outcome: COMPLETED, PENDING, REJECTED, FAILED_TO_SEND, ALREADY_ANSWERED, RETRY]
- KcisApplied, KcisIgnored (duplicates), KcisFailed, KcisDeadLettered (failed on their last receive)
- KcisHeld (arrived ahead of a gap), KcisStale (arrived after their place), KciSequenceGaps (applied past a gap),
  KcisRefused (held, then could not apply), KciContradictions, SupplierAnswerContradictions (never applied)
- TenantKcisReRelayed (outbox sweeper)
- TenantKcis [result: DELIVERED, FAILED, ALREADY_DONE, RETRY]
"""

from __future__ import annotations

import os

from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "FibreCafe")


def count(name: str, **dimension: str) -> None:
    """Emit ``name`` = 1, with at most one dimension (e.g. ``count("SupplierOutcomes", outcome="COMPLETED")``)."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        for key, value in dimension.items():
            metric.add_dimension(name=key, value=str(value))
