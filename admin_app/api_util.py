"""What every JSON API route of the admin app shares: errors as {"error": ...}, request bodies, commands."""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mimic_addon.model import safe_json

from .context import AdminContext
from .control import ControlError


class ApiError(Exception):
    """An error answered as {"error": message} with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def json_api(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Answer an `ApiError` raised by an API endpoint as its JSON error (docstring kept for OpenAPI)."""
    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except ApiError as e:
            return json_error(e.message, e.status)

    return endpoint


ADMIN_JSON_DEPTH = 32  # the admin API's documents nest a few levels: deeper is refused, never a RecursionError


async def read_json(request: Request) -> Any:
    try:
        return safe_json.loads(await request.body() or b"null", ADMIN_JSON_DEPTH)
    except ValueError as e:
        raise ApiError(400, f"the body must be JSON: {e}") from None


async def read_object(request: Request) -> dict[str, Any]:
    """The JSON object in the body ({} for an empty body)."""
    body = await read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


async def run_command(ctx: AdminContext, command: str, *args: str) -> str:
    """Run a mitmproxy command on the proxy; a refusal is 409, no proxy to run it is 503."""
    try:
        return await ctx.control.call(command, *args)
    except ControlError as e:
        try:
            alive = bool((await ctx.control.status()).get("alive"))
        except Exception:  # noqa: BLE001  (a status that fails too: no proxy to speak of)
            alive = False
        raise ApiError(409 if alive else 503, str(e)) from None


def page_context(request: Request, section: str, **values: Any) -> dict[str, Any]:
    return {"request": request, "section": section, **values}
