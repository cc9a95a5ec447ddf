"""Store on real SQLite files: round trips, upserts, migrations, locking, paths."""
from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from mimic_addon.store import Store
from mimic_addon.store.migrate import upgrade
from mimic_addon.store.private import read_or_create_key
from mimic_addon.store.store import StoreError
from mimic_addon.store.tables import Base
from mimic_addon.store.urls import database_url

TREE = {"children": {"users": {"children": {"{id}": {}}}}}


def endpoint(template: str = "/users/{id}", method: str = "GET", **extra: object) -> dict:
    return {"host": "api.example.com", "method": method, "template": template, "data": {"schema": {"type": "object"}}, **extra}


@pytest.fixture
def store(tmp_path: Path):
    s = Store(str(tmp_path / "mimic.db"))
    yield s
    s.close()


def test_round_trip(store: Store) -> None:
    store.save({"api.example.com": TREE}, [endpoint(count=3, first_seen=1.0, last_seen=2.0)])
    store.put_setting("mode", "learn")
    assert store.load() == {
        "trees": {"api.example.com": TREE},
        "endpoints": [
            {**endpoint(), "count": 3, "first_seen": 1.0, "last_seen": 2.0},
        ],
        "settings": {"mode": "learn"},
    }


def test_missing_stats_default_to_zero(store: Store) -> None:
    store.save({}, [endpoint()])
    [row] = store.load()["endpoints"]
    assert (row["count"], row["first_seen"], row["last_seen"]) == (0, 0, 0)


def test_upsert_updates_instead_of_duplicating(store: Store) -> None:
    store.save({"api.example.com": {"v": 1}}, [endpoint(count=1)])
    store.save({"api.example.com": {"v": 2}}, [endpoint(count=5, data={"schema": None})])
    loaded = store.load()
    assert loaded["trees"] == {"api.example.com": {"v": 2}}
    assert [(e["count"], e["data"]) for e in loaded["endpoints"]] == [(5, {"schema": None})]


def test_delete_superseded_endpoints(store: Store) -> None:
    store.save({}, [endpoint("/users/1"), endpoint("/users/2"), endpoint("/users/1", "POST")])
    store.save(
        {},
        [endpoint("/users/{id}")],
        deleted=[("api.example.com", "GET", "/users/1"), ("api.example.com", "GET", "/users/2")],
    )
    kept = {(e["method"], e["template"]) for e in store.load()["endpoints"]}
    assert kept == {("POST", "/users/1"), ("GET", "/users/{id}")}


def test_settings(store: Store) -> None:
    assert store.get_setting("mode") is None
    assert store.get_setting("mode", "learn") == "learn"
    store.put_setting("mode", "mock")
    store.put_setting("mode", {"name": "mix", "ratio": 0.5})
    assert store.get_setting("mode") == {"name": "mix", "ratio": 0.5}


def test_reopen_after_close_keeps_data(tmp_path: Path) -> None:
    first = Store(str(tmp_path / "m.db"))
    first.save({"h": TREE}, [endpoint()])
    first.put_setting("mode", "learn")
    first.close()
    second = Store(str(tmp_path / "m.db"))
    try:
        loaded = second.load()
    finally:
        second.close()
    assert loaded["trees"] == {"h": TREE}
    assert len(loaded["endpoints"]) == 1
    assert loaded["settings"] == {"mode": "learn"}


def test_migrations_create_schema_and_are_idempotent(tmp_path: Path) -> None:
    url = database_url(str(tmp_path / "empty.db"))
    upgrade(url)
    upgrade(url)
    engine = create_engine(url)
    try:
        assert {"path_trees", "endpoints", "settings", "alembic_version"} <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            heads = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            assert heads == ["0005"]  # at the head (0005: the session secret out of the store)
    finally:
        engine.dispose()


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    url = database_url(str(tmp_path / "cmp.db"))
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_locked_database_raises_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = Store(str(path), busy_timeout_ms=50, retries=2)
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="locked"):
            store.save({"h": TREE}, [endpoint()])
        locker.execute("COMMIT")
        store.save({"h": TREE}, [endpoint()])
        assert store.load()["trees"] == {"h": TREE}
    finally:
        locker.close()
        store.close()


