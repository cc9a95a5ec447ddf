"""Which paths are public, what counts as same-origin, and the security headers every response gets."""
from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping

PUBLIC_EXACT = frozenset({"/", "/login", "/favicon.ico"})
PUBLIC_PREFIXES = ("/auth/", "/static/")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

FIREBASE_CONNECT = ("https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com")
GOOGLE_POPUP_SCRIPT = "https://apis.google.com"  # the JS SDK's popup helper (Google sign-in) loads gapi


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def clean_host(host: str | None) -> str | None:
    """The Host header when it is a plain host[:port] (it is reflected into the CSP), else None."""
    return host if host and _HOST.match(host) else None


def own_origin(scheme: str, host: str | None) -> str | None:
    host = clean_host(host)
    if host is None:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return f"{scheme}://{host}".lower()


def same_origin(headers: Mapping[str, str], scheme: str, require: bool) -> bool:
    """Whether Origin (else Referer) names this site. Neither present: `not require` (non-browser clients
    send none; browsers always send Origin on cross-site POSTs and WebSocket handshakes)."""
    mine = own_origin(scheme, headers.get("host"))
    origin = headers.get("origin")
    if origin is None:
        referer = headers.get("referer")
        if referer is None:
            return not require
        parts = urllib.parse.urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return mine is not None and origin.lower() == mine


def content_security_policy(host: str | None, scheme: str, firebase: tuple[str, str] | None,
                            login_page: bool) -> str:
    """A strict CSP: only this origin's scripts, styles and connections. The login page, when Firebase
    is configured, may also talk to Firebase Auth (or the emulator) and open Google's sign-in frame.
    `firebase` is (auth domain, emulator URL or "")."""
    connect = ["'self'"]
    host = clean_host(host)
    if host:
        connect += [f"ws://{host}", f"wss://{host}"] if scheme in ("http", "ws") else [f"wss://{host}"]
    script = ["'self'"]
    frames = ["'none'"]
    if firebase and login_page:
        auth_domain, emulator = firebase
        connect += [*FIREBASE_CONNECT, emulator] if emulator else list(FIREBASE_CONNECT)
        script.append(GOOGLE_POPUP_SCRIPT)
        frames = [f"https://{auth_domain}", *([emulator] if emulator else [])]
    return "; ".join([
        "default-src 'self'", f"script-src {' '.join(script)}", "style-src 'self'", "img-src 'self' data:",
        f"connect-src {' '.join(connect)}", f"frame-src {' '.join(frames)}", "frame-ancestors 'none'",
        "base-uri 'none'", "form-action 'self'", "object-src 'none'",
    ])


def security_headers(path: str, host: str | None, scheme: str, firebase: tuple[str, str] | None
                     ) -> list[tuple[bytes, bytes]]:
    headers = [
        ("content-security-policy", content_security_policy(host, scheme, firebase, path == "/login")),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin-allow-popups" if firebase and path == "/login" else "same-origin"),
    ]
    if not path.startswith("/static/"):
        headers.append(("cache-control", "no-store"))
    return [(k.encode(), v.encode()) for k, v in headers]
