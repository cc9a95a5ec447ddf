"""What the Explorer changes: per-endpoint mode, overrides, drift resolutions; and override previews.

Changes go to the proxy as its own commands (`ctx.control`), so the running proxy and its store stay
one truth. When no proxy runs on the store, there is nobody to run a command: the change is written
to the store the way the proxy itself would persist it (the setting it loads at start, or the
resolved alert, exactly as `mimic drift resolve` does), and the answer says so.
"""
from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from mimic_addon.learn.brain import Brain
from mimic_addon.serve.overrides import (
    Override,
    OverrideError,
    parse_spec,
    parse_text,
    render,
)
from mimic_addon.serve.serve_addon import KEY_ENDPOINT_MODES, MODES
from mimic_addon.serve.twins import TwinState
from mimic_addon.serve.twins_addon import KEY_OVERRIDES
from mimic_addon.store.tables import Endpoint as EndpointRow
from mimic_addon.store.tables import PathTree as PathTreeRow
from mimic_addon.watch.alerts import RESOLUTIONS

from .api_util import ApiError
from .control import ControlError

NO_PROXY = "no proxy picked the command up"  # QueuedControl's message when nobody runs it
PREVIEW_TIMEOUT = 5.0
ENDPOINT_MODES = (*MODES, "inherit")


async def apply(ctx: Any, command: str, args: list[str], offline: Callable[[], str]) -> dict[str, Any]:
    """Run a proxy command; with no proxy on the store, `offline()` (in a worker thread) instead.

    {"applied": "proxy" | "store", "message": ...}; ApiError(409) when the proxy refused it.
    """
    status = await ctx.control.status()
    if status.get("alive"):
        try:
            return {"applied": "proxy", "message": await ctx.control.call(command, *args)}
        except ControlError as e:
            if NO_PROXY not in str(e):
                raise ApiError(409, str(e)) from None
    message = await asyncio.to_thread(offline)
    return {"applied": "store", "message": message}


def _put_keyed(store: Any, setting: str, key: str, value: Any) -> None:
    current = dict(store.get_setting(setting) or {})
    if value is None:
        current.pop(key, None)
    else:
        current[key] = value
    store.put_setting(setting, current)


# -- per-endpoint mode -----------------------------------------------------------------------------------------
async def set_mode(ctx: Any, key: str, mode: str) -> dict[str, Any]:
    """Set (or with "inherit" remove) the mode of `key` (`METHOD /template` or `METHOD host/template`)."""
    if mode not in ENDPOINT_MODES:
        raise ApiError(400, f"mode must be one of {', '.join(ENDPOINT_MODES)}")
    method, template = key.split(" ", 1)

    def offline() -> str:
        _put_keyed(ctx.store, KEY_ENDPOINT_MODES, key, None if mode == "inherit" else mode)
        return f"no proxy is running: {key} -> {mode} saved in the store for the next start"

    return await apply(ctx, "mimic.mode.endpoint", [method, template, mode], offline)


# -- overrides ------------------------------------------------------------------------------------------------
def parse_override(body: dict[str, Any]) -> Override:
    """{"spec": <JSON value>} or {"text": "<JSON or YAML>"}: validated as the proxy validates it."""
    try:
        if "text" in body:
            if not isinstance(body["text"], str):
                raise OverrideError("text must be a string")
            return parse_text(body["text"])
        if "spec" in body:
            return parse_spec(body["spec"])
    except OverrideError as e:
        raise ApiError(400, str(e)) from None
    raise ApiError(400, "give the override as spec (JSON) or text (JSON or YAML)")


async def set_override(ctx: Any, key: str, ov: Override) -> dict[str, Any]:
    method, template = key.split(" ", 1)
    spec_text = json.dumps(ov.spec)

    def offline() -> str:
        _put_keyed(ctx.store, KEY_OVERRIDES, key, ov.spec)
        return f"no proxy is running: override of {key} saved in the store for the next start"

    return await apply(ctx, "mimic.override.set", [method, template, spec_text], offline)


