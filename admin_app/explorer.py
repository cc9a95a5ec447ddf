"""Explorer: every learned endpoint (searchable, paginated), and per endpoint its schemas, charts,
health, drift alerts, mode, override (with a live preview) and types. Also the JSON API for
endpoints, drift alerts, health and exports.

Reads go to the store (explorer_data), changes to the proxy (explorer_actions); both run their
blocking parts in worker threads, so the event loop the proxy may share never waits on them.
"""
from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mimic_addon.export import EXPORTERS, ExportError, ExportRequest

from . import explorer_actions as actions
from . import explorer_data as data
from . import explorer_view as view
from .api_util import ApiError, json_api, read_object
from .context import AdminContext
from .explorer_data import ListQuery, QueryError, TreeCache

HEALTH_TTL = 1.0  # seconds a computed health view is reused (the proxy saves every flush interval)


class _Caches:
    """Per app: parsed path trees, and the last health view (the deck polls it, several viewers at once)."""

    def __init__(self) -> None:
        self.trees = TreeCache()
        self.health: tuple[float, dict[str, Any]] | None = None
        self.health_lock = asyncio.Lock()


def _caches(ctx: AdminContext) -> _Caches:
    caches = getattr(ctx, "explorer_caches", None)
    if caches is None:
        caches = _Caches()
        ctx.explorer_caches = caches  # type: ignore[attr-defined]  # the explorer's own, kept on the app's context
    return caches


def _trees(ctx: AdminContext) -> TreeCache:
    return _caches(ctx).trees


async def health_view(ctx: AdminContext) -> dict[str, Any]:
    """`Brain.health()` as the store holds it, at most HEALTH_TTL seconds old."""
    caches = _caches(ctx)
    async with caches.health_lock:
        if caches.health is None or time.monotonic() - caches.health[0] > HEALTH_TTL:
            caches.health = (time.monotonic(), await asyncio.to_thread(data.health, ctx.store, caches.trees))
        return caches.health[1]


async def _loaded_or_none(ctx: AdminContext, endpoint_id: int) -> data.Loaded | None:
    return await asyncio.to_thread(data.load_endpoint, ctx.store, _trees(ctx), endpoint_id)


async def _loaded(ctx: AdminContext, endpoint_id: int) -> data.Loaded:
    loaded = await _loaded_or_none(ctx, endpoint_id)
    if loaded is None:
        raise ApiError(404, f"no endpoint {endpoint_id}")
    return loaded


def _full(loaded: data.Loaded) -> dict[str, Any]:
    """The API's view of one endpoint: what was learned, plus health, alerts, mode and override."""
    info = view.detail(loaded.id, loaded.ep, loaded.template, loaded.tree)
    return {**info, "health": data.endpoint_health_of(loaded.ep, loaded.alerts), "alerts": view.scrub(loaded.alerts),
            "key": loaded.key, "mode": loaded.mode, "override": view.scrub(loaded.override),
            "sample_request": view.sample_request(info), "types": sorted(view.TYPE_KINDS)}


def _starter_override(info: dict[str, Any]) -> str:
    """An override spec to start editing from: the endpoint's usual status and a template using the
    request's path parameters and a fake value."""
    ok = [c for c in info["responses"] if c.startswith("2")]
    status = ok[0] if ok and ok[0].isdigit() else "200"
    if status in ("204", "205"):  # (no body: HTTP allows it none)
        return f"status: {status}\nbody: null\n"
    fields = [f'"{p["name"]}": {{{{ request.params.{p["name"]} | tojson }}}}' for p in info["params"]
              if p["name"].isidentifier()]
    fields += ['"name": {{ fake.name() | tojson }}', '"path": {{ request.path | tojson }}']
    return f"status: {status}\ntemplate: |\n  {{{', '.join(fields)}}}\n"


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


