"""Plain Python values <-> DynamoDB attribute values (numbers come back as int, never Decimal).

Our own codec rather than ``boto3.dynamodb.types``: importing that module imports the whole of boto3 (and
s3transfer, which ``boto3/__init__`` pulls in), which no function otherwise needs (clients come from botocore,
dal/aws_clients.py). It follows the same rules: numbers within DynamoDB's limits (38 significant digits,
exponents -128..126; a number that would lose precision is refused, never rounded), no float (callers hand floats
over as ``Decimal(str(x))``: see ``_dynamo_ready``), no NaN or Infinity, sets of one kind (NS, SS, BS).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# DynamoDB's number type: 38 digits of precision, exponents -128..126; anything that cannot be held exactly raises.
NUMBER_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def _number(value: int | Decimal) -> str:
    text = str(NUMBER_CONTEXT.create_decimal(value))
    if text in ("Infinity", "-Infinity", "NaN", "-NaN", "sNaN", "-sNaN"):
        raise TypeError("Infinity and NaN not supported")
    return text


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _serialize(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    if isinstance(value, (set, frozenset)):
        if all(_is_number(member) for member in value):
            return {"NS": [_number(member) for member in value]}
        if all(isinstance(member, str) for member in value):
            return {"SS": list(value)}
        if all(isinstance(member, (bytes, bytearray)) for member in value):
            return {"BS": [bytes(member) for member in value]}
        raise TypeError(f"Unsupported type {type(value)} for value {value!r}")
    if isinstance(value, (list, tuple)):
        return {"L": [_serialize(member) for member in value]}
    if isinstance(value, Mapping):
        return {"M": {key: _serialize(member) for key, member in value.items()}}
    raise TypeError(f"Unsupported type {type(value)} for value {value!r}")


def _deserialize(attribute: Mapping[str, Any]) -> Any:
    if not attribute or not isinstance(attribute, Mapping):
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind, value = next(iter(attribute.items()))
    if kind == "NULL":
        return None
    if kind in ("BOOL", "S"):
        return value
    if kind == "N":
        return NUMBER_CONTEXT.create_decimal(value)
    if kind == "B":
        return bytes(value)
    if kind == "NS":
        return {NUMBER_CONTEXT.create_decimal(member) for member in value}
    if kind == "SS":
        return set(value)
    if kind == "BS":
        return {bytes(member) for member in value}
    if kind == "L":
        return [_deserialize(member) for member in value]
    if kind == "M":
        return {key: _deserialize(member) for key, member in value.items()}
    raise TypeError(f"Dynamodb type {kind} is not supported")


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
    return {k: _serialize(_dynamo_ready(v)) for k, v in values.items() if v is not None}


def to_value(value: Any) -> dict[str, Any]:
    return _serialize(_dynamo_ready(value))


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserialize(v)) for k, v in item.items()}
