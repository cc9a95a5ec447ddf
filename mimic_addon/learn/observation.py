"""An `Observation`: the cheap copy of one exchange that leaves the proxy's hot path.

Building one only copies references and small header lists; decoding, parsing and redaction
happen later in the learner thread (`decode_body`).
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mitmproxy.net.http import url

from ..model import bounded_decode, safe_json
from ..model.redact import redact_path

if TYPE_CHECKING:
    from mitmproxy import http

    from .digest import Digest

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_MAX_BODY = 1024 * 1024  # mimic_max_body's default
# Longer than this, two timestamps come from different clocks (a zeroed or rebased one, a response
# replayed from an older capture): no exchange takes a day, and one such figure ruins every percentile.
MAX_LATENCY_MS = 24 * 3600 * 1000.0


@dataclass(slots=True)
class Body:
    raw: bytes | None          # None when over the size cap
    encoding: str              # Content-Encoding
    content_type: str
    size: int                  # bytes on the wire
    limit: int = DEFAULT_MAX_BODY  # decoded bytes at most (mimic_max_body): larger is learned as too large


@dataclass(slots=True)
class Observation:
    host: str                  # "api.example.com" or "127.0.0.1:8001" (port only when not default)
    scheme: str
    method: str
    target: str                # path and query string, as on the wire
    request: Body
    status: int
    response: Body
    latency_ms: float | None
    ts: float
    digest: Digest | None = None  # what learning takes from it, when computed ahead (`learn/digest.py`)

    @property
    def path(self) -> str:
        """The path, segments holding a credential (a JWT, an API key, ...) redacted: computed in the
        learner, never stored as seen."""
        return redact_path(self.target.split("?", 1)[0])

    @property
    def query(self) -> list[tuple[str, str]]:
        """Decoded like mitmproxy's `Request.query.items(multi=True)`; parsed in the learner,
        not on the hot path."""
        query = self.target.split("#", 1)[0].partition("?")[2]
        return url.decode(query) if query else []


def host_key(scheme: str, host: str, port: int) -> str:
    """`api.example.com`, `127.0.0.1:8001`, `[::1]:8080` (an IPv6 address in brackets, as URLs write it)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host if DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"


def _body(raw: bytes | None, content_encoding: str, content_type: str, max_body: int) -> Body:
    raw = raw or b""
    return Body(raw=raw if len(raw) <= max_body else None, encoding=content_encoding,
                content_type=content_type, size=len(raw), limit=max_body)


def latency_ms(start: float | None, end: float | None) -> float | None:
    """Milliseconds from request start to response end, or None when the timestamps cannot both be
    true: one missing, zero or negative, not finite, the response before the request, a span of
    more than a day."""
    if not start or not end or start < 0 or end < 0 or not math.isfinite(start) or not math.isfinite(end):
        return None
    ms = (end - start) * 1000
    return ms if 0 <= ms <= MAX_LATENCY_MS else None


def _observation(*, scheme: str, host: str, port: int, method: str, path: str,
                 request: Body, status: int, response: Body,
                 start: float | None, end: float | None) -> Observation:
    return Observation(
        host=host_key(scheme, host, port),
        scheme=scheme,
        method=method.upper(),
        target="" if method.upper() == "CONNECT" else path,
        request=request,
        status=status,
        response=response,
        latency_ms=latency_ms(start, end),
        ts=start or 0.0,
    )


def _answered(status: int) -> bool:
    """A real HTTP answer. Browsers write `status: 0` in HAR files for requests that were blocked or
    failed: there was no answer to learn from (and `responses: {"0": ...}` is not OpenAPI)."""
    return 100 <= status <= 599


