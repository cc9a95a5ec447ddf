"""State: what the stateful twins hold per scope (a session, else a client address), with reset.

The proxy keeps twin state in memory and writes each scope to the store a moment later
(mimic_addon/serve/twins_addon.py): setting `serve.twins` lists the scopes, least recently used
first, and `serve.twins.<scope>` holds {"c": {"host /base": {"items": {id: item}, "gone": [ids],
"next": n}}, "kv": {...}}. Resetting goes through the proxy (`mimic.state.reset`), which forgets
the scope and writes the store at once.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mimic_addon.serve.twins_addon import KEY_SCOPE, KEY_SCOPES

from .api_util import ApiError, json_api, page_context, read_object, run_command
from .context import AdminContext

DEFAULT_LIMIT, MAX_LIMIT = 20, 200
KINDS = ("session", "client")


def scope_view(scope: str, data: Any) -> dict[str, Any]:
    """One scope as the page and the API show it."""
    kind, _, name = scope.partition(":")
    data = data if isinstance(data, dict) else {}
    collections = []
    for key, coll in sorted((data.get("c") or {}).items()):
        if not isinstance(coll, dict):
            continue
        host, _, base = key.partition(" ")
        items = coll.get("items") or {}
        collections.append({"key": key, "host": host, "base": base,
                            "items": list(items.values()) if isinstance(items, dict) else [],
                            "ids": list(items) if isinstance(items, dict) else [],
                            "deleted": list(coll.get("gone") or []), "created": coll.get("next", 0)})
    return {"scope": scope, "kind": kind if kind in KINDS else "", "name": name if kind in KINDS else scope,
            "collections": collections, "kv": data.get("kv") or {}}


def read_scopes(store: Any) -> list[str]:
    """Scope names, most recently used first."""
    scopes = store.get_setting(KEY_SCOPES) or []
    return [str(s) for s in reversed(scopes)]


def load_page(store: Any, offset: int, limit: int, scope: str | None) -> dict[str, Any]:
    names = read_scopes(store)
    if scope is not None:
        names = [n for n in names if n == scope]
    items = [scope_view(n, store.get_setting(KEY_SCOPE + n)) for n in names[offset:offset + limit]]
    return {"items": items, "total": len(names), "offset": offset, "limit": limit}


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}")
    return value


def scope_of(value: Any) -> str | None:
    """The scope a reset names: "session:NAME", "client:ADDRESS", a bare session name, or None for all."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 220:
        raise ApiError(400, "session must be a scope (session:NAME or client:ADDRESS), a session name, or null")
    value = value.strip()
    kind, sep, _ = value.partition(":")
    return value if sep and kind in KINDS else "session:" + value


def page_routes(ctx: AdminContext) -> list[BaseRoute]:
    async def state_page(request: Request) -> Response:
        raw = request.query_params.get("offset", "")
        offset = min(int(raw), 10**6) if raw.isdigit() else 0
        template = ctx.templates.get_template("state.html")

        def render() -> str:
            """Loading, pretty-printing and rendering run in a worker thread: twins can hold many items,
            and the event loop is the proxy's."""
            page = load_page(ctx.store, offset, DEFAULT_LIMIT, None)
            for s in page["items"]:
                for c in s["collections"]:
                    c["_json"] = [json.dumps(item, indent=2, ensure_ascii=False, sort_keys=True) for item in c["items"]]
                s["_kv"] = json.dumps(s["kv"], indent=2, ensure_ascii=False, sort_keys=True) if s["kv"] else ""
            return template.render(page_context(request, "state", page=page))

        return HTMLResponse(await asyncio.to_thread(render))

    return [Route("/state", state_page, name="state")]


def api_routes(ctx: AdminContext) -> list[BaseRoute]:
    @json_api
    async def get_state(request: Request) -> Response:
        """The stateful twins' data, per scope.
        ---
        summary: Stateful twin data per session
        description: One item per scope (session:NAME from the X-Mimic-Session header, else
          client:ADDRESS), most recently used first, with each collection's created or changed items,
          the ids deleted, and the key/value store templates use.
        tags: [state]
        parameters:
          - {name: offset, in: query, schema: {type: integer, minimum: 0, default: 0}}
          - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 200, default: 20}}
          - {name: scope, in: query, description: only this scope, schema: {type: string}}
        responses:
          200:
            description: "{items: [{scope, kind, name, collections: [{key, host, base, items, ids, deleted,
              created}], kv}], total, offset, limit}"
          400: {description: "bad offset or limit"}
        """
        offset = int_param(request, "offset", 0, 0, 10**6)
        limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        scope = request.query_params.get("scope") or None
        page = await asyncio.to_thread(load_page, ctx.store, offset, limit, scope)
        body = await asyncio.to_thread(json.dumps, page, separators=(",", ":"))  # ASCII: lone surrogates from traffic stay valid
        return Response(body, media_type="application/json")

    @json_api
    async def reset(request: Request) -> Response:
        """Forget twin state: one scope's, or everyone's.
        ---
        summary: Reset stateful twin data
        tags: [state]
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                properties:
                  session: {type: [string, "null"],
                            description: "session:NAME, client:ADDRESS or a bare session name; null resets all"}
        responses:
          200: {description: "{reset: scope or null, result: the proxy's answer}"}
          400: {description: "not a scope"}
          409: {description: "the proxy refused"}
          503: {description: "no proxy is running on this store"}
        """
        scope = scope_of((await read_object(request)).get("session"))
        result = await run_command(ctx, "mimic.state.reset", *([scope] if scope else []))
        return JSONResponse({"reset": scope, "result": result})

    return [Route("/state", get_state, methods=["GET"]), Route("/state/reset", reset, methods=["POST"])]
