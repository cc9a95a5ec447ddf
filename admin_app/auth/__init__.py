"""Authentication of the admin app: the local admin token, Firebase sign-in, signed cookie sessions,
CSRF protection and the security headers (see middleware.py for the rules every request meets)."""
from __future__ import annotations

from dataclasses import dataclass

from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from ..context import AdminContext
from .core import Auth
from .firebase import AuthConfigError
from .middleware import AuthMiddleware
from .routes import api_session, routes
from .secrets_store import ensure_token, reset_token
from .sessions import PRESESSION_COOKIE, SESSION_COOKIE, User

__all__ = [
    "PRESESSION_COOKIE",
    "SESSION_COOKIE",
    "AuthConfigError",
    "AuthKit",
    "User",
    "api_session",
    "build_auth",
    "ensure_token",
    "reset_token",
]


@dataclass
class AuthKit:
    routes: list[BaseRoute]
    middleware: list[Middleware]
    auth: Auth


def build_auth(ctx: AdminContext) -> AuthKit:
    """Login routes and the middleware guarding everything else. Raises AuthConfigError when the
    configuration is unsafe (the Firebase Auth Emulator variable set for a real project) or incomplete."""
    auth = Auth(ctx.settings, ctx.store)
    return AuthKit(routes(ctx, auth), [Middleware(AuthMiddleware, auth=auth)], auth)
