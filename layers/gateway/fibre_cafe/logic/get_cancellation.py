"""Read a cancellation as the tenant sees it now."""

from __future__ import annotations

from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.domain.errors import NotFound
from fibre_cafe.models.cancellation import ServiceOrderCancellation


def get_cancellation(table: CancellationsTable, tenant: str, cancellation_id: int) -> ServiceOrderCancellation:
    record = table.get(cancellation_id)
    if record is None or record.tenant != tenant:
        # Another tenant's cancellation answers exactly like an unknown one.
        raise NotFound(f"Service order cancellation {cancellation_id} not found")
    return record.tenant_view()
