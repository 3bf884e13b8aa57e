"""The Fibre Cafe order-cancellation domain, shared by every function (shipped as a Lambda layer).

Where things live:

- ``models/``  the contract: pydantic models of requests, responses, error bodies, orders, queue messages.
- ``domain/``  pure rules, no I/O: the cancellation state machine and the order rules.
- ``dal/``     DynamoDB and SQS access behind small classes (tables, id allocation, forwarding).
- ``logic/``   the use cases the handlers call (create a cancellation, read one, sweep the outbox).
- ``api/``     HTTP glue shared by API functions: caller identity, error bodies, strict JSON.
"""
