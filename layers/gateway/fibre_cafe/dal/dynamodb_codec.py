"""Plain Python values <-> DynamoDB attribute values (numbers come back as int, never Decimal)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def _dynamo_ready(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_ready(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_dynamo_ready(v) for v in value]
    return value


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Serialise a dict to a DynamoDB item; ``None`` values are left out (absent, not NULL)."""
    return {k: _serializer.serialize(_dynamo_ready(v)) for k, v in values.items() if v is not None}


def to_value(value: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = _serializer.serialize(_dynamo_ready(value))
    return serialized


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}
