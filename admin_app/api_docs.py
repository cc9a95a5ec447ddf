"""The admin API's own OpenAPI description (/api/openapi.json) and a small page listing it (/api/docs).

Built from the API routes' docstrings: the YAML after a `---` line is the operation. Both need
authentication like everything else under /api (the middleware sees to it).
"""
from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.schemas import SchemaGenerator

from .auth import SESSION_COOKIE, api_session
from .context import AdminContext

METHODS = ("get", "post", "put", "patch", "delete")
DESCRIPTION = (
    "The JSON API behind Mimic's admin pages. Authenticate with the browser session cookie (log in at /login) "
    "or with `Authorization: Bearer <admin token>`. With the cookie, POST/PUT/PATCH/DELETE also need the "
    "session's CSRF token in the `X-CSRF-Token` header (GET /api/session returns it). Errors are "
    '{"error": "..."}; list endpoints take ?offset=&limit= and answer {"items", "total", "offset", "limit"}.'
)


def _version() -> str:
    try:
        return metadata.version("mimic")
    except metadata.PackageNotFoundError:
        return "0"


class DocstringSchemas(SchemaGenerator):
    """Starlette's generator, reading only the YAML after `---` (prose alone is no operation) and
    skipping a docstring whose YAML does not parse instead of failing the whole document."""

    def parse_docstring(self, func_or_method: Any) -> dict[str, Any]:
        doc = func_or_method.__doc__ or ""
        if "---" not in doc:
            return {}
        try:
            parsed = yaml.safe_load(doc.split("---")[-1])
        except yaml.YAMLError:
            return {}
        return parsed if isinstance(parsed, dict) else {}


def build_schema(api_routes: list[BaseRoute]) -> dict[str, Any]:
    generator = DocstringSchemas({
        "openapi": "3.1.0",
        "info": {"title": "Mimic admin API", "version": _version(), "description": DESCRIPTION},
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                        "description": "Browser session (log in at /login); state changes need X-CSRF-Token."},
            "bearer": {"type": "http", "scheme": "bearer", "description": "The admin token, for scripts."},
        }},
        "security": [{"session": []}, {"bearer": []}],
    })
    return generator.get_schema([Mount("/api", routes=[*api_routes, Route("/session", api_session)])])


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation as a row for the docs page, sorted by path then method."""
    rows = []
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                params = [p.get("name", "") for p in op.get("parameters", []) if isinstance(p, dict)]
                rows.append({"method": method, "path": path, "summary": op.get("summary", ""),
                             "description": op.get("description", ""), "params": params,
                             "body": "requestBody" in op})
    return sorted(rows, key=lambda r: (r["path"], METHODS.index(r["method"])))


def routes(ctx: AdminContext, api_routes: list[BaseRoute]) -> list[BaseRoute]:
    @functools.cache
    def schema() -> dict[str, Any]:  # the routes are fixed once the app is assembled
        return build_schema([*api_routes, *own])

    async def openapi(request: Request) -> Response:
        """The admin API's OpenAPI description.
        ---
        summary: OpenAPI description of this admin API
        tags: [docs]
        responses:
          200:
            description: An OpenAPI 3.1 document
          401:
            description: Not logged in
        """
        return JSONResponse(schema())

    async def docs(request: Request) -> Response:
        """The API's operations as a page.
        ---
        summary: A page listing every operation of this admin API
        tags: [docs]
        responses:
          200:
            description: HTML
          401:
            description: Not logged in
        """
        return ctx.templates.TemplateResponse(request, "api_docs.html", {
            "section": "api", "operations": operations(schema()), "info": schema()["info"]})

    own: list[BaseRoute] = [Route("/openapi.json", openapi, methods=["GET"]), Route("/docs", docs, methods=["GET"])]
    return own
