"""Every route of the assembled admin app refuses whoever should not get in.

The routes are enumerated from the app itself (Mounts and WebSocket routes included), so a route
another section adds later is covered without touching this file.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from admin.conftest import TOKEN, csrf_of
from starlette.convertors import (
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    UUIDConvertor,
)
from starlette.routing import BaseRoute, Host, Mount, Route, WebSocketRoute
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.auth import SESSION_COOKIE
from admin_app.auth.policy import is_public
from admin_app.auth.secrets_store import master_key, session_epoch, signing_key
from admin_app.auth.sessions import Session, SessionCodec, User
from admin_app.live import LiveHub
from admin_app.settings import AdminSettings

BASE = "http://127.0.0.1:8081"
WS_BASE = "ws://127.0.0.1:8081"
FOREIGN = "https://evil.example"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Endpoint:
    kind: str  # "http" | "ws" | "mount"
    path: str  # concrete path, parameters filled in
    method: str = "GET"

    def __str__(self) -> str:
        return f"{self.kind} {self.method} {self.path}"


def _sample(name: str, convertor: object) -> str:
    if isinstance(convertor, IntegerConvertor):
        return "1"
    if isinstance(convertor, FloatConvertor):
        return "1.5"
    if isinstance(convertor, UUIDConvertor):
        return str(uuid.UUID(int=1))
    if isinstance(convertor, PathConvertor):
        return "a/b"
    return f"x-{name}"


def _concrete(route: Route | WebSocketRoute) -> str:
    return route.path_format.format(**{n: _sample(n, c) for n, c in route.param_convertors.items()})


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[Endpoint]:
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                yield from walk(list(route.routes), prefix + route.path)
            else:  # an ASGI app mounted whole (static files): probe a path inside it
                yield Endpoint("mount", prefix + route.path + "/probe.txt")
        elif isinstance(route, Host):
            yield from walk(list(route.routes), prefix)
        elif isinstance(route, WebSocketRoute):
            yield Endpoint("ws", prefix + _concrete(route))
        elif isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                yield Endpoint("http", prefix + _concrete(route), method)
        else:
            raise TypeError(f"unknown route type {route!r}: teach this test how to probe it")


@pytest.fixture
def endpoints(admin_env) -> list[Endpoint]:
    found = list(walk(admin_env.app.routes))
    assert any(e.kind == "ws" for e in found) and len(found) > 20, found  # the walk really sees the app
    return found


def guarded(endpoints: list[Endpoint]) -> list[Endpoint]:
    return [e for e in endpoints if not is_public(e.path)]


def secret(admin_env) -> str:
    """The signing key, as an admin process holding the store's key file derives it."""
    return signing_key(master_key(admin_env.store, None), session_epoch(admin_env.store))


def forged_cookie() -> str:
    return SessionCodec("not-the-secret", 3600).dump(Session(User("mallory"), "forged-csrf"))


def expired_cookie(admin_env, csrf: str = "old-csrf") -> str:
    old = time.time() - 2 * 12 * 3600
    return SessionCodec(secret(admin_env), 12 * 3600, clock=lambda: old).dump(Session(User("admin"), csrf))


def fresh(admin_env) -> TestClient:
    return TestClient(admin_env.app, base_url=BASE)


def assert_refused(r, endpoint: Endpoint) -> None:
    """Refused as anonymous: API 401 JSON, pages 303 to the login page; never the handler's answer."""
    if endpoint.path.startswith("/api/"):
        assert r.status_code == 401, (str(endpoint), r.status_code, r.text[:200])
        if endpoint.method != "HEAD":
            assert "error" in r.json()
    else:
        assert r.status_code == 303, (str(endpoint), r.status_code, r.text[:200])
        assert r.headers["location"].startswith("/login?next="), str(endpoint)
    assert "api.example.com" not in r.text, str(endpoint)  # nothing learned leaks


def test_the_public_routes_are_only_landing_login_auth_and_static(endpoints):
    public = {e.path for e in endpoints if is_public(e.path)}
    assert public <= {"/", "/login", "/auth/firebase", "/favicon.ico", "/static/probe.txt"}, public
    assert {"/", "/login"} <= public


def test_no_credentials_are_refused_everywhere(admin_env, endpoints):
    with fresh(admin_env) as c:
        for e in guarded(endpoints):
            if e.kind == "http":
                assert_refused(c.request(e.method, e.path, follow_redirects=False), e)
    assert admin_env.control.calls == []


