"""The proxy side of the admin app in mitmproxy's test harness: the inspector's log and live events for
upstream, mock, chaos and failed answers (redacted), the run-time reverse target, the command queue a
standalone admin uses, and the embedded server's option handling."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import pytest
from flowkit import make_flow
from mitmproxy import exceptions
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.flow import Error
from mitmproxy.test import taddons, tflow, tutils

from admin_app.live import LiveHub
from mimic_addon.addon import Mimic
from mimic_addon.control import admin_server
from mimic_addon.control.admin_server import AdminServer, Bind, parse_allowed, parse_bind
from mimic_addon.control.command_queue import STATUS_KEY, CommandQueue
from mimic_addon.control.inspector_log import InspectorLog, PerSecond
from mimic_addon.control.status import status_fn
from mimic_addon.control.target import Target, TargetAddon, parse_target
from mimic_addon.serve.chaos_addon import ChaosAddon
from mimic_addon.serve.serve_addon import ServeAddon

SECRETS = ("s3cr3t-bearer", "cookie-value-xyz", "hunter2-password", "query-token-abc", "set-cookie-val")


class Stack:
    """Mimic + chaos + serve + the inspector, sharing one Brain and Store, as `_addons()` wires them."""

    def __init__(self) -> None:
        self.mimic = Mimic()
        brain, store = (lambda: self.mimic.brain), (lambda: self.mimic.store)
        self.chaos = ChaosAddon(brain=brain, store=store)
        self.serve = ServeAddon(brain=brain, store=store)
        self.hub = LiveHub()
        self.log = InspectorLog(brain=brain, store=store, hub=self.hub)
        self.addons = (self.mimic, self.chaos, self.serve, self.log)

    def learn(self, *flows) -> None:
        for f in flows:
            self.serve.response(f)
            self.mimic.response(f)
        self.mimic.flush()

    async def answered(self, f) -> None:
        """The response hooks of the stack, in `_addons()` order."""
        await self.chaos.response(f)
        self.serve.response(f)
        self.mimic.response(f)
        self.log.response(f)

    def drain(self) -> None:
        """Let the writer thread finish what is queued (its events are then scheduled on the loop)."""
        self.log.writer.stop()
        self.log.writer.start()


def user_flow(uid: int, **headers: str):
    return make_flow(f"/users/{uid}", status=200, resp_body=json.dumps({"id": uid, "name": "Ada"}).encode(),
                     **headers)


async def next_events(sub, n: int) -> list[dict]:
    return [await asyncio.wait_for(sub.get(), 5) for _ in range(n)]


# -- inspector log + live events -------------------------------------------------------------------------------
async def test_upstream_answer_is_logged_redacted_and_published(db):
    s = Stack()
    with taddons.context(*s.addons) as tctx:
        tctx.configure(s.mimic, mimic_db=db)
        s.log.running()
        s.learn(user_flow(1), user_flow(2), user_flow(3))
        sub = s.hub.subscribe()
        f = make_flow("/users/42?access_token=query-token-abc&page=2", method="POST",
                      body=json.dumps({"name": "Ada", "password": "hunter2-password"}).encode(),
                      status=200, resp_body=json.dumps({"id": 42, "name": "Ada"}).encode(),
                      authorization="Bearer s3cr3t-bearer", cookie="sid=cookie-value-xyz",
                      content_type="application/json", x_mimic_session="alice")
        f.request.method = "GET"
        f.response.headers["Set-Cookie"] = "sid=set-cookie-val; Path=/; HttpOnly"
        f.request.timestamp_start, f.response.timestamp_end = 100.0, 100.0125
        await s.answered(f)
        s.drain()
        (event,) = await next_events(sub, 1)
        assert event["id"] is not None and event["source"] == "upstream" and event["status"] == 200
        assert (event["method"], event["path"], event["template"]) == ("GET", "/users/42", "/users/{user_id}")
        assert event["latency_ms"] == pytest.approx(12.5) and event["session"] == "session:alice"
        assert event["health"] == "HEALTHY"
        entry = s.mimic.store.request_entry(event["id"])
        assert entry["template"] == "/users/{user_id}" and entry["session"] == "session:alice"
        text = json.dumps(entry)
        for secret in SECRETS:
            assert secret not in text  # Authorization, Cookie, Set-Cookie, password, token: never stored
        req = entry["data"]["request"]
        assert ["authorization", "Bearer [REDACTED]"] in req["headers"]
        assert ["cookie", "sid=[REDACTED]"] in req["headers"]
        assert json.loads(req["body"]) == {"name": "Ada", "password": "[REDACTED]"}
        assert ["page", "2"] in entry["data"]["query"] and ["access_token", "[REDACTED]"] in entry["data"]["query"]
        assert json.loads(entry["data"]["response"]["body"]) == {"id": 42, "name": "Ada"}
        s.log.done()
        s.mimic.done()


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (b"client_id=x&client_secret=s3cr3t&password=hunter2", {},  # no Content-Type: a form by its shape
         "client_id=x&client_secret=[REDACTED]&password=[REDACTED]"),
        (b"username=ada&password=hunter2", {"content_type": "application/x-www-form-urlencoded"},
         "username=ada&password=[REDACTED]"),
        (b"<login><user>ada</user><password>hunter2</password><token>s3cr3t</token></login>",
         {"content_type": "text/xml"},
         "<login><user>ada</user><password>[REDACTED]</password><token>[REDACTED]</token></login>"),
        (b"user: ada\npassword: hunter2\napi_key=s3cr3t", {"content_type": "text/plain"},
         "user: ada\npassword: [REDACTED]\napi_key=[REDACTED]"),
    ],
)
async def test_form_and_text_request_bodies_are_logged_redacted(db, body, headers, expected):
    s = Stack()
    with taddons.context(*s.addons) as tctx:
        tctx.configure(s.mimic, mimic_db=db)
        s.log.running()
        sub = s.hub.subscribe()
        f = make_flow("/login", method="POST", body=body, status=200, resp_body=b'{"ok": true}', **headers)
        await s.answered(f)
        s.drain()
        (event,) = await next_events(sub, 1)
        entry = s.mimic.store.request_entry(event["id"])
        text = json.dumps(entry)
        assert "hunter2" not in text and "s3cr3t" not in text
        assert entry["data"]["request"]["body"] == expected
        s.log.done()
        s.mimic.done()


async def test_mock_chaos_and_error_answers_say_who_answered(db, tmp_path):
    chaos_file = tmp_path / "chaos.yaml"
    chaos_file.write_text("profiles:\n  ci:\n    rules:\n"
                          "      - {name: boom, match: {path: /boom}, error: {status: 503}}\n"
                          "      - {name: cut, match: {path: /cut}, reset: {}}\n")
    s = Stack()
    with taddons.context(*s.addons) as tctx:
        tctx.configure(s.mimic, mimic_db=db)
        tctx.configure(s.chaos, mimic_chaos_file=str(chaos_file), mimic_chaos_profile="ci")
        s.log.running()
        s.learn(user_flow(1), user_flow(2), user_flow(3))
        sub = s.hub.subscribe()

        mocked = make_flow("/users/7", x_mimic_mode="mock")
        await s.chaos.request(mocked)
        await s.serve.request(mocked)
        await s.answered(mocked)

        boom = make_flow("/boom")
        await s.chaos.request(boom)
        await s.answered(boom)

        cut = make_flow("/cut")
        await s.chaos.request(cut)
        assert cut.error is not None
        s.log.error(cut)

        refused = make_flow("/users/8")
        refused.error = Error("Connection refused")
        s.log.error(refused)
        s.drain()
        events = await next_events(sub, 4)
        assert [(e["path"], e["source"], e["status"]) for e in events] == [
            ("/users/7", "mock", 200), ("/boom", "chaos", 503), ("/cut", "chaos", None), ("/users/8", "error", None)]
        assert events[0]["template"] == "/users/{user_id}"
        rows = {r["path"]: r for r in s.mimic.store.recent_requests()}
        assert rows["/boom"]["source"] == "chaos" and rows["/users/8"]["status"] is None
        assert s.mimic.store.request_entry(rows["/boom"]["id"])["data"]["chaos"] == "boom"
        assert s.mimic.store.request_entry(rows["/users/8"]["id"])["data"]["error"] == "Connection refused"
        s.log.done()
        s.mimic.done()


async def test_log_off_still_streams_and_overload_drops(db):
    s = Stack()
    with taddons.context(*s.addons) as tctx:
        tctx.configure(s.mimic, mimic_db=db)
        tctx.configure(s.log, mimic_request_log=0)
        s.log.running()
        sub = s.hub.subscribe()
        await s.answered(user_flow(1))
        s.drain()
        (event,) = await next_events(sub, 1)
        assert event["id"] is None and event["path"] == "/users/1"
        assert s.mimic.store.recent_requests() == []  # nothing kept

        s.log.writer.stop()  # no thread: the queue fills up
        s.log.writer.limit = 3
        for i in range(5):
            s.log.response(user_flow(i))
        assert s.log.writer.queue.qsize() == 3 and s.log.writer.dropped == 2
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(s.log, mimic_request_log=-1)
        s.log.done()
        s.mimic.done()


def test_hook_only_queues_references():
    """No decoding on the hot path: the queued item holds the flow's own bytes objects."""
    log = InspectorLog()
    with taddons.context(log) as tctx:
        tctx.configure(log)
        log.writer.stop()
        f = tflow.tflow(resp=tutils.tresp(content=b'{"a": 1}'))
        log.response(f)
        (item,) = log.writer._drain_now()
        assert item[7] is f.request.data.content and item[10] is f.response.data.content
        big = tflow.tflow(resp=tutils.tresp(content=b"x" * 100_000))
        log.response(big)
        (item,) = log.writer._drain_now()
        assert item[10] == 100_000  # too large to log: only its size is kept


