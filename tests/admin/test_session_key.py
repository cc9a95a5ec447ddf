"""Whoever can read the store cannot forge an admin session: the signing key is derived from a master key
kept outside the store (a 0600 key file beside it, or MIMIC_ADMIN_SESSION_SECRET) and an epoch kept in it."""
from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest
from admin.conftest import TOKEN, RecordingControl, login
from alembic import command
from alembic.config import Config
from itsdangerous import URLSafeTimedSerializer
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.auth import SESSION_COOKIE, AuthConfigError
from admin_app.auth.secrets_store import EPOCH_KEY, LEGACY_SECRET_KEY, key_file, session_epoch, signing_key
from admin_app.auth.sessions import Session, SessionCodec, User
from admin_app.live import LiveHub
from admin_app.settings import AdminSettings
from mimic_addon.store import Store
from mimic_addon.store.migrate import migrations_dir
from mimic_addon.store.urls import database_url

BASE = "http://127.0.0.1:8081"


def app_client(store: Store, **settings) -> TestClient:
    app = create_app(AdminSettings(**{"token": TOKEN, **settings}), store, RecordingControl(), LiveHub())
    return TestClient(app, base_url=BASE)


def everything_readable(db: str) -> list[str]:
    """Every string a read-only user of the SQLite file sees in the settings table."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        values = [v for (v,) in conn.execute("SELECT value FROM settings")]
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.append(value)
            found.append(value.strip('"'))  # JSON-encoded strings, quotes and all
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for raw in values:
        walk(raw)
        try:
            walk(json.loads(raw))
        except (TypeError, ValueError):
            pass
    return found


def forge(secret: str) -> str:
    return SessionCodec(secret, 3600).dump(Session(User("mallory"), "forged-csrf"))


def test_no_value_in_the_store_signs_a_session_the_app_accepts(admin_env, client):
    """The attack of issue 16: read the store, sign a session cookie with what is there, walk in."""
    assert client.get("/api/session").status_code == 200  # a session exists, so its key has been made
    candidates = everything_readable(admin_env.db)
    assert candidates  # the token hash, the epoch, the mode...
    with TestClient(admin_env.app, base_url=BASE) as c:
        for secret in candidates:
            c.cookies.set(SESSION_COOKIE, forge(secret))
            assert c.get("/api/session").status_code == 401, secret
        # with the key file (0600: its owner only) the same forgery works: the test's forgery is sound
        path = key_file(admin_env.store)
        assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
        c.cookies.set(SESSION_COOKIE, forge(signing_key(path.read_text().strip(), session_epoch(admin_env.store))))
        assert c.get("/api/session").status_code == 200


def test_the_key_file_is_private_and_shared_by_the_apps_on_the_store(admin_env, client):
    path = key_file(admin_env.store)
    assert path == Path(admin_env.db + ".key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with app_client(admin_env.store) as other:  # the standalone admin beside the embedded one
        other.cookies.set(SESSION_COOKIE, client.cookies.get(SESSION_COOKIE))
        assert other.get("/api/session").status_code == 200


def test_sessions_need_the_key_file_not_just_the_store(admin_env, client):
    """A copy of the store without its key file (a backup, another user's read) accepts no session."""
    cookie = client.cookies.get(SESSION_COOKIE)
    Path(admin_env.db + ".key").rename(admin_env.db + ".key.old")
    with app_client(admin_env.store) as other:  # makes itself a new key file
        other.cookies.set(SESSION_COOKIE, cookie)
        assert other.get("/api/session").status_code == 401


def test_an_explicit_session_secret_is_shared_without_a_key_file(tmp_path):
    """Several proxies on one PostgreSQL store share MIMIC_ADMIN_SESSION_SECRET (here two SQLite files)."""
    secret = "s" * 40
    one, two = Store(str(tmp_path / "one.db")), Store(str(tmp_path / "two.db"))
    try:
        with app_client(one, session_secret=secret) as a:
            login(a)
            cookie = a.cookies.get(SESSION_COOKIE)
        epoch = one.get_setting(EPOCH_KEY)
        two.put_setting(EPOCH_KEY, epoch)  # one shared store: one epoch
        with app_client(two, session_secret=secret) as b:
            b.cookies.set(SESSION_COOKIE, cookie)
            assert b.get("/api/session").status_code == 200
        with app_client(two, session_secret="t" * 40) as c:
            c.cookies.set(SESSION_COOKIE, cookie)
            assert c.get("/api/session").status_code == 401
        assert not (tmp_path / "one.db.key").exists() and not (tmp_path / "two.db.key").exists()
    finally:
        one.close()
        two.close()


def test_a_short_session_secret_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMIC_ADMIN_SESSION_SECRET", "short")
    store = Store(str(tmp_path / "s.db"))
    try:
        with pytest.raises(AuthConfigError, match="too short"):
            create_app(AdminSettings.from_env(token=TOKEN), store, RecordingControl(), LiveHub())
    finally:
        store.close()


@pytest.mark.postgres
def test_postgresql_apps_on_one_machine_share_a_key_file_outside_the_store(pg_url, monkeypatch):
    monkeypatch.delenv("MIMIC_ADMIN_SESSION_SECRET", raising=False)
    first, second = Store(pg_url), Store(pg_url)
    try:
        path = key_file(first)
        assert path is not None and path.parent == Path("~/.mimic").expanduser()
        with app_client(first) as a:
            login(a)
            cookie = a.cookies.get(SESSION_COOKIE)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with app_client(second) as b:
            b.cookies.set(SESSION_COOKIE, cookie)
            assert b.get("/api/session").status_code == 200
        assert path.read_text().strip() not in {str(v) for v in first.load()["settings"].values()}
    finally:
        first.close()
        second.close()


def test_an_old_store_loses_its_plain_secret_and_its_sessions(tmp_path):
    """A store made before revision 0005 kept the signing secret in plain text: the migration deletes it,
    and the sessions signed with it end."""
    db = str(tmp_path / "old.db")
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", database_url(db))
    command.upgrade(cfg, "0004")
    legacy = "the-old-plain-secret-0123456789abcdef"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (LEGACY_SECRET_KEY, f'"{legacy}"'))
    old_cookie = URLSafeTimedSerializer(legacy, salt="mimic.session").dumps(
        {"user": {"name": "admin", "email": "", "method": "token"}, "csrf": "c"})
    store = Store(db)  # migrates to the head
    try:
        assert store.get_setting(LEGACY_SECRET_KEY) is None
        with app_client(store) as c:
            c.cookies.set(SESSION_COOKIE, old_cookie)
            assert c.get("/api/session").status_code == 401
            login(c)
            assert c.get("/api/session").status_code == 200
        assert store.get_setting(LEGACY_SECRET_KEY) is None
    finally:
        store.close()
