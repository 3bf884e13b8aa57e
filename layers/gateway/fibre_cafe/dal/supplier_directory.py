"""The suppliers' Supplier API endpoints: the partner registry in AWS, SUPPLIERS_CONFIG / SUPPLIERS_CONFIG_FILE in tests (partner_directory.py)."""

from __future__ import annotations

from typing import Any, Callable

from fibre_cafe.dal.partner_directory import PartnerDirectory, environment_loader, partner_directory


class SupplierDirectory(PartnerDirectory):
    def __init__(self, loader: Callable[[], str] | None = None, ttl_seconds: float = 300.0):
        super().__init__(loader or environment_loader("SUPPLIERS"), ttl_seconds)


def supplier_directory(dynamodb, table_name: str | None, secrets_client_factory):
    """The suppliers: SUPPLIERS_CONFIG(_FILE) when set (tests), else the partner registry.

    The dispatcher passes a Secrets Manager client factory; a function that only reads a supplier's settings
    (e.g. its kciHoldWindowSeconds) passes None and needs only dynamodb:GetItem on the registry table."""
    return partner_directory("SUPPLIERS", "supplier", dynamodb, table_name, secrets_client_factory)
