"""Store on real SQLite files: round trips, upserts, migrations, locking, paths."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from mimic_addon.store import Store
from mimic_addon.store.migrate import upgrade
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
            assert "0004" in heads and not {"0001", "0002", "0003"} & set(heads)  # at the head (0004: admin)
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
