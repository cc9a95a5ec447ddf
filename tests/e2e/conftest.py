"""End-to-end fixtures: a real loopback JSON backend and real `mitmdump` / `mimic` processes.

Nothing here sleeps to synchronise: readiness is polled with a deadline (the proxy port accepting
connections) and shutdown waits for the process to exit after SIGINT, which makes mitmproxy run its
`done` hooks so Mimic drains its queue and flushes to the store.
"""
from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
ADDON = REPO / "mimic_addon" / "addon.py"
BIN = Path(sys.executable).parent
MITMDUMP = BIN / "mitmdump"
MIMIC = BIN / "mimic"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

# A few fixed bodies the backend serves, so tests can compare bytes.
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
       + bytes(range(256)) * 4)
MALFORMED = b'{"broken": [1, 2, '
DEEP_LEVELS = 2000
DEEP = b'{"a":' * DEEP_LEVELS + b"1" + b"}" * DEEP_LEVELS
HUGE_ITEMS = 40_000  # ~1.6 MB of JSON: far above the mimic_max_body the tests set
HUGE = json.dumps([{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(HUGE_ITEMS)]).encode()
GZIP_PAYLOAD = {"compressed": True, "values": [1, 2, 3], "meta": {"format": "json", "ratio": 0.5}}
GZIPPED = gzip.compress(json.dumps(GZIP_PAYLOAD).encode(), mtime=0)


def _user(uid: int) -> dict:
    return {"id": uid, "name": f"User {uid}", "email": f"user{uid}@example.com"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MimicE2EBackend/1.0"

    def log_message(self, format: str, *args) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj).encode())

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        if parts == ["users"]:
            limit = int(query.get("limit", ["3"])[0])
            page = int(query.get("page", ["1"])[0])
            return self._json(200, [_user(page * 100 + i) for i in range(limit)])
        if parts == ["users", "me"]:
            return self._json(200, {"id": 0, "name": "Me", "email": "me@example.com", "roles": ["admin"]})
        if len(parts) == 2 and parts[0] == "users" and parts[1].isdigit():
            return self._json(200, _user(int(parts[1])))
        if len(parts) == 2 and parts[0] == "orders":
            try:
                oid = str(uuid.UUID(parts[1]))
            except ValueError:
                return self._json(404, {"error": "no such order"})
            return self._json(200, {"id": oid, "total": 12.5, "items": [{"sku": "A-1", "qty": 2}]})
        if parts == ["gzip"]:
            return self._send(200, GZIPPED, Content_Encoding="gzip")
        if parts == ["image.png"]:
            return self._send(200, PNG, "image/png")
        if parts == ["malformed"]:
            return self._send(200, MALFORMED)
        if parts == ["deep"]:
            return self._send(200, DEEP)
        if parts == ["huge"]:
            return self._send(200, HUGE)
        return self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if urlsplit(self.path).path.rstrip("/") == "/users":
            try:
                data = json.loads(body)
            except ValueError:
                return self._json(400, {"error": "invalid json"})
            return self._json(201, {"id": 1000, **data})
        return self._json(404, {"error": "not found"})


@dataclass
class Backend:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[Backend]:
    """A real threaded HTTP server on a free loopback port, for as long as the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="e2e-backend", daemon=True)
    thread.start()
    try:
        yield Backend(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="session")
def backend() -> Iterator[Backend]:
    with serve_http(_Handler) as b:
        yield b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, deadline: float, log: Path) -> None:
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"proxy exited with {proc.returncode} before listening:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"proxy did not listen on {port} in time:\n{log.read_text()}")
            time.sleep(0.05)  # poll interval while waiting for readiness, bounded by the deadline


@dataclass
class Proxy:
    proc: subprocess.Popen
    port: int | None
    log: Path
    returncode: int | None = None
    output: str = ""

    def stop(self) -> str:
        """SIGINT (mitmproxy runs `done`, Mimic flushes), wait for exit; returns the process output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.returncode = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"proxy did not stop after SIGINT:\n{self.log.read_text()}")
        self.output = self.log.read_text(errors="replace")
        return self.output

    def conn(self) -> http.client.HTTPConnection:
        assert self.port is not None
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)


@dataclass
class ProxyFactory:
    tmp: Path
    backend: Backend
    started: list[Proxy] = field(default_factory=list)

    def start(self, db: str, *extra: str, exe: Path = MITMDUMP, addon: bool = True,
              max_body: int | None = None) -> Proxy:
        port = free_port()
        args = [str(exe)]
        if addon:
            args += ["-s", str(ADDON)]
        args += ["--mode", f"reverse:{self.backend.url}", "--listen-host", "127.0.0.1",
                 "--listen-port", str(port), "--set", f"mimic_db={db}",
                 "--set", "mimic_flush_interval=0.2", "-q"]
        if max_body is not None:
            args += ["--set", f"mimic_max_body={max_body}"]
        args += list(extra)
        log = self.tmp / f"proxy-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=self.tmp, env=_env())
        proxy = Proxy(proc, port, log)
        self.started.append(proxy)
        wait_for_port(port, proc, time.monotonic() + START_TIMEOUT, log)
        return proxy

    def cleanup(self) -> None:
        for p in self.started:
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("http_proxy", None)
    env.pop("HTTP_PROXY", None)
    env["HOME"] = env.get("HOME", "/tmp")
    return env


@pytest.fixture
def proxies(tmp_path: Path, backend: Backend) -> Iterator[ProxyFactory]:
    factory = ProxyFactory(tmp_path, backend)
    try:
        yield factory
    finally:
        factory.cleanup()


def run_cli(*args: str, exe: Path = MIMIC, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a short-lived command (the `mimic` CLI by default) and fail loudly on a non-zero exit."""
    cp = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, env=_env())
    assert cp.returncode == 0, f"{exe.name} {' '.join(args)} -> {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
    return cp


def fetch(port: int, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection (status, lower-cased headers, raw body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()
