"""The local admin token, cookie sessions, login/logout, the landing page and the admin API's own docs."""
from __future__ import annotations

import re
import sqlite3
import urllib.parse

import pytest
from admin.conftest import TOKEN, csrf_of, login
from openapi_spec_validator import validate
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.auth import SESSION_COOKIE, ensure_token, reset_token
from admin_app.auth.core import STORE_CACHE_S
from admin_app.auth.routes import safe_next
from admin_app.auth.secrets_store import (
    EPOCH_KEY,
    TOKEN_KEY,
    hash_token,
    token_matches,
)
from admin_app.live import LiveHub
from admin_app.settings import AdminSettings
from mimic_addon import cli
from mimic_addon.control.admin_server import AdminServer, Bind
from mimic_addon.store import Store

BASE = "http://127.0.0.1:8081"


def settings_rows(db: str) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return {k: str(v) for k, v in conn.execute("SELECT key, value FROM settings")}


def app_on(env, **settings) -> TestClient:
    """Another admin app on the same store (a restart, or the standalone admin beside the embedded one)."""
    return TestClient(create_app(AdminSettings(**settings), env.store, env.control, LiveHub()), base_url=BASE)


# -- the admin token -------------------------------------------------------------------------------------
def test_a_token_is_generated_once_and_only_its_hash_is_stored(tmp_path):
    db = str(tmp_path / "t.db")
    store = Store(db)
    try:
        token = ensure_token(store, None)
        assert token and len(token) >= 30
        assert ensure_token(store, None) is None  # shown once: later starts generate nothing
        record = store.get_setting(TOKEN_KEY)
        assert record["alg"] == "scrypt" and token_matches(token, record)
        assert not token_matches(token + "x", record) and not token_matches("", record)
        assert all(token not in value for value in settings_rows(db).values())
    finally:
        store.close()


def test_an_explicit_token_replaces_the_stored_hash(tmp_path):
    store = Store(str(tmp_path / "t.db"))
    try:
        generated = ensure_token(store, None)
        assert ensure_token(store, "chosen-token") is None
        assert token_matches("chosen-token", store.get_setting(TOKEN_KEY))
        assert not token_matches(generated, store.get_setting(TOKEN_KEY))
        record = store.get_setting(TOKEN_KEY)
        secret = store.get_setting(EPOCH_KEY)
        ensure_token(store, "chosen-token")  # the same explicit token again: hash (and salt) untouched
        assert store.get_setting(TOKEN_KEY) == record and store.get_setting(EPOCH_KEY) == secret
        ensure_token(store, "another-token")  # a different one: sessions signed before end
        assert store.get_setting(EPOCH_KEY) != secret
    finally:
        store.close()


def test_hashes_are_salted():
    a, b = hash_token("same"), hash_token("same")
    assert a["salt"] != b["salt"] and a["hash"] != b["hash"]
    assert token_matches("same", a) and token_matches("same", b)
    assert not token_matches("same", {**a, "alg": "plain"})


def test_a_generated_token_logs_in_and_survives_a_restart(admin_env):
    token = reset_token(admin_env.store)  # as `mimic admin --reset-token` would, then the app starts
    with app_on(admin_env) as c:
        login(c, token)
        assert c.get("/api/session").json()["user"]["method"] == "token"
    with app_on(admin_env) as c:  # a restart: same store, nothing explicit, nothing new generated
        login(c, token)


