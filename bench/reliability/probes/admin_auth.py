"""Attacks on the admin app of a running proxy: every route without credentials, with forged, expired and
foreign sessions and tokens; cross-site writes; a foreign Host header; a brute force of the admin token.

The routes are the app's own: the API operations its OpenAPI document lists, plus its pages and the live
WebSocket, so a route added later is attacked too.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter
from pathlib import Path

from harness import TOKEN, Answer, Proxy, Row, mitmdump, percentile, request

from admin_app.auth.secrets_store import key_file, session_epoch, signing_key
from admin_app.auth.sessions import PRESESSION_COOKIE, SESSION_COOKIE, Session, SessionCodec, User
from mimic_addon.store import Store
from mimic_addon.store.private import read_or_create_key

NAME = "admin_auth"
TITLE = "admin app under attack"
PAGES = ["/deck", "/explorer", "/explorer/1", "/inspector", "/inspector/1", "/chaos", "/state", "/api/docs"]
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
EVIL = "https://evil.example"


def routes(proxy: Proxy) -> list[tuple[str, str]]:
    """(method, path) of every guarded route, parameters filled in."""
    spec = proxy.admin("GET", "/api/openapi.json", headers=proxy.bearer).json()
    found = [("GET", p) for p in PAGES]
    for path, operations in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        found += [(method.upper(), concrete) for method in operations
                  if method.upper() in ("GET", *UNSAFE)]
    return sorted(set(found))


def refused(answer: Answer) -> bool:
    """Anonymous refusal: the API answers 401 (or 429 to a client that must wait), pages send to /login."""
    return answer.status in (401, 429) or (
        answer.status == 303 and answer.headers.get("location", "").startswith("/login"))


def cookie(secret: str, *, age: float = 0) -> str:
    then = time.time() - age
    codec = SessionCodec(secret, 12 * 3600, clock=lambda: then)
    return f"{SESSION_COOKIE}={codec.dump(Session(User('admin'), 'csrf-guess'))}"


def websocket_refused(proxy: Proxy, headers: dict[str, str]) -> bool:
    answer = proxy.admin("GET", "/ws/live", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", **headers})
    return answer.status != 101


def every_route(proxy: Proxy, targets: list[tuple[str, str]], headers: dict[str, str],
                ws: bool = True) -> tuple[int, int, list[str]]:
    """(refused, tried, what got in) for every route with these request headers."""
    let_in = []
    for method, path in targets:
        answer = proxy.admin(method, path, headers=headers, body=b"{}" if method in UNSAFE else None)
        if not refused(answer):
            let_in.append(f"{method} {path} -> {answer.status}")
    tried = len(targets)
    if ws:
        tried += 1
        if not websocket_refused(proxy, headers):
            let_in.append("WS /ws/live -> 101")
    return tried - len(let_in), tried, let_in


def row(attack: str, counts: tuple[int, int, list[str]], goal: str = "all refused") -> Row:
    ok_count, tried, let_in = counts
    result = f"{ok_count}/{tried} refused" + (f" (let in: {', '.join(let_in[:3])})" if let_in else "")
    return Row(NAME, attack, goal, result, not let_in)


def login(proxy: Proxy) -> tuple[str, str]:
    """A real session: (Cookie header value, its CSRF token)."""
    page = proxy.admin("GET", "/login")
    pre = page.cookie(PRESESSION_COOKIE)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.body.decode()).group(1)  # type: ignore[union-attr]
    answer = proxy.admin("POST", "/login", body=f"token={TOKEN}&csrf_token={csrf}".encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": pre})
    session = answer.cookie(SESSION_COOKIE)
    csrf = proxy.admin("GET", "/api/session", headers={"Cookie": session}).json()["csrf_token"]
    return session, csrf


def cross_site(proxy: Proxy, targets: list[tuple[str, str]]) -> list[Row]:
    session, csrf = login(proxy)
    writes = [(m, p) for m, p in targets if m in UNSAFE] + [("POST", "/logout")]
    rows = []
    for attack, headers in [
        ("cross-site writes: session cookie, Origin evil.example, no CSRF token",
         {"Cookie": session, "Origin": EVIL, "Content-Type": "application/json"}),
        ("cross-site writes: session cookie and the right CSRF token, Origin evil.example",
         {"Cookie": session, "Origin": EVIL, "X-CSRF-Token": csrf, "Content-Type": "application/json"}),
        ("same-site writes without the CSRF token (a form on a sibling page)",
         {"Cookie": session, "Content-Type": "application/x-www-form-urlencoded"}),
    ]:
        let_in = []
        for method, path in writes:
            answer = proxy.admin(method, path, headers=headers, body=b"{}")
            if answer.status != 403:
                let_in.append(f"{method} {path} -> {answer.status}")
        rows.append(row(attack, (len(writes) - len(let_in), len(writes), let_in), "all 403"))
    page = proxy.admin("GET", "/login")
    pre = page.cookie(PRESESSION_COOKIE)
    answer = proxy.admin("POST", "/login", body=f"token={TOKEN}".encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": pre, "Origin": EVIL})
    rows.append(Row(NAME, "login CSRF: the login form posted from evil.example", "403",
                    str(answer.status), answer.status == 403))
    return rows


def foreign_host(proxy: Proxy, targets: list[tuple[str, str]]) -> Row:
    let_in = []
    for method, path in [*targets, ("GET", "/"), ("GET", "/login")]:
        answer = proxy.admin(method, path, headers={**proxy.bearer, "Host": "evil.example"},
                             body=b"{}" if method in UNSAFE else None)
        if answer.status != 421:
            let_in.append(f"{method} {path} -> {answer.status}")
    tried = len(targets) + 2
    return Row(NAME, "foreign Host header (DNS rebinding), with the right token", "all 421",
               f"{tried - len(let_in)}/{tried} refused" + (f" ({', '.join(let_in[:3])})" if let_in else ""),
               not let_in)


def brute_force(proxy: Proxy, seconds: float, workers: int = 8) -> list[Row]:
    """`workers` threads guess tokens from 127.0.0.1 for `seconds`; meanwhile the right token is sent twice a
    second from the same address and from another one (127.0.0.2)."""
    stop = time.monotonic() + seconds
    codes: Counter[int] = Counter()
    retry_after: list[str] = []
    right: dict[str, list[tuple[int, float]]] = {"127.0.0.1": [], "127.0.0.2": []}
    lock = threading.Lock()

    def guess() -> None:
        while time.monotonic() < stop:
            a = request(proxy.admin_port, "GET", "/api/session",
                        headers={"Authorization": f"Bearer {secrets.token_urlsafe(24)}"})
            with lock:
                codes[a.status] += 1
                if a.status == 429:
                    retry_after.append(a.headers.get("retry-after", ""))

    def use_the_right_token(source: str) -> None:
        next_at = time.monotonic() + 0.25
        while next_at < stop:
            time.sleep(max(0.0, next_at - time.monotonic()))  # the script's pace: two tries a second
            t0 = time.perf_counter()
            a = request(proxy.admin_port, "GET", "/api/status", headers=proxy.bearer, source=source)
            right[source].append((a.status, time.perf_counter() - t0))
            next_at += 0.5

    threads = [threading.Thread(target=guess) for _ in range(workers)]
    threads += [threading.Thread(target=use_the_right_token, args=(s,)) for s in right]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    guesses = sum(codes.values())
    hashed = codes.get(401, 0)
    limited = codes.get(429, 0)
    rows = [Row(NAME, f"token brute force: {workers} threads, {seconds:g} s, one address",
                "rate-limited (429 + Retry-After), nothing let in",
                f"{guesses} guesses: {hashed} checked (401), {limited} refused (429), "
                f"{codes.get(200, 0)} let in; {hashed / seconds:.1f} checks/s",
                codes.get(200, 0) == 0 and limited > 0 and all(r.isdigit() for r in retry_after))]
    for source, tries in right.items():
        ok = sum(1 for status, _ in tries if status == 200)
        slowest = max((t for _, t in tries), default=float("nan"))
        who = "the flooding address" if source == "127.0.0.1" else "another address"
        rows.append(Row(NAME, f"the right token during the brute force, from {who}", "always accepted",
                        f"{ok}/{len(tries)} accepted, p50 {percentile([t for _, t in tries], 50) * 1000:.0f} ms, "
                        f"max {slowest * 1000:.0f} ms", ok == len(tries) > 0))
    return rows


def run(workdir: Path, upstream: str, quick: bool) -> list[Row]:
    with mitmdump(workdir, upstream, name="admin-auth") as proxy:
        for i in range(5):  # something learned, so that the routes have data to leak
            proxy.get(f"/users/{i}")
        targets = routes(proxy)
        store = Store(str(proxy.db))
        try:
            path = key_file(store)
            assert path is not None
            real = signing_key(read_or_create_key(path), session_epoch(store))
        finally:
            store.close()
        other = workdir / "another-mimic.db"
        other_store = Store(str(other))  # another Mimic, with a key of its own
        try:
            foreign = signing_key(read_or_create_key(other.with_name(other.name + ".key")), session_epoch(other_store))
        finally:
            other_store.close()
        rows = [
            row("no credentials, every route", every_route(proxy, targets, {})),
            row("forged session cookie (a key of our own)", every_route(
                proxy, targets, {"Cookie": cookie(secrets.token_urlsafe(32))})),
            row("expired session cookie (the real key, 13 h old)", every_route(
                proxy, targets, {"Cookie": cookie(real, age=13 * 3600)})),
            row("foreign session cookie (another Mimic's key)", every_route(
                proxy, targets, {"Cookie": cookie(foreign)})),
        ]
        limiter_free = [("GET", "/api/status"), ("GET", "/deck"), ("PUT", "/api/mode")]
        rows.append(row("foreign admin token (another Mimic's), a few routes", every_route(
            proxy, limiter_free, {"Authorization": f"Bearer {secrets.token_urlsafe(24)}"}, ws=False)))
        rows += cross_site(proxy, targets)
        rows.append(foreign_host(proxy, targets))
        rows += brute_force(proxy, 5.0 if quick else 20.0)
        still = proxy.admin("GET", "/api/status", headers=proxy.bearer)
        rows.append(Row(NAME, "afterwards: the proxy's mode was never changed", "learn",
                        str(still.json().get("mode")), still.json().get("mode") == "learn"))
        return rows
