"""The proxy side of the admin app with real mitmdump processes: the reverse target switched at run time
through the store's command queue, the embedded dashboard (token printed once, API with the token, a
port already in use), and the inspector's redacted log of real traffic."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from mimic_addon.store import Store

from .conftest import (
    ADDON,
    MITMDUMP,
    START_TIMEOUT,
    Proxy,
    ProxyFactory,
    _env,
    fetch,
    free_port,
    serve_http,
    wait_for_port,
)

pytestmark = pytest.mark.e2e

TOKEN_LINE = re.compile(r"generated admin token \(shown once, stored hashed\): (\S+)")


class _Second(BaseHTTPRequestHandler):
    """A second backend that says who it is and which Host it was asked for."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"backend": "second", "host": self.headers.get("Host"), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def run_queued(db: str, command: str, *args: str, timeout: float = 10.0) -> dict:
    """Queue a command for the proxy on `db` (as `mimic admin` does) and wait for its result."""
    store = Store(db)
    try:
        cid = store.enqueue_command(command, list(args))
        deadline = time.monotonic() + timeout
        while (result := store.command_result(cid))["state"] in ("pending", "running"):
            assert time.monotonic() < deadline, f"the proxy did not run {command} in {timeout} s"
            time.sleep(0.05)  # poll the proxy's answer in the shared store, bounded by the deadline
        return result
    finally:
        store.close()


def start_verbose(proxies: ProxyFactory, db: str, *extra: str) -> Proxy:
    """Like `proxies.start`, without -q: the dashboard's lines (URL, token, errors) are in the log."""
    port = free_port()
    args = [str(MITMDUMP), "-s", str(ADDON), "--mode", f"reverse:{proxies.backend.url}", "--listen-host", "127.0.0.1",
            "--listen-port", str(port), "--set", f"mimic_db={db}", "--set", "flow_detail=0", *extra]
    log = proxies.tmp / f"proxy-{len(proxies.started)}.log"
    env = {**_env(), "PYTHONUNBUFFERED": "1"}  # each log line reaches the file at once
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=proxies.tmp, env=env)
    proxy = Proxy(proc, port, log)
    proxies.started.append(proxy)
    wait_for_port(port, proc, time.monotonic() + START_TIMEOUT, log)
    return proxy


