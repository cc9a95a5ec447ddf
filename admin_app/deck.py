"""Control deck: the proxy's global switches (mode, reverse target, chaos profile), its status and
health, and the live traffic stream over a WebSocket.

Also home of the small JSON helpers the deck, inspector, chaos and state sections share
(`ApiError`, `json_api`, `read_json`, `run_command`).
"""
from __future__ import annotations

import asyncio
import json
import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from mimic_addon.serve.serve_addon import MODES

from .api_util import ApiError, json_api, page_context, read_object, run_command
from .context import AdminContext
from .explorer import health_view

LIVE_ROWS = 200  # rows the live table keeps (deck.js); the server keeps none


# -- health -----------------------------------------------------------------------------------------------
async def health_summary(ctx: AdminContext, worst: int = 5) -> dict[str, Any]:
    """The global health banner: Brain.health()'s score and status, counts per status, the worst endpoints
    (from the explorer's store-based, briefly cached view: no whole model is loaded for a banner)."""
    return summarize_health(await health_view(ctx), worst)


def summarize_health(health: dict[str, Any], worst: int = 5) -> dict[str, Any]:
    rows = health.get("endpoints") or []
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    sick = [r for r in rows if r.get("status") != "HEALTHY"][:worst]  # rows come sorted worst first
    return {"score": health.get("score", 100.0), "status": health.get("status", "HEALTHY"),
            "endpoints": len(rows), "by_status": by_status, "worst": sick}


# -- status -----------------------------------------------------------------------------------------------
async def proxy_status(ctx: AdminContext) -> dict[str, Any]:
    status = dict(await ctx.control.status())
    status.setdefault("mode", None)
    status.setdefault("target", "")
    status.setdefault("chaos_profile", "")
    return status


def check_target(url: str) -> str:
    """A reverse target: http(s)://host[:port] (a trailing / allowed), or "" for mitmproxy's own mode."""
    url = url.strip()
    if not url:
        return ""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as e:
        raise ApiError(400, f"invalid URL {url!r}: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, f"the target must be an http:// or https:// URL with a host, not {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ApiError(400, "the target is scheme://host[:port] only (no path, query or credentials)")
    return url.rstrip("/")


def _quietly(task: asyncio.Task[None]) -> None:
    """A live sender ends cancelled, or failed on a socket already gone: neither is news."""
    if not task.cancelled():
        task.exception()


# -- routes -----------------------------------------------------------------------------------------------
def page_routes(ctx: AdminContext) -> list[BaseRoute]:
    from . import chaos

    async def deck_page(request: Request) -> Response:
        status, health = await asyncio.gather(proxy_status(ctx), health_summary(ctx))
        profiles = await chaos.profile_names(ctx, status)
        return ctx.templates.TemplateResponse(request, "deck.html", page_context(
            request, "deck", status=status, health=health, modes=MODES, profiles=profiles, live_rows=LIVE_ROWS))

    async def live(ws: WebSocket) -> None:
        """Every live event as one JSON text message. A slow viewer's hub queue drops (live.py): the
        sender only ever waits for the next event or for this socket's own flow control."""
        sub = ctx.hub.subscribe()  # before accepting: whoever sees the socket open gets every later event

        async def pump() -> None:
            while True:
                await ws.send_text(json.dumps(await sub.get(), separators=(",", ":")))

        sender: asyncio.Task[None] | None = None
        try:
            await ws.accept()
            sender = asyncio.ensure_future(pump())
            sender.add_done_callback(_quietly)
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass  # the viewer says nothing we need; pausing is the browser's business
        finally:
            sub.close()
            if sender is not None:
                sender.cancel()

    return [Route("/deck", deck_page, name="deck"), WebSocketRoute("/ws/live", live, name="live")]


def api_routes(ctx: AdminContext) -> list[BaseRoute]:
    @json_api
    async def get_status(request: Request) -> Response:
        """The proxy's status as the deck shows it.
        ---
        summary: Proxy status
        description: Global mode, reverse target, active chaos profile and whether a proxy is running on
          this store (embedded, running or not running). The global health is /api/health.
        tags: [deck]
        responses:
          200:
            description: "{mode, target, chaos_profile, proxy: embedded|running|not running, alive, ...}"
        """
        return JSONResponse(await proxy_status(ctx))

    @json_api
    async def put_mode(request: Request) -> Response:
        """Switch the global mode.
        ---
        summary: Set the global mode
        tags: [deck]
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [mode]
                properties:
                  mode: {type: string, enum: [learn, mock, failover, record, replay, passthrough]}
        responses:
          200: {description: "{mode}: the mode now set"}
          400: {description: "not a mode"}
          409: {description: "the proxy refused the command"}
          503: {description: "no proxy is running on this store"}
        """
        mode = (await read_object(request)).get("mode")
        if mode not in MODES:
            raise ApiError(400, f"mode must be one of {', '.join(MODES)}")
        await run_command(ctx, "mimic.mode.set", mode)
        return JSONResponse({"mode": mode})

    @json_api
    async def put_target(request: Request) -> Response:
        """Change the reverse-mode target at run time.
        ---
        summary: Set the reverse-mode target
        description: Upstream requests go to this scheme://host:port from the next request on; an empty
          url goes back to the target of mitmproxy's own --mode.
        tags: [deck]
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [url]
                properties:
                  url: {type: string, example: "http://127.0.0.1:8001"}
        responses:
          200: {description: "{target}: the target now set"}
          400: {description: "not an http(s) URL with a host"}
          409: {description: "the proxy refused the command"}
          503: {description: "no proxy is running on this store"}
        """
        url = (await read_object(request)).get("url")
        if url is None:
            url = ""
        if not isinstance(url, str):
            raise ApiError(400, "url must be a string")
        target = check_target(url)
        await run_command(ctx, "mimic.target.set", target)
        return JSONResponse({"target": target})

    return [Route("/status", get_status, methods=["GET"]), Route("/mode", put_mode, methods=["PUT"]),
            Route("/target", put_target, methods=["PUT"])]
