"""Use cases the handlers call, one module each (the handler named in brackets calls it).

Tenant side:
- ``create_cancellation``: accept a tenant's request: check, store, answer 201, forward (TenantApi, POST).
- ``idempotency``: a replayed request (same tenant and X-Request-ID) gets the first answer (used by create).
- ``get_cancellation``: the cancellation as the tenant sees it now (TenantApi, GET).
- ``forwarding_sweeper``: re-send what was stored but never reached the supplier queue (ForwardingSweeper).

Supplier side:
- ``dispatch_cancellation``: call the supplier once per cancellation, record its answer (SupplierDispatcher).
- ``record_outcome``: write a cancellation's new state with its order and the tenant KCI (dispatcher, sweepers).
- ``ingest_kci``: accept a supplier's KCI at ``POST /kcis``: check, claim its id, queue it (SupplierUpdatesApi).
- ``apply_kci``: apply KCIs in each order's sequence, hold early ones, keep late ones (KciProcessor).

Tenant updates:
- ``relay_tenant_kcis``: carry new tenant KCIs from the orders stream to the FIFO queue (TenantKciRelay).
- ``outbox_sweeper``: re-relay tenant KCIs the stream did not carry (TenantKciOutboxSweeper).
- ``deliver_tenant_kci``: POST one tenant KCI to the tenant's Tenant Updates API (TenantKciDelivery).

Operations:
- ``redrive``: re-send FAILED_TO_SEND cancellations, move dead-lettered messages back (Redrive).
"""
