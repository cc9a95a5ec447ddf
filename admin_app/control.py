"""How the admin app changes a running proxy: through mitmproxy's own commands.

Embedded in the proxy, a command runs at once on mitmproxy's command manager. Standalone
(`mimic admin --db DB`, a second process), it is queued in the store and the proxy's control sync
(mimic_addon/control/command_queue.py) runs it within a second and writes back the result.
Both answer `status()` with what the deck shows: mode, reverse target, chaos profile, liveness.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

COMMAND_WAIT = 3.0  # seconds a standalone admin waits for the proxy to run a queued command
STATUS_KEY = "proxy.status"  # setting the proxy refreshes every second (mode, target, chaos, heartbeat)
STALE_AFTER = 5.0  # a heartbeat older than this: no proxy is running on this store


class ControlError(Exception):
    """The command failed (bad argument) or no proxy picked it up in time."""


class Control(Protocol):
    async def call(self, command: str, *args: str) -> str: ...

    async def status(self) -> dict[str, Any]: ...


class EmbeddedControl:
    """Runs commands on the proxy this app lives in (call on mitmproxy's event loop)."""

    def __init__(self, master: Any, status: Any) -> None:
        self.master = master
        self._status = status  # () -> dict, computed by the proxy side

    async def call(self, command: str, *args: str) -> str:
        from mitmproxy import exceptions

        from mimic_addon.control.command_queue import call_as_given

        try:
            result = call_as_given(self.master.commands, command, list(args))
        except exceptions.CommandError as e:
            raise ControlError(str(e)) from e
        return "" if result is None else str(result)

    async def status(self) -> dict[str, Any]:
        return {**self._status(), "proxy": "embedded", "alive": True}


class QueuedControl:
    """Queues commands in the store for whichever proxy runs on it."""

    def __init__(self, store: Any, *, wait: float = COMMAND_WAIT, poll: float = 0.05) -> None:
        self.store = store
        self.wait = wait
        self.poll = poll

    async def call(self, command: str, *args: str) -> str:
        command_id = await asyncio.to_thread(self.store.enqueue_command, command, list(args))
        deadline = time.monotonic() + self.wait
        state = "pending"
        while time.monotonic() < deadline:
            row = await asyncio.to_thread(self.store.command_result, command_id)
            state = row["state"] if row is not None else "cancelled"
            if state == "done":
                return row["result"] or ""
            if state == "failed":
                raise ControlError(row["result"] or "the command failed")
            if state == "cancelled":
                raise ControlError("the command was withdrawn before a proxy ran it")
            await asyncio.sleep(self.poll)  # pending or running: polling another process's answer in the store
        if state == "running" or not await asyncio.to_thread(self.store.cancel_command, command_id):
            raise ControlError("the proxy took the command but did not finish it in time")
        raise ControlError("no proxy picked the command up: is a Mimic proxy running on this store?")

    async def status(self) -> dict[str, Any]:
        status = await asyncio.to_thread(self.store.get_setting, STATUS_KEY, None) or {}
        alive = bool(status) and time.time() - status.get("heartbeat", 0) < STALE_AFTER
        return {**status, "proxy": "running" if alive else "not running", "alive": alive}
