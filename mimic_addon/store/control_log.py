"""The admin app's tables: the inspector's bounded request log and the standalone admin's command queue.

A mixin of `Store` (it uses the store's `_write`, `_sessions`): the proxy's inspector writes the log in
batches from a worker thread; the admin app reads it. A standalone admin (`mimic admin --db DB`, another
process) queues mitmproxy commands in `admin_commands`; the proxy on the same store claims them, runs them
and writes back the result (mimic_addon/control/command_queue.py).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import CursorResult, Result, Select, func, select
from sqlalchemy.orm import Session

from mimic_addon.store.tables import AdminCommand, RequestLog

KEEP_REQUESTS = 5000
STATUS_CLASSES = {f"{n}xx": (n * 100, n * 100 + 99) for n in range(1, 6)}
COMMAND_STATES = ("pending", "running", "done", "failed", "cancelled")
KEEP_COMMANDS_S = 3600.0  # finished commands are deleted after an hour

_SUMMARY = (RequestLog.id, RequestLog.ts, RequestLog.host, RequestLog.method, RequestLog.path, RequestLog.template,
            RequestLog.status, RequestLog.latency_ms, RequestLog.source, RequestLog.session)
_SUMMARY_KEYS = tuple(c.key for c in _SUMMARY)


def dml_result(result: Result[Any]) -> CursorResult[Any]:
    """The result of an INSERT, UPDATE or DELETE: a cursor's, with its rowcount (`Session.execute`
    types every result as a plain Result)."""
    return cast(CursorResult[Any], result)


class ControlLogMixin:
    _write: Callable[[Callable[[Session], object]], None]
    _sessions: Any

    # -- the inspector's request log -------------------------------------------------------------------
    def add_requests(self, rows: list[dict[str, Any]], keep: int = KEEP_REQUESTS) -> list[int]:
        """Append request log rows (keys: the RequestLog columns but id); keeps only the newest `keep`.
        Returns the new rows' ids, in order."""
        ids: list[int] = []

        def work(session: Session) -> None:
            ids.clear()  # a retried transaction starts over
            table = RequestLog.__table__
            result = session.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows)
            ids.extend(result.scalars())
            cut = session.scalar(select(RequestLog.id).order_by(RequestLog.id.desc()).offset(keep).limit(1))
            if cut is not None:
                session.execute(table.delete().where(table.c.id <= cut))

        if rows:
            self._write(work)
        return ids

    def name_requests(self, named: dict[int, str]) -> None:
        """Give request log rows saved without a template (their endpoint not learned yet) their template."""
        def work(session: Session) -> None:
            table = RequestLog.__table__
            for row_id, template in named.items():
                session.execute(table.update().where(table.c.id == row_id, table.c.template.is_(None))
                                .values(template=template))

        if named:
            self._write(work)

    def recent_requests(self, *, host: str | None = None, method: str | None = None, template: str | None = None,
                        session: str | None = None, status: int | str | None = None, source: str | None = None,
                        after_id: int | None = None, before_id: int | None = None,
                        limit: int = 100) -> list[dict[str, Any]]:
        """Summaries of logged requests, newest first, matching every filter given.

        `status` is a code (404) or a class ("4xx"); `after_id` / `before_id` page forwards / backwards
        (a live view polls with `after_id`). ValueError for an unknown status class."""
        query: Select = select(*_SUMMARY)
        for column, value in ((RequestLog.host, host), (RequestLog.method, method and method.upper()),
                              (RequestLog.template, template), (RequestLog.session, session),
                              (RequestLog.source, source)):
            if value is not None:
                query = query.where(column == value)
        if status is not None:
            query = query.where(*_status_filter(status))
        if after_id is not None:
            query = query.where(RequestLog.id > after_id)
        if before_id is not None:
            query = query.where(RequestLog.id < before_id)
        query = query.order_by(RequestLog.id.desc()).limit(max(0, limit))
        with self._sessions() as s:
            return [dict(zip(_SUMMARY_KEYS, row, strict=True)) for row in s.execute(query)]

    def request_entry(self, entry_id: int) -> dict[str, Any] | None:
        """One logged request with its details (`data`: redacted headers, truncated bodies, query)."""
        with self._sessions() as s:
            row = s.get(RequestLog, entry_id)
            if row is None:
                return None
            return {**{k: getattr(row, k) for k in _SUMMARY_KEYS}, "data": row.data}

    def request_sessions(self, limit: int = 100) -> list[str]:
        """Distinct sessions of the logged requests, most recently seen first."""
        newest = func.max(RequestLog.id)
        query = (select(RequestLog.session).where(RequestLog.session.is_not(None))
                 .group_by(RequestLog.session).order_by(newest.desc()).limit(limit))
        with self._sessions() as s:
            return list(s.scalars(query))

    # -- the standalone admin's command queue ---------------------------------------------------------------
    def enqueue_command(self, command: str, args: list[str]) -> int:
        """Queue a mitmproxy command for the proxy running on this store; returns its id."""
        ids: list[int] = []
        now = time.time()

        def work(session: Session) -> None:
            row = AdminCommand(command=command, args=[str(a) for a in args], state="pending", created=now, updated=now)
            session.add(row)
            session.flush()
            ids.append(row.id)

        self._write(work)
        return ids[-1]

    def command_result(self, command_id: int) -> dict[str, Any] | None:
        """{"id", "state": pending|running|done|failed|cancelled, "result"} or None for an unknown id."""
        with self._sessions() as s:
            row = s.get(AdminCommand, command_id)
            return None if row is None else {"id": row.id, "state": row.state, "result": row.result}

    def cancel_command(self, command_id: int) -> bool:
        """Cancel a command no proxy has claimed yet; False when it was already claimed (or unknown)."""
        return self._set_state(command_id, "cancelled", None, only_if="pending")

    def claim_commands(self, max_age: float = 10.0) -> list[dict[str, Any]]:
        """Take the pending commands (oldest first) for this proxy to run, marking them running.

        Pending commands older than `max_age` seconds are cancelled instead: whoever queued them has
        given up waiting. A command is claimed by one proxy only, even with several on one database."""
        with self._sessions() as s:  # a read first: the proxy polls twice a second, mostly for nothing
            if s.scalar(select(AdminCommand.id).where(AdminCommand.state == "pending").limit(1)) is None:
                return []
        claimed: list[dict[str, Any]] = []
        now = time.time()

        def work(session: Session) -> None:
            claimed.clear()
            table = AdminCommand.__table__
            pending = table.c.state == "pending"
            session.execute(table.update().where(pending, table.c.created < now - max_age)
                            .values(state="cancelled", updated=now,
                                    result=f"cancelled: no proxy ran it within {max_age:g} s"))
            session.execute(table.delete().where(table.c.state.not_in(("pending", "running")),
                                                 table.c.updated < now - KEEP_COMMANDS_S))
            rows = session.execute(select(table.c.id, table.c.command, table.c.args).where(pending)
                                   .order_by(table.c.id)).all()
            for row in rows:
                taken = dml_result(session.execute(table.update().where(table.c.id == row.id, pending)
                                                   .values(state="running", updated=now)))
                if taken.rowcount == 1:  # another proxy on the same database may have been quicker
                    claimed.append({"id": row.id, "command": row.command, "args": list(row.args or [])})

        self._write(work)
        return claimed

    def finish_command(self, command_id: int, ok: bool, result: str) -> None:
        """Record the outcome of a claimed command."""
        self._set_state(command_id, "done" if ok else "failed", result, only_if="running")

    def _set_state(self, command_id: int, state: str, result: str | None, *, only_if: str) -> bool:
        changed: list[bool] = []

        def work(session: Session) -> None:
            table = AdminCommand.__table__
            values: dict[str, Any] = {"state": state, "updated": time.time()}
            if result is not None:
                values["result"] = result
            done = dml_result(session.execute(table.update().where(table.c.id == command_id, table.c.state == only_if)
                                              .values(**values)))
            changed.append(done.rowcount == 1)

        self._write(work)
        return bool(changed and changed[-1])


def _status_filter(status: int | str) -> tuple[Any, ...]:
    if isinstance(status, int) or (isinstance(status, str) and status.isdigit()):
        return (RequestLog.status == int(status),)
    bounds = STATUS_CLASSES.get(str(status).lower())
    if bounds is None:
        raise ValueError(f"status must be a code or one of {', '.join(STATUS_CLASSES)}, not {status!r}")
    return (RequestLog.status >= bounds[0], RequestLog.status <= bounds[1])
