"""Assembles the admin app: pages and the JSON API of every section, behind authentication.

Each section module owns its pages (`page_routes`) and its part of the JSON API under /api/
(`api_routes`); auth/ owns login, sessions, CSRF and the security headers; api_docs serves the
admin API's own OpenAPI description built from the API routes' docstrings.
"""
from __future__ import annotations

import html
import logging
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from . import api_docs, chaos, deck, explorer, inspector, landing, state
from .auth import build_auth
from .auth.policy import is_api
from .context import STATIC, AdminContext
from .control import Control
from .live import LiveHub
from .settings import AdminSettings

SECTIONS = (landing, deck, explorer, inspector, chaos, state)
STORE_DOWN = (OperationalError, InterfaceError, PoolTimeout)  # the database unreachable, locked or gone
RETRY_AFTER_S = 5
log = logging.getLogger("mimic.admin")


def create_app(settings: AdminSettings, store: Any, control: Control, hub: LiveHub | None = None) -> Starlette:
    ctx = AdminContext.build(settings, store, control, hub or LiveHub())
    auth = build_auth(ctx)
    api: list[BaseRoute] = [route for section in SECTIONS for route in section.api_routes(ctx)]
    routes: list[BaseRoute] = [
        *auth.routes,
        *[route for section in SECTIONS for route in section.page_routes(ctx)],
        Mount("/api", routes=[*api, *api_docs.routes(ctx, api)]),
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
    ]
    app = Starlette(routes=routes, middleware=auth.middleware,
                    exception_handlers={kind: store_unavailable for kind in STORE_DOWN})
    app.state.ctx = ctx
    app.state.auth = auth.auth  # close() it when the app is done (its token-hashing thread, Firebase app)
    return app


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """The store cannot be read or written now (a database server down, a SQLite file locked or gone):
    a 503 saying so, JSON for the API and a page for a browser, rather than a bare 500. The proxy goes on
    meanwhile, and so does every page once the store is back."""
    reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
    log.warning("Mimic admin: %s %s: the store is unavailable: %s", request.method, request.url.path, reason)
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if is_api(request.url.path):
        return JSONResponse({"error": f"the store is unavailable: {reason}"}, status_code=503, headers=headers)
    page = ("<!doctype html><meta charset=utf-8><title>Mimic: store unavailable</title>"
            "<h1>The store is unavailable</h1>"
            f"<p>{html.escape(reason)}</p><p>The proxy goes on; this page works again once the store is back.</p>")
    return HTMLResponse(page, status_code=503, headers=headers)
