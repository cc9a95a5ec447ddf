"""Warnings of a store failure that repeats (a full disk, a database gone): the first one as it comes,
then one per `EVERY` seconds telling how many like it were held back. Each periodic save (learning, the
inspector's log, recordings, twins, the admin command queue) retries every half second or so: told
every time, a full disk wrote over a thousand lines in 25 seconds."""
from __future__ import annotations

import logging
import threading
import time

EVERY = 30.0

_lock = threading.Lock()
_last: dict[tuple[str, int], tuple[float, int]] = {}  # (what, store) -> (when last told, failures held back since)


def warn_retrying(logger: logging.Logger, what: str, error: object, store: object) -> None:
    """Warn that saving `what` to `store` failed (it will be tried again), unless it failed within
    `EVERY` seconds of the last warning about it."""
    now = time.monotonic()
    key = (what, id(store))
    with _lock:
        told, held = _last.get(key, (None, 0))
        if told is not None and now - told < EVERY:
            _last[key] = (told, held + 1)
            return
        _last[key] = (now, 0)
    more = f" ({held} more failure{'s' if held != 1 else ''} like it in the last {now - told:.0f} s)" if held and told else ""
    logger.warning(f"Mimic could not save {what} (will retry): {error}{more}")


def recovered(what: str, store: object) -> None:
    """Saving `what` to `store` worked again: its next failure is told at once."""
    with _lock:
        _last.pop((what, id(store)), None)