# -- pages ------------------------------------------------------------------------------------------------
def page_routes(ctx: AdminContext) -> list[BaseRoute]:
    templates = ctx.templates

    async def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        """Render in a worker thread: a big endpoint page must not hold up the event loop the proxy shares."""
        template = templates.get_template(name)
        html = await asyncio.to_thread(template.render, {"request": request, "section": "explorer", **context})
        return HTMLResponse(html, status_code=status)

    async def explorer_page(request: Request) -> Response:
        error, status = None, 200
        try:
            query = ListQuery.parse(request.query_params)
        except QueryError as e:
            query, error, status = ListQuery(), str(e), 400
        page, hosts, methods = await asyncio.gather(
            asyncio.to_thread(data.list_endpoints, ctx.store, _trees(ctx), query),
            asyncio.to_thread(data.hosts, ctx.store), asyncio.to_thread(data.methods, ctx.store))
        return await render(request, "explorer.html", {
            "page": page, "query": query, "hosts": hosts, "methods": methods, "sorts": data.SORTS,
            "links": _page_links(query, page["total"]), "error": error, "exports": sorted(EXPORTERS),
            "when": _when}, status)

    async def endpoint_page(request: Request) -> Response:
        loaded = await _loaded_or_none(ctx, request.path_params["id"])
        if loaded is None:
            return await render(request, "explorer_missing.html", {"endpoint_id": request.path_params["id"]}, 404)
        return await render(request, "explorer_endpoint.html", await asyncio.to_thread(_page_context, loaded))

    async def not_an_endpoint(request: Request) -> Response:
        """`/explorer/abc`: the explorer's own page saying so, not Starlette's bare "Not Found"."""
        if not request.path_params["rest"]:
            return RedirectResponse("/explorer", status_code=307)
        return await render(request, "explorer_missing.html", {"endpoint_id": request.path_params["rest"]}, 404)

    return [Route("/explorer", explorer_page, methods=["GET"], name="explorer"),
            Route("/explorer/{id:int}", endpoint_page, methods=["GET"], name="explorer_endpoint"),
            Route("/explorer/{rest:path}", not_an_endpoint, methods=["GET"])]


