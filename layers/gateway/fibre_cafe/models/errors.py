"""The contract's error body: ``{"uuid", "code", "messages"}`` for every 4xx/5xx that has a body.

Only a value: the exceptions are domain/errors.py's and dal/errors.py's, and api/http.py decides which body
answers which of them. A new body's uuid comes from fibre_cafe/ids.py (the one maker of ids).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from fibre_cafe.ids import new_id


class ErrorCode(StrEnum):
    GATEWAY_FAULT = "GATEWAY_FAULT"
    INVALID_REQUEST = "INVALID_REQUEST"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    NOT_AUTHORISED = "NOT_AUTHORISED"
    NOT_FOUND = "NOT_FOUND"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    SUPPLIER_FAULT = "SUPPLIER_FAULT"
    SUPPLIER_TIMED_OUT = "SUPPLIER_TIMED_OUT"
    TENANT_FAULT = "TENANT_FAULT"


class ErrorBody(BaseModel):
    uuid: str = Field(
        description="Unique identifier of this error - for tracing purposes", examples=["87432dfb-2e47-4532-a1b7-4b113d48867d"]
    )
    code: ErrorCode = Field(description="Fibre Cafe error codes")
    messages: list[str] = Field(
        description="Message describing the error", examples=[["e.g. Invalid value for field x - accepted values are y"]]
    )

    @classmethod
    def new(cls, code: ErrorCode, messages: list[str]) -> ErrorBody:
        """A body with a fresh uuid (logic/ and api/; the domain is given its ids)."""
        return cls(uuid=new_id(), code=code, messages=messages)