def test_a_wrong_bearer_token_is_refused_everywhere(admin_env, endpoints):
    limiter = admin_env.app.state.auth.limiter
    with fresh(admin_env) as c:
        for e in guarded(endpoints):
            if e.kind != "http":
                continue
            limiter.succeeded("testclient")  # this test is about every route, not about the failure limit
            r = c.request(e.method, e.path, headers={"Authorization": f"Bearer {TOKEN}x"}, follow_redirects=False)
            assert r.status_code == 401, (str(e), r.status_code)
            assert r.headers["www-authenticate"].startswith("Bearer")
            # a session cookie does not rescue a request that names a wrong token
            r = c.request(e.method, e.path, headers={"Authorization": "Bearer nope"},
                          cookies={SESSION_COOKIE: expired_cookie(admin_env)}, follow_redirects=False)
            assert r.status_code == 401, str(e)
            assert "api.example.com" not in r.text
    assert admin_env.control.calls == []


@pytest.mark.parametrize("which", ["forged", "expired", "garbage"])
def test_forged_or_expired_session_cookies_are_refused_everywhere(admin_env, endpoints, which):
    cookie = {"forged": forged_cookie(), "expired": expired_cookie(admin_env), "garbage": "a.b.c"}[which]
    with fresh(admin_env) as c:
        c.cookies.set(SESSION_COOKIE, cookie)
        for e in guarded(endpoints):
            if e.kind == "http":
                headers = {"X-CSRF-Token": "forged-csrf" if which == "forged" else "old-csrf"}
                assert_refused(c.request(e.method, e.path, headers=headers, follow_redirects=False), e)
    assert admin_env.control.calls == []


def test_cross_site_form_posts_are_refused_on_every_state_changing_route(client, admin_env, endpoints):
    """A logged-in browser tricked into posting: the session cookie is there, the CSRF token is not (or is
    wrong), and the Origin is someone else's."""
    good = client.headers["X-CSRF-Token"]
    del client.headers["X-CSRF-Token"]
    changing = [e for e in endpoints if e.kind == "http" and e.method in UNSAFE and e.path not in ("/login",)]
    assert changing, "no state-changing route found"
    for e in changing:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        cases = [
            ({**form, "Origin": FOREIGN}, "mode=mock"),  # no token, foreign origin
            ({**form, "Origin": FOREIGN}, "csrf_token=wrong&mode=mock"),  # wrong token, foreign origin
            ({**form, "Origin": FOREIGN}, f"csrf_token={good}&mode=mock"),  # right token, foreign origin
            ({**form, "Referer": FOREIGN + "/page"}, f"csrf_token={good}"),  # no Origin, foreign Referer
            ({**form, "Origin": BASE}, "mode=mock"),  # same origin, no token
            ({**form, "Origin": BASE}, "csrf_token=wrong"),  # same origin, wrong token
            ({"Content-Type": "application/json", "X-CSRF-Token": "wrong"}, '{"mode": "mock"}'),
            ({"Content-Type": "application/json"}, '{"mode": "mock"}'),
        ]
        for headers, body in cases:
            r = client.request(e.method, e.path, headers=headers, content=body, follow_redirects=False)
            assert r.status_code == 403, (str(e), headers, body, r.status_code, r.text[:200])
            assert "error" in r.json()
    assert admin_env.control.calls == []
    assert client.get("/api/session").status_code == 200  # still logged in: the refusals were about CSRF


def test_the_right_csrf_token_gets_through(client, admin_env):
    """The other side of the refusals above: same origin plus the session's token is accepted, as a header
    or as a form field."""
    r = client.put("/api/mode", json={"mode": "mock"}, headers={"Origin": BASE})
    assert r.status_code == 200, r.text
    assert admin_env.control.calls[-1][:2] == ("mimic.mode.set", "mock")
    token = client.headers.pop("X-CSRF-Token")
    r = client.post("/logout", data={"csrf_token": token}, headers={"Origin": BASE}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/api/session").status_code == 401


def test_bearer_token_needs_no_cookie_and_no_csrf(admin_env):
    with fresh(admin_env) as c:
        r = c.put("/api/mode", json={"mode": "mock"}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, r.text
        assert c.get("/api/session", headers={"Authorization": f"Bearer {TOKEN}"}).json()["user"]["method"] == "bearer"
    assert admin_env.control.calls == [("mimic.mode.set", "mock")]


def valid_cookie(admin_env) -> str:
    return SessionCodec(secret(admin_env), 12 * 3600).dump(Session(User("admin"), "csrf"))


async def handshake(app, path: str, headers: dict[str, str], timeout: float = 5.0,
                    host: str = "127.0.0.1:8081") -> dict:
    """The app's answer to a WebSocket handshake at the ASGI level: the `websocket.accept` or
    `websocket.close` message (then the client goes away, and the handler must finish)."""
    answered = asyncio.Event()
    sent: list[dict] = []

    connect = [{"type": "websocket.connect"}]

    async def receive() -> dict:
        if connect:
            return connect.pop()
        await answered.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict) -> None:
        sent.append(message)
        answered.set()

    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "server": ("127.0.0.1", 8081), "client": ("127.0.0.1", 40000),
             "subprotocols": [], "headers": [(b"host", host.encode()),
                                             *[(k.lower().encode(), v.encode()) for k, v in headers.items()]]}
    task = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(answered.wait(), timeout)
    await asyncio.wait_for(task, timeout)
    return sent[0]


