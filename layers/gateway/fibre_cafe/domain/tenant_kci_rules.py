"""What a tenant is told, and when (Tenant Updates API 1.14). Pure: builds TenantKci values.

| change                                             | tenant KCI                                               |
|----------------------------------------------------|----------------------------------------------------------|
| supplier accepted the cancellation (KCI CANCELLED  | INFORMATIONAL, information.type CANCELLED                |
| or a synchronous 201): cancellation COMPLETED      |                                                          |
| supplier rejected it (KCI CANCELLATION_REJECTED or | ACTION_REQUIRED, information.type RESUBMIT, the          |
| a synchronous 422): cancellation REJECTED          | supplier's reason in ``text``, ``error`` {uuid, code     |
|                                                    | INVALID_REQUEST, messages} (as GET .../{id} shows it)    |
| supplier unreachable: cancellation FAILED_TO_SEND  | ERROR, ``error`` {uuid, code SUPPLIER_TIMED_OUT or        |
|                                                    | SUPPLIER_FAULT (or GATEWAY_FAULT), messages}             |
| any other supplier KCI applied to the order        | INFORMATIONAL, information.type = the supplier's reason  |
| a duplicate KCI, a supplier 202 (PENDING)          | nothing (nothing the tenant must act on changed)         |

Every tenant KCI of an order takes the order's next ``tenantKciSequence`` in the same write as
the change it reports, so sequence numbers are strictly increasing per order and shared by
supplier-originated and gateway-originated KCIs. Its ``id`` is the caller's (``kci_id``): the domain
makes no ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fibre_cafe.clock import iso
from fibre_cafe.models.cancellation import CancellationStatus
from fibre_cafe.models.errors import ErrorBody
from fibre_cafe.models.order import Order
from fibre_cafe.models.tenant_kci import ENTITY_TYPES, Information, TenantKci, UpdateType

if TYPE_CHECKING:  # annotations only: functions that never see a supplier KCI do not build its models
    from fibre_cafe.models.kci import SupplierKci


def tenant_view_of(summary: dict[str, Any], status: CancellationStatus | None = None) -> dict[str, Any]:
    view = {key: value for key, value in summary.items() if key != "conversationId"}
    if status is not None:
        view["status"] = status.value
    return view


def order_entity(order: Order, cancellation: dict[str, Any] | None) -> dict[str, Any]:
    """The latest order as the tenant sees it, with the cancellation in question."""
    entity = dict(order.entity or {})
    entity.pop("tenant", None)
    entity.update(id=order.id, status=order.status, supplier=order.supplier)
    if order.supplierOrderReference:
        entity.setdefault("supplierOrderReference", order.supplierOrderReference)
    if cancellation is not None:
        entity["serviceOrderCancellation"] = cancellation
    return entity


def _kci(order: Order, sequence: int, kci_id: str, update_type: UpdateType, information: Information | None,
         cancellation: dict[str, Any] | None, **extra: Any) -> TenantKci:
    return TenantKci(
        id=kci_id,
        supplier=order.supplier,
        sequenceNumber=sequence,
        updateType=update_type,
        entityType=ENTITY_TYPES[order.orderType],
        entity=order_entity(order, cancellation),
        information=information,
        **extra,
    )


def for_cancellation_outcome(order: Order, sequence: int, kci_id: str, summary: dict[str, Any], status: CancellationStatus,
                             error: ErrorBody | None, supplier_kci: SupplierKci | None = None,
                             received_on: str | None = None) -> TenantKci | None:
    """The tenant KCI for a cancellation reaching COMPLETED, REJECTED or FAILED_TO_SEND (None otherwise)."""
    view = tenant_view_of(summary, status)
    stamps: dict[str, Any] = {}
    if supplier_kci is not None:
        stamps = {"issuedOn": iso(supplier_kci.issuedOn), "receivedOn": received_on}
    if status is CancellationStatus.COMPLETED:
        return _kci(order, sequence, kci_id, UpdateType.INFORMATIONAL, Information(type="CANCELLED"), view, **stamps)
    if status is CancellationStatus.REJECTED:
        reason = "; ".join(error.messages) if error else "The supplier rejected the cancellation"
        return _kci(order, sequence, kci_id, UpdateType.ACTION_REQUIRED, Information(type="RESUBMIT", text=reason), view, text=reason,
                    error=error, **stamps)
    if status is CancellationStatus.FAILED_TO_SEND:
        return _kci(order, sequence, kci_id, UpdateType.ERROR, Information(type="FAILED_TO_SEND"), view, error=error, **stamps)
    return None


def cancellation_in_question(order: Order, kci: SupplierKci) -> dict[str, Any] | None:
    """The summary of the cancellation a supplier KCI is about: the order's last one, if it is still open or the
    KCI names it (e.g. a CANCELLED KCI for a cancellation the supplier's 201 already completed)."""
    last = order.lastCancellation
    if not last:
        return None
    named = kci.serviceOrderCancellationId is not None and kci.serviceOrderCancellationId == last.get("id")
    if order.openCancellationId is not None or named:
        return last
    return None


def for_supplier_kci(order: Order, sequence: int, kci_id: str, kci: SupplierKci, received_on: str) -> TenantKci:
    """Relay of a supplier KCI that did not decide a cancellation: INFORMATIONAL with the supplier's reason."""
    information = Information(type=kci.reasonCode.value, text=kci.text)
    summary = cancellation_in_question(order, kci)
    cancellation = tenant_view_of(summary) if summary else None
    return _kci(order, sequence, kci_id, UpdateType.INFORMATIONAL, information, cancellation,
                issuedOn=iso(kci.issuedOn), receivedOn=received_on, text=kci.text)
