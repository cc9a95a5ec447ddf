"""Admin app tests: a real SQLite store seeded with learned traffic, the app in Starlette's TestClient,
and a logged-in client. The proxy side is a recording Control: which command the app asks the proxy to
run is the app's behaviour; running it is the proxy's (tested end to end in tests/ui and tests/e2e)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.control import ControlError
from admin_app.live import LiveHub
from admin_app.settings import AdminSettings
from mimic_addon.learn.brain import Brain
from mimic_addon.learn.learner import Learner
from mimic_addon.learn.observation import Body, Observation
from mimic_addon.store import Store

TOKEN = "test-admin-token-0123456789"
HOSTILE = "<img src=x onerror=alert(1)>"


def obs(method: str, path: str, status: int, body: object | None, request: object | None = None,
        host: str = "api.example.com", latency: float = 12.5) -> Observation:
    raw = json.dumps(body).encode() if body is not None else b""
    req = json.dumps(request).encode() if request is not None else b""
    return Observation(
        host=host, scheme="https", method=method, target=path,
        request=Body(req, "", "application/json" if req else "", len(req)),
        status=status, response=Body(raw, "", "application/json" if raw else "", len(raw)),
        latency_ms=latency, ts=1_700_000_000.0,
    )


def seed(db: str) -> None:
    """Learn a small API (with a hostile string in a learned name and value) into the store at `db`."""
    store = Store(db)
    brain = Brain()
    learner = Learner(brain, store)
    batch = []
    for i in range(1, 8):
        batch.append(obs("GET", f"/v1/users/{i}", 200, {"id": i, "email": f"u{i}@example.com", "name": "Ada",
                                                       HOSTILE: HOSTILE}, latency=10 + i))
    batch.append(obs("GET", "/v1/users/99", 404, {"error": "not found"}))
    batch.append(obs("GET", "/v1/users", 200, [{"id": 1, "name": "Ada"}]))
    batch.append(obs("POST", "/v1/users", 201, {"id": 9, "name": "Ada"}, request={"name": "Ada"}))
    learner.learn_batch(batch)
    assert learner.flush()
    store.close()


@dataclass
class RecordingControl:
    """Remembers the commands the app asked for; `fail` makes the next call fail like a bad argument."""

    calls: list[tuple[str, ...]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=lambda: {"mode": "learn", "target": "", "chaos_profile": ""})
    fail: str | None = None

    async def call(self, command: str, *args: str) -> str:
        self.calls.append((command, *args))
        if self.fail:
            message, self.fail = self.fail, None
            raise ControlError(message)
        if command == "mimic.mode.set":
            self.state["mode"] = args[0]
        return ""

    async def status(self) -> dict[str, Any]:
        return {**self.state, "proxy": "embedded", "alive": True}


@dataclass
class AdminEnv:
    db: str
    store: Store
    control: RecordingControl
    hub: LiveHub
    app: Any


@pytest.fixture
def admin_env(tmp_path) -> Any:
    db = str(tmp_path / "mimic.db")
    seed(db)
    store = Store(db)
    control = RecordingControl()
    hub = LiveHub()
    app = create_app(AdminSettings(token=TOKEN), store, control, hub)
    yield AdminEnv(db, store, control, hub, app)
    store.close()


@pytest.fixture
def anon(admin_env) -> TestClient:
    """A client that has not logged in."""
    with TestClient(admin_env.app, base_url="http://127.0.0.1:8081") as c:
        yield c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf[-_]token"[^>]*(?:content|value)="([^"]*)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(c: TestClient, token: str = TOKEN) -> None:
    page = c.get("/login")
    r = c.post("/login", data={"token": token, "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.fixture
def client(admin_env) -> TestClient:
    """A logged-in browser-like client; `client.headers` carries the CSRF header for state changes."""
    with TestClient(admin_env.app, base_url="http://127.0.0.1:8081") as c:
        login(c)
        c.headers["X-CSRF-Token"] = c.get("/api/session").json()["csrf_token"]
        yield c
