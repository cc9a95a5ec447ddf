"""Logging in, in real headless Chromium: the admin token on the proxy's embedded admin app, and Firebase
sign-in through the login page's JS SDK against the Firebase Auth Emulator (offline, project demo-mimic).

The emulator test skips when Java or the Firebase CLI (npm firebase-tools) is missing, except in CI
(CI=true), where it fails instead.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from e2e.conftest import free_port
from playwright.sync_api import expect

from admin_app.app import create_app
from admin_app.auth import ensure_token
from admin_app.auth.firebase import EMULATOR_ENV
from admin_app.control import QueuedControl
from admin_app.live import LiveHub
from admin_app.settings import AdminSettings
from mimic_addon.store import Store

ROOT = Path(__file__).resolve().parents[2]
FIREBASE_CLI = ROOT / "node_modules" / ".bin" / "firebase"
DEMO_PROJECT = "demo-mimic"
EMULATOR_START = 240.0  # seconds: the CLI is slow to boot on a busy machine; it is polled, not waited out


def watch_csp(page: Any) -> list[str]:
    """What the browser refused to load or run on `page` from now on (Content-Security-Policy violations)."""
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" and (
        "Content Security Policy" in m.text or "Refused to" in m.text) else None)
    return refused


# -- the admin token, on the embedded admin app of a real proxy ------------------------------------------------
def test_token_login_logout_and_the_public_pages(browser_page, live_proxy, screenshot):
    page = browser_page
    csp = watch_csp(page)

    page.goto("/")
    expect(page.get_by_role("heading", name="Mimic, a learning API proxy")).to_be_visible()
    expect(page.locator("a.button", has_text="Log in")).to_be_visible()

    page.goto("/deck")  # not logged in: sent to the login page, which remembers where we were going
    expect(page).to_have_url(f"{live_proxy.admin_url}/login?next=%2Fdeck")
    screenshot(page, "login")
    page.fill("input[name=token]", live_proxy.token + "-wrong")
    page.click("form.login-form button[type=submit]")
    expect(page.locator(".flash.error")).to_have_text("That is not the admin token.")
    assert page.context.cookies() and all(c["name"] != "mimic_session" for c in page.context.cookies())

    page.fill("input[name=token]", live_proxy.token)
    page.click("form.login-form button[type=submit]")
    expect(page).to_have_url(f"{live_proxy.admin_url}/deck")
    session = next(c for c in page.context.cookies() if c["name"] == "mimic_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # invisible to scripts

    page.goto("/")
    expect(page.get_by_role("link", name="Open the control deck")).to_be_visible()
    screenshot(page, "landing")
    page.goto("/api/docs")
    expect(page.locator("td.path", has_text="/api/session")).to_be_visible()
    assert page.locator("table.api-docs tbody tr").count() > 10
    screenshot(page, "api_docs")

    page.click("header form.logout button")
    expect(page).to_have_url(f"{live_proxy.admin_url}/login")
    page.goto("/api/docs")
    expect(page).to_have_url(f"{live_proxy.admin_url}/login?next=%2Fapi%2Fdocs")
    assert csp == [] and page.js_errors == []


# -- Firebase sign-in against the Auth Emulator ----------------------------------------------------------------
def need(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing: the Firebase Auth Emulator test cannot run")
    pytest.skip(f"{what} is missing: skipping the Firebase Auth Emulator test")


@dataclass
class Emulator:
    host: str  # host:port, as FIREBASE_AUTH_EMULATOR_HOST wants it

    def rest(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = httpx.post(f"http://{self.host}/identitytoolkit.googleapis.com/v1/{path}", json=body,
                       headers={"Authorization": "Bearer owner"}, params={"key": "demo-api-key"}, trust_env=False)
        assert r.status_code == 200, r.text
        return r.json()

    def add_user(self, email: str, password: str, name: str, verified: bool = True) -> str:
        uid = self.rest("accounts:signUp", {"email": email, "password": password, "returnSecureToken": True})["localId"]
        self.rest(f"projects/{DEMO_PROJECT}/accounts:update",
                  {"localId": uid, "emailVerified": verified, "displayName": name})
        return uid


@pytest.fixture(scope="module")
def auth_emulator(tmp_path_factory) -> Iterator[Emulator]:
    need(shutil.which("java") is not None, "java")
    need(FIREBASE_CLI.exists(), f"the Firebase CLI ({FIREBASE_CLI}; run npm install)")
    tmp = tmp_path_factory.mktemp("firebase-emulator")
    port = free_port()
    (tmp / "firebase.json").write_text(json.dumps({"emulators": {
        "auth": {"host": "127.0.0.1", "port": port},
        "hub": {"host": "127.0.0.1", "port": free_port()},
        "logging": {"host": "127.0.0.1", "port": free_port()},
        "ui": {"enabled": False},
    }}))
    env = {**os.environ, "HOME": str(tmp), "TMPDIR": str(tmp), "CI": "true", "NO_UPDATE_NOTIFIER": "1"}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", EMULATOR_ENV):
        env.pop(var, None)
    log = tmp / "emulator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(FIREBASE_CLI), "emulators:start", "--only", "auth", "--project", DEMO_PROJECT,
                                 "--config", str(tmp / "firebase.json")], cwd=tmp, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + EMULATOR_START
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the emulator exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", trust_env=False, timeout=2).json()["authEmulator"]["ready"]:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the emulator did not answer in time:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)  # poll interval while the emulator boots, bounded by the deadline
        yield Emulator(f"127.0.0.1:{port}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the CLI and the emulator it started: our process group
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@dataclass
class AdminServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture
def firebase_admin_app(auth_emulator, tmp_path, monkeypatch) -> Iterator[AdminServer]:
    """A standalone admin app (uvicorn) configured for Firebase project demo-mimic on the emulator, only
    ada@example.com allowed."""
    monkeypatch.setenv(EMULATOR_ENV, auth_emulator.host)
    store = Store(str(tmp_path / "mimic.db"))
    ensure_token(store, None)
    port = free_port()
    settings = AdminSettings(bind=f"127.0.0.1:{port}", firebase_project=DEMO_PROJECT,
                             allowed_emails=("ada@example.com",))  # the Host header must name this address
    app = create_app(settings, store, QueuedControl(store), LiveHub())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="firebase-admin-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the admin app did not start"
        time.sleep(0.02)  # poll interval while uvicorn binds, bounded by the deadline
    try:
        yield AdminServer(f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(30)
        store.close()


def test_firebase_sign_in_through_the_emulator(browser, auth_emulator, firebase_admin_app, screenshot):
    auth_emulator.add_user("ada@example.com", "correct-horse-1", "Ada Lovelace")
    auth_emulator.add_user("eve@example.com", "correct-horse-2", "Eve")
    context = browser.new_context(base_url=firebase_admin_app.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        csp = watch_csp(page)
        page.goto("/login?next=%2Fexplorer")
        box = page.locator("#firebase-login")
        expect(box).to_be_visible()
        expect(box).to_contain_text(f"Auth Emulator at http://{auth_emulator.host}")
        screenshot(page, "login_firebase")
        status = page.locator("#firebase-status")

        def sign_in(email: str, password: str) -> None:
            page.fill("#fb-email", email)
            page.fill("#fb-password", password)
            page.click("#firebase-email button[type=submit]")

        sign_in("ada@example.com", "wrong-password")  # the emulator refuses: the SDK's message is shown
        expect(status).to_have_class("muted error")
        expect(status).to_contain_text("auth/")
        sign_in("eve@example.com", "correct-horse-2")  # Firebase accepts her, the allow-list does not
        expect(status).to_contain_text("eve@example.com is not allowed")
        assert all(c["name"] != "mimic_session" for c in context.cookies())

        sign_in("ada@example.com", "correct-horse-1")
        expect(page).to_have_url(f"{firebase_admin_app.url}/explorer")
        expect(page.locator("header .who")).to_have_text("Ada Lovelace")
        page.wait_for_function("() => window.mimic !== undefined")  # (app.js is deferred: the header comes first)
        session = page.evaluate("mimic.api('GET', '/api/session')")
        assert session["user"] == {"name": "Ada Lovelace", "email": "ada@example.com", "method": "firebase"}
        assert csp == []
    finally:
        context.close()
