"""SQLAlchemy models of the learned API model.

The store keeps the learner's data opaque (JSON columns); only the keys it
looks rows up by are real columns. Schema changes go through a new Alembic
revision in ``migrations/versions``.
"""
from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    # every model here is mapped to a table of its own (DeclarativeBase says FromClause, which
    # also covers classes mapped to a join or a subquery, and has no insert, update or delete)
    __table__: ClassVar[Table]


class PathTree(Base):
    """The path-template trie of one host."""

    __tablename__ = "path_trees"

    host: Mapped[str] = mapped_column(String, primary_key=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)


class Endpoint(Base):
    """One learned (host, method, path template) with its opaque model data."""

    __tablename__ = "endpoints"
    __table_args__ = (
        UniqueConstraint("host", "method", "template", name="uq_endpoints_host_method_template"),
        Index("ix_endpoints_host", "host"),
        Index("ix_endpoints_sample_count", "sample_count"),
        Index("ix_endpoints_last_seen", "last_seen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String, nullable=False)
    method: Mapped[str] = mapped_column(String, nullable=False)
    template: Mapped[str] = mapped_column(String, nullable=False)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)
    sample_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_seen: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    last_seen: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)


class Setting(Base):
    """A small run-time setting (mode, ...) kept across restarts."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)


class DriftAlert(Base):
    """A contract drift alert of one endpoint and status (watch/alerts.py), with its changes as JSON."""

    __tablename__ = "drift_alerts"
    __table_args__ = (Index("ix_drift_alerts_endpoint", "host", "method", "template"),)

    id: Mapped[str] = mapped_column(String, primary_key=True)
    host: Mapped[str] = mapped_column(String, nullable=False)
    method: Mapped[str] = mapped_column(String, nullable=False)
    template: Mapped[str] = mapped_column(String, nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    label: Mapped[str] = mapped_column(String, nullable=False)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    resolved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    first_seen: Mapped[float] = mapped_column(Float, nullable=False)
    last_seen: Mapped[float] = mapped_column(Float, nullable=False)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)


class HealthSnapshot(Base):
    """One point of the bounded health history (global and per-endpoint scores)."""

    __tablename__ = "health_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float, nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)


class Recording(Base):
    """One recorded exchange (record mode), redacted; request and response details as JSON."""

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_request", "host", "method", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String, nullable=False)
    method: Mapped[str] = mapped_column(String, nullable=False)
    path: Mapped[str] = mapped_column(String, nullable=False)
    ts: Mapped[float] = mapped_column(Float, nullable=False)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)


class RequestLog(Base):
    """One answered request of the admin inspector's bounded log (control/inspector_log.py): summary columns
    to filter on, the redacted headers and truncated bodies in `data`."""

    __tablename__ = "request_log"
    __table_args__ = (
        Index("ix_request_log_endpoint", "host", "method", "template"),
        Index("ix_request_log_session", "session"),
        Index("ix_request_log_status", "status"),
        Index("ix_request_log_source", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float, nullable=False)
    host: Mapped[str] = mapped_column(String, nullable=False)
    method: Mapped[str] = mapped_column(String, nullable=False)
    path: Mapped[str] = mapped_column(String, nullable=False)
    template: Mapped[str | None] = mapped_column(String, nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String, nullable=False)
    session: Mapped[str | None] = mapped_column(String, nullable=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)


class AdminCommand(Base):
    """A mitmproxy command queued by a standalone admin app (`mimic admin`) for the proxy on this store."""

    __tablename__ = "admin_commands"
    __table_args__ = (Index("ix_admin_commands_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    command: Mapped[str] = mapped_column(String, nullable=False)
    args: Mapped[Any] = mapped_column(JSON, nullable=False)
    state: Mapped[str] = mapped_column(String, nullable=False)  # pending | running | done | failed | cancelled
    result: Mapped[str | None] = mapped_column(String, nullable=True)
    created: Mapped[float] = mapped_column(Float, nullable=False)
    updated: Mapped[float] = mapped_column(Float, nullable=False)
