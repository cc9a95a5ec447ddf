#!/usr/bin/env python3
"""Decompression bombs: peak memory of plain mitmdump vs mitmdump + Mimic (learn mode).

Run by hand (not part of CI), from anywhere:

    /path/to/venv/bin/python bench/bomb_memory.py [--decoded-mb 1024] [--rounds 3]

A loopback backend answers `GET /bomb` with a gzip body that inflates to `--decoded-mb` MB of JSON (about
1 MB on the wire for 1 GB) and `POST /bomb` with a small JSON; each round sends the bomb as a response and
as a request body, then times a small request. Printed per variant: the proxy's peak RSS (VmHWM) and the
slowest small request.
"""
from __future__ import annotations

import argparse
import http.client
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADDON = REPO / "mimic_addon" / "addon.py"
MITMDUMP = Path(sys.executable).with_name("mitmdump")


def gzip_bomb(decoded_mb: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"0" * (1 << 20)
    return b"".join([c.compress(b'{"a": "')] + [c.compress(chunk) for _ in range(decoded_mb)]
                    + [c.compress(b'"}'), c.flush()])


def backend(bomb: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _send(self, body: bytes, **headers: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/bomb":
                return self._send(bomb, **{"Content-Encoding": "gzip"})
            return self._send(json.dumps({"id": 1, "name": "Ada"}).encode())

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            return self._send(b'{"ok": true}')

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        conn.getresponse().read()
    finally:
        conn.close()


def run(variant: str, upstream: int, bomb: bytes, rounds: int, tmp: Path) -> tuple[int, float]:
    port = free_port()
    args = [str(MITMDUMP), "--mode", f"reverse:http://127.0.0.1:{upstream}", "--listen-host", "127.0.0.1",
            "--listen-port", str(port), "-q"]
    if variant == "mimic":
        args += ["-s", str(ADDON), "--set", f"mimic_db={tmp / 'bomb.db'}", "--set", "mimic_flush_interval=0.2"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{variant}: proxy did not start")
                time.sleep(0.05)  # readiness poll, bounded by the deadline
        slowest = 0.0
        for _ in range(rounds):
            request(port, "GET", "/bomb")
            request(port, "POST", "/bomb", bomb, {"Content-Encoding": "gzip", "Content-Type": "application/json"})
            start = time.monotonic()
            request(port, "GET", "/users/1")
            slowest = max(slowest, time.monotonic() - start)
        time.sleep(1.0)  # let the learner thread take the last bombs before reading the peak
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
        return peak_kb, slowest
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--decoded-mb", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    opts = ap.parse_args()
    bomb = gzip_bomb(opts.decoded_mb)
    server = backend(bomb)
    print(f"bomb: {len(bomb):,} bytes on the wire, {opts.decoded_mb} MB decoded; {opts.rounds} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("plain", "mimic"):
            peak_kb, slowest = run(variant, server.server_address[1], bomb, opts.rounds, Path(tmp))
            print(f"{variant:>6}: peak RSS {peak_kb / 1024:.0f} MB, slowest small request {slowest * 1000:.0f} ms")
    server.shutdown()


if __name__ == "__main__":
    main()
