"""Hostile input inside mitmproxy's test harness, learned into a real SQLite store (issue 16)."""
from __future__ import annotations

from mitmproxy.test import taddons, tflow, tutils

from mimic_addon.addon import Mimic
from mimic_addon.store import Store

DEEP = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


def flow(path: bytes, request_body: bytes = b"", response_body: bytes = b'{"ok": true}', method: bytes = b"GET"):
    req = tutils.treq(method=method, path=path, content=request_body,
                      headers=((b"content-type", b"application/json"),))
    resp = tutils.tresp(status_code=200, content=b"")
    resp.headers.clear()
    resp.headers["content-type"] = "application/json"
    resp.raw_content = response_body
    return tflow.tflow(req=req, resp=resp)


def test_deep_bodies_are_learned_as_opaque(db):
    m = Mimic()
    with taddons.context(m) as tctx:
        tctx.configure(m, mimic_db=db)
        for _ in range(3):
            m.response(flow(b"/deep", DEEP, DEEP, b"POST"))       # 10,000 deep both ways
            m.response(flow(b"/deep", b"[" * 2000 + b"]" * 2000, b'{"a":' * 2000 + b"1" + b"}" * 2000, b"POST"))
        learner = m.learner
        m.done()
    assert learner.failed == 0 and learner.errors == 0
    ep = {(e["method"], e["template"]): e for e in Store(db).load()["endpoints"]}["POST", "/deep"]
    assert ep["count"] == 6 and not ep["data"]["responses"]
