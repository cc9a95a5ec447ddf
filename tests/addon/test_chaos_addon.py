"""ChaosAddon inside mitmproxy's test harness, next to the learning addon it shares a Brain with."""
from __future__ import annotations

import json

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow, tutils

from mimic_addon.addon import Mimic
from mimic_addon.serve.chaos_addon import ChaosAddon
from mimic_addon.store import Store


def pair() -> tuple[Mimic, ChaosAddon]:
    m = Mimic()
    return m, ChaosAddon(brain=lambda: m.brain, store=lambda: m.store)


def flow(path: str = "/users/1", method: str = "GET", resp: bool = False, **headers: str):
    req = tutils.treq(method=method.encode(), path=path.encode(),
                      headers=((k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()))
    return tflow.tflow(req=req, resp=resp)


CHAOS_YAML = """
active: ci
profiles:
  ci:
    rules:
      - {name: users-500, match: {path: "/users/*"}, error: {status: 500, headers: {X-Why: test}}}
      - {name: orders-slow, match: {path: "/orders/*"}, latency: {fixed_ms: 30}}
      - {name: drop-delete, match: {method: DELETE}, reset: {}}
"""


async def test_file_profile_errors_latency_reset_and_learning(db, tmp_path):
    chaos_file = tmp_path / "chaos.yaml"
    chaos_file.write_text(CHAOS_YAML)
    m, c = pair()
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db, mimic_chaos_file=str(chaos_file))
        assert c.engine.profile.name == "ci"
        f = flow("/users/1")
        await c.request(f)
        assert f.response.status_code == 500
        assert f.response.headers["X-Mimic-Chaos"] == "users-500" and f.response.headers["X-Why"] == "test"
        assert f.response.headers["X-Mimic-Source"] == "chaos"
        assert json.loads(f.response.content)["status"] == 500
        assert f.metadata["mimic_chaos_fault"] is True
        m.response(f)                                  # an injected fault is never learned

        slow = flow("/orders/1")
        await c.request(slow)
        assert slow.response is None and slow.metadata["mimic_chaos_delay_ms"] == pytest.approx(30)
        slow.response = tutils.tresp()
        slow.request.timestamp_start = 100.0
        slow.response.timestamp_end = 100.0 + 0.030 + 0.005     # 30 ms injected + 5 ms of backend
        await c.response(slow)
        assert slow.response.headers["X-Mimic-Chaos"] == "orders-slow"
        m.response(slow)                               # learned, without the injected delay

        gone = flow("/things/1", method="DELETE")
        await c.request(gone)
        assert gone.error is not None and not gone.live

        untouched = flow("/health")
        await c.request(untouched)
        assert untouched.response is None and "mimic_chaos" not in untouched.metadata
        m.flush()
        eps = {m.brain.template(e).split("/")[1]: e for e in m.brain.endpoints()}
        assert "users" not in eps
        lat = eps["orders"].stats.latency
        assert lat.count == 1 and lat.max == pytest.approx(5, abs=0.01)
        assert "users-500: 1" in c.show_counts() and "drop-delete: 1" in c.show_counts()
        m.done()
        c.done()
    counts = Store(db).get_setting("chaos.counts")
    assert counts["users-500"] == {"GET address:22/users/1": 1}


async def test_rate_limit_answers_429_and_headers_on_passing(db):
    m, c = pair()
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db, mimic_chaos_profile="rate-limited")
        seen = []
        for _ in range(12):
            f = flow()
            await c.request(f)
            if f.response is None:
                f.response = tutils.tresp()
                await c.response(f)
                assert "RateLimit-Remaining" in f.response.headers and "X-Mimic-Chaos" not in f.response.headers
            seen.append(f.response.status_code)
        assert seen.count(429) >= 1 and seen[:10] == [200] * 10
        limited = f.response
        assert limited.headers["Retry-After"] == "1" and limited.headers["RateLimit-Limit"] == "10"
        m.done()


async def test_slow_body_throttles_the_response(db, monkeypatch):
    m, c = pair()
    slept = []

    async def fake_sleep(s):
        slept.append(s)

    monkeypatch.setattr("mimic_addon.serve.chaos_addon.asyncio.sleep", fake_sleep)
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db, mimic_chaos_profile="mobile-3g")
        f = flow()
        await c.request(f)
        f.response = tutils.tresp(content=b"x" * 25_000)
        await c.response(f)
        assert 0.3 <= slept[0] <= 0.5 and slept[1] == pytest.approx(0.5)
        assert f.response.headers["X-Mimic-Chaos"] == "3g-latency, 3g-bandwidth"
        m.done()


def test_profiles_commands_and_persistence(db):
    m, c = pair()
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db)
        assert c.engine is None
        c.add_rule("mine", "{name: teapot, match: {path: /tea/*}, probability: 0.5, error: {status: 418}}")
        c.add_rule("mine", '{"name": "lag", "latency": {"fixed_ms": 5}}')
        c.set_profile("mine")
        assert c.engine.profile.name == "mine" and len(c.engine.profile.rules) == 2
        assert "* mine (stored, 2 rules)" in c.list_profiles()
        assert '"teapot"' in c.list_rules()
        c.remove_rule("mine", "lag")
        assert [r.name for r in c.engine.profile.rules] == ["teapot"]
        for bad in (lambda: c.set_profile("nope"), lambda: c.add_rule("flaky", "{name: x, reset: {}}"),
                    lambda: c.add_rule("mine", "{name: x}"), lambda: c.remove_rule("mine", "nope")):
            with pytest.raises(exceptions.CommandError):
                bad()
        m.done()
        c.done()
    m, c = pair()                                      # a restart keeps profiles and the active one
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db)
        assert c.engine is not None and c.engine.profile.name == "mine"
        c.set_profile("off")
        assert c.engine is None
        m.done()


def test_invalid_options_are_refused(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles:\n  x:\n    rules:\n      - {name: r, error: {status: 999}}\n")
    m, c = pair()
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db)
        with pytest.raises(exceptions.OptionsError, match=r"rules\[0\]\(r\)\.error\.status"):
            tctx.configure(c, mimic_chaos_file=str(bad))
        with pytest.raises(exceptions.OptionsError, match="no chaos profile 'nope'"):
            tctx.configure(c, mimic_chaos_profile="nope")
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(c, mimic_chaos_file=str(tmp_path / "missing.yaml"))
        assert c.engine is None
        m.done()


def test_removing_the_active_profiles_last_rule_turns_chaos_off(db):
    m, c = pair()
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db)
        c.add_rule("mine", "{name: teapot, error: {status: 418}}")
        c.set_profile("mine")
        c.remove_rule("mine", "teapot")                # the profile goes with its last rule
        assert c.engine is None and "mine" not in c.profiles()
        tctx.configure(c, mimic_seed=3)               # an unrelated option change is not refused
        assert c.engine is None
        m.done()
        c.done()
    m, c = pair()                                      # nor is the next start
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db)
        assert c.engine is None
        m.done()


def test_a_stale_remembered_profile_is_not_fatal_at_start(db):
    store = Store(db)                                  # e.g. saved by an older version
    store.put_setting("chaos.active", "gone")
    store.close()
    m, c = pair()
    with taddons.context(m, c) as tctx:
        tctx.configure(m, mimic_db=db)
        assert c.engine is None
        m.done()
