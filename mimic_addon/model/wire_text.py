"""Text taken from the wire that may hold bytes that are not UTF-8.

mitmproxy decodes paths, header and query values with `surrogateescape`: a raw byte 0xFF becomes the
lone surrogate U+DCFF, which no UTF-8 encoder (SQLite, JSON for other tools, HTTP clients) accepts.
"""
from __future__ import annotations

import re

_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _has_bad_bytes(text: str) -> bool:
    return not text.isascii() and _ESCAPED_BYTE.search(text) is not None


def percent_escape_bad_bytes(text: str) -> str:
    """`text` with each escaped non-UTF-8 byte written as `%XX`, as a URL would carry it (the very same
    string when there is none; valid non-ASCII text is kept)."""
    if not _has_bad_bytes(text):
        return text
    return _ESCAPED_BYTE.sub(lambda m: f"%{ord(m.group()) - 0xDC00:02X}", text)


def clean_text(text: str) -> str:
    """`text` with each escaped non-UTF-8 byte replaced by U+FFFD (the very same string when there is none)."""
    if not _has_bad_bytes(text):
        return text
    return _ESCAPED_BYTE.sub("\ufffd", text)
