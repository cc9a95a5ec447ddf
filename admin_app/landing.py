"""The landing page: what Mimic is, how to send traffic through it, where everything is. Public."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .context import AdminContext

SECTIONS = (
    ("/deck", "Control deck", ("Switch the global mode, change the reverse-proxy target, pick a chaos profile, "
                               "and watch traffic live.")),
    ("/explorer", "Explorer", ("Every learned endpoint: request and response schemas, latency and status charts, "
                               "health, drift alerts, per-endpoint mode, overrides and type exports.")),
    ("/inspector", "Inspector", ("The recent requests (redacted), filterable by endpoint, session, status and "
                                 "source, with request and response details.")),
    ("/chaos", "Chaos", "Fault-injection rules and profiles, with how often each fired."),
    ("/state", "State", "The stateful twins' data per session, and resetting it."),
    ("/api/docs", "Admin API", "The JSON API behind these pages, with its OpenAPI description."),
)


def page_routes(ctx: AdminContext) -> list[BaseRoute]:
    async def landing(request: Request) -> Response:
        return ctx.templates.TemplateResponse(request, "landing.html", {"section": "landing", "sections": SECTIONS})

    return [Route("/", landing, methods=["GET"])]


def api_routes(ctx: AdminContext) -> list[BaseRoute]:
    return []
