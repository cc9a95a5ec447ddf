"""Pure ASGI middleware (not BaseHTTPMiddleware, which breaks streaming and WebSockets): who is asking,
may they, and the security headers on every answer.

Every request must name this app in its Host header (the bind address, or localhost / 127.0.0.1 / ::1
on its port, or a configured extra host), else 421: a page of another site whose name was rebound to
this address (DNS rebinding) is refused. The right bearer token is always let in; a client that sent
wrong ones too often gets 429 with Retry-After for its other tokens (per remote address, limits.py), and
so does one with a token check already running: wrong tokens never queue.

Sets `request.state.user` (a User, None when anonymous) and `request.state.csrf_token` (the session's,
or before login the pre-session cookie's) for every request, then:
- refuses anonymous requests to non-public paths: pages 303 to /login?next=..., /api/* 401 JSON
  (unless a browser navigates there: GET accepting text/html, e.g. /api/docs, goes to the login page too),
  WebSockets closed with 4401 before the handshake completes;
- refuses state-changing requests (POST/PUT/PATCH/DELETE) from a cookie or pre-session whose
  `X-CSRF-Token` header / `csrf_token` form field is not the session's, or whose Origin/Referer is
  another site; requests with a valid `Authorization: Bearer <admin token>` are exempt (a browser
  cannot send that header cross-site without a CORS preflight, which this app never answers);
- refuses WebSocket handshakes on a cookie session without a same-origin Origin header (4403).
"""
from __future__ import annotations

import hmac
import json
import urllib.parse

from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import policy
from .core import Auth
from .limits import TooManyFailures, client_key
from .sessions import (
    PRESESSION_COOKIE,
    PRESESSION_MAX_AGE,
    SESSION_COOKIE,
    User,
    cookie_header,
    new_csrf,
)

MAX_FORM_BODY = 1 << 20  # bytes of a form body read to find its csrf_token field
BEARER_USER = User(name="admin (token)", method="bearer")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _cookies(headers: Headers) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for raw in headers.getlist("cookie"):
        cookies.update(cookie_parser(raw))
    return cookies


