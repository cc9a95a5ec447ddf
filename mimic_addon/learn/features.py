"""Cheap features of one exchange that the path learner compares between sibling segments."""
from __future__ import annotations

from itertools import islice
from typing import Any

from ..model.paths import UNKNOWN, Shape

MAX_ECHO_VALUES = 2000
MAX_SHAPE_ITEMS = 5
MAX_SHAPE_DEPTH = 3
MAX_SHAPE_TOKENS = 96


def _keys_of(value: Any, prefix: str, out: set[str], depth: int = MAX_SHAPE_DEPTH) -> None:
    """Key paths of a document (`data[].attributes.name`), `depth` objects deep, at most MAX_SHAPE_TOKENS:
    deep enough to tell two resources that share an envelope (`data`, `links`, `meta`) apart."""
    if len(out) >= MAX_SHAPE_TOKENS:
        return
    if isinstance(value, dict):
        for k in list(value)[:64]:
            out.add(prefix + k)
            child = value[k]
            if depth > 1 and isinstance(child, (dict, list)):
                _keys_of(child, prefix + k + ".", out, depth - 1)
    elif isinstance(value, list):
        out.add(prefix + "[]")
        for item in value[:MAX_SHAPE_ITEMS]:
            if isinstance(item, (dict, list)):
                _keys_of(item, prefix + "[].", out, depth)
    elif not prefix:
        out.add("<null>" if value is None else "<" + type(value).__name__ + ">")


def shape_of(status: int, query_keys: list[str], request_json: Any, response_json: Any,
             response_type: str, response_size: int, request_is_json: bool) -> Shape:
    """Tokens describing a successful exchange; UNKNOWN for errors (they say little about the resource)."""
    if not 200 <= status < 300:
        return UNKNOWN
    tokens: set[str] = {"?" + k for k in query_keys[:32]}
    if request_is_json:
        _keys_of(request_json, "b.", tokens)
    if response_json is not None:
        _keys_of(response_json, "", tokens)
    elif response_size == 0:
        tokens.add("<empty>")
    else:
        tokens.add("<" + (response_type.split(";", 1)[0].strip() or "bytes") + ">")
    return Shape(frozenset(tokens))


def echo_values(*documents: Any, limit: int = MAX_ECHO_VALUES) -> dict[str, str]:
    """String and integer values found in JSON documents -> the key they were under (bounded walk)."""
    out: dict[str, str] = {}
    stack: list[tuple[Any, str]] = [(d, "") for d in documents if d is not None]
    seen = 0
    while stack and seen < limit:
        value, key = stack.pop()
        seen += 1
        if isinstance(value, str):
            if 3 <= len(value) <= 200 and value not in out:
                out[value] = key
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
            if text not in out:
                out[text] = key
        elif isinstance(value, dict):
            stack.extend((v, k) for k, v in islice(value.items(), 200))
        elif isinstance(value, list):
            stack.extend((v, key) for v in value[:50])
    return out