async def test_websockets_need_a_session_and_a_same_origin_handshake(admin_env, endpoints):
    sockets = [e for e in endpoints if e.kind == "ws"]
    app = admin_env.app
    good = f"{SESSION_COOKIE}={valid_cookie(admin_env)}"
    for e in sockets:
        refusals = {
            "nothing": {"Origin": BASE},
            "wrong bearer": {"Origin": BASE, "Authorization": "Bearer wrong"},
            "forged cookie": {"Origin": BASE, "Cookie": f"{SESSION_COOKIE}={forged_cookie()}"},
            "expired cookie": {"Origin": BASE, "Cookie": f"{SESSION_COOKIE}={expired_cookie(admin_env)}"},
        }
        for why, headers in refusals.items():
            message = await handshake(app, e.path, headers)
            assert message == {"type": "websocket.close", "code": 4401, "reason": "authentication required"}, \
                (str(e), why)
        # logged in, but the page opening the socket is someone else's (or says nothing)
        for headers in ({"Cookie": good, "Origin": FOREIGN}, {"Cookie": good}):
            message = await handshake(app, e.path, headers)
            assert message["type"] == "websocket.close" and message["code"] == 4403, (str(e), headers)
        # the same session from its own origin gets in, and so does a script with the admin token
        assert (await handshake(app, e.path, {"Cookie": good, "Origin": BASE}))["type"] == "websocket.accept", str(e)
        assert (await handshake(app, e.path, {"Authorization": f"Bearer {TOKEN}"}))["type"] == "websocket.accept"


def test_login_with_a_wrong_token_fails_and_sets_no_session(admin_env):
    with fresh(admin_env) as c:
        page = c.get("/login")
        r = c.post("/login", data={"token": TOKEN + "x", "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 401
        assert "That is not the admin token" in r.text
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
        assert SESSION_COOKIE not in c.cookies
        assert c.get("/api/session").status_code == 401


def test_login_needs_the_pre_session_csrf_token(admin_env):
    with fresh(admin_env) as c:
        c.get("/login")
        for data in ({"token": TOKEN}, {"token": TOKEN, "csrf_token": "guessed"}):
            r = c.post("/login", data=data, follow_redirects=False)
            assert r.status_code == 403
            assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    with fresh(admin_env) as other:  # a token from another browser's login page is no good here
        stolen = csrf_of(other.get("/login").text)
    with fresh(admin_env) as c:
        c.get("/login")
        assert c.post("/login", data={"token": TOKEN, "csrf_token": stolen}, follow_redirects=False).status_code == 403


def test_session_expiry_is_honoured(admin_env):
    """A session signed max_age + 1 s ago is refused; one signed max_age - 1 s ago still works."""
    codec_at = lambda t: SessionCodec(secret(admin_env), 12 * 3600, clock=lambda: t)
    now = time.time()
    with fresh(admin_env) as c:
        c.cookies.set(SESSION_COOKIE, codec_at(now - 12 * 3600 - 1).dump(Session(User("admin"), "c")))
        assert c.get("/api/session").status_code == 401
        assert c.get("/deck", follow_redirects=False).status_code == 303
        c.cookies.set(SESSION_COOKIE, codec_at(now - 12 * 3600 + 60).dump(Session(User("admin"), "c")))
        assert c.get("/api/session").json()["user"]["name"] == "admin"


CSP = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
    "frame-ancestors": "'none'", "base-uri": "'none'", "form-action": "'self'", "object-src": "'none'",
}


def parse_csp(header: str) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip().split(" ", 1)[1] for d in header.split(";") if d.strip()}


def assert_strict_headers(r, what: str) -> None:
    csp = parse_csp(r.headers["content-security-policy"])
    for directive, value in CSP.items():
        assert csp.get(directive) == value, (what, directive, csp.get(directive))
    assert "unsafe" not in r.headers["content-security-policy"], what
    assert set(csp["connect-src"].split()) == {"'self'", "ws://127.0.0.1:8081", "wss://127.0.0.1:8081"}, what
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"


