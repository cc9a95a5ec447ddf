"""Login (admin token form, Firebase ID token), logout, and GET /api/session."""
from __future__ import annotations

import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mimic_addon.model import safe_json

from ..context import AdminContext
from .core import Auth
from .firebase import FirebaseLoginError
from .limits import TooManyFailures, client_key
from .sessions import PRESESSION_COOKIE, SESSION_COOKIE, Session, User, new_csrf

DEFAULT_NEXT = "/deck"


def safe_next(value: Any) -> str:
    """Where to go after login: a path on this site only (no scheme, no //host, no backslashes)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT_NEXT
    parts = urllib.parse.urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout") or any(ord(c) < 32 for c in value):
        return DEFAULT_NEXT
    return value


def start_session(response: Response, auth: Auth, user: User) -> None:
    """Log `user` in on `response`: a fresh signed session (with its own CSRF token); the pre-session ends."""
    secure = auth.settings.secure_cookies
    response.set_cookie(SESSION_COOKIE, auth.codec.dump(Session(user, new_csrf())), max_age=auth.codec.max_age,
                        path="/", secure=secure, httponly=True, samesite="strict")
    response.delete_cookie(PRESESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict")


def routes(ctx: AdminContext, auth: Auth) -> list[BaseRoute]:
    def login_page(request: Request, error: str = "", status: int = 200, next_: str | None = None) -> Response:
        firebase = auth.firebase.web if auth.firebase else None
        return ctx.templates.TemplateResponse(request, "login.html", {
            "section": "login", "error": error, "firebase": firebase,
            "next": next_ if next_ is not None else safe_next(request.query_params.get("next")),
        }, status_code=status)

    async def login_get(request: Request) -> Response:
        if request.state.user is not None and request.state.user.method != "bearer":
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        return login_page(request)

    async def login_post(request: Request) -> Response:
        async with request.form() as form:
            token, target = form.get("token"), safe_next(form.get("next"))
        try:
            ok = isinstance(token, str) and await auth.check_token(token.strip(), _client(request))
        except TooManyFailures as e:
            busy = login_page(request, f"Too many wrong tokens: try again in {e.retry_after} s.", 429, target)
            busy.headers["retry-after"] = str(e.retry_after)
            return busy
        if not ok:
            return login_page(request, "That is not the admin token.", 401, target)
        response = RedirectResponse(target, status_code=303)
        start_session(response, auth, User(name="admin", method="token"))
        return response

    async def logout(request: Request) -> Response:
        session = auth.session(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            await auth.end_session(session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=auth.settings.secure_cookies, httponly=True,
                               samesite="strict")
        return response

    async def firebase_login(request: Request) -> Response:
        if auth.firebase is None:
            return JSONResponse({"error": "Firebase sign-in is not configured"}, status_code=404)
        try:
            body = safe_json.loads(await request.body() or b"{}", 16)
        except ValueError:
            return JSONResponse({"error": "the body must be JSON: {\"id_token\": ...}"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        try:
            user = await auth.firebase_user(body.get("id_token"), _client(request))
        except TooManyFailures as e:
            return JSONResponse({"error": f"too many failed sign-ins: try again in {e.retry_after} s"},
                                status_code=429, headers={"retry-after": str(e.retry_after)})
        except FirebaseLoginError as e:
            return JSONResponse({"error": e.message}, status_code=e.status)
        target = safe_next(body.get("next"))
        response = JSONResponse({"user": user.to_dict(), "next": target})
        start_session(response, auth, user)
        return response

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    return [
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/auth/firebase", firebase_login, methods=["POST"]),
        Route("/api/session", api_session, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
    ]


def _client(request: Request) -> str:
    return client_key(request.client.host if request.client else None)


async def api_session(request: Request) -> Response:
    """Who is logged in, and the CSRF token their state-changing requests must send.
    ---
    summary: The current user and CSRF token
    description: >
      Pages read the token from their csrf-token meta tag; scripts authenticating with
      `Authorization: Bearer <admin token>` need none (their csrf_token is empty).
    tags: [session]
    responses:
      200:
        description: The logged-in user
        content:
          application/json:
            schema:
              type: object
              required: [user, csrf_token]
              properties:
                user:
                  type: object
                  properties:
                    name: {type: string}
                    email: {type: string}
                    method: {type: string, enum: [token, bearer, firebase]}
                csrf_token: {type: string}
      401:
        description: Not logged in
    """
    user = request.state.user
    return JSONResponse({"user": user.to_dict(), "csrf_token": request.state.csrf_token})
