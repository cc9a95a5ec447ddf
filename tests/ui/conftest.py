"""UI test fixtures: a real mitmdump with Mimic (and its embedded admin app) in reverse mode in front of a
loopback JSON backend, and Playwright pages in headless Debian Chromium.

- `live_proxy` (one per test module, so state changed by one module never leaks into another): the proxy
  has already learned a small API from real traffic through it, including a hostile string
  (`HOSTILE`, learned as a key and a value), so every page has realistic data to show.
- `page`: a Playwright Page logged in to the admin app (token login); `browser_page`: not logged in.
- `screenshot(page, section)`: saves `<section>.png` (full page) into $MIMIC_SCREENSHOTS when set.

Nothing sleeps to synchronise: readiness is polled with deadlines, Playwright waits with expect/wait_for.
"""
from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e.conftest import ADDON, MITMDUMP, START_TIMEOUT, Proxy, _env, _Handler, free_port, wait_for_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HOSTILE = "<img src=x onerror=alert(1)>"
LEARN_TIMEOUT = 20.0


class LoopbackBackend:
    """The e2e JSON backend (tests/e2e/conftest.py `_Handler`) on a free loopback port, stoppable mid-test."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="ui-backend", daemon=True)
        self.thread.start()
        self.running = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(10)


@dataclass
class LiveProxy:
    """A running mitmdump + Mimic + embedded admin app, and helpers to talk to them."""

    proxy_url: str  # reverse proxy: send requests to this base URL
    admin_url: str
    token: str
    db: str
    backend: LoopbackBackend
    process: Proxy

    @property
    def backend_url(self) -> str:
        return self.backend.url

    def stop_backend(self) -> None:
        """Stop the loopback backend (connections to it are refused from now on)."""
        self.backend.stop()

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request through the proxy (httpx keyword arguments: json=, headers=, content=, ...)."""
        with httpx.Client(base_url=self.proxy_url, trust_env=False, timeout=30) as c:
            return c.request(method, path, **kw)

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A call to the admin app as a script would make it (Bearer token, no CSRF needed)."""
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        with httpx.Client(base_url=self.admin_url, trust_env=False, timeout=30) as c:
            return c.request(method, path, headers=headers, **kw)

    def endpoint_count(self) -> int:
        """Endpoints the proxy has saved to the store so far."""
        with sqlite3.connect(self.db, timeout=5) as conn:
            try:
                return conn.execute("SELECT count(*) FROM endpoints").fetchone()[0]
            except sqlite3.OperationalError:  # not migrated yet
                return 0

    def wait_learned(self, at_least: int, timeout: float = LEARN_TIMEOUT) -> None:
        """Wait until the proxy has saved at least this many endpoints (write-behind, every 0.2 s here)."""
        deadline = time.monotonic() + timeout
        while self.endpoint_count() < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"the proxy saved {self.endpoint_count()} endpoints, expected {at_least}:\n"
                                     f"{self.process.log.read_text(errors='replace')}")
            time.sleep(0.05)  # poll interval while the proxy's writer catches up, bounded by the deadline

    def teach(self) -> None:
        """Real traffic through the proxy: a small users/orders API, one hostile key and value."""
        for uid in (1, 2, 3, 7, 42):
            assert self.request("GET", f"/users/{uid}").status_code == 200
        for page in (1, 2):
            assert self.request("GET", "/users", params={"limit": 2, "page": page}).status_code == 200
        assert self.request("GET", "/users/me").status_code == 200
        for oid in ("6f1c1a4e-2b7d-4a53-9d1e-2f0a8f3c9b10", "0b5e8c2a-9f41-4d7e-8a6b-5c3d2e1f0a99"):
            assert self.request("GET", f"/orders/{oid}").status_code == 200
        for name in ("Ada", "Grace"):
            assert self.request("POST", "/users", json={"name": name, "email": f"{name.lower()}@example.com",
                                                        HOSTILE: HOSTILE}).status_code == 201
        self.wait_learned(4)


def _start(tmp: Path, backend: LoopbackBackend, token: str, extra: tuple[str, ...] = ()) -> LiveProxy:
    port, admin_port = free_port(), free_port()
    db = str(tmp / "mimic.db")
    args = [str(MITMDUMP), "-s", str(ADDON), "--mode", f"reverse:{backend.url}", "--listen-host", "127.0.0.1",
            "--listen-port", str(port), "--set", f"mimic_db={db}", "--set", "mimic_flush_interval=0.2",
            "--set", f"mimic_admin=127.0.0.1:{admin_port}", "--set", f"mimic_admin_token={token}",
            "--set", "flow_detail=0", *extra]
    log = tmp / "mitmdump.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp,
                                env=_env())
    process = Proxy(proc, port, log)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        wait_for_port(port, proc, deadline, log)
        wait_for_port(admin_port, proc, deadline, log)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    return LiveProxy(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}", token, db, backend, process)


@pytest.fixture(scope="module")
def live_proxy(tmp_path_factory) -> Iterator[LiveProxy]:
    """mitmdump + Mimic + the embedded admin app in front of a loopback backend, having learned an API."""
    tmp = tmp_path_factory.mktemp("live")
    backend = LoopbackBackend()
    proxy = _start(tmp, backend, "ui-" + secrets.token_urlsafe(18))
    try:
        proxy.teach()
        yield proxy
    finally:
        proxy.process.stop()
        backend.stop()


# -- the browser ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser). Per module: Playwright's
    sync API keeps an event loop running while it is open, which async tests run later could not share."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing (install Debian's chromium package)")
        pytest.skip(f"{CHROMIUM} is missing: UI tests need Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def browser_page(browser, live_proxy) -> Iterator[Any]:
    """A fresh page in its own browser context (no cookies): not logged in."""
    context = browser.new_context(base_url=live_proxy.admin_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors  # type: ignore[attr-defined]  # uncaught JS errors, for tests to assert on
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser_page, live_proxy) -> Any:
    """A page logged in to the admin app with the admin token, on /deck."""
    login(browser_page, live_proxy)
    return browser_page


def login(page: Any, live_proxy: LiveProxy) -> None:
    page.goto(f"{live_proxy.admin_url}/login")
    page.fill("input[name=token]", live_proxy.token)
    with page.expect_navigation(url="**/deck*"):
        page.press("input[name=token]", "Enter")  # submits the token form


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path | None]:
    """`screenshot(page, "deck")` saves a full-page deck.png into $MIMIC_SCREENSHOTS (when set)."""
    def save(page: Any, section: str) -> Path | None:
        folder = os.environ.get("MIMIC_SCREENSHOTS")
        if not folder:
            return None
        path = Path(folder) / f"{section}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