class InlineCode(HTMLParser):
    """Finds what a strict CSP would block or a CDN would serve: inline scripts, event-handler and style
    attributes, javascript: URLs, scripts and stylesheets from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            if not a.get("src"):
                self._in_script = True
            elif not a["src"].startswith("/static/"):
                self.problems.append(f"script from {a['src']}")
        if tag == "link" and a.get("rel") == "stylesheet" and not (a.get("href") or "").startswith("/static/"):
            self.problems.append(f"stylesheet from {a.get('href')}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data.strip()[:60]}")


def html_problems(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.problems


def test_every_page_sends_a_strict_csp_and_has_no_inline_code(client, anon, endpoints):
    pages = [e for e in endpoints if e.kind == "http" and e.method == "GET" and not e.path.startswith(("/api/",
             "/static/")) and e.path != "/favicon.ico"]
    pages += [Endpoint("http", "/api/docs")]
    assert {"/", "/login", "/deck", "/explorer", "/api/docs"} <= {e.path for e in pages}
    for e in pages:
        r = client.get(e.path, follow_redirects=False)
        if r.status_code in (303, 404):  # a detail page of something the seed does not have, or /login
            continue
        assert r.status_code == 200, (str(e), r.status_code)
        assert_strict_headers(r, str(e))
        assert r.headers["cache-control"] == "no-store", str(e)
        if "html" in r.headers["content-type"]:
            assert html_problems(r.text) == [], str(e)
    for path in ("/", "/login"):
        r = anon.get(path)
        assert_strict_headers(r, path)
        assert html_problems(r.text) == [], path


def test_the_api_and_refusals_send_the_security_headers_too(client, anon):
    assert_strict_headers(client.get("/api/status"), "/api/status")
    assert client.get("/api/status").headers["cache-control"] == "no-store"
    assert_strict_headers(anon.get("/api/status"), "401")
    assert_strict_headers(anon.get("/deck", follow_redirects=False), "303")
    static = anon.get("/static/app.js")
    assert static.status_code == 200 and static.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in static.headers.get("cache-control", "")  # assets may be cached


def test_a_hostile_host_header_is_not_reflected_into_the_csp(anon):
    r = anon.get("/", headers={"Host": "evil.example; script-src *"})
    csp = r.headers["content-security-policy"]
    assert "evil" not in csp and "script-src 'self';" in csp


# -- DNS rebinding: the Host header must name this app ----------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1:8081", "localhost:8081", "[::1]:8081", "LOCALHOST:8081"])
def test_the_bind_address_and_loopback_names_are_accepted(anon, host):
    assert anon.get("/", headers={"Host": host}).status_code == 200
    assert anon.get("/api/session", headers={"Host": host, "Authorization": f"Bearer {TOKEN}"}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example:8081", "evil.example", "127.0.0.1:9999", "127.0.0.1", "",
                                  "127.0.0.1.evil.example:8081", "[::1]x:8081"])
def test_another_host_is_refused_whatever_the_credentials(anon, host):
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
        r = anon.get("/api/session", headers={"Host": host, **headers})
        assert r.status_code == 421 and "Host" in r.json()["error"], (host, headers)
    assert anon.get("/", headers={"Host": host}).status_code == 421


async def test_a_websocket_to_another_host_is_refused(admin_env, endpoints):
    path = next(e.path for e in endpoints if e.kind == "ws")
    message = await handshake(admin_env.app, path, {"Authorization": f"Bearer {TOKEN}"}, host="evil.example:8081")
    assert message["type"] == "websocket.close" and message["code"] == 4421


def test_which_hosts_a_wildcard_bind_and_extra_hosts_accept():
    import socket

    from admin_app.auth.policy import HostCheck

    wild = HostCheck("0.0.0.0", 8081)
    assert wild.allows("192.168.1.20:8081", "http") and wild.allows("[fe80::1]:8081", "http")
    assert wild.allows(f"{socket.gethostname()}:8081", "http") and wild.allows("localhost:8081", "http")
    assert not wild.allows("evil.example:8081", "http") and not wild.allows("192.168.1.20:80", "http")
    extra = HostCheck("127.0.0.1", 8081, ("admin.example.com", "other.example:8443"))
    assert extra.allows("admin.example.com", "https") and extra.allows("admin.example.com:9000", "http")
    assert extra.allows("other.example:8443", "https") and not extra.allows("other.example", "https")
    assert not extra.allows("evil.example", "https")
    assert HostCheck("127.0.0.1", 8081, ("*",)).allows("anything.example", "http")


def test_extra_hosts_from_the_environment(admin_env, monkeypatch):
    """Behind a reverse proxy the Host header is the public name: MIMIC_ADMIN_ALLOWED_HOSTS lists it."""
    monkeypatch.setenv("MIMIC_ADMIN_ALLOWED_HOSTS", "admin.example.com")
    settings = AdminSettings.from_env(token=TOKEN)
    with TestClient(create_app(settings, admin_env.store, admin_env.control, LiveHub()),
                    base_url="https://admin.example.com") as c:
        assert c.get("/api/session", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.get("/", headers={"Host": "evil.example"}).status_code == 421