async def clear_override(ctx: Any, key: str) -> dict[str, Any]:
    method, template = key.split(" ", 1)

    def offline() -> str:
        if key not in (ctx.store.get_setting(KEY_OVERRIDES) or {}):
            raise ApiError(404, f"no override for {key}")
        _put_keyed(ctx.store, KEY_OVERRIDES, key, None)
        return f"no proxy is running: override of {key} removed from the store"

    return await apply(ctx, "mimic.override.clear", [method, template], offline)


_fake: Any = None
_fake_lock = threading.Lock()


def _render_preview(ov: Override, key: str, request: dict[str, Any], seed: int) -> dict[str, Any]:
    global _fake
    with _fake_lock:  # one Faker (slow to create), reseeded per render like the proxy's
        if _fake is None:
            from faker import Faker

            _fake = Faker()
        r = render(ov, key, request, TwinState().kv("preview"), random.Random(f"{seed}:1"), _fake)
    text = r.body.decode("utf-8", "replace")
    error = None
    if r.status == 500 and r.content_type == "application/json":
        try:
            failed = json.loads(text)
        except ValueError:
            failed = None
        if isinstance(failed, dict) and failed.get("error") == "Mimic override template failed":
            error = failed.get("detail")
    return {"ok": error is None, "error": error, "status": r.status, "content_type": r.content_type,
            "headers": r.headers, "variant": r.name, "body": text}


async def preview(ov: Override, key: str, request: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """The override's answer to `request`, rendered by the proxy's own sandboxed renderer (here, in
    a worker thread: a heavy template never stalls the event loop the proxy may share)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_render_preview, ov, key, request, seed), PREVIEW_TIMEOUT)
    except TimeoutError:
        raise ApiError(422, f"the template took longer than {PREVIEW_TIMEOUT:g} s to render") from None


# -- drift alerts -------------------------------------------------------------------------------------------
def resolve_offline(store: Any, alert: dict[str, Any], resolution: str) -> str:
    """Resolve one alert in the store, as `mimic drift resolve` does (an "expected" resolution moves the
    endpoint's learned schema on to what was withheld), loading only that endpoint, not the whole model."""
    e, p = EndpointRow.__table__, PathTreeRow.__table__
    skeleton = alert.get("skeleton", alert["template"])
    with store.engine.connect() as conn:
        row = conn.execute(e.select().where(e.c.host == alert["host"], e.c.method == alert["method"],
                                            e.c.template == skeleton)).first()
        tree = conn.execute(p.select().where(p.c.host == alert["host"])).first()
    snapshot = {"trees": {tree.host: tree.data} if tree is not None else {}, "alerts": [alert],
                "endpoints": [{"host": row.host, "method": row.method, "template": row.template, "data": row.data,
                               "count": row.sample_count, "first_seen": row.first_seen,
                               "last_seen": row.last_seen}] if row is not None else []}
    brain = Brain()
    brain.load(snapshot)
    try:
        brain.resolve_alert(alert["id"], resolution, time.time())
    except (KeyError, ValueError) as err:
        raise ApiError(409, str(err).strip("'\"")) from None
    alerts, gone = brain.watch.alerts.take_changes()
    store.save_alerts(alerts, gone)
    _, endpoints, _ = brain.take_changes()
    if endpoints:
        store.save({}, endpoints)
    return f"no proxy is running: alert {alert['id']} resolved as {resolution} in the store"


async def resolve(ctx: Any, alert: dict[str, Any], resolution: str) -> dict[str, Any]:
    if resolution not in RESOLUTIONS:
        raise ApiError(400, f"resolution must be one of {', '.join(RESOLUTIONS)}")
    if alert.get("resolved"):
        raise ApiError(409, f"alert {alert['id']} is already resolved ({alert.get('resolution')})")
    out = await apply(ctx, "mimic.drift.resolve", [alert["id"], resolution],
                      lambda: resolve_offline(ctx.store, alert, resolution))
    ctx.brains.invalidate()
    return out

