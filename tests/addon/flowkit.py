"""Test flows for the addon tests (imported by name: this folder is on sys.path under pytest)."""
from __future__ import annotations

from mitmproxy import http
from mitmproxy.test import tflow, tutils


def make_flow(path: str, method: str = "GET", body: bytes = b"", status: int | None = None,
              resp_body: bytes = b"", **headers: str) -> http.HTTPFlow:
    """A test flow; keyword headers use underscores for dashes (x_mimic_mode=...); a status adds a JSON response."""
    req = tutils.treq(method=method.encode(), path=path.encode(), content=body,
                      headers=((k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()))
    f = tflow.tflow(req=req)
    if status is not None:
        f.response = tutils.tresp(status_code=status, content=resp_body,
                                  headers=((b"content-type", b"application/json"),))
    return f