def wait_for_log(proxy, needle: str, timeout: float = 10.0) -> str:
    """The proxy's log once it contains `needle` (mitmproxy writes its log lines from its event loop)."""
    deadline = time.monotonic() + timeout
    while needle not in (text := proxy.log.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{needle!r} not in the proxy's log:\n{text}"
        time.sleep(0.05)  # poll the log file, bounded by the deadline
    return text


def test_target_switches_backends_at_run_time(proxies: ProxyFactory, tmp_path):
    db = str(tmp_path / "mimic.db")
    with serve_http(_Second) as second:
        p = proxies.start(db, "--set", "mimic_admin=off")
        status, headers, _ = fetch(p.port, "GET", "/users/1")
        assert status == 200 and headers["server"].startswith("MimicE2EBackend")

        started = time.monotonic()
        assert run_queued(db, "mimic.target.set", second.url)["state"] == "done"
        assert time.monotonic() - started < 2.0  # the proxy polls its queue twice a second
        status, headers, body = fetch(p.port, "GET", "/users/1")
        assert status == 200 and json.loads(body) == {"backend": "second", "host": f"127.0.0.1:{second.port}",
                                                      "path": "/users/1"}
        assert headers["x-mimic-source"] == "upstream"
        assert run_queued(db, "mimic.target")["result"] == second.url

        bad = run_queued(db, "mimic.target.set", "ftp://example.com")
        assert bad["state"] == "failed" and "http:// or https://" in bad["result"]
        assert json.loads(fetch(p.port, "GET", "/users/2")[2])["backend"] == "second"  # unchanged

        assert run_queued(db, "mimic.target.set", "")["state"] == "done"
        status, headers, _ = fetch(p.port, "GET", "/users/3")
        assert status == 200 and headers["server"].startswith("MimicE2EBackend")  # back to the mode's target
        p.stop()
    assert p.returncode == 0


def test_embedded_dashboard_token_printed_once(proxies: ProxyFactory, tmp_path):
    db = str(tmp_path / "mimic.db")
    admin = free_port()
    p = start_verbose(proxies, db, "--set", f"mimic_admin=127.0.0.1:{admin}")
    wait_for_port(admin, p.proc, time.monotonic() + START_TIMEOUT, p.log)
    wait_for_log(p, f"dashboard at http://127.0.0.1:{admin}/")
    log = wait_for_log(p, "generated admin token")
    token = TOKEN_LINE.search(log).group(1)
    for user in (1, 2):  # two ids make `/users/{user_id}` (one number alone may be a name)
        assert fetch(p.port, "GET", f"/users/{user}")[0] == 200

    base = f"http://127.0.0.1:{admin}"
    with httpx.Client(base_url=base, trust_env=False, timeout=10) as c:
        assert c.get("/api/status").status_code == 401
        assert c.get("/api/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        status = c.get("/api/status", headers=auth).json()
        assert status["proxy"] == "embedded" and status["mode"] == "learn"
        assert status["target"] == proxies.backend.url
        assert c.put("/api/mode", json={"mode": "mock"}, headers=auth).status_code == 200
    mocked = fetch(p.port, "GET", "/users/5")
    assert mocked[0] == 200 and mocked[1]["x-mimic-source"] == "mock"
    output = p.stop()
    assert p.returncode == 0 and output.count(token) == 1

    again = start_verbose(proxies, db, "--set", f"mimic_admin=127.0.0.1:{admin}")
    wait_for_port(admin, again.proc, time.monotonic() + START_TIMEOUT, again.log)
    with httpx.Client(base_url=base, trust_env=False, timeout=10) as c:
        assert c.get("/api/status", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    output = again.stop()
    assert "dashboard at" in output and "generated admin token" not in output and token not in output
    assert f"lost it? `mimic admin --db {db} --reset-token`" in output  # (it was shown once, on the first start)


def test_admin_port_in_use_leaves_the_proxy_running(proxies: ProxyFactory, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = start_verbose(proxies, str(tmp_path / "mimic.db"), "--set", f"mimic_admin=127.0.0.1:{port}")
        wait_for_log(p, "cannot listen on")
        assert fetch(p.port, "GET", "/users/1")[0] == 200
        output = p.stop()
    assert p.returncode == 0
    assert f"cannot listen on 127.0.0.1:{port}" in output and "the proxy runs on" in output


def test_inspector_logs_real_traffic_redacted(proxies: ProxyFactory, tmp_path):
    db = str(tmp_path / "mimic.db")
    p = proxies.start(db, "--set", "mimic_admin=off")
    secret = "Bearer e2e-secret-token-123"
    for uid in (1, 2, 3):
        assert fetch(p.port, "GET", f"/users/{uid}", headers={"Authorization": secret,
                                                             "X-Mimic-Session": "e2e"})[0] == 200
    body = json.dumps({"name": "Ada", "password": "e2e-password-456"}).encode()
    assert fetch(p.port, "POST", "/users", body=body, headers={"Content-Type": "application/json"})[0] == 201
    assert fetch(p.port, "GET", "/nope")[0] == 404
    p.stop()  # the writer drains on `done`
    store = Store(db)
    try:
        rows = store.recent_requests()
        assert [(r["method"], r["path"], r["status"], r["source"]) for r in rows] == [
            ("GET", "/nope", 404, "upstream"), ("POST", "/users", 201, "upstream"),
            ("GET", "/users/3", 200, "upstream"), ("GET", "/users/2", 200, "upstream"),
            ("GET", "/users/1", 200, "upstream")]
        assert all(r["latency_ms"] is not None and r["latency_ms"] >= 0 for r in rows)
        assert store.recent_requests(session="session:e2e", status="2xx")[0]["path"] == "/users/3"
        assert "session:e2e" in store.request_sessions()
        dump = json.dumps([store.request_entry(r["id"]) for r in rows])
        assert "e2e-secret-token-123" not in dump and "e2e-password-456" not in dump
        post = store.request_entry(rows[1]["id"])
        assert json.loads(post["data"]["request"]["body"])["password"] == "[REDACTED]"
        assert json.loads(post["data"]["response"]["body"])["name"] == "Ada"
    finally:
        store.close()
