"""JSON parsing that refuses documents nested too deep (issue 16: a body 10,000 levels deep).

`json.loads` either raises `RecursionError` on such a document or returns a value so deep that every
recursive walk of it afterwards (redaction, schema inference, echo, matching) overflows the stack. A
body nested deeper than `MAX_DEPTH` is therefore not parsed at all: callers treat it as opaque, like
any body that is not JSON. The depth is measured on the text, before parsing, by peeling innermost
bracket pairs (C-speed regex passes, at most `max_depth` of them).
"""
from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100  # real APIs nest a few levels; far below Python's recursion limit of 1000

_KEEP = b'"[]{}'
_DROP = bytes(b for b in range(256) if b not in _KEEP)
_SQUARE = bytes.maketrans(b"{}", b"[]")  # depth does not care which kind of bracket
_STRING = re.compile(rb'"[^"]*"')


class TooDeep(ValueError):
    """The document nests deeper than allowed."""


def nested_deeper_than(raw: bytes | str, max_depth: int) -> bool:
    """Does the JSON text `raw` open more than `max_depth` brackets inside one another? (Brackets inside
    strings do not count; malformed text is measured as well as it goes.)"""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    if b"\\" in data:  # escaped backslashes, then escaped quotes: what is left of quotes delimits strings
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    data = data.translate(_SQUARE, _DROP)
    data = data.replace(b'""', b"")  # (an empty string, or two strings glued into one: quotes stay paired)
    if b'"' in data:
        data = _STRING.sub(b"", data)  # strings with brackets in them
    for _ in range(max_depth):  # each pass peels one level: the innermost pairs
        peeled = data.replace(b"[]", b"")
        if not peeled or len(peeled) == len(data):
            return False
        data = peeled
    return b"[" in data  # openers left: nested deeper than max_depth (lone closers are just malformed)


def _constant(name: str) -> None:
    """`NaN`, `Infinity`, `-Infinity`: no JSON (RFC 8259), though Python's and other encoders write them;
    read as null, as JavaScript's JSON.stringify writes them (kept, they made every store row, admin
    answer and export that held one invalid JSON). (A number too large for a float, `1e400`, still reads
    as infinity: the store and the mock answers write it as null, `dumps`.)"""
    return None


def finite(value: Any) -> Any:
    """`value` with non-finite floats as null (a number too large for a float, `1e400`, read as infinity)."""
    if isinstance(value, float):
        return value if value - value == 0 else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps`, writing non-finite floats as null, not as `Infinity` (no JSON: clients' parsers refuse it)."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:  # (rare: only a non-finite number does it)
        return json.dumps(finite(value), **options)


_DECODER = json.JSONDecoder(parse_constant=_constant)  # (made once: json.loads makes one per call with options)


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing documents nested deeper than `max_depth` (`TooDeep`, a ValueError): never
    raises `RecursionError`. `NaN` and `Infinity` read as null."""
    if nested_deeper_than(raw, max_depth):
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")  # (as json.loads)
    try:
        return _DECODER.decode(text)
    except RecursionError as e:  # (cannot happen below the depth bound; kept as a last guard)
        raise TooDeep(str(e)) from e
