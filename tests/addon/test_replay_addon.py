"""Record and replay inside mitmproxy's test harness: record mode stores redacted exchanges (off the
hot path, saved to the store), replay answers from them through the cascade, then the fallback."""
from __future__ import annotations

import json

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow, tutils

from mimic_addon.addon import Mimic
from mimic_addon.serve.replay_addon import ReplayAddon
from mimic_addon.serve.serve_addon import ServeAddon
from mimic_addon.store import Store


def trio() -> tuple[Mimic, ServeAddon, ReplayAddon]:
    m = Mimic()
    s = ServeAddon(brain=lambda: m.brain, store=lambda: m.store)
    return m, s, ReplayAddon(s, brain=lambda: m.brain, store=lambda: m.store)


def flow(path: str, method: str = "GET", body: bytes = b"", **headers: str):
    req = tutils.treq(method=method.encode(), path=path.encode(), content=body,
                      headers=((k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()))
    return tflow.tflow(req=req)


async def exchange(m, s, r, f, status: int = 200, answer: object = None) -> None:
    """What mitmproxy does with one flow: request hooks, the backend's answer (unless one was given),
    response hooks."""
    await s.request(f)
    await r.request(f)
    if f.response is None and answer is not None:
        f.response = tutils.tresp(status_code=status, content=json.dumps(answer).encode(),
                                  headers=((b"content-type", b"application/json"),))
    for addon in (s, m, r):
        addon.response(f)


async def record_some(m, s, r) -> None:
    for n, page in enumerate((1, 1, 2)):
        await exchange(m, s, r, flow(f"/users?page={page}&token=t0p"), answer={"page": page, "n": n})
    for i in range(1, 6):
        await exchange(m, s, r, flow(f"/users/{i}", Authorization="Bearer abc"), answer={"id": i, "secret": "x"})
    r.flush()
    m.learner.stop()
    m.learner.start()


async def test_record_then_replay_with_cascade_and_fallbacks(db):
    m, s, r = trio()
    with taddons.context(m, s, r) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="record")
        await record_some(m, s, r)
        assert len(r.index) == 8
        rows = Store(db).load_recordings()
        assert len(rows) == 8 and ["token", "[REDACTED]"] in rows[0]["data"]["query"]
        assert json.loads(r.index.find("address:22", *_ask("/users/1"), None).recording.response_body) == \
            {"id": 1, "secret": "[REDACTED]"}
        assert m.brain.endpoints()  # record learns too

        tctx.configure(m, mimic_mode="replay")
        bodies = []
        for _ in range(3):
            f = flow("/users?page=1&token=other")
            await exchange(m, s, r, f)
            assert f.response.headers["X-Mimic-Source"] == "replay" and f.response.headers["X-Mimic-Replay"] == "exact"
            bodies.append(json.loads(f.response.content))
        assert bodies == [{"page": 1, "n": 0}, {"page": 1, "n": 1}, {"page": 1, "n": 1}]  # in order, then the last
        near = flow("/users?page=2&sort=name")
        await exchange(m, s, r, near)
        assert near.response.headers["X-Mimic-Replay"] == "near" and json.loads(near.response.content)["page"] == 2
        other = flow("/users/42")
        await exchange(m, s, r, other)
        assert other.response.headers["X-Mimic-Replay"] == "near"  # another user's recording, told as user 42
        assert json.loads(other.response.content) == {"id": 42, "secret": "[REDACTED]"}
        assert other.response.headers["Content-Length"] == str(len(other.response.content))

        unknown = flow("/orders/1")
        await exchange(m, s, r, unknown)  # fallback mock: the model's 404 for an endpoint never learned
        assert unknown.response.status_code == 404 and unknown.response.headers["X-Mimic-Source"] == "mock"
        tctx.configure(r, mimic_replay_fallback="404")
        unknown = flow("/orders/1")
        await exchange(m, s, r, unknown)
        assert unknown.response.status_code == 404 and unknown.response.headers["X-Mimic-Source"] == "replay"
        tctx.configure(r, mimic_replay_fallback="upstream")
        unknown = flow("/orders/1")
        await s.request(unknown)
        await r.request(unknown)
        assert unknown.response is None  # mitmproxy forwards it

        tctx.configure(r, mimic_replay_repeat="last")
        f = flow("/users?page=1")
        await exchange(m, s, r, f)
        assert json.loads(f.response.content) == {"page": 1, "n": 1}

        # the header switch and the per-endpoint mode reach replay too
        tctx.configure(m, mimic_mode="learn")
        f = flow("/users/3", X_Mimic_Mode="replay")
        await exchange(m, s, r, f)
        assert f.response.headers["X-Mimic-Source"] == "replay" and json.loads(f.response.content)["id"] == 3
        s.set_endpoint_mode("GET", "/users/{user_id}", "replay")
        f = flow("/users/4")
        await exchange(m, s, r, f)
        assert f.response.headers["X-Mimic-Source"] == "replay"
        assert "recordings=8" in r.stats()
        assert r.clear() == "8 recordings deleted" and len(r.index) == 0 and Store(db).load_recordings() == []


