"""The proxy's status as the admin deck shows it (embedded: asked directly; standalone: via the store)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mitmproxy import ctx

from .target import effective_target, mode_target


def status_fn(brain: Callable[[], Any], chaos: Any, hub: Any = None, log: Any = None) -> Callable[[], dict[str, Any]]:
    """A callable returning {"mode", "target", "default_target", "chaos_profile", "realism", "observed",
    "endpoints", "live", "request_log"} (call on the event loop: it reads mitmproxy's options and the hub).
    `log` is the InspectorLog: its counters say what the request log kept, kept waiting and lost."""

    def status() -> dict[str, Any]:
        b = brain()
        engine = getattr(chaos, "engine", None)
        if b is not None:
            with b.lock:
                observed = b.observed
                endpoints = sum(len(h.endpoints) for h in b.hosts.values())
        else:
            observed = endpoints = 0
        return {
            "mode": ctx.options.mimic_mode,
            "target": effective_target(),
            "default_target": mode_target(ctx.options.mode),
            "chaos_profile": engine.profile.name if engine is not None else "",
            "realism": getattr(ctx.options, "mimic_realism", ""),
            "observed": observed,
            "endpoints": endpoints,
            "live": live_stats(hub),
            "request_log": log.stats() if log is not None else {},
        }

    return status


def live_stats(hub: Any) -> dict[str, int]:
    """The live stream's counters: events published, viewers, messages slow viewers dropped, the longest
    viewer queue (bounded by admin_app.live.VIEWER_QUEUE)."""
    if hub is None:
        return {"published": 0, "viewers": 0, "dropped": 0, "queued": 0}
    viewers = list(hub.viewers)
    return {"published": hub.published, "viewers": len(viewers), "dropped": sum(v.dropped for v in viewers),
            "queued": max((v.queue.qsize() for v in viewers), default=0)}
