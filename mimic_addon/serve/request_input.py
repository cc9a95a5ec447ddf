"""What a mock, failover or twin answer reads of a live request, safe against hostile input (issue 16).

Bodies are decoded with a cap on the decoded size (a small compressed body can inflate to gigabytes)
and parsed refusing JSON nested deeper than `safe_json.MAX_DEPTH`; a body that is too large, too deep
or not JSON is simply no JSON body. Paths and texts that are not UTF-8 (mitmproxy keeps raw bytes as
surrogate escapes) come out with U+FFFD in place of the bad bytes, so they can be echoed, hashed and
serialised like any text.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mitmproxy.net.http import url

from ..model import bounded_decode, safe_json
from ..model.wire_text import clean_text

if TYPE_CHECKING:
    from mitmproxy import http

MAX_BODY = 64 * 1024  # bytes of a request body looked at, on the wire and once decoded
_PRINTABLE = bytes(range(0x21, 0x7F))  # kept as they are in a forwarded path (% included: escapes stay)


def path_part(segment: str) -> str:
    """One raw path segment, percent-decoded, bad bytes (raw or %-escaped) as U+FFFD."""
    return urllib.parse.unquote(clean_text(segment), errors="replace")


def forward_url(req: http.Request) -> str:
    """The request's URL for a client that sends ASCII paths only (httpx): bytes outside printable ASCII
    in the path are percent-encoded, which servers decode back to the same bytes."""
    path = req.data.path
    if path.isascii() and b" " not in path:
        return req.url
    return url.unparse(req.scheme, req.host, req.port, urllib.parse.quote_from_bytes(path, safe=_PRINTABLE))


def decoded_body(req: http.Request, limit: int = MAX_BODY) -> bytes | None:
    """The request body with its Content-Encoding undone, or None when over `limit` or undecodable."""
    raw = req.raw_content
    if raw is None or len(raw) > limit:
        return None
    try:
        return bounded_decode.decode(raw, req.headers.get("content-encoding", ""), limit)
    except ValueError:
        return None


def json_body(req: http.Request, limit: int = MAX_BODY) -> Any:
    """The request body's JSON value, or None (no body, not JSON, too large or nested too deep)."""
    body = decoded_body(req, limit)
    if not body:
        return None
    try:
        return safe_json.loads(body)
    except ValueError:
        return None


def text_body(req: http.Request, limit: int = MAX_BODY) -> str:
    """The request body as text (bad bytes as U+FFFD), "" when over `limit` or undecodable."""
    body = decoded_body(req, limit)
    return body.decode("utf-8", "replace") if body else ""


def first_values(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """name -> first value of (name, value) pairs, in one pass: a mitmproxy `query` read key by key re-parses the whole of it for each key (quadratic: 5,000 query parameters took 30 s)."""
    out: dict[str, str] = {}
    for k, v in fields:
        out.setdefault(k, v)
    return out