def from_flow(flow: http.HTTPFlow, max_body: int) -> Observation | None:
    """Copy what the learner needs from a finished flow (None if there is nothing to learn)."""
    req, resp = flow.request, flow.response
    if resp is None or not _answered(resp.status_code):
        return None
    return _observation(
        scheme=req.scheme, host=req.host, port=req.port, method=req.method, path=req.path,
        request=_message_body(req.raw_content, req.headers.fields, max_body),
        status=resp.status_code,
        response=_message_body(resp.raw_content, resp.headers.fields, max_body),
        start=req.timestamp_start, end=resp.timestamp_end or resp.timestamp_start,
    )


def from_state(state: dict[str, Any], max_body: int) -> Observation | None:
    """`from_flow(HTTPFlow.from_state(state))` without building the flow (for reading flow files fast).

    `state` is a current-format HTTP flow state (after `mitmproxy.io.compat.migrate_flow`).
    """
    req, resp = state["request"], state["response"]
    if resp is None or not _answered(resp["status_code"]):
        return None
    scheme = req["scheme"].decode("utf-8", "surrogateescape")
    method = req["method"].decode("utf-8", "surrogateescape").upper()
    path = req["path"].decode("utf-8", "surrogateescape")
    return _observation(
        scheme=scheme, host=req["host"], port=req["port"], method=method, path=path,
        request=_message_body(req["content"], req["headers"], max_body),
        status=resp["status_code"],
        response=_message_body(resp["content"], resp["headers"], max_body),
        start=req["timestamp_start"], end=resp["timestamp_end"] or resp["timestamp_start"],
    )


def _message_body(raw: bytes | None, fields, max_body: int) -> Body:
    """The body of a message with raw header `fields`, looked up like `Headers.get(name, "")`:
    case-insensitive, repeated fields folded with ", " (one pass: `Headers.get` costs µs each)."""
    encodings, types = [], []
    for name, value in fields:
        name = name.lower()
        if name == b"content-type":
            types.append(value.decode("utf-8", "surrogateescape"))
        elif name == b"content-encoding":
            encodings.append(value.decode("utf-8", "surrogateescape"))
    return _body(raw, ", ".join(encodings), ", ".join(types), max_body)


def decode_body(body: Body) -> tuple[Any, bool]:
    """(parsed JSON or None, is_json). Never raises: bad input is learned as non-JSON, and so is a body
    over `body.limit` once decoded (too large: decoding stops there, it is never inflated whole)."""
    value, is_json, _ = read_body(body)
    return value, is_json


def read_body(body: Body) -> tuple[Any, bool, bytes]:
    """`decode_body`, and the JSON text it parsed (b"" when it is not JSON)."""
    if not body.raw:
        return None, False, b""
    raw = body.raw
    if body.encoding:
        try:
            raw = bounded_decode.decode(raw, body.encoding, body.limit)
        except ValueError as e:
            logger.debug("cannot decode %s body: %s", body.encoding, e)
            return None, False, b""
    ctype = body.content_type.lower()
    first = raw[:64].lstrip()[:1]
    if "json" not in ctype and not (first in (b"{", b"[") and not ctype.startswith(("text/html", "image/"))):
        return None, False, b""
    try:
        return safe_json.loads(raw), True, raw
    except UnicodeDecodeError:  # not UTF-8: JSON in the charset its Content-Type declares (legacy servers)
        text = _in_declared_charset(raw, ctype)
        if text is None:
            return None, False, b""
        try:
            return safe_json.loads(text), True, text.encode("utf-8")
        except ValueError:
            return None, False, b""
    except ValueError:  # malformed, or nested too deep to walk: learned as opaque
        return None, False, b""


_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([A-Za-z0-9._:-]{1,40})")


def _in_declared_charset(raw: bytes, ctype: str) -> str | None:
    """`raw` decoded in the charset `ctype` declares (other than UTF-8), or None."""
    m = _CHARSET.search(ctype)
    if m is None or m.group(1).lower().replace("_", "-") in ("utf-8", "utf8"):
        return None
    try:
        return raw.decode(m.group(1))
    except (LookupError, UnicodeDecodeError):
        return None
