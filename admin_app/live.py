"""The live traffic stream: one hub, many WebSocket viewers, never a brake on the proxy.

`publish` is called on the proxy's event loop for every answered request; each viewer has a small
bounded queue and a slow viewer loses messages (counted) instead of making anyone wait.
"""
from __future__ import annotations

import asyncio
from typing import Any

VIEWER_QUEUE = 200


class Subscription:
    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=VIEWER_QUEUE)
        self.dropped = 0

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    def close(self) -> None:
        self.hub.viewers.discard(self)


class LiveHub:
    def __init__(self) -> None:
        self.viewers: set[Subscription] = set()
        self.published = 0

    def subscribe(self) -> Subscription:
        sub = Subscription(self)
        self.viewers.add(sub)
        return sub

    def publish(self, event: dict[str, Any]) -> None:
        """Hand an event to every viewer without waiting (call on the hub's event loop)."""
        self.published += 1
        for sub in self.viewers:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.dropped += 1
