"""An `Observation`: the cheap copy of one exchange that leaves the proxy's hot path.

Building one only copies references and small header lists; decoding, parsing and redaction
happen later in the learner thread (`decode_body`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from mitmproxy import http
from mitmproxy.net import encoding

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(slots=True)
class Body:
    raw: bytes | None          # None when over the size cap
    encoding: str              # Content-Encoding
    content_type: str
    size: int                  # bytes on the wire


@dataclass(slots=True)
class Observation:
    host: str                  # "api.example.com" or "127.0.0.1:8001" (port only when not default)
    scheme: str
    method: str
    path: str                  # without the query string
    query: list[tuple[str, str]]
    request: Body
    status: int
    response: Body
    latency_ms: float | None
    ts: float
    headers: list[tuple[str, str]] = field(default_factory=list)  # request headers (redacted on learning)


def host_key(scheme: str, host: str, port: int) -> str:
    return host if DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"


def _body(message: http.Message, max_body: int) -> Body:
    raw = message.raw_content or b""
    return Body(
        raw=raw if len(raw) <= max_body else None,
        encoding=message.headers.get("content-encoding", ""),
        content_type=message.headers.get("content-type", ""),
        size=len(raw),
    )


def from_flow(flow: http.HTTPFlow, max_body: int) -> Observation | None:
    """Copy what the learner needs from a finished flow (None if there is nothing to learn)."""
    req, resp = flow.request, flow.response
    if resp is None:
        return None
    start = req.timestamp_start
    end = resp.timestamp_end or resp.timestamp_start
    latency = (end - start) * 1000 if start and end and end >= start else None
    return Observation(
        host=host_key(req.scheme, req.host, req.port),
        scheme=req.scheme,
        method=req.method.upper(),
        path=req.path.split("?", 1)[0],
        query=list(req.query.items(multi=True)),
        request=_body(req, max_body),
        status=resp.status_code,
        response=_body(resp, max_body),
        latency_ms=latency,
        ts=start or 0.0,
        headers=list(req.headers.items(multi=True)),
    )


def decode_body(body: Body) -> tuple[Any, bool]:
    """(parsed JSON or None, is_json). Never raises: bad input is learned as non-JSON."""
    if not body.raw:
        return None, False
    raw = body.raw
    if body.encoding:
        try:
            raw = encoding.decode(raw, body.encoding)
        except (ValueError, TypeError) as e:
            logger.debug("cannot decode %s body: %s", body.encoding, e)
            return None, False
    ctype = body.content_type.lower()
    first = raw[:64].lstrip()[:1]
    if "json" not in ctype and not (first in (b"{", b"[") and not ctype.startswith(("text/html", "image/"))):
        return None, False
    try:
        return json.loads(raw), True
    except (ValueError, RecursionError):
        return None, False
