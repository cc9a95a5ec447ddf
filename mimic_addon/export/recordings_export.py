"""Recorded exchanges (`mimic_mode=record`) as HAR 1.2 or as a mitmproxy flow file.

Both go through mitmproxy's own code: the stored recordings (redacted: see serve/replay.py) are
rebuilt as `HTTPFlow`s (`recorded_flows`), which mitmproxy's HAR exporter (`addons.savehar`) or its
flow writer (`io.FlowWriter`) serialise. A flow file replays with `mitmdump --server-replay FILE`; a
HAR file is read back by `mimic learn` and by mitmproxy itself.

What a recording cannot give back: redacted secrets stay redacted (headers, query values, JSON
fields, form fields and secret-named fields of other text request bodies); a JSON request body is
re-serialised compactly (its original spacing is not kept); a body over `mimic_max_body` was not
recorded and is exported empty.
"""
from __future__ import annotations

import io
import json
import uuid
from http import HTTPStatus

from mitmproxy import connection, http
from mitmproxy.net.http import url

from ..learn.observation import DEFAULT_PORTS
from ..serve.replay import MIMIC_HEADERS, Recording
from . import ExportError, ExportRequest, ExportResult

NOTHING_RECORDED = "nothing recorded: run with --set mimic_mode=record"
_REQUEST_DROP = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def split_host(host: str, scheme: str | None) -> tuple[str, int, str]:
    """(host, port, scheme) of a stored host key (`api.example.com`, `127.0.0.1:8001`, `[::1]:8080`): an
    explicit port says the scheme was not its default one, so it is http unless the model knows better.
    A bare IPv6 address (`::1`) is taken whole, on the scheme's default port."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, sep, port = host.rpartition(":")
        if not sep or ":" in name:
            name, port = host, ""
    if port.isdigit() and name:
        return name, int(port), scheme or ("https" if int(port) == 443 else "http")
    scheme = scheme or "https"
    return name or host, DEFAULT_PORTS.get(scheme, 443), scheme


def _request_body(rec: Recording) -> bytes:
    if rec.body_json:
        return json.dumps(rec.body, separators=(",", ":"), ensure_ascii=False).encode()
    return rec.body if isinstance(rec.body, bytes) else b""


def flow_of(rec: Recording, scheme: str | None = None) -> http.HTTPFlow:
    """One recording as a completed mitmproxy flow."""
    host, port, scheme = split_host(rec.host, scheme)
    start = rec.ts
    end = start + (rec.latency_ms or 0.0) / 1000.0
    target = rec.path + ("?" + url.encode(rec.query) if rec.query else "")
    headers = http.Headers([(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                            for k, v in rec.headers if k.lower() not in _REQUEST_DROP])
    body = _request_body(rec)
    if body or rec.method.upper() in ("POST", "PUT", "PATCH"):
        headers["content-length"] = str(len(body))
    # raw content as sent (b"", not None, for no body: mitmproxy's server replay hashes it)
    request = http.Request(host, port, rec.method.encode(), scheme.encode(), b"",
                           target.encode("utf-8", "surrogateescape"), b"HTTP/1.1", headers, body, None, start, start)
    try:
        reason = HTTPStatus(rec.status).phrase.encode()
    except ValueError:
        reason = b""
    content = rec.response_body or b""  # decoded, as recorded (content-encoding was dropped)
    response_headers = http.Headers([(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                                     for k, v in rec.response_headers if k.lower() not in MIMIC_HEADERS])
    response_headers["content-length"] = str(len(content))
    response = http.Response(b"HTTP/1.1", rec.status, reason, response_headers, content, None, end, end)
    client = connection.Client(peername=("127.0.0.1", 0), sockname=("127.0.0.1", 0), timestamp_start=start)
    server = connection.Server(address=(host, port), timestamp_start=start)
    flow = http.HTTPFlow(client, server)
    flow.id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mimic-recording:{rec.id}:{rec.ts}"))
    flow.request, flow.response = request, response
    if rec.response_cut:  # (replay tells it to no one: the fallback answers)
        flow.comment = CUT_NOTE
    return flow


CUT_NOTE = "the answer's body was over mimic_max_body when recorded: it was not kept"


def _told(flows: list[http.HTTPFlow]) -> str:
    cut = sum(1 for f in flows if f.comment == CUT_NOTE)
    return f"{len(flows)} recorded exchanges" + (f" ({cut} without the answer's body, over mimic_max_body)" if cut else "")


def recorded_flows(req: ExportRequest) -> list[http.HTTPFlow]:
    """Every stored recording (of `req.host` when given), oldest first, as flows."""
    rows = req.store.load_recordings()
    if req.host is not None:
        rows = [r for r in rows if r["host"] == req.host]
    if not rows:
        raise ExportError(NOTHING_RECORDED if req.host is None else f"nothing recorded for host {req.host}")
    with req.brain.lock:
        schemes = {name: model.scheme for name, model in req.brain.hosts.items()}
    return [flow_of(Recording.from_row(r), schemes.get(r["host"])) for r in rows]


def export_har(req: ExportRequest) -> ExportResult:
    from mitmproxy.addons.savehar import SaveHar

    flows = recorded_flows(req)
    har = SaveHar().make_har(flows)
    har["log"]["creator"]["comment"] = "recorded by Mimic (secrets redacted)"
    for entry, flow in zip(har["log"]["entries"], flows):
        if flow.comment:
            entry["comment"] = flow.comment
    return ExportResult(json.dumps(har, indent=2) + "\n", _told(flows),
                        "application/json", "recordings.har")


def export_flows(req: ExportRequest) -> ExportResult:
    from mitmproxy import io as mitmio

    flows = recorded_flows(req)
    buf = io.BytesIO()
    writer = mitmio.FlowWriter(buf)
    for flow in flows:
        writer.add(flow)
    return ExportResult(buf.getvalue(), _told(flows), "application/octet-stream",
                        "recordings.mitm")
