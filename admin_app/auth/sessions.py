"""Signed, expiring cookie sessions and the pre-login CSRF cookie.

A session cookie is an itsdangerous timestamped signature over {user, csrf}: any admin process sharing
the store's signing secret accepts it, until it is `max_age` seconds old or logged out (the store keeps
the digests of logged-out sessions' CSRF tokens until they would have expired: `core.Auth.end_session`).
Before login, a short-lived pre-session cookie carries the CSRF token of the login forms.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

SESSION_COOKIE = "mimic_session"
PRESESSION_COOKIE = "mimic_presession"
PRESESSION_MAX_AGE = 2 * 3600


@dataclass(frozen=True)
class User:
    name: str
    email: str = ""
    method: str = "token"  # "token" (login form), "bearer" (script), "firebase"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def _signer_with_clock(clock: Callable[[], float]) -> type[TimestampSigner]:
    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return ClockSigner


class SessionCodec:
    """Signs and checks the session and pre-session cookies; `clock` is injectable for tests."""

    def __init__(self, secret: str, max_age: int, clock: Callable[[], float] = time.time) -> None:
        self.max_age = max_age
        signer = _signer_with_clock(clock)
        self._session = URLSafeTimedSerializer(secret, salt="mimic.session", signer=signer)
        self._pre = URLSafeTimedSerializer(secret, salt="mimic.presession", signer=signer)

    def dump(self, session: Session) -> str:
        return self._session.dumps({"user": session.user.to_dict(), "csrf": session.csrf})

    def load(self, cookie: str | None) -> Session | None:
        """The session in `cookie`, or None when missing, forged, malformed or expired."""
        data = _loads(self._session, cookie, self.max_age)
        if not isinstance(data, dict) or not isinstance(data.get("user"), dict) or not data.get("csrf"):
            return None
        user = data["user"]
        try:
            return Session(User(str(user["name"]), str(user.get("email", "")), str(user.get("method", ""))),
                           str(data["csrf"]))
        except KeyError:
            return None

    def dump_pre(self, csrf: str) -> str:
        return self._pre.dumps(csrf)

    def load_pre(self, cookie: str | None) -> str | None:
        csrf = _loads(self._pre, cookie, PRESESSION_MAX_AGE)
        return csrf if isinstance(csrf, str) and csrf else None


def _loads(serializer: URLSafeTimedSerializer, cookie: str | None, max_age: int) -> Any:
    if not cookie:
        return None
    try:
        return serializer.loads(cookie, max_age=max_age)
    except (BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return None


def cookie_header(name: str, value: str, max_age: int, secure: bool) -> str:
    """A Set-Cookie value: host-only, whole site, HttpOnly, SameSite=Strict, Secure when asked."""
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