class Clock:
    """The monotonic clock of a running app's store cache (core.STORE_CACHE_S), moved by hand."""

    def __init__(self, app) -> None:
        self.t = 1000.0
        self.auth = app.state.auth
        self.auth.now = self
        self.auth.forget()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def test_a_rotated_token_is_refused_by_a_running_app_within_a_second(admin_env, anon):
    clock = Clock(admin_env.app)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert anon.get("/api/session", headers=bearer).status_code == 200
    new = reset_token(admin_env.store)  # from another process, e.g. the CLI
    clock.advance(STORE_CACHE_S + 0.01)
    assert anon.get("/api/session", headers=bearer).status_code == 401
    assert anon.get("/api/session", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_rotation_ends_existing_sessions(admin_env, client):
    cookie = client.cookies.get(SESSION_COOKIE)
    reset_token(admin_env.store)
    with app_on(admin_env) as c:
        c.cookies.set(SESSION_COOKIE, cookie)
        assert c.get("/api/session").status_code == 401


def test_reset_token_ends_the_sessions_of_a_running_app_within_a_second(admin_env, client):
    clock = Clock(admin_env.app)
    assert client.get("/api/session").status_code == 200
    reset_token(admin_env.store)
    clock.advance(STORE_CACHE_S / 2)
    assert client.get("/api/session").status_code == 200  # the cached secret, for less than a second
    clock.advance(STORE_CACHE_S)
    assert client.get("/api/session").status_code == 401
    assert client.get("/deck", follow_redirects=False).status_code == 303


def test_a_token_change_ends_the_sessions_of_a_running_app(admin_env, client):
    clock = Clock(admin_env.app)
    secret = admin_env.store.get_setting(EPOCH_KEY)
    with app_on(admin_env, token="a-new-admin-token-0123456789"):  # e.g. the other admin, restarted
        pass
    assert admin_env.store.get_setting(EPOCH_KEY) != secret
    clock.advance(STORE_CACHE_S + 0.01)
    assert client.get("/api/session").status_code == 401
    with TestClient(admin_env.app, base_url=BASE) as c:  # the new token logs in on the running app
        login(c, "a-new-admin-token-0123456789")
        assert c.get("/api/session").status_code == 200


def test_the_same_token_again_keeps_the_sessions(admin_env, client):
    Clock(admin_env.app).advance(STORE_CACHE_S + 0.01)
    secret = admin_env.store.get_setting(EPOCH_KEY)
    with app_on(admin_env, token=TOKEN):  # a restart with the token it already has
        pass
    assert admin_env.store.get_setting(EPOCH_KEY) == secret
    assert client.get("/api/session").status_code == 200


def test_mimic_admin_reset_token_prints_a_new_token_and_rotates_the_secret(admin_env, capsys, monkeypatch):
    monkeypatch.delenv("MIMIC_ADMIN_TOKEN", raising=False)
    secret = admin_env.store.get_setting(EPOCH_KEY)
    assert cli.main(["admin", "--db", admin_env.db, "--reset-token"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert len(token) >= 30 and "\n" not in token and "shown once" in err
    assert token_matches(token, admin_env.store.get_setting(TOKEN_KEY))
    assert not token_matches(TOKEN, admin_env.store.get_setting(TOKEN_KEY))
    assert admin_env.store.get_setting(EPOCH_KEY) != secret


def test_mimic_admin_flags():
    args = cli.build_parser().parse_args(["admin", "--secure-cookies"])
    assert args.secure_cookies and not args.reset_token and args.token is None
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["admin", "--token", "x", "--reset-token"])
    assert "MIMIC_ADMIN_TOKEN" in cli.build_parser()._subparsers._group_actions[0].choices["admin"].format_help()


# -- sessions ----------------------------------------------------------------------------------------------
def test_login_sets_a_signed_httponly_strict_cookie_and_redirects_to_the_deck(admin_env):
    with TestClient(admin_env.app, base_url=BASE) as c:
        page = c.get("/login")
        assert page.status_code == 200 and 'name="token"' in page.text
        pre = csrf_of(page.text)
        r = c.post("/login", data={"token": TOKEN, "csrf_token": pre}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/deck"
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE + "="))
        attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "max-age", "path", "samesite"} <= attrs and "secure" not in attrs
        assert "samesite=strict" in cookie.lower() and "max-age=43200" in cookie.lower()
        assert TOKEN not in cookie
        session = c.get("/api/session").json()
        assert session["user"] == {"name": "admin", "email": "", "method": "token"}
        assert session["csrf_token"] and session["csrf_token"] != pre  # a fresh token for the session
        deck = c.get("/deck")
        assert deck.status_code == 200 and csrf_of(deck.text) == session["csrf_token"]
        assert c.get("/login", follow_redirects=False).headers["location"] == "/deck"  # already in


def test_cookies_are_secure_when_configured(admin_env):
    with app_on(admin_env, token=TOKEN, secure_cookies=True) as c:
        r = c.get("/login")
        assert "secure" in r.headers["set-cookie"].lower()


@pytest.mark.parametrize("how", ["env", "option", "cli"])
def test_secure_cookies_can_be_turned_on(admin_env, monkeypatch, how):
    monkeypatch.delenv("MIMIC_ADMIN_SECURE_COOKIES", raising=False)
    assert not AdminServer.settings(Bind("127.0.0.1", 8081), TOKEN, "", "").secure_cookies  # off by default
    if how == "env":
        monkeypatch.setenv("MIMIC_ADMIN_SECURE_COOKIES", "1")
        settings = AdminSettings.from_env(token=TOKEN)
    elif how == "option":  # --set mimic_admin_secure_cookies=true
        settings = AdminServer.settings(Bind("127.0.0.1", 8081), TOKEN, "", "", True)
    else:  # mimic admin --secure-cookies, as standalone.run builds its settings
        args = cli.build_parser().parse_args(["admin", "--secure-cookies"])
        settings = AdminSettings.from_env(token=TOKEN, secure_cookies=args.secure_cookies or None)
    assert settings.secure_cookies
    app = create_app(settings, admin_env.store, admin_env.control, LiveHub())
    with TestClient(app, base_url="https://127.0.0.1:8081") as c:  # the client keeps Secure cookies for HTTPS
        page = c.get("/login")
        r = c.post("/login", data={"token": TOKEN, "csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 303, r.text
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE + "="))
        assert "secure" in {a.strip().lower() for a in cookie.split(";")}