# -- reverse target ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "expected"), [
    ("http://127.0.0.1:8001", Target("http", "127.0.0.1", 8001)),
    ("https://api.example.com", Target("https", "api.example.com", 443)),
    ("http://[::1]:9000/", Target("http", "::1", 9000)),
    ("", None),
])
def test_parse_target(spec, expected):
    assert parse_target(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("ftp://example.com", "http:// or https://"),
    ("127.0.0.1:8001", "http:// or https://"),
    ("http://", "no host"),
    ("http://example.com/api", "no path"),
    ("http://example.com:99999", "invalid URL"),
    ("http://127.0.0.1:0", "port 0"),
    ("http://user:pw@example.com", "credentials"),
])
def test_parse_target_refuses(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_target(spec)


def test_target_rewrites_upstream_and_host_header():
    t = TargetAddon()
    with taddons.context(t, Proxyserver()) as tctx:
        tctx.configure(t, mimic_target="https://backend.internal:8443")
        f = make_flow("/users/1", host="original.example")
        t.request(f)
        assert (f.request.scheme, f.request.host, f.request.port) == ("https", "backend.internal", 8443)
        assert f.request.headers["Host"] == "backend.internal:8443" and f.request.path == "/users/1"
        tctx.configure(t, keep_host_header=True)
        kept = make_flow("/users/1", host="original.example")
        t.request(kept)
        assert kept.request.host == "backend.internal" and kept.request.headers["Host"] == "original.example"
        with pytest.raises(exceptions.OptionsError, match="mimic_target"):
            tctx.configure(t, mimic_target="gopher://x")
        assert t.target == Target("https", "backend.internal", 8443)  # the bad value rolled back
        tctx.command(t.set_target, "")
        assert t.target is None
        untouched = make_flow("/users/1")
        t.request(untouched)
        assert untouched.request.host == "address"


def test_target_command_validates_and_shows_the_mode_target():
    t = TargetAddon()
    with taddons.context(t) as tctx:
        tctx.configure(t, mode=["reverse:http://127.0.0.1:8001"])
        assert t.show_target() == "http://127.0.0.1:8001"
        with pytest.raises(exceptions.CommandError, match="http:// or https://"):
            tctx.command(t.set_target, "not a url")
        tctx.command(t.set_target, "http://127.0.0.1:9002")
        assert tctx.options.mimic_target == "http://127.0.0.1:9002" and t.show_target() == "http://127.0.0.1:9002"


# -- command queue ----------------------------------------------------------------------------------------------
async def test_queued_commands_run_and_report(db):
    m, serve, chaos = Mimic(), ServeAddon(), ChaosAddon()
    q = CommandQueue(store=lambda: m.store, status=status_fn(lambda: m.brain, chaos))
    with taddons.context(m, serve, chaos, TargetAddon(), q) as tctx:
        tctx.configure(m, mimic_db=db)
        store = m.store
        ok = store.enqueue_command("mimic.mode.set", ["mock"])
        bad = store.enqueue_command("mimic.mode.set", ["bogus"])
        unknown = store.enqueue_command("mimic.nope", [])
        shown = store.enqueue_command("mimic.mode.show", [])
        assert await q.sync(store) == 4
        assert tctx.options.mimic_mode == "mock"
        assert store.command_result(ok)["state"] == "done"
        failed = store.command_result(bad)
        assert failed["state"] == "failed" and "mode must be one of" in failed["result"]
        assert store.command_result(unknown)["state"] == "failed"
        assert store.command_result(shown) == {"id": shown, "state": "done", "result": "global: mock"}
        assert await q.sync(store) == 0

        tctx.configure(chaos, mimic_chaos_profile="flaky")
        await q.heartbeat(store)
        status = store.get_setting(STATUS_KEY)
        assert status["mode"] == "mock" and status["chaos_profile"] == "flaky" and status["target"] == ""
        assert time.time() - status["heartbeat"] < 5
        m.done()


async def test_stale_commands_are_cancelled_not_run(db, monkeypatch):
    m, serve = Mimic(), ServeAddon()
    q = CommandQueue(store=lambda: m.store)
    with taddons.context(m, serve, q) as tctx:
        tctx.configure(m, mimic_db=db)
        old = m.store.enqueue_command("mimic.mode.set", ["mock"])
        later = time.time() + 60
        monkeypatch.setattr(time, "time", lambda: later)
        assert await q.sync(m.store) == 0
        assert tctx.options.mimic_mode == "learn" and m.store.command_result(old)["state"] == "cancelled"
        m.done()


# -- embedded admin server ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "expected"), [
    ("127.0.0.1:8081", Bind("127.0.0.1", 8081)), ("9000", Bind("127.0.0.1", 9000)),
    ("[::1]:8081", Bind("::1", 8081)), ("off", None), ("OFF", None), ("", None),
])
def test_parse_bind(spec, expected):
    assert parse_bind(spec) == expected


