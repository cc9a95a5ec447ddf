"""Assembles the admin app: pages and the JSON API of every section, behind authentication.

Each section module owns its pages (`page_routes`) and its part of the JSON API under /api/
(`api_routes`); auth/ owns login, sessions, CSRF and the security headers; api_docs serves the
admin API's own OpenAPI description built from the API routes' docstrings.
"""
from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from . import api_docs, chaos, deck, explorer, inspector, landing, state
from .auth import build_auth
from .context import STATIC, AdminContext
from .control import Control
from .live import LiveHub
from .settings import AdminSettings

SECTIONS = (landing, deck, explorer, inspector, chaos, state)


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
    app = Starlette(routes=routes, middleware=auth.middleware)
    app.state.ctx = ctx
    app.state.auth = auth.auth  # close() it when the app is done (its token-hashing thread, Firebase app)
    return app
