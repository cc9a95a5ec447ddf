"""The inspector's log entries: what the proxy's hook copies (`Captured`) and the redacted row built from it.

The hook only copies references (`Captured`, microseconds); `build_row` runs in the inspector's worker
thread: it decodes, redacts (headers, query, JSON, form and text bodies: model/redact.py) and truncates bodies,
so secrets never reach the store and every row stays small. Pure: no mitmproxy, no database.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mitmproxy.net.http import url

from ..learn.observation import host_key, latency_ms
from ..model import bounded_decode, safe_json
from ..model.redact import (is_textual, redact_form, redact_headers, redact_json, redact_path, redact_query,
                            redact_text_body)
from ..model.wire_text import percent_escape_bad_bytes

CAPTURE_LIMIT = 64 * 1024       # bodies above this (on the wire) are logged by size and type only
DECODED_LIMIT = 1024 * 1024     # a decompressed body above this is not shown
SHOW_LIMIT = 4 * 1024           # characters of a body kept in the log
PATH_LIMIT = 2048
BUSY = "busy"  # in place of a body: not rendered, the writer's budget for bodies is spent
SESSION_HEADER = b"x-mimic-session"
TEMPLATE_HEADER = b"x-mimic-template"
_REFINED = {b"x-mimic-override": "override", b"x-mimic-twin": "twin"}  # mock answers made by these


# What the hook queues (a plain tuple: building it costs well under a microsecond): references only.
# (ts_start, scheme, host, port, method, path, request_fields, request_raw, status, response_fields,
#  response_raw, ts_end, metadata, peer, error)
Raw = tuple


@dataclass(slots=True)
class Captured:
    """One answered exchange, decoded from the hook's `Raw` tuple in the writer thread."""

    ts: float
    scheme: str
    host: str
    port: int
    method: str
    target: str                       # path and query as on the wire
    request_fields: Any               # mitmproxy Headers.fields: tuple of (bytes, bytes)
    request_raw: bytes | None         # None when larger than CAPTURE_LIMIT
    request_size: int
    status: int | None                # None: no response (connection error, killed)
    response_fields: Any
    response_raw: bytes | None
    response_size: int
    latency_ms: float | None
    source: str                       # upstream | mock | replay | failover | chaos | error
    peer: Any                         # client address tuple (for the twins' session scope)
    meta: dict[str, Any] | None       # chaos rules, failover reason, mode, error message

    @classmethod
    def from_raw(cls, raw: Raw) -> Captured:
        (start, scheme, host, port, method, path, req_fields, req_raw, status, resp_fields, resp_raw, end, metadata,
         peer, error) = raw
        req_body, req_size = capture_body(req_raw)
        resp_body, resp_size = capture_body(resp_raw)
        dec = lambda b: b.decode("utf-8", "surrogateescape") if isinstance(b, bytes) else str(b)  # noqa: E731
        if metadata.get("mimic_chaos_fault"):
            source = "chaos"
        elif status is None:
            source = "error"
        else:
            source = metadata.get("mimic_source") or "upstream"
        meta = {k: metadata[m] for k, m in (("chaos", "mimic_chaos"), ("failover", "mimic_failover"),
                                             ("mode", "mimic_mode")) if metadata.get(m)}
        if error is not None:
            meta["error"] = error
        return cls(start or 0.0, dec(scheme), host, port, dec(method).upper(), dec(path), req_fields, req_body,
                   req_size, status, resp_fields or (), resp_body, resp_size,
                   latency_ms(start, end), source, peer, meta or None)


def capture_body(raw: bytes | int | None) -> tuple[bytes | None, int]:
    """(body to log or None, size); the hook passes a large body as its size only (`clip`)."""
    if isinstance(raw, int):
        return None, raw
    size = len(raw) if raw else 0
    return (raw if size <= CAPTURE_LIMIT else None), size


def clip(raw: bytes | None) -> bytes | int | None:
    """On the hot path: a body to keep a reference to, or just its size when too large to log."""
    return raw if raw is None or len(raw) <= CAPTURE_LIMIT else len(raw)


def host_of(c: Captured) -> str:
    return host_key(c.scheme, c.host, c.port)


def session_of(c: Captured) -> str:
    """The twins' scope of a request (serve/twins_addon.py `scope_of`): its X-Mimic-Session, else its client."""
    for name, value in c.request_fields:
        if name.lower() == SESSION_HEADER:
            session = value.decode("utf-8", "replace").strip()[:200]
            if session:
                return "session:" + session
    return "client:" + (str(c.peer[0]) if c.peer else "unknown")


def source_of(c: Captured) -> str:
    """Who answered; a mock answer made by an override or a stateful twin says so."""
    if c.source == "mock":
        for name, _ in c.response_fields or ():
            refined = _REFINED.get(name.lower())
            if refined:
                return refined
    return c.source


