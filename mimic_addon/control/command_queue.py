"""CommandQueue: how a standalone admin app (`mimic admin --db DB`, another process) controls this proxy.

Every `POLL` seconds a background task claims the commands queued in the store (admin_app/control.py
QueuedControl), runs them on mitmproxy's command manager (here, on the event loop) and writes back the
result; every `HEARTBEAT` seconds it writes the proxy's status (mode, target, chaos profile, ...) with a
heartbeat into the `proxy.status` setting, which tells the admin app a proxy is alive. Database calls
run in worker threads, never on the event loop.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from mitmproxy import ctx, exceptions

from ..store.retry_log import recovered, warn_retrying

logger = logging.getLogger(__name__)

STATUS_KEY = "proxy.status"  # admin_app/control.py STATUS_KEY
POLL = 0.5
HEARTBEAT = 1.0
MAX_AGE = 10.0  # a queued command older than this is cancelled, not run (its caller gave up long ago)
MAX_RESULT = 10_000
QUEUE_SAVES = "the admin command queue's results and the proxy's status"


def call_as_given(manager: Any, command: str, args: list[str]) -> Any:
    """`manager.call_strings`, each argument reaching the command as given: mitmproxy reads a `str`
    argument as command-line text and undoes its backslash escapes (`"say \\"hi\\""` in an override's
    JSON lost its backslashes, and the JSON broke), so a str argument's backslashes are escaped first.
    CommandError as call_strings raises it."""
    found = manager.commands.get(command)
    if found is None:
        raise exceptions.CommandError(f"Unknown command: {command}")
    kinds = [p.type for p in found.parameters]
    if kinds and found.parameters[-1].kind is inspect.Parameter.VAR_POSITIONAL:
        kinds += [kinds[-1]] * max(0, len(args) - len(kinds))
    given = [a.replace("\\", "\\\\") if i < len(kinds) and kinds[i] is str else a for i, a in enumerate(args)]
    return manager.call_strings(command, given)


def run_command(command: str, args: list[str]) -> tuple[bool, str]:
    """Run a mitmproxy command by name with string arguments: (ok, result or error message)."""
    try:
        result = call_as_given(ctx.master.commands, command, args)
    except exceptions.CommandError as e:
        return False, str(e)
    except Exception as e:  # a bug in a command must not stop the queue
        logger.exception(f"Mimic: queued command {command} failed")
        return False, f"{type(e).__name__}: {e}"
    return True, ("" if result is None else str(result))[:MAX_RESULT]


class CommandQueue:
    def __init__(self, store: Callable[[], Any] = lambda: None, status: Callable[[], dict[str, Any]] = dict) -> None:
        self._store = store
        self._status = status
        self._task: asyncio.Task | None = None
        self.ran = 0

    def running(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _loop(self) -> None:
        last_beat = 0.0
        while True:
            store = self._store()
            if store is not None:
                try:
                    await self.sync(store)
                    if time.monotonic() - last_beat >= HEARTBEAT:
                        await self.heartbeat(store)
                        last_beat = time.monotonic()
                    recovered(QUEUE_SAVES, store)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # StoreError, a database gone for a moment: try again next tick
                    warn_retrying(logger, QUEUE_SAVES, e, store)
            await asyncio.sleep(POLL)  # the queue's poll interval (another process writes to it)

    async def sync(self, store: Any) -> int:
        """Claim and run the queued commands, in order; returns how many ran. The status is written before
        the results, so an admin app that sees a command done also sees its effect."""
        claimed = await asyncio.to_thread(store.claim_commands, MAX_AGE)
        if not claimed:
            return 0
        results = []
        for cmd in claimed:
            ok, result = run_command(cmd["command"], cmd["args"])
            logger.info(f"Mimic: ran {cmd['command']} {' '.join(cmd['args'])} for the admin app: "
                        f"{'ok' if ok else 'failed: ' + result}")
            results.append((cmd["id"], ok, result))
            self.ran += 1
        try:
            await self.heartbeat(store)
        finally:
            for command_id, ok, result in results:
                await asyncio.to_thread(store.finish_command, command_id, ok, result)
        return len(claimed)

    async def heartbeat(self, store: Any) -> None:
        """Write the proxy's status and a heartbeat for admin apps running elsewhere."""
        status = {**self._status(), "heartbeat": time.time()}
        await asyncio.to_thread(store.put_setting, STATUS_KEY, status)