def test_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_url("rel.db") == f"sqlite:///{tmp_path.resolve() / 'rel.db'}"
    store = Store("rel.db")
    store.close()
    assert (tmp_path / "rel.db").exists()


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert database_url("~/x/m.db") == f"sqlite:///{tmp_path.resolve() / 'x' / 'm.db'}"


def test_sqlite_url_used_as_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'u.db'}"
    assert database_url(url) == url
    store = Store(url)
    store.save({"h": TREE}, [])
    store.close()
    assert (tmp_path / "deep" / "u.db").exists()


def test_nested_missing_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "m.db"
    store = Store(str(path))
    store.close()
    assert path.exists()


def test_postgresql_url_gets_psycopg_driver() -> None:
    assert database_url("postgresql://u@h:5432/d") == "postgresql+psycopg://u@h:5432/d"
    assert database_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"


# -- the store is its owner's only: it holds learned traffic and the admin token's hash -------------------------------
@pytest.fixture
def open_umask():
    old = os.umask(0o022)  # the usual umask: new files 0644, readable by every user of the machine
    yield
    os.umask(old)


def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.is_file()}


def test_a_new_store_and_its_wal_files_are_private(tmp_path: Path, open_umask) -> None:
    folder = tmp_path / "new"
    store = Store(str(folder / "mimic.db"))
    try:
        store.put_setting("mode", "learn")
        with store.engine.connect() as conn:  # the WAL and shared-memory files exist while connected
            conn.execute(text("SELECT 1"))
            found = modes(folder)
        assert {"mimic.db", "mimic.db-wal", "mimic.db-shm"} <= set(found), found
        assert set(found.values()) == {0o600}, found
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    finally:
        store.close()


def test_an_old_open_store_and_its_sidecars_are_made_private(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "old.db"
    other = sqlite3.connect(path)  # a store made before: 0644, with its WAL files open in another process
    try:
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("CREATE TABLE t (x)")
        other.commit()
        assert set(modes(tmp_path).values()) == {0o644}
        store = Store(str(path))
        store.close()
        found = modes(tmp_path)
        assert {"old.db", "old.db-wal", "old.db-shm"} <= set(found) and set(found.values()) == {0o600}, found
    finally:
        other.close()


def test_a_key_file_is_made_once_private_and_kept(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "keys" / "mimic.db.key"
    key = read_or_create_key(path)
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_or_create_key(path) == key  # the same key on every start
    assert [p.name for p in path.parent.iterdir()] == ["mimic.db.key"]  # no temporary file left
    path.chmod(0o644)
    assert read_or_create_key(path) == key and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("short\n")
    with pytest.raises(ValueError, match="no usable key"):
        read_or_create_key(path)


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "race.db.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: read_or_create_key(path), range(32)))
    assert keys == {path.read_text().strip()}


def test_json_columns_keep_what_the_fast_encoder_refuses(store: Store) -> None:
    data = {"example": {"big": 2**70, "small": -3, "text": "é\u2028"}, "keys": {1: "a"}}
    store.save({}, [endpoint(data=data)])
    (saved,) = store.load()["endpoints"]
    assert saved["data"] == {"example": {"big": 2**70, "small": -3, "text": "é\u2028"}, "keys": {"1": "a"}}


def test_a_non_finite_number_is_stored_as_null_in_valid_json(store: Store, tmp_path: Path) -> None:
    """A row orjson refuses (an integer over 64 bits) goes through `json`, which wrote `NaN`: SQLite's JSON
    functions then refused the row, and every admin query reading it failed."""
    store.save({}, [endpoint(data={"example": {"n": float("nan"), "big": 10**30, "i": [float("inf")]}})])
    [row] = store.load()["endpoints"]
    assert row["data"]["example"] == {"n": None, "big": 10**30, "i": [None]}
    with store.engine.connect() as conn:
        assert conn.execute(text("select count(*) from endpoints where json_valid(data) = 0")).scalar() == 0