def test_sessions_work_across_admin_processes_on_one_store(admin_env, client):
    """The embedded and the standalone admin (or a restarted one) share the key file and the epoch in the store."""
    assert admin_env.store.get_setting(EPOCH_KEY)
    with app_on(admin_env) as other:
        other.cookies.set(SESSION_COOKIE, client.cookies.get(SESSION_COOKIE))
        assert other.get("/api/session").json() == client.get("/api/session").json()


@pytest.mark.parametrize("target,expected", [
    ("/explorer?q=users", "/explorer?q=users"), ("/inspector", "/inspector"), ("//evil.example/x", "/deck"),
    ("https://evil.example/", "/deck"), ("/\\evil.example", "/deck"), ("javascript:alert(1)", "/deck"),
    ("/login", "/deck"), ("", "/deck"), ("/deck\r\nSet-Cookie: x=1", "/deck"),
])
def test_login_goes_back_where_it_was_asked_for_on_this_site_only(admin_env, target, expected):
    assert safe_next(target) == expected
    with TestClient(admin_env.app, base_url=BASE) as c:
        page = c.get("/login?" + urllib.parse.urlencode({"next": target}))
        r = c.post("/login", data={"token": TOKEN, "csrf_token": csrf_of(page.text),
                                   "next": re.search(r'name="next" value="([^"]*)"', page.text).group(1)},
                   follow_redirects=False)
        assert r.headers["location"] == expected


def test_an_anonymous_page_request_remembers_where_it_was_going(anon):
    r = anon.get("/explorer?q=users", follow_redirects=False)
    assert r.status_code == 303
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["location"]).query) == {"next": ["/explorer?q=users"]}


