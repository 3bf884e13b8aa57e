"""A JSON reader that refuses what ``json.loads`` lets through: duplicate keys, NaN/Infinity, deep nesting,
integers of more than ``MAX_INTEGER_DIGITS`` digits, and strings holding an unpaired surrogate (``"\\ud800"`` is
valid JSON but no character: UTF-8 cannot encode it, so it could be neither stored nor sent on, and would fail
later as the gateway's fault).

Every refusal is a ``json.JSONDecodeError``, which request validation turns into a 400.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
# A JSON integer longer than this is refused with a clear message (Python's own limit, 4300 digits, would
# answer with its internals). Integer fields then check their range (at most 2^53 - 1: 16 digits).
MAX_INTEGER_DIGITS = 100
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refused(reason: str) -> json.JSONDecodeError:
    """A refusal, raised from inside ``json.loads`` (its hooks), as the JSONDecodeError json.loads itself raises."""
    return json.JSONDecodeError(reason, "", 0)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _refused(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise _refused(f"{name} is not a JSON number")


def _integer(digits: str) -> int:
    length = len(digits.lstrip("-"))
    if length > MAX_INTEGER_DIGITS:
        raise _refused(f"a number with {length} digits is longer than the {MAX_INTEGER_DIGITS} digits accepted")
    return int(digits)


def _depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _holds_surrogate(value: Any) -> bool:
    """Any string (key or value) with a surrogate code point. json.loads joins a valid escaped pair into one
    character, so a surrogate left in the result is a lone one."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def loads(text: str | bytes) -> Any:
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError("body is not valid UTF-8", "", exc.start) from exc
    if _depth(text) > MAX_DEPTH:
        raise json.JSONDecodeError(f"nesting deeper than {MAX_DEPTH} levels", text, 0)
    value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants, parse_int=_integer)
    if _holds_surrogate(value):
        raise json.JSONDecodeError("a string holds an unpaired surrogate (\\ud800-\\udfff), which is not a character", text, 0)
    return value
