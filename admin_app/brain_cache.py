"""The learned model as the admin app reads it: loaded from the store, reused for a moment.

The proxy writes what it learns to the store every flush interval, so a view a second old is as
fresh as the data; reloading at most every `TTL` seconds keeps pages fast with thousands of
endpoints while several viewers refresh. Loading runs in a worker thread, off the event loop.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from mimic_addon.learn.brain import Brain

TTL = 1.0


class BrainCache:
    def __init__(self, store: Any, ttl: float = TTL) -> None:
        self.store = store
        self.ttl = ttl
        self._brain: Brain | None = None
        self._loaded = 0.0
        self._lock = asyncio.Lock()

    def _load(self) -> Brain:
        snapshot = self.store.load()
        snapshot["alerts"] = self.store.load_alerts()
        brain = Brain()
        brain.load(snapshot)
        return brain

    async def get(self) -> Brain:
        """A Brain no older than `ttl` seconds."""
        async with self._lock:
            if self._brain is None or time.monotonic() - self._loaded > self.ttl:
                self._brain = await asyncio.to_thread(self._load)
                self._loaded = time.monotonic()
            return self._brain

    def invalidate(self) -> None:
        """After a change made through the admin app: the next read reloads."""
        self._brain = None
