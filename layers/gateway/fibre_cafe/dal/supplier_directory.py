"""The suppliers' Supplier API endpoints: SUPPLIERS_CONFIG / SUPPLIERS_CONFIG_FILE / SUPPLIERS_PARAMETER (see partner_directory.py)."""

from __future__ import annotations

from typing import Callable

from fibre_cafe.dal.partner_directory import PartnerDirectory, PartnerEndpoint, UnknownPartner, environment_loader

SupplierEndpoint = PartnerEndpoint
UnknownSupplier = UnknownPartner


class SupplierDirectory(PartnerDirectory):
    def __init__(self, loader: Callable[[], str] | None = None, ttl_seconds: float = 300.0):
        super().__init__(loader or environment_loader("SUPPLIERS"), ttl_seconds)
