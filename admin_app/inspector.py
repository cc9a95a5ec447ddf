"""Inspector: the recent requests (the proxy's bounded, redacted log in the store), filterable by
endpoint, session, status and source, paged towards older entries, with each exchange's detail.

The list is keyset-paged (`before_id`): the log rolls over while someone reads it, so an offset
would skip or repeat rows. Everything shown came from strangers: templates autoescape it and bodies
are shown as text (pretty-printed when they are JSON).
"""
from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mimic_addon.model import safe_json

from .api_util import ApiError, json_api, page_context
from .context import AdminContext

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
SOURCES = ("upstream", "mock", "replay", "failover", "chaos", "twin", "override")
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
FILTERS = ("host", "method", "template", "session", "status", "source")


def parse_filters(params: Any) -> dict[str, Any]:
    """The store's filter keywords from query parameters; ApiError(400) for a malformed one."""
    out: dict[str, Any] = {}
    for name in FILTERS:
        value = (params.get(name) or "").strip()
        if not value:
            continue
        if name == "status":
            if value.isdigit() and 100 <= int(value) <= 599:
                out[name] = int(value)
            elif value.lower() in STATUS_CLASSES:
                out[name] = value.lower()
            else:
                raise ApiError(400, f"status must be a code 100-599 or one of {', '.join(STATUS_CLASSES)}")
        elif name == "method":
            out[name] = value.upper()
        else:
            out[name] = value
    for name in ("before_id", "after_id"):
        raw = params.get(name)
        if raw:
            if not raw.isdigit():
                raise ApiError(400, f"{name} must be a positive integer")
            out[name] = int(raw)
    raw = params.get("limit")
    limit = DEFAULT_LIMIT
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise ApiError(400, f"limit must be an integer 1-{MAX_LIMIT}")
        limit = int(raw)
    out["limit"] = limit
    return out


def load_list(store: Any, filters: dict[str, Any]) -> dict[str, Any]:
    """One page of summaries, newest first, and where the next (older) page starts."""
    limit = filters["limit"]
    rows = store.recent_requests(**{**filters, "limit": limit + 1})  # one more: is there an older page?
    items = rows[:limit]
    older = items[-1]["id"] if len(rows) > limit and items else None
    return {"items": items, "limit": limit, "before_id": filters.get("before_id"), "next_before_id": older}


def when(ts: Any) -> str:
    """A log timestamp as the admin's local date and time."""
    try:
        return datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


# -- one entry ----------------------------------------------------------------------------------------------
def pretty_body(text: Any, content_type: str = "") -> tuple[str, bool]:
    """(text to show, is it pretty-printed JSON). Bodies stay text: never rendered as markup."""
    if text is None:
        return "", False
    if not isinstance(text, str):
        return json.dumps(text, indent=2, ensure_ascii=False), True
    stripped = text.strip()
    if stripped[:1] in ("{", "[") or "json" in content_type.lower():
        try:
            return json.dumps(safe_json.loads(stripped), indent=2, ensure_ascii=False), True
        except ValueError:
            pass
    return text, False


def header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Headers stored as a mapping or as [name, value] pairs, as pairs of strings."""
    if isinstance(headers, dict):
        return [(str(k), str(v)) for k, v in headers.items()]
    if isinstance(headers, list):
        return [(str(h[0]), str(h[1])) for h in headers if isinstance(h, (list, tuple)) and len(h) == 2]
    return []


def side(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The request or response half of an entry's data, whichever way the log nests it."""
    part = data.get(name)
    if not isinstance(part, dict):
        part = {k[len(name) + 1:]: v for k, v in data.items() if k.startswith(name + "_")}
    ctype = str(part.get("content_type") or "")
    if not ctype:
        ctype = next((v for k, v in header_pairs(part.get("headers")) if k.lower() == "content-type"), "")
    body, pretty = pretty_body(part.get("body", part.get("text")), ctype)
    known = {"headers", "body", "text", "content_type", "size", "truncated"}
    return {"present": bool(part), "headers": header_pairs(part.get("headers")), "body": body, "json": pretty,
            "content_type": ctype, "size": part.get("size"), "truncated": bool(part.get("truncated")),
            "extra": {k: v for k, v in part.items() if k not in known and v not in (None, "", [], {})}}


def entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the detail page shows it: both halves, the query, and what the proxy noted
    (chaos rules, failover reason, mode, error) as `details`."""
    data = entry["data"] if isinstance(entry.get("data"), dict) else {}
    query = data.get("query")
    details = {k: v for k, v in data.items()
               if k not in ("request", "response", "query", "scheme") and not k.startswith(("request_", "response_"))
               and v not in (None, "", [], {})}
    return {**{k: v for k, v in entry.items() if k != "data"}, "time": when(entry.get("ts")),
            "scheme": data.get("scheme"), "request": side(data, "request"), "response": side(data, "response"),
            "query": header_pairs(query) if query else [], "details": details}


# -- routes -----------------------------------------------------------------------------------------------
def page_routes(ctx: AdminContext) -> list[BaseRoute]:
    async def inspector_page(request: Request) -> Response:
        params = request.query_params
        error = None
        try:
            filters = parse_filters(params)
        except ApiError as e:
            error, filters = e.message, {"limit": DEFAULT_LIMIT}
        listing, sessions = await asyncio.gather(asyncio.to_thread(load_list, ctx.store, filters),
                                                 asyncio.to_thread(ctx.store.request_sessions))
        form = {name: params.get(name, "") for name in FILTERS}
        for row in listing["items"]:
            row["_time"] = when(row.get("ts"))
        older = None
        if listing["next_before_id"] is not None:
            older = "?" + _query({**form, "before_id": listing["next_before_id"]})
        return ctx.templates.TemplateResponse(request, "inspector.html", page_context(
            request, "inspector", listing=listing, sessions=sessions, form=form, sources=SOURCES,
            status_classes=STATUS_CLASSES, error=error, older=older,
            newest="?" + _query(form) if filters.get("before_id") else None), status_code=400 if error else 200)

    async def entry_page(request: Request) -> Response:
        entry = await asyncio.to_thread(ctx.store.request_entry, request.path_params["entry_id"])
        if entry is None:
            return ctx.templates.TemplateResponse(request, "inspector_entry.html", page_context(
                request, "inspector", entry=None, entry_id=request.path_params["entry_id"]), status_code=404)
        return ctx.templates.TemplateResponse(request, "inspector_entry.html", page_context(
            request, "inspector", entry=entry_view(entry), entry_id=entry["id"]))

    return [Route("/inspector", inspector_page, name="inspector"),
            Route("/inspector/{entry_id:int}", entry_page, name="inspector_entry")]


def _query(values: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def api_routes(ctx: AdminContext) -> list[BaseRoute]:
    @json_api
    async def list_requests(request: Request) -> Response:
        """Recent requests, newest first, filtered.
        ---
        summary: Recent requests (the inspector's log)
        description: The proxy's bounded, redacted log of answered requests. Keyset-paged because it rolls
          over while being read - pass next_before_id as before_id for the next, older page; after_id
          gives only entries newer than an id (polling).
        tags: [inspector]
        parameters:
          - {name: host, in: query, schema: {type: string}}
          - {name: method, in: query, schema: {type: string}}
          - {name: template, in: query, description: "the endpoint, e.g. /users/{user_id}", schema: {type: string}}
          - {name: session, in: query, schema: {type: string}}
          - {name: status, in: query, description: "a code (404) or a class (4xx)", schema: {type: string}}
          - {name: source, in: query, description: "who answered: upstream, mock, replay, failover, chaos, ...",
             schema: {type: string}}
          - {name: before_id, in: query, schema: {type: integer}}
          - {name: after_id, in: query, schema: {type: integer}}
          - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500, default: 50}}
        responses:
          200:
            description: "{items: [{id, ts, host, method, path, template, status, latency_ms, source, session}],
              limit, before_id, next_before_id}"
          400: {description: "a malformed filter"}
        """
        filters = parse_filters(request.query_params)
        return JSONResponse(await asyncio.to_thread(load_list, ctx.store, filters))

    @json_api
    async def get_request(request: Request) -> Response:
        """One logged request with its headers and bodies.
        ---
        summary: One logged request
        tags: [inspector]
        parameters:
          - {name: entry_id, in: path, required: true, schema: {type: integer}}
        responses:
          200: {description: "the summary fields and data: redacted headers, truncated bodies, query"}
          404: {description: "not in the log (never logged, or rolled over)"}
        """
        entry = await asyncio.to_thread(ctx.store.request_entry, request.path_params["entry_id"])
        if entry is None:
            raise ApiError(404, "no such request in the log (it may have rolled over)")
        return JSONResponse(entry)

    return [Route("/inspector", list_requests, methods=["GET"]),
            Route("/inspector/{entry_id:int}", get_request, methods=["GET"])]
