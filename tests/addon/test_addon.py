"""The addon inside mitmproxy's test harness: options, hooks, flushing to a real SQLite store."""
from __future__ import annotations

import gzip
import json

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow, tutils

from mimic_addon.addon import Mimic
from mimic_addon.model.schema import SchemaNode
from mimic_addon.store import Store


def exchange(path: str, body: object, *, status: int = 200, method: str = "GET",
             request_body: bytes = b"", headers: dict | None = None, gzip_it: bool = False):
    raw = json.dumps(body).encode()
    resp_headers = {"content-type": "application/json"}
    if gzip_it:
        raw = gzip.compress(raw)
        resp_headers["content-encoding"] = "gzip"
    req = tutils.treq(method=method.encode(), path=path.encode(), content=request_body,
                      headers=((k.encode(), v.encode()) for k, v in (headers or {}).items()))
    resp = tutils.tresp(status_code=status, content=b"")
    resp.headers.clear()
    for k, v in resp_headers.items():
        resp.headers[k] = v
    resp.raw_content = raw
    return tflow.tflow(req=req, resp=resp)


def stored(db: str) -> dict[tuple[str, str], dict]:
    snap = Store(db).load()
    return {(e["method"], e["template"]): e for e in snap["endpoints"]}


def test_learns_and_flushes_to_the_store(db):
    m = Mimic()
    with taddons.context(m) as tctx:
        tctx.configure(m, mimic_db=db)
        for i in range(5):
            m.response(exchange(f"/users/{i}", {"id": i, "name": "Ada"}))
        m.response(exchange("/users/9", {"id": 9, "name": "Ada"}, gzip_it=True))
        m.done()
    eps = stored(db)
    ep = eps[("GET", "/users/{}")]
    assert ep["count"] == 6
    schema = SchemaNode.from_dict(ep["data"]["responses"]["200"]).to_json_schema()
    assert schema["type"] == "object" and set(schema["required"]) == {"id", "name"}


def test_passthrough_learns_nothing(db):
    m = Mimic()
    with taddons.context(m) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="passthrough")
        m.response(exchange("/users/1", {"id": 1}))
        m.done()
    assert stored(db) == {}


def test_secrets_never_reach_the_store(db, tmp_path):
    m = Mimic()
    secret = "s3cr3t-Value-9f8e7d"
    with taddons.context(m) as tctx:
        tctx.configure(m, mimic_db=db)
        f = exchange("/login", {"token": secret, "user": {"id": 1}}, method="POST",
                     request_body=json.dumps({"username": "ada", "password": secret}).encode(),
                     headers={"authorization": f"Bearer {secret}", "content-type": "application/json"})
        f.request.query["api_key"] = secret
        m.response(f)
        m.done()
    for p in tmp_path.iterdir():
        assert secret.encode() not in p.read_bytes(), p
    assert ("POST", "/login") in stored(db)


def test_bad_bodies_do_not_lose_the_observation(db):
    m = Mimic()
    with taddons.context(m) as tctx:
        tctx.configure(m, mimic_db=db, mimic_max_body=1000)
        bad = exchange("/bad", {})
        bad.response.raw_content = b"{not json"
        m.response(bad)
        deep = exchange("/deep", {})
        deep.response.raw_content = b"[" * 100_000 + b"]" * 100_000
        m.response(deep)
        huge = exchange("/huge", {"blob": "x" * 5000})
        m.response(huge)
        binary = exchange("/img", {})
        binary.response.headers["content-type"] = "image/png"
        binary.response.raw_content = bytes(range(256))
        m.response(binary)
        broken_gzip = exchange("/gz", {})
        broken_gzip.response.headers["content-encoding"] = "gzip"
        broken_gzip.response.raw_content = b"not gzip at all"
        m.response(broken_gzip)
        assert m.learner.failed == 0
        m.done()
    eps = stored(db)
    for path in ("/bad", "/deep", "/huge", "/img", "/gz"):
        assert eps[("GET", path)]["count"] == 1, path
    assert eps[("GET", "/img")]["data"]["response_types"]["200"] == {"image/png": 1}


def test_reload_on_restart_accumulates(db):
    for _ in range(2):
        m = Mimic()
        with taddons.context(m) as tctx:
            tctx.configure(m, mimic_db=db)
            for i in range(3):
                m.response(exchange(f"/orders/{i}", {"id": i}))
            m.done()
    assert stored(db)[("GET", "/orders/{}")]["count"] == 6


def test_invalid_options_are_refused(db):
    m = Mimic()
    with taddons.context(m) as tctx:
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(m, mimic_mode="chaos-monkey")
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(m, mimic_db=db, mimic_max_body=-1)
        m.done()


def test_stats_command_reports_progress(db):
    m = Mimic()
    with taddons.context(m) as tctx:
        tctx.configure(m, mimic_db=db)
        m.response(exchange("/ping", {"ok": True}))
        m.flush()
        assert "observed=1" in m.stats()
        m.done()