@pytest.mark.parametrize("spec", ["127.0.0.1:http", "localhost:0", "localhost:70000", "x:"])
def test_parse_bind_refuses(spec):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_bind(spec)


def test_parse_allowed():
    assert parse_allowed(" Ada@Example.com, @example.org ,,") == (("ada@example.com",), ("example.org",))


def test_admin_options_are_validated():
    a = AdminServer()
    with taddons.context(a) as tctx:
        with pytest.raises(exceptions.OptionsError, match="mimic_admin"):
            tctx.configure(a, mimic_admin="localhost:notaport")


async def test_port_in_use_is_reported_and_the_proxy_runs_on(db, caplog):
    m = Mimic()
    a = AdminServer(store=lambda: m.store, hub=LiveHub())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with taddons.context(m, a) as tctx:
            tctx.configure(m, mimic_db=db)
            tctx.configure(a, mimic_admin=f"127.0.0.1:{port}")
            with caplog.at_level(logging.WARNING, logger=admin_server.__name__):
                a.running()
                await a.starting
            assert a.server is None
            assert f"cannot listen on 127.0.0.1:{port}" in caplog.text and "the proxy runs on" in caplog.text
            assert all(r.levelno < logging.ERROR for r in caplog.records)  # an ERROR would stop mitmdump
            a.done()
            m.done()


