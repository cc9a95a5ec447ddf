"""Cheap features of one exchange that the path learner compares between sibling segments."""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import islice, repeat
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
        for k, child in islice(value.items(), 64):
            out.add(prefix + k)
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


class Echoes(dict):
    """Path segments echoed in the bodies -> the key they were under. Only the segments asked for are
    looked up, so it is true whenever the bodies hold any value that could echo one (as the whole
    value -> key map would be): `PathTree.learn` asks no more than that."""

    __slots__ = ("any",)

    def __init__(self) -> None:
        super().__init__()
        self.any = False

    def __bool__(self) -> bool:
        return self.any


_INT_TEXT = re.compile(r"0|-?[1-9][0-9]*")  # the way str() writes an int


def _numbers(texts: set[str]) -> dict[int, str]:
    """The integers whose text is one of `texts` (the int 42 echoes the segment "42", not "042")."""
    out = {}
    for text in texts:
        if _INT_TEXT.fullmatch(text):
            try:
                out[int(text)] = text
            except ValueError:  # more digits than int() converts: no JSON number has them either
                pass
    return out


_PLAIN_TEXT = re.compile(r"[A-Za-z0-9._~-]*")  # written as they are by every JSON encoder


def echo_candidates(wanted: list[str], texts: Iterable[bytes]) -> list[str]:
    """The `wanted` strings that may occur as a value in these JSON texts, found by a byte search
    before any walk (most segments echo nowhere): a string value is written `"x"`, an integer as its
    digits. A segment of other characters than letters, digits and `._~-` may be written with escapes
    (`\\/`, `\\u00e9`): it is kept whenever a text holds a backslash."""
    texts = [t for t in texts if t]
    if not texts:
        return []
    escaped = False
    for t in texts:
        if b"\x00" in t[:4]:  # UTF-16 or -32: not searched
            return wanted
        escaped = escaped or b"\\" in t
    out = []
    for text in dict.fromkeys(wanted):
        needle, number, plain = _needle(text)
        if needle is None:
            continue
        if escaped and not plain:
            out.append(text)
            continue
        for t in texts:
            if (needle in t) if number else _as_value(t, needle):
                out.append(text)
                break
    return out


MAX_KEY_HITS = 16  # occurrences as a key looked past before a segment is kept anyway (bounded work)


def _as_value(text: bytes, quoted: bytes) -> bool:
    """May `quoted` occur in `text` as a value, not only as a key (followed by a colon)?"""
    at = text.find(quoted)
    for _ in range(MAX_KEY_HITS):
        if at < 0:
            return False
        at += len(quoted)
        if not text[at:at + 8].lstrip().startswith(b":"):
            return True  # (more than 8 blanks before a colon: kept, which is only one walk too many)
        at = text.find(quoted, at)
    return at >= 0


@lru_cache(maxsize=8192)  # (segments repeat: every request of an endpoint asks for its words)
def _needle(text: str) -> tuple[bytes | None, bool, bool]:
    """What to search for a segment: (its bytes in a JSON text, or None when it cannot echo; whether
    it is an integer's digits; whether it is written as it is whatever the encoder)."""
    if _INT_TEXT.fullmatch(text):
        return text.encode(), True, True
    if not 3 <= len(text) <= 200:
        return None, False, True
    return b'"' + text.encode("utf-8", "surrogatepass") + b'"', False, _PLAIN_TEXT.fullmatch(text) is not None


def echo_values(wanted: Iterable[str], *documents: Any, limit: int = MAX_ECHO_VALUES) -> Echoes:
    """Where the `wanted` strings (a request's path segments) occur as string or integer values in JSON
    documents: the key of the first occurrence (bounded walk: `limit` values, the first 200 entries of
    an object, 50 items of a list). Strings count from 3 to 200 characters."""
    texts = set(wanted)
    numbers = _numbers(texts)
    findable = sum(1 for text in texts if 3 <= len(text) <= 200 or text in numbers.values())
    out = Echoes()
    found = 0
    stack: list[tuple[Any, str]] = [(d, "") for d in documents if d is not None]
    seen = 0
    while stack and seen < limit:
        value, key = stack.pop()
        seen += 1
        t = type(value)
        if t is str:
            if 3 <= len(value) <= 200:
                out.any = True
                if value in texts and value not in out:
                    out[value] = key
                    found += 1
        elif t is int:
            out.any = True
            text = numbers.get(value)
            if text is not None and text not in out:
                out[text] = key
                found += 1
        elif t is dict:
            stack.extend(zip(islice(value.values(), 200), islice(value, 200)))
        elif t is list:
            stack.extend(zip(value[:50], repeat(key)))
        else:
            continue
        if found == findable and out.any:
            break
    return out