class AuthMiddleware:
    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- who is asking ---------------------------------------------------------------------------------
    async def _bearer(self, scope: Scope, headers: Headers) -> bool | None:
        """True: a valid admin token; False: an Authorization header that is not; None: no header.
        Raises TooManyFailures for a client that must wait."""
        value = headers.get("authorization")
        if value is None:
            return None
        scheme, _, credential = value.partition(" ")
        return scheme.lower() == "bearer" and await self.auth.check_token(credential.strip(), client_of(scope))

    # -- HTTP ------------------------------------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        headers = Headers(scope=scope)
        public = policy.is_public(path)
        send = self._with_headers(scope, headers, send)
        if not self.auth.hosts.allows(headers.get("host"), scope.get("scheme", "http")):
            await self._refuse(scope, send, 421, "this admin app does not answer to that Host header")
            return
        await self.auth.refresh()

        try:
            bearer = await self._bearer(scope, headers)
        except TooManyFailures as e:
            await self._refuse(scope, send, 429, f"too many wrong tokens: try again in {e.retry_after} s",
                               retry_after=e.retry_after)
            return
        if bearer is False and not public:
            scheme = headers.get("authorization", "").partition(" ")[0]
            await self._refuse(scope, send, 401, "the bearer token is not the admin token"
                               if scheme.lower() == "bearer" else
                               f"{scheme or 'this'} authorization is not taken here: send "
                               "'Authorization: Bearer <admin token>'"[:200])
            return
        cookies = _cookies(headers)
        user: User | None = BEARER_USER if bearer else None
        csrf = ""
        new_presession = None
        if user is None:
            session = self.auth.session(cookies.get(SESSION_COOKIE))
            if session is not None:
                user, csrf = session.user, session.csrf
            else:
                csrf = self.auth.codec.load_pre(cookies.get(PRESESSION_COOKIE)) or ""
                if not csrf and not path.startswith(("/static/", "/api/")):
                    csrf = new_presession = new_csrf()
        state = scope.setdefault("state", {})
        state["user"] = user
        state["csrf_token"] = csrf

        if user is None and not public:
            browsing = scope["method"] in ("GET", "HEAD") and "text/html" in headers.get("accept", "")
            if policy.is_api(path) and not browsing:
                await self._refuse(scope, send, 401, "authentication required: log in or send "
                                                     "'Authorization: Bearer <admin token>'")
            else:
                target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
                location = "/login?" + urllib.parse.urlencode({"next": target})
                await send({"type": "http.response.start", "status": 303,
                            "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
            return

        if scope["method"] in policy.UNSAFE_METHODS and not bearer:
            if not policy.same_origin(headers, scope.get("scheme", "http"), require=False):
                await self._refuse(scope, send, 403, "cross-site request refused")
                return
            sent = headers.get("x-csrf-token")
            if sent is None and headers.get("content-type", "").startswith(FORM_TYPES):
                body = await _read_body(receive)
                if body is None:
                    await self._refuse(scope, send, 413, "form body too large")
                    return
                receive = _replay(body, receive)
                sent = await _form_field(scope, body, "csrf_token")
            if not csrf or not sent or not hmac.compare_digest(sent.encode(), csrf.encode()):
                await self._refuse(scope, send, 403, "missing or wrong CSRF token: reload the page and try again")
                return

        if new_presession:
            send = self._with_cookie(send, cookie_header(PRESESSION_COOKIE, self.auth.codec.dump_pre(new_presession),
                                                         PRESESSION_MAX_AGE, self.auth.settings.secure_cookies))
        await self.app(scope, receive, send)

    def _with_headers(self, scope: Scope, headers: Headers, send: Send) -> Send:
        extra = policy.security_headers(scope["path"], headers.get("host"), scope.get("scheme", "http"),
                                        self.auth.firebase_csp)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *[(k, v) for k, v in extra if k not in present]]}
            await send(message)

        return wrapped

    @staticmethod
    def _with_cookie(send: Send, cookie: str) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
            await send(message)

        return wrapped

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, message: str, retry_after: int = 1) -> None:
        body = json.dumps({"error": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="mimic-admin"'))
        elif status == 429:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- WebSocket -------------------------------------------------------------------------------------
    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        if not self.auth.hosts.allows(headers.get("host"), scope.get("scheme", "ws")):
            await send({"type": "websocket.close", "code": 4421, "reason": "wrong Host header"})
            return
        await self.auth.refresh()
        try:
            bearer = await self._bearer(scope, headers)
        except TooManyFailures:
            await send({"type": "websocket.close", "code": 4429, "reason": "too many wrong tokens"})
            return
        user: User | None = BEARER_USER if bearer else None
        csrf = ""
        if user is None and bearer is None:
            session = self.auth.session(_cookies(headers).get(SESSION_COOKIE))
            if session is not None:
                user, csrf = session.user, session.csrf
        if user is None:
            await send({"type": "websocket.close", "code": 4401, "reason": "authentication required"})
            return
        if not bearer and not policy.same_origin(headers, scope.get("scheme", "ws"), require=True):
            await send({"type": "websocket.close", "code": 4403, "reason": "cross-site WebSocket refused"})
            return
        state = scope.setdefault("state", {})
        state["user"] = user
        state["csrf_token"] = csrf
        await self.app(scope, receive, send)


def client_of(scope: Scope) -> str:
    """The rate-limited unit of the remote address asking (limits.client_key)."""
    client = scope.get("client")
    return client_key(client[0] if client else None)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None past MAX_FORM_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then defers to the real one."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _form_field(scope: Scope, body: bytes, name: str) -> str | None:
    request = Request({**scope, "state": {}}, _replay(body, _no_more))
    try:
        async with request.form() as form:
            value = form.get(name)
    except Exception:  # an unparsable form carries no token  # noqa: BLE001
        return None
    return value if isinstance(value, str) else None


async def _no_more() -> Message:
    return {"type": "http.disconnect"}
