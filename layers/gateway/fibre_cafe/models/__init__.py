"""Pydantic models of the contract (tenant API, orders, queue messages, error bodies)."""
