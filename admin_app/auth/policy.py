"""Which paths are public, what counts as same-origin, and the security headers every response gets."""
from __future__ import annotations

import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Iterable, Mapping

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


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def split_host(value: str, scheme: str) -> tuple[str, int | None] | None:
    """"Host:port" (or "[v6]:port", or no port: the scheme's default) -> (lowercased host, port); None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port = rest[1:]
    elif value.count(":") > 1:  # a bare IPv6 address (as in a bind spec)
        host, port = value, ""
    else:
        host, _, port = value.partition(":")
    if not host or (port and not port.isdigit()):
        return None
    return host, int(port) if port else DEFAULT_PORTS.get(scheme)


class HostCheck:
    """Which Host headers name this app (DNS-rebinding protection): the bind host and the loopback names on
    the bind port; with a wildcard bind, any IP address and this machine's name too; plus `extra`
    entries (`host` = any port, `host:port`, `*` = anything)."""

    def __init__(self, bind_host: str, bind_port: int, extra: Iterable[str] = ()) -> None:
        bind_host = bind_host.strip("[]").lower()
        self.port = bind_port
        self.wildcard = bind_host in WILDCARD_BINDS
        names = {bind_host, *LOOPBACK_NAMES}
        if self.wildcard:
            names.add(socket.gethostname().lower())
        self.exact = {(name, bind_port) for name in names}
        self.anything = False
        self.any_port: set[str] = set()
        for entry in extra:
            if entry.strip() == "*":
                self.anything = True
                continue
            parsed = split_host(entry, "")
            if parsed is None:
                continue
            host, port = parsed
            if port is None:
                self.any_port.add(host)
            else:
                self.exact.add((host, port))

    def allows(self, host_header: str | None, scheme: str) -> bool:
        if self.anything:
            return True
        parsed = split_host(host_header or "", scheme)
        if parsed is None:
            return False
        host, port = parsed
        if (host, port) in self.exact or host in self.any_port:
            return True
        if self.wildcard and port == self.port:
            try:
                ipaddress.ip_address(host)  # an address, not a name someone's DNS could point here
                return True
            except ValueError:
                return False
        return False


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