async def test_admin_off_starts_nothing(db, caplog):
    m = Mimic()
    a = AdminServer(store=lambda: m.store, hub=LiveHub())
    with taddons.context(m, a) as tctx:
        tctx.configure(m, mimic_db=db)
        tctx.configure(a, mimic_admin="off")
        with caplog.at_level(logging.INFO, logger=admin_server.__name__):
            a.running()
            await a.starting
        assert a.server is None and "dashboard is off" in caplog.text
        m.done()


async def test_embedded_dashboard_serves_and_moves_when_its_option_changes(db, caplog):
    import httpx

    m = Mimic()
    hub = LiveHub()
    a = AdminServer(store=lambda: m.store, hub=hub, status=lambda: {"mode": "learn"})
    first, second = _free_port(), _free_port()
    with taddons.context(m, a) as tctx:
        tctx.configure(m, mimic_db=db)
        tctx.configure(a, mimic_admin=f"127.0.0.1:{first}", mimic_admin_token="addon-test-token")
        with caplog.at_level(logging.INFO):
            a.running()
            await a.starting
        assert f"dashboard at http://127.0.0.1:{first}/" in caplog.text
        assert "generated admin token" not in caplog.text  # one was given
        auth = {"Authorization": "Bearer addon-test-token"}
        async with httpx.AsyncClient(trust_env=False, timeout=10) as c:  # the server runs on this very loop
            assert (await c.get(f"http://127.0.0.1:{first}/")).status_code == 200
            r = await c.get(f"http://127.0.0.1:{first}/api/status", headers=auth)
            assert r.status_code == 200 and r.json()["proxy"] == "embedded" and r.json()["mode"] == "learn"

            tctx.configure(a, mimic_admin=f"127.0.0.1:{second}")
            await a.starting  # the old server stops, the new one starts
            assert (await c.get(f"http://127.0.0.1:{second}/api/status", headers=auth)).status_code == 200
            with pytest.raises(httpx.ConnectError):
                await c.get(f"http://127.0.0.1:{first}/")
        server = a.server
        a.done()
        await server.stop()
        assert server.task.done()
        m.done()


