"""Watching the backend through a real mitmdump: a backend changes its contract or slows down, and
the drift alert / health change appears in `mimic drift` / `mimic health`."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from .conftest import ProxyFactory, fetch, run_cli, serve_http

pytestmark = pytest.mark.e2e

DEADLINE = 15.0


class Switchable:
    """What the backend answers; the test flips it at run time."""
    contract = "v1"    # v1: the learned contract; v2: avatar_url removed, id a string, a new plan
    delay = 0.0        # seconds each answer waits (slow mode)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        pass

    def do_GET(self) -> None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if Switchable.delay:
            time.sleep(Switchable.delay)  # the backend being slow is what is tested
        if len(parts) == 3 and parts[:2] == ["v1", "profiles"] and parts[2].isdigit():
            pid = int(parts[2])
            body = {"id": pid, "name": f"Profile {pid}", "avatar_url": f"https://img.example.com/{pid}.png",
                    "plan": ["free", "pro"][pid % 2]}
            if Switchable.contract == "v2":
                body = {"id": str(pid), "name": f"Profile {pid}", "plan": "enterprise"}
            elif Switchable.contract == "no-avatar":
                del body["avatar_url"]
            elif Switchable.contract == "no-name":
                del body["name"], body["avatar_url"]
        elif parts == ["v1", "ping"]:
            body = {"ok": True}
        else:
            body = {"error": "not found"}
        raw = json.dumps(body).encode()
        self.send_response(200 if body.get("error") is None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def switchable(tmp_path: Path) -> Iterator[ProxyFactory]:
    Switchable.contract, Switchable.delay = "v1", 0.0
    with serve_http(_Handler) as live:
        factory = ProxyFactory(tmp_path, live)
        try:
            yield factory
        finally:
            factory.cleanup()


def poll(what, check, deadline: float = DEADLINE):
    """Run `what()` until `check(result)` holds or the deadline passes (then fail with the last result)."""
    end = time.monotonic() + deadline
    while True:
        result = what()
        if check(result):
            return result
        if time.monotonic() > end:
            raise AssertionError(f"condition not met in {deadline}s; last: {result!r}")
        time.sleep(0.1)  # poll interval, bounded by the deadline


def drift(db: str, *extra: str) -> list[dict]:
    return json.loads(run_cli("drift", "--db", db, "--json", *extra).stdout)


def health(db: str) -> dict:
    return json.loads(run_cli("health", "--db", db, "--json").stdout)


def test_contract_change_opens_one_narrated_alert_and_resolving_moves_on(switchable: ProxyFactory,
                                                                        tmp_path: Path) -> None:
    db = str(tmp_path / "watch.db")
    proxy = switchable.start(db, "--set", "mimic_drift_after=10")
    for i in range(1, 16):
        assert fetch(proxy.port, "GET", f"/v1/profiles/{i}")[0] == 200
    assert drift(db) == []
    Switchable.contract = "v2"
    for i in range(1, 6):
        assert fetch(proxy.port, "GET", f"/v1/profiles/{i}")[0] == 200
    [alert] = poll(lambda: drift(db), lambda alerts: alerts and alerts[0]["count"] == 5)
    assert alert["method"] == "GET" and alert["template"].startswith("/v1/profiles/{")
    assert alert["label"] == "BREAKING" and alert["summary"] == "2 breaking, 1 warning"
    assert 0 < alert["score"] <= 100 and "no longer matches" in alert["narration"]
    got = {(c["path"], c["kind"], c["label"]) for c in alert["changes"]}
    assert got == {("$.avatar_url", "missing_field", "BREAKING"), ("$.id", "type_changed", "BREAKING"),
                   ("$.plan", "new_enum_value", "WARNING")}
    proxy.stop()
    assert proxy.returncode == 0

    run_cli("drift", "resolve", alert["id"], "expected", "--db", db)
    assert drift(db, "--unresolved") == []
    # the schema moved on to the new contract: the same responses are no longer drift
    proxy = switchable.start(db, "--set", "mimic_drift_after=10")
    for i in range(1, 6):
        assert fetch(proxy.port, "GET", f"/v1/profiles/{i}")[0] == 200
    proxy.stop()
    assert drift(db, "--unresolved") == []
    [resolved] = drift(db)
    assert resolved["resolved"] and resolved["resolution"] == "expected"


def test_a_field_absent_once_may_be_optional_absent_twice_after_8_answers_is_a_change(
        switchable: ProxyFactory, tmp_path: Path) -> None:
    db = str(tmp_path / "evidence.db")
    proxy = switchable.start(db)  # default: each place is judged after 8 answers
    for i in range(1, 9):
        assert fetch(proxy.port, "GET", f"/v1/profiles/{i}")[0] == 200
    Switchable.contract = "no-avatar"
    assert fetch(proxy.port, "GET", "/v1/profiles/9")[0] == 200  # once: it may be optional
    Switchable.contract = "v1"
    for i in range(10, 13):
        assert fetch(proxy.port, "GET", f"/v1/profiles/{i}")[0] == 200  # ... and it was: back again
    proxy.stop()
    assert proxy.returncode == 0
    assert drift(db) == []

    proxy = switchable.start(db)
    Switchable.contract = "no-name"  # `name` was in all 12 answers; avatar_url was not (optional now)
    for i in range(13, 15):
        assert fetch(proxy.port, "GET", f"/v1/profiles/{i}")[0] == 200
    [alert] = poll(lambda: drift(db), lambda alerts: bool(alerts))
    [change] = alert["changes"]
    assert (change["path"], change["kind"], change["label"]) == ("$.name", "missing_field", "BREAKING")
    assert alert["count"] == 2 and change["count"] == 2 and (change["seen"], change["exceptions"]) == (12, 0)
    assert change["confidence"] == alert["confidence"] == pytest.approx(1 - 1 / 14 * 2 / 15, abs=1e-4)
    assert "99.05% sure: present in all 12 answers learned" in alert["narration"]
    assert change["evidence"] in change["text"]
    proxy.stop()


def test_slow_backend_degrades_health_and_it_recovers(switchable: ProxyFactory, tmp_path: Path) -> None:
    db = str(tmp_path / "health.db")
    proxy = switchable.start(db)
    for _ in range(60):
        assert fetch(proxy.port, "GET", "/v1/ping")[0] == 200

    def ping_health() -> dict:
        return {e["template"]: e for e in health(db)["endpoints"]}.get("/v1/ping", {})

    poll(ping_health, lambda e: e.get("count") == 60 and e["status"] == "HEALTHY")
    # far above the loopback's few milliseconds, even when a busy machine makes its baseline jittery
    # (its quartiles spread, and so does the factor a spike starts at)
    Switchable.delay = 0.5
    for _ in range(10):
        fetch(proxy.port, "GET", "/v1/ping")
    slow = poll(ping_health, lambda e: e["flags"]["latency"])
    assert slow["score"] <= 85 and any("latency spike" in r for r in slow["reasons"])
    Switchable.delay = 0.0
    for _ in range(10):
        fetch(proxy.port, "GET", "/v1/ping")
    back = poll(ping_health, lambda e: not e["flags"]["latency"])
    assert back["score"] == 100 and back["status"] == "HEALTHY"
    report = health(db)
    assert report["score"] == 100 and report["status"] == "HEALTHY"
    proxy.stop()
    assert proxy.returncode == 0


def test_resolving_while_the_proxy_runs_sticks(switchable: ProxyFactory, tmp_path: Path) -> None:
    """`mimic drift resolve` from the CLI while the proxy runs on the same database: the proxy
    picks the resolution up (its own saves do not reopen the alert) and its schema moves on."""
    db = str(tmp_path / "live.db")
    proxy = switchable.start(db, "--set", "mimic_drift_after=10")
    for i in range(1, 16):
        fetch(proxy.port, "GET", f"/v1/profiles/{i}")
    Switchable.contract = "v2"
    for i in range(1, 4):
        fetch(proxy.port, "GET", f"/v1/profiles/{i}")
    [alert] = poll(lambda: drift(db), lambda alerts: alerts and alerts[0]["count"] == 3)
    run_cli("drift", "resolve", alert["id"], "expected", "--db", db)
    for i in range(4, 9):  # the new contract, now expected: no drift, and the old alert stays resolved
        fetch(proxy.port, "GET", f"/v1/profiles/{i}")
    poll(lambda: health(db)["endpoints"], lambda eps: [e["count"] for e in eps] == [23])  # all saved
    proxy.stop()
    assert proxy.returncode == 0
    [after] = drift(db)
    assert after["id"] == alert["id"] and after["resolved"] and after["resolution"] == "expected"
