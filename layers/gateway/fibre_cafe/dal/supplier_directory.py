"""The suppliers' Supplier API endpoints: the partner registry in AWS, the settings SUPPLIERS_CONFIG /
SUPPLIERS_CONFIG_FILE in tests (partner_directory.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fibre_cafe.dal.partner_directory import PartnerDirectory, PartnerEndpoints, partner_directory

if TYPE_CHECKING:
    from fibre_cafe.dal.aws_clients import DynamoDBClient


class SupplierDirectory(PartnerDirectory):
    def __init__(self, loader: Callable[[], str], ttl_seconds: float = 300.0):
        super().__init__(loader, ttl_seconds)


def supplier_directory(dynamodb: DynamoDBClient, table_name: str | None, secrets_client_factory: Callable[[], Any] | None, *,
                       config: str | None = None, config_file: str | None = None,
                       ttl_seconds: float | None = None) -> PartnerEndpoints:
    """The suppliers: the JSON form when the settings give it (SUPPLIERS_CONFIG(_FILE): tests), else the partner registry.

    The dispatcher passes a Secrets Manager client factory; a function that only reads a supplier's settings
    (e.g. its kciHoldWindowSeconds) passes None and needs only dynamodb:GetItem on the registry table."""
    return partner_directory("supplier", dynamodb, table_name, secrets_client_factory, config=config, config_file=config_file,
                             ttl_seconds=ttl_seconds)