def answered_template(c: Captured) -> str | None:
    """The template a mock answer names in its X-Mimic-Template header ("GET /users/{id}" -> "/users/{id}")."""
    for name, value in c.response_fields or ():
        if name.lower() == TEMPLATE_HEADER:
            template = value.decode("utf-8", "replace").partition(" ")[2]
            return template or None
    return None


def build_row(c: Captured, template: str | None, bodies: bool = True, details: bool = True) -> dict[str, Any]:
    """The request log row of a captured exchange (store.add_requests), redacted and bounded.
    `bodies=False` logs headers only (the writer's body budget is spent: see inspector_log.py);
    `details=False` builds the summary columns only (`data` is empty)."""
    path, _, query = c.target.partition("?")
    summary = {
        "ts": c.ts, "host": host_of(c), "method": c.method.upper(), "path": redact_path(percent_escape_bad_bytes(path))[:PATH_LIMIT],
        "template": template,
        "status": c.status, "latency_ms": None if c.latency_ms is None else round(c.latency_ms, 3),
        "source": source_of(c), "session": session_of(c),
    }
    if not details:
        return {**summary, "data": {}}
    data: dict[str, Any] = {
        "scheme": c.scheme,
        # (a byte that is no UTF-8 decodes to a lone surrogate: written `%XX`, as on the wire)
        "query": [[percent_escape_bad_bytes(k), percent_escape_bad_bytes(v)]
                  for k, v in redact_query(url.decode(query))] if query else [],
        "request": _message(c.request_fields, c.request_raw if bodies else BUSY, c.request_size),
        "response": (_message(c.response_fields, c.response_raw if bodies else BUSY, c.response_size)
                     if c.status is not None else None),
    }
    if c.meta:
        data.update(c.meta)
    return {**summary, "data": data}


@lru_cache(maxsize=8192)
def _header_pair(name: bytes, value: bytes) -> tuple[str, str]:
    """One header, decoded and redacted; cached: most headers repeat (Accept, User-Agent, Content-Type, ...)."""
    ((k, v),) = redact_headers([(name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))])
    return _safe(k), _safe(v)


def _message(fields: Any, raw: bytes | str | None, size: int) -> dict[str, Any]:
    headers = [_header_pair(k, v) for k, v in fields or ()]
    ctype = _header(headers, "content-type")
    out: dict[str, Any] = {"headers": headers, "content_type": ctype,  # (pairs: JSON lists once stored)
                           "size": size, "body": None, "truncated": False, "note": None}
    if size == 0:
        return out
    if raw is None or isinstance(raw, str):  # the only text passed here is BUSY
        out["note"] = f"not logged: {size} bytes" + (" (busy: too many requests per second)" if raw is BUSY else "")
        return out
    body = raw
    enc = _header(headers, "content-encoding")
    if enc and enc.lower() != "identity":
        try:
            body = bounded_decode.decode(raw, enc, DECODED_LIMIT)
        except bounded_decode.TooLarge:
            out["note"] = f"not logged: {enc} body too large once decoded"
            return out
        except ValueError:
            out["note"] = f"not logged: cannot decode {enc}"
            return out
    text, note = _render(body, ctype.lower())
    if text is None:
        out["note"] = note
        return out
    out["truncated"] = len(text) > SHOW_LIMIT
    out["body"] = text[:SHOW_LIMIT]
    return out


def _render(body: bytes, ctype: str) -> tuple[str | None, str | None]:
    """(redacted text, None) or (None, why it is not shown)."""
    first = body[:64].lstrip()[:1]
    if "json" in ctype or (first in (b"{", b"[") and not ctype.startswith(("text/html", "image/"))):
        try:
            value = safe_json.loads(body)
        except safe_json.TooDeep:
            return None, f"not logged: JSON nested deeper than {safe_json.MAX_DEPTH} levels"
        except ValueError:
            # not parseable, so not redactable field by field: better not shown than leaking a secret
            return None, "not logged: malformed JSON"
        return _safe(json.dumps(redact_json(value), ensure_ascii=False, separators=(",", ":"))), None
    if "x-www-form-urlencoded" in ctype:
        return _safe(redact_form(body.decode("utf-8", "replace"))), None
    if is_textual(ctype):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None, f"binary: {len(body)} bytes"
        # form-shaped bodies field by field, other text by masking `name=value`, `<name>value</name>`, ...
        return _safe(redact_text_body(text, ctype)), None
    return None, f"binary ({ctype}): {len(body)} bytes"


def _header(fields: list[tuple[str, str]], name: str) -> str:
    return ", ".join(v for k, v in fields if k.lower() == name)


def _safe(text: str) -> str:
    """Lone surrogates (from undecodable bytes) cannot be stored as JSON text everywhere: replace them."""
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def event_of(row: dict[str, Any], health: str | None) -> dict[str, Any]:
    """The live stream's event of a logged request (admin_app/live.py)."""
    return {"id": row.get("id"), "ts": row["ts"], "method": row["method"], "host": row["host"], "path": row["path"],
            "template": row["template"], "status": row["status"], "latency_ms": row["latency_ms"],
            "source": row["source"], "health": health, "session": row["session"]}
