"""dal/dynamodb_codec.py: our DynamoDB attribute codec answers as boto3.dynamodb.types does, for every kind of value."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from fibre_cafe.dal import dynamodb_codec

VALUES = [
    None, True, False, 0, 1, -7, 2**53 - 1, 10**37, Decimal("1.5"), Decimal("-0.000001"), Decimal("1E+100"),
    "", "text", "é ✓", b"\x00\x01", bytearray(b"ab"), [], [1, "a", None, [True]], (1, 2), {}, {"a": {"b": [1, {"c": None}]}},
    {1, 2, 3}, {"x", "y"}, {b"a", b"b"}, frozenset({Decimal("2.5")}),
]
REFUSED = [1.5, float("nan"), Decimal("NaN"), Decimal("Infinity"), 10**40 + 1, Decimal("1E+200"), {1, "a"}, object(), {1.5}]


def _normal(value):
    """Sets come back in any order: compare their members sorted."""
    if isinstance(value, dict):
        return {k: sorted(v, key=repr) if k in ("NS", "SS", "BS") else _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_serialises_as_boto3_does(value):
    assert _normal(dynamodb_codec._serialize(value)) == _normal(TypeSerializer().serialize(value))


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_refuses_what_boto3_refuses(value):
    with pytest.raises(Exception) as ours:
        dynamodb_codec._serialize(value)
    with pytest.raises(Exception) as theirs:
        TypeSerializer().serialize(value)
    assert type(ours.value) is type(theirs.value)


@pytest.mark.parametrize("value", [v for v in VALUES if not isinstance(v, (bytes, bytearray, set, frozenset))], ids=repr)
def test_round_trips_as_boto3_does(value):
    attribute = TypeSerializer().serialize(value)
    assert dynamodb_codec._deserialize(attribute) == TypeDeserializer().deserialize(attribute)


def test_binary_and_sets_come_back_as_plain_values():
    assert dynamodb_codec._deserialize({"B": b"ab"}) == b"ab"
    assert dynamodb_codec._deserialize({"NS": ["1", "2.5"]}) == {Decimal(1), Decimal("2.5")}
    assert dynamodb_codec._deserialize({"SS": ["a"]}) == {"a"}
    assert dynamodb_codec._deserialize({"BS": [b"a"]}) == {b"a"}
    with pytest.raises(TypeError):
        dynamodb_codec._deserialize({})


def test_items_round_trip_to_plain_python():
    values = {"id": 12, "ratio": 0.25, "name": "x", "gone": None, "nested": {"n": 3, "skip": None, "l": [1.5, "a"]}, "flag": False}
    item = dynamodb_codec.to_item(values)
    assert "gone" not in item and item["ratio"] == {"N": "0.25"}
    assert dynamodb_codec.from_item(item) == {"id": 12, "ratio": 0.25, "name": "x", "nested": {"n": 3, "l": [1.5, "a"]}, "flag": False}
    assert dynamodb_codec.to_value(3) == {"N": "3"}