async def test_a_reloaded_addon_gets_the_port_its_old_self_is_closing(db, caplog):
    """mitmproxy reloading the script stops the old dashboard and starts the new one at once: the new
    one waits for the port instead of leaving the dashboard off (every second reload did)."""
    import httpx

    m = Mimic()
    old = AdminServer(store=lambda: m.store, hub=LiveHub(), status=lambda: {"mode": "learn"})
    new = AdminServer(store=lambda: m.store, hub=LiveHub(), status=lambda: {"mode": "learn"})
    port = _free_port()
    with taddons.context(m, old) as tctx:  # (`new` reads the same options: those of the reloaded script)
        tctx.configure(m, mimic_db=db)
        tctx.configure(old, mimic_admin=f"127.0.0.1:{port}", mimic_admin_token="reload-token")
        old.running()
        await old.starting
        closing = old.server
        async with httpx.AsyncClient(trust_env=False, timeout=10) as c:
            assert (await c.get(f"http://127.0.0.1:{port}/")).status_code == 200  # (the old one serving)
            old.done()      # (as a reload does: the old one told to stop, the new one started at once)
            with caplog.at_level(logging.INFO):
                new.running()
                await new.starting
            assert "cannot listen" not in caplog.text and new.server is not None
            await asyncio.wait_for(closing.task, 10)  # (the old one ends: uvicorn frees the port before it
                                                      # has finished closing, so it may still be at it here)
            assert (await c.get(f"http://127.0.0.1:{port}/")).status_code == 200
        server = new.server
        new.done()
        await server.stop()
        m.done()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_flows_read_from_a_file_are_not_logged():
    log = InspectorLog()
    with taddons.context(log) as tctx:
        tctx.configure(log)
        log.writer.stop()
        log.response(tflow.tflow(resp=True, live=False))
        log.error(tflow.tflow(err=True, live=False))
        assert log.writer._drain_now() == []


async def test_over_the_log_rate_requests_are_streamed_not_logged_errors_first(db):
    s = Stack()
    with taddons.context(*s.addons) as tctx:
        tctx.configure(s.mimic, mimic_db=db)
        tctx.configure(s.log, mimic_request_log_rate=2)
        s.log.running()
        s.log.writer.stop()
        s.log.writer._rows = PerSecond(clock=lambda: 7.0)  # all within one second of the budget
        sub = s.hub.subscribe()
        for i in range(4):
            await s.answered(user_flow(i))
        for i in range(3):
            await s.answered(make_flow(f"/missing/{i}", status=404, resp_body=b'{"error": "no"}'))
        s.log.writer.process(s.log.writer._drain_now())
        events = await next_events(sub, 7)
        logged = [e["path"] for e in events if e["id"] is not None]
        assert logged == ["/users/0", "/users/1", "/missing/0", "/missing/1"]  # 2/s, errors up to 4/s
        assert [e["path"] for e in events] == [f"/users/{i}" for i in range(4)] + [f"/missing/{i}" for i in range(3)]
        assert s.log.writer.skipped == 3 and len(s.mimic.store.recent_requests()) == 4
        s.log.done()
        s.mimic.done()


def test_a_start_on_a_stored_token_says_how_to_get_a_new_one(capsys):
    """The token is shown once: a later start says what to do when it is lost, never a password."""
    from mimic_addon.control.admin_server import Bind
    from mimic_addon.control.standalone import _announce

    bind = Bind("127.0.0.1", 8081)
    _announce(bind, "sqlite:////tmp/m.db", "tok-123", "/tmp/m.db")
    err = capsys.readouterr().err
    assert "generated admin token (shown once, stored hashed): tok-123" in err and "reset-token" not in err
    _announce(bind, "postgresql+psycopg://mimic:s3cret@db/test", None, "postgresql://mimic:s3cret@db/test")
    err = capsys.readouterr().err
    assert "`mimic admin --db postgresql://mimic:***@db/test --reset-token`" in err and "s3cret" not in err
    _announce(bind, "sqlite:////tmp/m.db", None, None)  # a token given (option / environment): nothing to say
    assert "reset-token" not in capsys.readouterr().err
