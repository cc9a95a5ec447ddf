"""Persistence of the learned API model in SQLite or PostgreSQL."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, create_engine, event, false, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from alembic.util.exc import CommandError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mimic_addon.model import safe_json
from mimic_addon.store.control_log import ControlLogMixin, dml_result
from mimic_addon.store.migrate import upgrade
from mimic_addon.store.private import ensure_private_file
from mimic_addon.store.tables import DriftAlert, Endpoint, HealthSnapshot, PathTree, Recording, Setting
from mimic_addon.store.urls import database_url, shown, sqlite_file

_INSERTS: dict[str, Callable[..., Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


class StoreError(Exception):
    """The database could not be written; the caller keeps its data and retries later."""


# What opening a store may raise: not a database, a path that cannot be one, a server down or refusing
# us, a store of a newer Mimic (Alembic), a database driver not installed.
OPEN_ERRORS = (OSError, SQLAlchemyError, CommandError, ImportError, ValueError)  # (ValueError: `host:port`)


def cannot_open(db: str, e: BaseException) -> StoreError:
    """The one-line error of a store that cannot be opened (a URL's password not repeated)."""
    reason = " ".join(str(getattr(e, "orig", None) or e).split())
    return StoreError(f"cannot open the store {shown(db)}: {reason or type(e).__name__}")


class Store(ControlLogMixin):
    """Loads and saves the learned model; schema is migrated to head on start-up.

    Every call opens its own session, so the learner's worker thread may save
    while other threads load. A SQLite file is private to its owner (0600, and so
    are its -wal, -shm and -journal files): `path` is that file (None for PostgreSQL).
    """

    def __init__(self, db: str, *, busy_timeout_ms: int = 5000, retries: int = 4) -> None:
        self.url = database_url(db)
        self._retries = retries
        self.path: Path | None = sqlite_file(self.url)
        if self.path is not None:
            ensure_private_file(self.path)  # before SQLite creates it (and its sidecars) with the umask's mode
        if self.url.startswith("sqlite"):
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False}, json_serializer=to_json)
            event.listen(self.engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True, json_serializer=to_json)
        insert = _INSERTS.get(self.engine.dialect.name)
        if insert is None:
            self.engine.dispose()
            raise StoreError(f"unsupported database {self.engine.dialect.name!r}: use SQLite or PostgreSQL")
        self._insert = insert
        self._sessions = sessionmaker(self.engine)
        upgrade(self.engine)
        self._identity = _identity(self.path)

    def file_gone(self) -> bool:
        """The SQLite file was deleted, moved or replaced (a backup restored over it) while open: SQLite
        goes on writing to the file it opened, which no one will find again (False for PostgreSQL)."""
        return self.path is not None and self._identity is not None and _identity(self.path) != self._identity

    def load(self) -> dict[str, Any]:
        """Everything stored: ``{"trees": {host: data}, "endpoints": [...], "settings": {key: value}}``."""
        with self._sessions() as session:
            trees = {t.host: t.data for t in session.scalars(select(PathTree))}
            endpoints = [
                {
                    "host": e.host,
                    "method": e.method,
                    "template": e.template,
                    "data": e.data,
                    "count": e.sample_count,
                    "first_seen": e.first_seen,
                    "last_seen": e.last_seen,
                }
                for e in session.scalars(select(Endpoint).order_by(Endpoint.id))
            ]
            settings = {s.key: s.value for s in session.scalars(select(Setting))}
        return {"trees": trees, "endpoints": endpoints, "settings": settings}

    def save(
        self,
        trees: dict[str, dict],
        endpoints: list[dict],
        deleted: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        """Upsert trees and endpoints and delete superseded endpoints, in one transaction.

        Raises StoreError when the database stays locked after the retries.
        """
        now = time.time()
        tree_rows = [{"host": h, "data": d, "updated_at": now} for h, d in trees.items()]
        endpoint_rows = [_endpoint_row(e, now) for e in endpoints]
        deleted_rows = [{"h": h, "m": m, "t": t} for h, m, t in deleted]
        self._write(lambda session: self._save(session, tree_rows, endpoint_rows, deleted_rows))

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._sessions() as session:
            setting = session.get(Setting, key)
        return default if setting is None else setting.value

    def put_setting(self, key: str, value: Any) -> None:
        stmt = self._insert(Setting.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value})
        self._write(lambda session: session.execute(stmt, [{"key": key, "value": value}]))

    def close(self) -> None:
        self.engine.dispose()

    # -- watching the backend: drift alerts and health history ------------------------------------
    def save_alerts(self, alerts: list[dict[str, Any]], deleted: Iterable[str] = ()) -> None:
        """Upsert drift alerts (dicts of `watch.alerts.Alert.to_dict`) and delete dropped ones.

        An alert resolved in the store stays resolved: an open copy (a running proxy's, saved
        before it noticed `mimic drift resolve` from another process) does not overwrite it.
        """
        rows = [{"id": a["id"], "host": a["host"], "method": a["method"], "template": a["template"],
                 "status": a["status"], "label": a["label"], "score": a["score"], "resolved": a["resolved"],
                 "first_seen": a["first_seen"], "last_seen": a["last_seen"], "data": a} for a in alerts]
        gone = [{"i": i} for i in deleted]

        def work(session: Session) -> None:
            if gone:
                table = DriftAlert.__table__
                session.execute(table.delete().where(table.c.id == bindparam("i")), gone)
            if rows:
                stmt = self._insert(DriftAlert.__table__)
                table = DriftAlert.__table__
                stmt = stmt.on_conflict_do_update(
                    index_elements=["id"], set_={c: stmt.excluded[c] for c in rows[0] if c != "id"},
                    where=or_(table.c.resolved == false(), stmt.excluded.resolved == true()))
                session.execute(stmt, rows)

        if rows or gone:
            self._write(work)

    def load_alerts(self) -> list[dict[str, Any]]:
        with self._sessions() as session:
            return [a.data for a in session.scalars(select(DriftAlert).order_by(DriftAlert.first_seen))]

    def resolved_alerts(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Those of `ids` resolved in the store (by another process), with their stored data."""
        ids = list(ids)
        out: dict[str, dict[str, Any]] = {}
        with self._sessions() as session:
            for i in range(0, len(ids), 500):
                query = select(DriftAlert).where(DriftAlert.id.in_(ids[i:i + 500]), DriftAlert.resolved == true())
                out.update((a.id, a.data) for a in session.scalars(query))
        return out

    def add_health(self, snapshot: dict[str, Any], keep: int = 500) -> None:
        """Append a health snapshot, keeping only the newest `keep`."""
        def work(session: Session) -> None:
            session.add(HealthSnapshot(ts=snapshot["ts"], score=snapshot["score"], data=snapshot))
            session.flush()
            old = select(HealthSnapshot.id).order_by(HealthSnapshot.id.desc()).offset(keep).limit(1)
            cut = session.scalar(old)
            if cut is not None:
                session.execute(HealthSnapshot.__table__.delete().where(HealthSnapshot.id <= cut))

        self._write(work)

    def load_health(self, limit: int = 500) -> list[dict[str, Any]]:
        """The newest `limit` health snapshots, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(select(HealthSnapshot).order_by(HealthSnapshot.id.desc()).limit(limit))
            return [r.data for r in rows][::-1]

    # -- record & replay: recorded exchanges ---------------------------------------------------------
    def add_recordings(self, rows: list[dict[str, Any]], keep: int | None = None) -> None:
        """Append recordings (dicts of `serve.replay.Recording.to_row`), keeping only the newest `keep`."""
        def work(session: Session) -> None:
            session.execute(Recording.__table__.insert(), rows)
            if keep is not None:
                cut = session.scalar(select(Recording.id).order_by(Recording.id.desc()).offset(keep).limit(1))
                if cut is not None:
                    session.execute(Recording.__table__.delete().where(Recording.id <= cut))

        if rows:
            self._write(work)

    def load_recordings(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest `limit` recordings (all when None), oldest first."""
        with self._sessions() as session:
            query = select(Recording).order_by(Recording.id.desc())
            if limit is not None:
                query = query.limit(limit)
            rows = [{"id": r.id, "host": r.host, "method": r.method, "path": r.path, "ts": r.ts, "data": r.data}
                    for r in session.scalars(query)]
        return rows[::-1]

    def clear_recordings(self) -> int:
        """Delete every recording; returns how many there were."""
        deleted: list[int] = []

        def work(session: Session) -> None:
            deleted.append(dml_result(session.execute(Recording.__table__.delete())).rowcount or 0)

        self._write(work)
        return deleted[-1] if deleted else 0

    def _save(
        self,
        session: Session,
        tree_rows: list[dict[str, Any]],
        endpoint_rows: list[dict[str, Any]],
        deleted_rows: list[dict[str, str]],
    ) -> None:
        if tree_rows:
            stmt = self._insert(PathTree.__table__)
            stmt = stmt.on_conflict_do_update(
                index_elements=["host"],
                set_={"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at},
            )
            session.execute(stmt, tree_rows)
        if deleted_rows:
            table = Endpoint.__table__
            stmt = table.delete().where(
                and_(
                    table.c.host == bindparam("h"),
                    table.c.method == bindparam("m"),
                    table.c.template == bindparam("t"),
                )
            )
            session.execute(stmt, deleted_rows)
        if endpoint_rows:
            stmt = self._insert(Endpoint.__table__)
            updated = ("data", "sample_count", "first_seen", "last_seen", "updated_at")
            stmt = stmt.on_conflict_do_update(
                index_elements=["host", "method", "template"],
                set_={c: stmt.excluded[c] for c in updated},
            )
            session.execute(stmt, endpoint_rows)

    def _write(self, work: Callable[[Session], object]) -> None:
        """Run ``work`` in a transaction, retrying while SQLite reports a lock."""
        delay = 0.05
        for attempt in range(self._retries + 1):
            try:
                with self._sessions.begin() as session:
                    work(session)
                return
            except OperationalError as e:
                if "locked" not in str(e.orig) or attempt == self._retries:
                    raise StoreError(f"could not write to {self.engine.url!r}: {e.orig}") from e
            time.sleep(delay)
            delay *= 2


def _identity(path: Path | None) -> tuple[int, int] | None:
    """(device, inode) of a file, None when there is none."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if st is not None else None


def to_json(value: Any) -> str:
    """The text of a JSON column. orjson writes the model about four times faster than `json` (saving
    was a tenth of `mimic learn`); what it refuses (integers over 64 bits, keys that are not strings,
    lone surrogates) goes through `json`, as before, non-finite floats written as null there too (orjson
    writes them so, and non-ASCII text unescaped, in UTF-8)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return safe_json.dumps(value)  # (non-finite floats as null: SQLite's JSON functions refuse `NaN`)


def _endpoint_row(endpoint: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "host": endpoint["host"],
        "method": endpoint["method"],
        "template": endpoint["template"],
        "data": endpoint["data"],
        "sample_count": endpoint.get("count", 0),
        "first_seen": endpoint.get("first_seen") or 0,  # None: never seen (imported from a spec)
        "last_seen": endpoint.get("last_seen") or 0,
        "updated_at": now,
    }


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[..., None]:
    """Connect hook: WAL lets readers run beside the writer; busy_timeout waits for locks."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    return on_connect


def open_store(db: str) -> Store:
    """The store at `db`, opened (and migrated); `cannot_open`'s StoreError when it cannot be."""
    try:
        return Store(db)
    except OPEN_ERRORS as e:
        raise cannot_open(db, e) from e