def _page_context(loaded: data.Loaded) -> dict[str, Any]:
    """What the endpoint page shows (built in a worker thread: schemas can be big)."""
    full = _full(loaded)
    histogram, mix = view.chart_data(full)
    bodies = [("Request body", full["request"]["schema"], full["request"]["example"], full["request"]["media"])]
    bodies += [(f"Response {code}", r["schema"], r["example"], r["media"]) for code, r in full["responses"].items()]
    tables = [{"title": title, "rows": view.schema_rows(schema), "schema": schema, "example": example,
               "media": media} for title, schema, example, media in bodies if schema or media]
    doc = view.types_document(loaded.ep, loaded.template, loaded.tree)
    return {"ep": full, "tables": tables, "histogram": histogram, "mix": mix, "modes": actions.ENDPOINT_MODES,
            "type_kinds": view.TYPE_KINDS, "jsonschema_text": view.scrub(view.types_text("jsonschema", doc)),
            "override_text": _pretty(full["override"]) if full["override"] is not None else _starter_override(full),
            "sample_text": _pretty(full["sample_request"]), "pretty": _pretty, "when": _when,
            "exports": sorted(EXPORTERS)}


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _page_links(q: ListQuery, total: int) -> dict[str, Any]:
    """Query strings of the previous / next page and the page numbers, keeping the search."""
    from urllib.parse import urlencode

    def href(offset: int) -> str:
        params = {k: v for k, v in (("q", q.q), ("host", q.host), ("method", q.method)) if v}
        if q.sort != "template":
            params["sort"] = q.sort
        if offset:
            params["offset"] = str(offset)
        if q.limit != 50:
            params["limit"] = str(q.limit)
        return "/explorer" + ("?" + urlencode(params) if params else "")

    last = max(total - 1, 0) // q.limit * q.limit
    return {"prev": href(max(q.offset - q.limit, 0)) if q.offset > 0 else None,
            "next": href(q.offset + q.limit) if q.offset + q.limit < total else None,
            "first": href(0) if q.offset > 0 else None, "last": href(last) if q.offset < last else None,
            "page": q.offset // q.limit + 1, "pages": max((total + q.limit - 1) // q.limit, 1)}


# -- API --------------------------------------------------------------------------------------------------
def api_routes(ctx: AdminContext) -> list[BaseRoute]:
    @json_api
    async def list_endpoints(request: Request) -> Response:
        """Learned endpoints, searched and paginated on the server.
        ---
        summary: List learned endpoints
        tags: [endpoints]
        parameters:
          - {name: q, in: query, schema: {type: string}, description: "Words that must each match the host, the method or the template (`{user_id}` matches any parameter)"}
          - {name: host, in: query, schema: {type: string}}
          - {name: method, in: query, schema: {type: string}}
          - {name: sort, in: query, schema: {type: string, enum: [template, count, last_seen]}}
          - {name: offset, in: query, schema: {type: integer, minimum: 0, default: 0}}
          - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500, default: 50}}
        responses:
          200: {description: "{items, total, offset, limit}; each item has id, host, method, template, count, last_seen, health, alerts_open, mode, override"}
          400: {description: A bad parameter}
        """
        query = ListQuery.parse(request.query_params)
        return JSONResponse(await asyncio.to_thread(data.list_endpoints, ctx.store, _trees(ctx), query))

    @json_api
    async def get_endpoint(request: Request) -> Response:
        """One endpoint in full.
        ---
        summary: Get an endpoint
        tags: [endpoints]
        parameters:
          - {name: id, in: path, required: true, schema: {type: integer}}
        responses:
          200: {description: "Template, path and query parameters, request and response schemas per status (JSON Schema) with redacted examples, statistics (latency quantiles, histogram, status mix, sizes), health and anomaly flags, drift alerts, per-endpoint mode, override, a sample request"}
          404: {description: No such endpoint}
        """
        return JSONResponse(await asyncio.to_thread(_full, await _loaded(ctx, request.path_params["id"])))

    @json_api
    async def put_mode(request: Request) -> Response:
        """Set the endpoint's own mode (or `inherit` the global one).
        ---
        summary: Set an endpoint's mode
        tags: [endpoints]
        parameters:
          - {name: id, in: path, required: true, schema: {type: integer}}
        requestBody:
          content:
            application/json:
              schema: {type: object, required: [mode], properties: {mode: {type: string, enum: [learn, mock, failover, record, replay, passthrough, inherit]}}}
        responses:
          200: {description: "{mode, applied: proxy|store, message}"}
          400: {description: Not a mode}
          409: {description: The proxy refused the change}
        """
        loaded = await _loaded(ctx, request.path_params["id"])
        mode = (await read_object(request)).get("mode")
        if not isinstance(mode, str):
            raise ApiError(400, "mode is required")
        key = loaded.mode_key if mode == "inherit" else loaded.key  # (set for this host; the one in effect goes)
        result = await actions.set_mode(ctx, key, mode)
        return JSONResponse({"mode": None if mode == "inherit" else mode, "key": key, **result})

    @json_api
    async def get_override(request: Request) -> Response:
        """The endpoint's override spec, or null.
        ---
        summary: Get an endpoint's override
        tags: [overrides]
        parameters:
          - {name: id, in: path, required: true, schema: {type: integer}}
        responses:
          200: {description: "{key, spec}"}
          404: {description: No such endpoint}
        """
        loaded = await _loaded(ctx, request.path_params["id"])
        return JSONResponse({"key": loaded.override_key, "spec": view.scrub(loaded.override)})

    @json_api
    async def put_override(request: Request) -> Response:
        """Pin the endpoint's answer: a body, a sandboxed Jinja2 template or weighted variants.
        ---
        summary: Set an endpoint's override
        tags: [overrides]
        parameters:
          - {name: id, in: path, required: true, schema: {type: integer}}
        requestBody:
          content:
            application/json:
              schema:
                type: object
                description: "spec: the override as JSON ({body|template, status, headers, content_type} or {variants: [...]}), or text: the same as JSON or YAML text"
                properties: {spec: {}, text: {type: string}}
        responses:
          200: {description: "{key, spec, applied: proxy|store, message}"}
          400: {description: Not a valid override (the message says why)}
          409: {description: The proxy refused it}
        """
        loaded = await _loaded(ctx, request.path_params["id"])
        ov = actions.parse_override(await read_object(request))
        result = await actions.set_override(ctx, loaded.key, ov)
        return JSONResponse({"key": loaded.key, "spec": ov.spec, **result})

    @json_api
    async def delete_override(request: Request) -> Response:
        """Remove the endpoint's override.
        ---
        summary: Clear an endpoint's override
        tags: [overrides]
        parameters:
          - {name: id, in: path, required: true, schema: {type: integer}}
        responses:
          200: {description: "{key, applied: proxy|store, message}"}
          404: {description: No such endpoint or no override}
          409: {description: The proxy refused it (no override)}
        """
        loaded = await _loaded(ctx, request.path_params["id"])
        if loaded.override is None:
            raise ApiError(404, f"no override for {loaded.key}")
        result = await actions.clear_override(ctx, loaded.override_key)
        return JSONResponse({"key": loaded.override_key, **result})

    @json_api
    async def preview_override(request: Request) -> Response:
        """Render an override against a request to this endpoint, as the proxy would answer it.
        ---
        summary: Preview an override
        tags: [overrides]
        description: Uses the proxy's own sandboxed Jinja2 renderer in the admin process (no proxy needed). Template errors come back as ok=false with the error text, and the 500 answer the proxy would send.
        parameters:
          - {name: id, in: path, required: true, schema: {type: integer}}
        requestBody:
          content:
            application/json:
              schema:
                type: object
                properties:
                  spec: {}
                  text: {type: string}
                  request: {type: object, description: "What templates see as `request` (method, path, params, query, headers, body, text); default: a sample request of this endpoint"}
                  seed: {type: integer}
        responses:
          200: {description: "{ok, error, status, content_type, headers, variant, body, request}"}
          400: {description: Not a valid override}
        """
        loaded = await _loaded(ctx, request.path_params["id"])
        body = await read_object(request)
        ov = actions.parse_override(body)
        sample = await asyncio.to_thread(
            lambda: view.sample_request(view.detail(loaded.id, loaded.ep, loaded.template, loaded.tree)))
        given = body.get("request")
        if given is not None and not isinstance(given, dict):
            raise ApiError(400, "request must be an object")
        req = {**sample, **(given or {})}
        seed = body.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ApiError(400, "seed must be an integer")
        result = await actions.preview(ov, loaded.key, req, seed)
        return JSONResponse(view.scrub({**result, "request": req}))

    @json_api
    async def endpoint_types(request: Request) -> Response:
        """The endpoint's types as JSON Schema, TypeScript or Pydantic (what `mimic export` writes, for this endpoint only).
        ---
        summary: Get an endpoint's types
        tags: [endpoints, exports]
        parameters:
          - {name: id, in: path, required: true, schema: {type: integer}}
          - {name: kind, in: path, required: true, schema: {type: string, enum: [jsonschema, typescript, pydantic]}}
          - {name: download, in: query, schema: {type: boolean}, description: As an attachment}
        responses:
          200: {description: The document as text}
          404: {description: No such endpoint or kind}
          409: {description: The generator failed}
        """
        kind = request.path_params["kind"]
        if kind not in view.TYPE_KINDS:
            raise ApiError(404, f"no such type export: {kind} (known: {', '.join(sorted(view.TYPE_KINDS))})")
        loaded = await _loaded(ctx, request.path_params["id"])
        try:
            text = await asyncio.to_thread(
                lambda: view.types_text(kind, view.types_document(loaded.ep, loaded.template, loaded.tree)))
        except Exception as e:  # noqa: BLE001  (a generator's own error: GenerationError, datamodel-code-generator's)
            raise ApiError(409, f"{kind}: {e}") from None
        headers = {}
        if request.query_params.get("download") not in (None, "", "0", "false"):
            headers["Content-Disposition"] = f'attachment; filename="{view.type_filename(kind, loaded.ep, loaded.template)}"'
        return Response(view.scrub(text), media_type=f"{view.TYPE_KINDS[kind][1]}; charset=utf-8", headers=headers)

    @json_api
    async def list_drift(request: Request) -> Response:
        """Contract drift alerts with the narrator's explanation, open ones first.
        ---
        summary: List drift alerts
        tags: [drift]
        parameters:
          - {name: unresolved, in: query, schema: {type: boolean}, description: Only open alerts}
          - {name: offset, in: query, schema: {type: integer, minimum: 0, default: 0}}
          - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500, default: 100}}
        responses:
          200: {description: "{items, total, offset, limit}; each alert has id, endpoint_id, method, host, template, status, label, score, summary, narration, changes (each narrated: text, impact, action), count, first_seen, last_seen, resolved, resolution"}
          400: {description: A bad parameter}
        """
        q = ListQuery.parse(request.query_params, default_limit=100)
        unresolved = request.query_params.get("unresolved") not in (None, "", "0", "false")
        page = await asyncio.to_thread(data.list_alerts, ctx.store, unresolved, q.offset, q.limit)
        return JSONResponse(view.scrub(page))

    @json_api
    async def resolve_drift(request: Request) -> Response:
        """Resolve a drift alert: `expected` (the learned schema moves on) or `fixed` (the backend was fixed).
        ---
        summary: Resolve a drift alert
        tags: [drift]
        parameters:
          - {name: alert_id, in: path, required: true, schema: {type: string}}
        requestBody:
          content:
            application/json:
              schema: {type: object, required: [resolution], properties: {resolution: {type: string, enum: [expected, fixed]}}}
        responses:
          200: {description: "{id, resolution, applied: proxy|store, message}"}
          400: {description: Not a resolution}
          404: {description: No such alert}
          409: {description: Already resolved}
        """
        alert_id = request.path_params["alert_id"]
        resolution = (await read_object(request)).get("resolution")
        alert = await asyncio.to_thread(data.load_alert, ctx.store, alert_id)
        if alert is None:
            raise ApiError(404, f"no such alert: {alert_id}")
        result = await actions.resolve(ctx, alert, resolution if isinstance(resolution, str) else "")
        _caches(ctx).health = None
        return JSONResponse({"id": alert_id, "resolution": resolution, **result})

    @json_api
    async def get_health(request: Request) -> Response:
        """Health 0-100 per endpoint (anomalies, unresolved breaking drift) and globally; what `mimic health` shows.
        ---
        summary: Get health
        tags: [health]
        parameters:
          - {name: limit, in: query, schema: {type: integer, minimum: 0}, description: "Only the worst N endpoints (default: all)"}
        responses:
          200: {description: "{score, status, band (= status), counts per status, total, endpoints: worst first, each {id, host, method, template, score, status, reasons, count, flags, alerts: {open, total}}}"}
        """
        raw = request.query_params.get("limit")
        limit = None
        if raw not in (None, ""):
            try:
                limit = int(raw)
            except ValueError:
                raise QueryError("limit must be an integer") from None
            if limit < 0:
                raise QueryError("limit must be >= 0")
        view = await health_view(ctx)
        return JSONResponse(view if limit is None else {**view, "endpoints": view["endpoints"][:limit]})

    @json_api
    async def list_exports(request: Request) -> Response:
        """The export kinds available and the hosts an export can be restricted to.
        ---
        summary: List exports
        tags: [exports]
        responses:
          200: {description: "{kinds: [...], hosts: [...]}"}
        """
        return JSONResponse({"kinds": sorted(EXPORTERS), "hosts": await asyncio.to_thread(data.hosts, ctx.store)})

    @json_api
    async def get_export(request: Request) -> Response:
        """Everything learned as a document to download (what `mimic export KIND` writes).
        ---
        summary: Download an export
        tags: [exports]
        parameters:
          - {name: kind, in: path, required: true, schema: {type: string}, description: "One of GET /api/exports kinds: openapi, jsonschema, typescript, pydantic, ..."}
          - {name: host, in: query, schema: {type: string}, description: Only this learned host}
          - {name: yaml, in: query, schema: {type: boolean}, description: YAML instead of JSON (openapi)}
        responses:
          200: {description: "The document, as an attachment"}
          404: {description: No such kind or host}
          409: {description: The export cannot be produced (the message says why)}
        """
        kind = request.path_params["kind"]
        exporter = EXPORTERS.get(kind)
        if exporter is None:
            raise ApiError(404, f"no such export: {kind} (known: {', '.join(sorted(EXPORTERS))})")
        host = request.query_params.get("host") or None
        if host is not None and host not in await asyncio.to_thread(data.hosts, ctx.store):
            raise ApiError(404, f"no learned host {host}")
        yaml = request.query_params.get("yaml") not in (None, "", "0", "false")
        brain = await ctx.brains.get()
        try:
            result = await asyncio.to_thread(exporter, ExportRequest(store=ctx.store, brain=brain, host=host, yaml=yaml))
        except ExportError as e:
            raise ApiError(409, str(e)) from None
        filename = _ascii(result.filename).replace('"', "")
        return Response(result.content, media_type=result.media_type, headers={
            "Content-Disposition": f'attachment; filename="{filename}"', "X-Mimic-Summary": _ascii(result.summary)})

    return [
        Route("/endpoints", list_endpoints, methods=["GET"]),
        Route("/endpoints/{id:int}", get_endpoint, methods=["GET"]),
        Route("/endpoints/{id:int}/mode", put_mode, methods=["PUT"]),
        Route("/endpoints/{id:int}/override", get_override, methods=["GET"]),
        Route("/endpoints/{id:int}/override", put_override, methods=["PUT"]),
        Route("/endpoints/{id:int}/override", delete_override, methods=["DELETE"]),
        Route("/endpoints/{id:int}/override/preview", preview_override, methods=["POST"]),
        Route("/endpoints/{id:int}/types/{kind}", endpoint_types, methods=["GET"]),
        Route("/drift", list_drift, methods=["GET"]),
        Route("/drift/{alert_id}/resolve", resolve_drift, methods=["POST"]),
        Route("/health", get_health, methods=["GET"]),
        Route("/exports", list_exports, methods=["GET"]),
        Route("/exports/{kind}", get_export, methods=["GET"]),
    ]
