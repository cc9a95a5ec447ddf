"""Shared test setup: isolated home directory, and fresh PostgreSQL schemas."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

PG_SERVER = "127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test's default Mimic store out of the real home directory."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


def _pg_admin() -> tuple[str, psycopg.Connection]:
    """Connect as ``postgres``, else ``root``; skip when the server is unreachable."""
    errors = []
    for user in ("postgres", "root"):
        try:
            return user, psycopg.connect(f"postgresql://{user}@{PG_SERVER}", autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as e:
            errors.append(f"{user}: {e}")
    pytest.skip(f"PostgreSQL at {PG_SERVER} unreachable: {'; '.join(errors)}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A SQLAlchemy URL of the real PostgreSQL server, confined to a fresh schema dropped afterwards."""
    user, admin = _pg_admin()
    schema = f"mimic_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql://{user}@{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
