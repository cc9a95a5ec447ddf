"""Store against the real PostgreSQL server, each test in a fresh schema."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from mimic_addon.store import Store
from mimic_addon.store.tables import Base
from mimic_addon.store.urls import database_url

pytestmark = pytest.mark.postgres

def endpoint(template: str, **extra: object) -> dict:
    return {"host": "api.example.com", "method": "GET", "template": template, "data": {"n": [1, 2]}, **extra}


def test_round_trip_upsert_delete_reopen(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        store.save({"api.example.com": {"v": 1}}, [endpoint("/a/1", count=1), endpoint("/a/2")])
        store.save(
            {"api.example.com": {"v": 2}},
            [endpoint("/a/{id}", count=7, first_seen=1.5, last_seen=9.5)],
            deleted=[("api.example.com", "GET", "/a/1"), ("api.example.com", "GET", "/a/2")],
        )
        store.put_setting("mode", "learn")
        store.put_setting("mode", "mock")
    finally:
        store.close()
    reopened = Store(pg_url)
    try:
        assert reopened.load() == {
            "trees": {"api.example.com": {"v": 2}},
            "endpoints": [{**endpoint("/a/{id}"), "count": 7, "first_seen": 1.5, "last_seen": 9.5}],
            "settings": {"mode": "mock"},
        }
    finally:
        reopened.close()


def test_models_and_migrations_agree(pg_url: str) -> None:
    Store(pg_url).close()
    engine = create_engine(database_url(pg_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