async def test_recordings_survive_a_restart_and_latency_replays(db):
    m, s, r = trio()
    with taddons.context(m, s, r) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="record")
        f = flow("/slow")
        f.request.timestamp_start = 100.0
        await s.request(f)
        f.response = tutils.tresp(content=b"plain bytes", headers=((b"content-type", b"text/plain"),))
        f.response.timestamp_end = 100.05
        for addon in (s, m, r):
            addon.response(f)
        r.done()
        m.done()
    m, s, r = trio()
    with taddons.context(m, s, r) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="replay")
        tctx.configure(r, mimic_replay_latency=True)
        assert len(r.index) == 1 and r.index.find("address:22", *_ask("/slow"), None).recording.latency_ms == \
            pytest.approx(50.0)
        f = flow("/slow")
        await exchange(m, s, r, f)
        assert f.response.content == b"plain bytes" and f.response.headers["X-Mimic-Source"] == "replay"
        r.done()


def test_options_are_validated(db):
    m, s, r = trio()
    with taddons.context(m, s, r) as tctx:
        tctx.configure(m, mimic_db=db)
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(r, mimic_record_max_total=0)
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(r, mimic_replay_fallback="teapot")
        tctx.configure(m, mimic_mode="replay")
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(m, mimic_mode="rewind")
        r.done()


def _ask(target: str):
    from mimic_addon.serve.replay import request_parts

    return (request_parts("GET", target, [], b"", 1 << 20),)


async def test_replay_reflects_mutations_through_the_stateful_twin(db):
    from mimic_addon.serve.twins_addon import ServeExtras

    m = Mimic()
    s = ServeAddon(brain=lambda: m.brain, store=lambda: m.store)
    x = ServeExtras(brain=lambda: m.brain, store=lambda: m.store)
    s.extras = x
    r = ReplayAddon(s, brain=lambda: m.brain, store=lambda: m.store)
    with taddons.context(x, m, s, r) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="record")
        for i in range(1, 8):
            item = {"id": i, "name": f"N{i}"}
            await exchange(m, s, r, flow(f"/items/{i}"), answer=item)
            await exchange(m, s, r, flow(f"/items/{i}", "PUT", json.dumps(item).encode(),
                                         content_type="application/json"), answer=item)
            await exchange(m, s, r, flow("/items", "POST", b'{"name": "x"}', content_type="application/json"),
                           status=201, answer={"id": 100 + i, "name": "x"})
        r.flush()
        m.learner.stop()
        m.learner.start()
        tctx.configure(m, mimic_mode="replay")

        async def call(path, method="GET", body=None):
            f = flow(path, method, json.dumps(body).encode() if body else b"",
                     **({"content_type": "application/json"} if body else {}), X_Mimic_Session="s1")
            await s.request(f)
            await r.request(f)
            return f.response.status_code, json.loads(f.response.content or b"null"), f.response.headers

        st, before, h = await call("/items/3")
        assert (st, before["name"], h["X-Mimic-Source"]) == (200, "N3", "replay")
        st, _, h = await call("/items/3", "PUT", {"id": 3, "name": "Renamed"})
        assert st == 200 and h["X-Mimic-Twin"] == "update"
        st, after, h = await call("/items/3")
        assert (st, after["name"], h["X-Mimic-Source"]) == (200, "Renamed", "replay")
        m.done()


async def test_a_body_sent_with_a_wrong_encoding_is_replayed_and_one_over_the_cap_is_not(db):
    """Plain JSON sent as `Content-Encoding: gzip` reached clients as it came: it is recorded and replayed
    so (it was recorded as no body). An answer over `mimic_max_body` was replayed as an exact match with
    an empty body: now it goes to the fallback, as no recording would, saying why."""
    m, s, r = trio()
    with taddons.context(m, s, r) as tctx:
        tctx.configure(m, mimic_db=db, mimic_mode="record", mimic_max_body=1000)
        wrong = flow("/wrong")
        await s.request(wrong)
        await r.request(wrong)
        wrong.response = tutils.tresp(content=b"", headers=((b"content-type", b"application/json"),
                                                            (b"content-encoding", b"gzip")))
        wrong.response.raw_content = b'{"plain": true}'
        for addon in (s, m, r):
            addon.response(wrong)
        await exchange(m, s, r, flow("/big"), answer={"blob": "x" * 5000})
        r.flush()
        tctx.configure(m, mimic_mode="replay")
        tctx.configure(r, mimic_replay_fallback="404")
        again = flow("/wrong")
        await exchange(m, s, r, again)
        assert (again.response.status_code, again.response.content) == (200, b'{"plain": true}')
        assert "content-encoding" not in again.response.headers
        big = flow("/big")
        await exchange(m, s, r, big)
        assert big.response.status_code == 404 and "over mimic_max_body" in json.loads(big.response.content)["error"]
        m.done()
