"""What the reliability probes share: a loopback JSON backend, a real `mitmdump -s mimic_addon/addon.py` with
the embedded admin app, plain HTTP requests (from a chosen loopback source address), and the result rows.

Nothing sleeps to synchronise: readiness is a port accepting connections (polled with a deadline); the only
waits are the ones a probe measures (a lock held for so long, traffic at a steady rate).
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ADDON = REPO / "mimic_addon" / "addon.py"
MITMDUMP = Path(sys.executable).with_name("mitmdump")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
TOKEN = "reliability-bench-admin-token-0123456789"


@dataclass
class Row:
    """One line of the result table: what was tried, what should happen, what did."""

    probe: str
    attack: str
    goal: str
    result: str
    ok: bool


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    set_cookies: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)

    def cookie(self, name: str) -> str:
        """`name=value` of the cookie this answer sets (for a Cookie header)."""
        return next(c.split(";", 1)[0] for c in self.set_cookies if c.startswith(name + "="))


def request(port: int, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None,
            source: str = "127.0.0.1", timeout: float = 30) -> Answer:
    """One request to 127.0.0.1:`port` on a fresh connection from loopback address `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(),
                      [v for k, v in resp.getheaders() if k.lower() == "set-cookie"])
    finally:
        conn.close()


class _Backend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
        if len(parts) == 2 and parts[0] in ("users", "orders") and parts[1].isdigit():
            body = json.dumps({"id": int(parts[1]), "name": f"Item {parts[1]}", "active": True}).encode()
            status = 200
        else:
            body, status = b'{"error": "not found"}', 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        """Echo: the JSON body comes back as the answer."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a proxy killed mid-request resets its connections: expected here, not worth a traceback


@contextmanager
def backend(handler: type[BaseHTTPRequestHandler] = _Backend) -> Iterator[str]:
    """A threaded backend on a free loopback port (by default the JSON one above); yields its URL."""
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"mitmdump exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"mitmdump did not listen on {port}:\n{log.read_text(errors='replace')}") from None
            time.sleep(0.05)  # readiness poll, bounded by the deadline


@dataclass
class Proxy:
    """A running mitmdump with Mimic, in reverse mode in front of the backend, admin app on `admin_port`."""

    proc: subprocess.Popen
    port: int
    admin_port: int
    db: Path
    log: Path
    bearer: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {TOKEN}"})

    def get(self, path: str, **kw: object) -> Answer:
        return request(self.port, "GET", path, **kw)  # type: ignore[arg-type]

    def admin(self, method: str, path: str, **kw: object) -> Answer:
        return request(self.admin_port, method, path, **kw)  # type: ignore[arg-type]

    def stop(self) -> int:
        """SIGINT: mitmproxy runs its `done` hooks, Mimic saves everything pending; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()


@contextmanager
def mitmdump(workdir: Path, upstream: str, *options: str, name: str = "proxy", plain: bool = False,
             db: Path | None = None) -> Iterator[Proxy]:
    """Start `mitmdump -s mimic_addon/addon.py` on free ports with a fresh SQLite store in `workdir` (or `db`);
    `plain`: mitmdump alone, without Mimic, to compare with."""
    port, admin_port = free_port(), free_port()
    db = db or workdir / f"{name}.db"
    log = workdir / f"{name}.log"
    args = [str(MITMDUMP), "--mode", f"reverse:{upstream}", "--listen-host", "127.0.0.1", "--listen-port",
            str(port), "-q"]
    if not plain:
        args += ["-s", str(ADDON), "--set", f"mimic_db={db}", "--set", f"mimic_admin=127.0.0.1:{admin_port}"]
    for option in options:
        args += ["--set", option]
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env["MIMIC_ADMIN_TOKEN"] = TOKEN
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
                                env=env)
    proxy = Proxy(proc, port, admin_port, db, log)
    try:
        _wait_for_port(port, proc, log)
        if not plain:
            _wait_for_port(admin_port, proc, log)
        yield proxy
    finally:
        if proc.poll() is None:
            proxy.stop()


def rss_mb(pid: int) -> float:
    """Resident set size of process `pid` now, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def tracebacks(log: Path) -> int:
    """Python tracebacks a mitmdump wrote to its log (an addon error prints one)."""
    return log.read_text(errors="replace").count("Traceback (most recent call last)")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def table(rows: list[Row]) -> str:
    lines = ["| probe | attack / fault | goal | result | |", "|---|---|---|---|---|"]
    lines += [f"| {r.probe} | {r.attack} | {r.goal} | {r.result} | {'ok' if r.ok else '**FAIL**'} |" for r in rows]
    return "\n".join(lines)