def test_a_browser_navigating_to_the_api_is_sent_to_the_login_page(anon):
    html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    r = anon.get("/api/docs", headers={"Accept": html}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fapi%2Fdocs"
    assert anon.get("/api/docs", follow_redirects=False).status_code == 401  # scripts get JSON
    assert anon.post("/api/state/reset", headers={"Accept": html}, follow_redirects=False).status_code == 401


def test_logout_ends_the_session_in_this_browser(client):
    r = client.post("/logout", follow_redirects=False)  # the fixture's X-CSRF-Token header
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert f'{SESSION_COOKIE}=""' in r.headers["set-cookie"] or "max-age=0" in r.headers["set-cookie"].lower()
    assert client.get("/api/session").status_code == 401
    assert client.get("/deck", follow_redirects=False).status_code == 303


def test_a_logged_out_cookie_kept_elsewhere_is_refused_here_and_by_other_admin_apps(admin_env, client):
    """Logout ends the session itself, not only the browser's copy of its cookie: a copy replayed later
    (a stolen cookie, another tab's) is refused by this app at once, and by another admin app on the
    store within STORE_CACHE_S; other sessions go on."""
    kept = client.cookies.get(SESSION_COOKIE)
    csrf = client.headers["X-CSRF-Token"]
    with app_on(admin_env) as other:
        clock = Clock(other.app)
        login(other)
        other_session = other.cookies.get(SESSION_COOKIE)
        other.cookies.clear()
        other.cookies.set(SESSION_COOKIE, kept)
        assert other.get("/api/session").status_code == 200
        assert client.post("/logout", follow_redirects=False).status_code == 303
        client.cookies.set(SESSION_COOKIE, kept)
        assert client.get("/api/session").status_code == 401
        assert client.put("/api/mode", json={"mode": "mock"}, headers={"X-CSRF-Token": csrf}).status_code == 401
        clock.advance(STORE_CACHE_S + 0.01)
        assert other.get("/api/session").status_code == 401
        other.cookies.set(SESSION_COOKIE, other_session)
        assert other.get("/api/session").status_code == 200  # another session, still on


def test_firebase_sign_in_is_absent_without_a_project(anon):
    page = anon.get("/login")
    assert "firebase" not in page.text.lower()
    r = anon.post("/auth/firebase", json={"id_token": "x"}, headers={"X-CSRF-Token": csrf_of(page.text)})
    assert r.status_code == 404 and "not configured" in r.json()["error"]


# -- landing -----------------------------------------------------------------------------------------------
def test_landing_is_public_and_explains_how_to_use_the_proxy(anon):
    r = anon.get("/")
    assert r.status_code == 200
    for text in ("127.0.0.1:8080", "--mode reverse:http://", "mitmproxy-ca-cert.pem", "~/.mitmproxy",
                 'href="/login"'):
        assert text in r.text, text
    for href in ("/deck", "/explorer", "/inspector", "/chaos", "/state", "/api/docs"):
        assert f'href="{href}"' in r.text, href
    assert "api.example.com" not in r.text  # nothing learned is shown to strangers
    assert "Log out" not in r.text


def test_landing_knows_who_is_logged_in(client):
    r = client.get("/")
    assert "Open the control deck" in r.text and "Log out" in r.text


# -- the admin API's own description -----------------------------------------------------------------------
def api_operations(app) -> list[tuple[str, str]]:
    """(method, path) of every API route of the assembled app, path converters stripped."""
    found = []
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "/api":
            for sub in route.routes:
                if isinstance(sub, Route):
                    found += [(m.lower(), "/api" + re.sub(r":\w+}", "}", sub.path)) for m in sub.methods if m != "HEAD"]
        elif isinstance(route, Route) and route.path.startswith("/api/"):
            found += [(m.lower(), route.path) for m in route.methods if m != "HEAD"]
    return found


def test_the_openapi_document_describes_every_api_route(client, admin_env):
    doc = client.get("/api/openapi.json").json()
    validate(doc)  # a valid OpenAPI 3.1 document
    assert doc["info"]["title"] == "Mimic admin API"
    assert set(doc["components"]["securitySchemes"]) == {"session", "bearer"}
    assert doc["components"]["securitySchemes"]["session"]["name"] == SESSION_COOKIE
    missing = []
    for method, path in api_operations(admin_env.app):
        op = doc["paths"].get(path, {}).get(method)
        if not (op and op.get("summary") and op.get("responses")):
            missing.append(f"{method.upper()} {path}")
    assert missing == [], f"API routes without a documented operation (docstring YAML after ---): {missing}"


def test_the_docs_page_lists_every_operation(client, admin_env):
    page = client.get("/api/docs")
    assert page.status_code == 200 and "Mimic admin API" in page.text
    rows = set(re.findall(r'<td class="method">(\w+)</td>\s*<td class="path">([^<]+)</td>', page.text))
    assert rows == {(m, p) for m, p in api_operations(admin_env.app)}


def test_a_store_gone_is_a_503_saying_so_not_a_bare_500(admin_env, client, tmp_path):
    """The store's directory moved away under a running admin app (as a database server going down):
    the API answers a JSON 503, pages a 503 page, both saying the store is unavailable; back once it is."""
    import shutil
    moved = tmp_path.parent / f"{tmp_path.name}-away"
    shutil.move(str(tmp_path), str(moved))
    admin_env.store.engine.dispose()  # (no connection opened before the move is reused)
    try:
        r = client.get("/api/inspector")
        assert r.status_code == 503 and r.json()["error"].startswith("the store is unavailable: ")
        assert r.headers["retry-after"] == "5"
        r = client.get("/inspector", headers={"Accept": "text/html"})
        assert r.status_code == 503 and "The store is unavailable" in r.text and "<script" not in r.text
    finally:
        shutil.move(str(moved), str(tmp_path))
    admin_env.store.engine.dispose()
    assert client.get("/api/inspector").status_code == 200


def test_a_wrong_authorization_scheme_is_told_what_is_taken(anon):
    r = anon.get("/api/session", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert r.status_code == 401
    assert r.json()["error"] == "Basic authorization is not taken here: send 'Authorization: Bearer <admin token>'"
    r = anon.get("/api/session", headers={"Authorization": "Bearer not-the-token-0123456789"})
    assert r.status_code == 401 and r.json()["error"] == "the bearer token is not the admin token"


def test_logouts_at_the_same_time_are_all_kept_in_the_store(admin_env):
    import asyncio

    from admin_app.auth.core import ENDED_KEY
    from admin_app.auth.sessions import Session, User
    auth = admin_env.app.state.auth
    sessions = [Session(User("admin"), f"csrf-{i}") for i in range(8)]

    async def all_at_once() -> None:
        await asyncio.gather(*(auth.end_session(s) for s in sessions))

    asyncio.run(all_at_once())
    assert len(admin_env.store.get_setting(ENDED_KEY)) == 8


def test_bidirectional_controls_are_written_out_except_where_a_value_goes_back_as_it_is():
    from admin_app.context import templates
    page = templates().env.from_string('<p>{{ x }}</p><input value="{{ x|verbatim }}">')
    assert page.render(x="a\u202eb<") == '<p>a&lt;U+202E&gt;b&lt;</p><input value="a\u202eb&lt;">'
