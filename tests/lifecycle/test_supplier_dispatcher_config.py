"""A supplier with no Supplier API configured: the cancellation says so at once instead of hanging on a lease."""

from __future__ import annotations

import boto3

from fibre_cafe.dal.cancellations_table import CancellationsTable
from fibre_cafe.dal.gateway_store import GatewayStore
from fibre_cafe.dal.id_allocator import BlockIdAllocator
from fibre_cafe.dal.orders_table import OrdersTable
from fibre_cafe.dal.supplier_api import SupplierApi
from fibre_cafe.dal.supplier_directory import SupplierDirectory
from fibre_cafe.dal.supplier_requests_queue import SupplierRequestsQueue
from fibre_cafe.logic.create_cancellation import CreateCancellation, RequestContext
from fibre_cafe.logic.dispatch_cancellation import DispatchCancellation, DispatchResult
from fibre_cafe.models.cancellation import CancellationStatus, ServiceOrderCancellationRequest
from fibre_cafe.models.order import Order, OrderType


def test_unconfigured_supplier_fails_to_send_at_once_with_a_gateway_fault(aws):
    dynamodb = boto3.client("dynamodb")
    cancellations = CancellationsTable(dynamodb, aws.tables["CancellationsTable"])
    orders = OrdersTable(dynamodb, aws.tables["OrdersTable"])
    store = GatewayStore(dynamodb, cancellations, orders)
    orders.create(Order(id=7, tenant="TENANT1", supplier="NOBODY", orderType=OrderType.PROVIDE, status="ACKNOWLEDGED",
                        supplierStatus="ACKNOWLEDGED", lastSequenceNumber=1, version=1))
    create = CreateCancellation(store, BlockIdAllocator(dynamodb, cancellations.name),
                                SupplierRequestsQueue(boto3.client("sqs"), aws.queue_urls["SupplierRequestsQueue"]))
    answer = create(ServiceOrderCancellationRequest(orderId=7, reasonCode="OTHER"), RequestContext("TENANT1", "r-1", "c-1", {}))
    record = cancellations.get(answer.cancellationId)
    dispatch = DispatchCancellation(store, SupplierApi(SupplierDirectory(loader=lambda: "{}")))

    assert dispatch(record.supplier_request_message()) is DispatchResult.FAILED_TO_SEND
    stored = cancellations.get(record.id)
    assert stored.status is CancellationStatus.FAILED_TO_SEND
    assert stored.error.code.value == "GATEWAY_FAULT" and "NOBODY" in stored.error.messages[0]
    assert stored.dispatchLeaseUntil is None
