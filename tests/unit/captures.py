"""Writing small capture files for tests: mitmproxy flow files and HAR files, as tools write them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mitmproxy import http, io
from mitmproxy.test import tflow, tutils

Exchange = tuple[str, str, int, Any]  # method, URL, status, JSON response body (None: no body)


def flow(method: str, url: str, status: int, body: Any, *, latency: float = 0.012) -> http.HTTPFlow:
    f = tflow.tflow(req=tutils.treq(), resp=tutils.tresp())
    f.request.method = method
    f.request.url = url
    content = b"" if body is None else json.dumps(body).encode()
    f.response = http.Response.make(status, content, {"Content-Type": "application/json"} if content else {})
    f.response.timestamp_start = f.request.timestamp_start + latency * 0.8
    f.response.timestamp_end = f.request.timestamp_start + latency
    return f


def write_flows(path: Path, exchanges: list[Exchange] | list[http.HTTPFlow]) -> Path:
    """A mitmproxy flow file of exchanges (or of ready flows)."""
    with path.open("wb") as f:
        writer = io.FlowWriter(f)
        for x in exchanges:
            writer.add(x if isinstance(x, http.HTTPFlow) else flow(*x))
    return path


def har_entry(method: str, url: str, status: int, body: Any, **extra: Any) -> dict[str, Any]:
    """A HAR 1.2 entry with every field the spec asks for; `extra` overrides top-level fields."""
    text = "" if body is None else json.dumps(body)
    entry = {
        "startedDateTime": "2024-01-01T00:00:00.000Z", "time": 12,
        "request": {"method": method, "url": url, "httpVersion": "HTTP/1.1", "headers": [], "queryString": [],
                    "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                     "headers": [{"name": "Content-Type", "value": "application/json"}] if text else [],
                     "cookies": [], "content": {"size": len(text), "mimeType": "application/json", "text": text},
                     "redirectURL": "", "headersSize": -1, "bodySize": len(text)},
        "cache": {}, "timings": {"send": 1, "wait": 10, "receive": 1},
    }
    entry.update(extra)
    return entry


def write_har(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
                                        "entries": entries}}))
    return path
