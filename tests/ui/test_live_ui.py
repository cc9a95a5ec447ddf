"""The live stream and the standalone admin, with real processes: a viewer that never reads cannot slow
the proxy (its messages are dropped and counted, not queued), and `mimic admin --db DB` in a second
process changes the running proxy's mode within a second through the store and streams its traffic."""
from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from e2e.conftest import MIMIC, START_TIMEOUT, Proxy, _env, free_port, wait_for_port
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, RejectConnection, Request, TextMessage

from admin_app.live import VIEWER_QUEUE

BLAST = 1500  # requests through the proxy while a viewer is stalled (its socket absorbs a few hundred events)
WORKERS = 6


class WsClient:
    """A minimal blocking WebSocket client over wsproto (no extra dependency)."""

    def __init__(self, base_url: str, path: str, token: str, *, rcvbuf: int | None = None) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.socket()
        if rcvbuf is not None:
            # Before connecting: a small receive window and a network-sized segment (loopback's 64 KB segments
            # would let the server's kernel buffer a megabyte and more), so a stalled reader stalls the sender
            # after ~100 KB, as a slow viewer on a real network does.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        self.sock.settimeout(10)
        self.sock.connect((parts.hostname, parts.port))
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=parts.netloc, target=path,
                                               extra_headers=[(b"authorization", f"Bearer {token}".encode())])))
        self.pending: list = []
        while True:
            event = self._next_event()
            if isinstance(event, AcceptConnection):
                return
            if isinstance(event, (RejectConnection, CloseConnection)):
                raise AssertionError(f"WebSocket refused: {event}")

    def _next_event(self):
        while not self.pending:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            self.pending.extend(self.ws.events())
            if not data and not self.pending:
                raise AssertionError("the WebSocket closed")
        return self.pending.pop(0)

    def messages(self, timeout: float = 10.0) -> Iterator[dict]:
        """Every event message as JSON, until `timeout` passes without one."""
        self.sock.settimeout(timeout)
        text = ""
        while True:
            event = self._next_event()
            if isinstance(event, TextMessage):
                text += event.data
                if event.message_finished:
                    yield json.loads(text)
                    text = ""
            elif isinstance(event, CloseConnection):
                return

    def close(self) -> None:
        self.sock.close()


def status(base_url: str, token: str) -> dict:
    r = httpx.get(f"{base_url}/api/status", headers={"Authorization": f"Bearer {token}"}, trust_env=False,
                  timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_stalled_viewer_never_slows_the_proxy(live_proxy):
    stalled = WsClient(live_proxy.admin_url, "/ws/live", live_proxy.token, rcvbuf=4096)  # never reads
    try:
        before = status(live_proxy.admin_url, live_proxy.token)["live"]
        assert before["viewers"] >= 1

        def worker(w: int) -> list[int]:
            with httpx.Client(base_url=live_proxy.proxy_url, trust_env=False, timeout=30) as c:  # keep-alive
                return [c.get(f"/users/{i % 50 + 1}").status_code for i in range(w, BLAST, WORKERS)]

        started = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as pool:
            codes = [code for chunk in pool.map(worker, range(WORKERS)) for code in chunk]
        elapsed = time.monotonic() - started
        assert codes == [200] * BLAST  # every request answered, none waited for the viewer

        deadline = time.monotonic() + 10
        expected = before["published"] + BLAST
        while (live := status(live_proxy.admin_url, live_proxy.token)["live"])["published"] < expected:
            assert time.monotonic() < deadline, f"the stream published {live} of {BLAST} events"
            time.sleep(0.05)  # the inspector's writer publishes in batches; bounded by the deadline
        assert live["dropped"] > 0, (live, before, elapsed)  # the stalled viewer lost messages ...
        assert live["queued"] <= VIEWER_QUEUE  # ... instead of queueing them without bound
        print(f"{BLAST} requests in {elapsed:.1f} s with a stalled viewer; stream: {live}")
    finally:
        stalled.close()


# -- the standalone admin ------------------------------------------------------------------------------------------
@dataclass
class Standalone:
    url: str
    proc: subprocess.Popen
    log: object


@contextmanager
def standalone_admin(live_proxy, tmp_path) -> Iterator[Standalone]:
    """`mimic admin --db DB` over the live proxy's store, with the same admin token."""
    port = free_port()
    log = tmp_path / "mimic-admin.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(MIMIC), "admin", "--db", live_proxy.db, "--bind", f"127.0.0.1:{port}",
                                 "--token", live_proxy.token], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=_env())
    admin = Proxy(proc, port, log)
    try:
        wait_for_port(port, proc, time.monotonic() + START_TIMEOUT, log)
        yield Standalone(f"http://127.0.0.1:{port}", proc, log)
    finally:
        output = admin.stop()
        assert admin.returncode == 0, output


def test_standalone_admin_changes_the_running_proxy(live_proxy, tmp_path):
    with standalone_admin(live_proxy, tmp_path) as admin:
        auth = {"Authorization": f"Bearer {live_proxy.token}"}
        before = status(admin.url, live_proxy.token)
        assert before["proxy"] == "running" and before["alive"] and before["mode"] == "learn"
        assert before["target"] == live_proxy.backend_url
        try:
            started = time.monotonic()
            r = httpx.put(f"{admin.url}/api/mode", json={"mode": "mock"}, headers=auth, trust_env=False, timeout=10)
            took = time.monotonic() - started
            assert r.status_code == 200, r.text
            assert took < 1.5, f"the proxy took {took:.2f} s to run the queued command"
            answer = live_proxy.request("GET", "/users/77")
            assert answer.status_code == 200 and answer.headers["x-mimic-source"] == "mock"
            assert status(admin.url, live_proxy.token)["mode"] == "mock"  # the proxy's heartbeat says so

            bad = httpx.put(f"{admin.url}/api/target", json={"url": "http://127.0.0.1:0"}, headers=auth,
                            trust_env=False, timeout=10)
            assert bad.status_code == 409 and "error" in bad.json()  # the proxy refused it: reported back
        finally:
            httpx.put(f"{admin.url}/api/mode", json={"mode": "learn"}, headers=auth, trust_env=False, timeout=10)
        assert live_proxy.request("GET", "/users/78").headers["x-mimic-source"] == "upstream"


def test_standalone_admin_streams_the_proxy_traffic(live_proxy, tmp_path):
    with standalone_admin(live_proxy, tmp_path) as admin:
        viewer = WsClient(admin.url, "/ws/live", live_proxy.token)
        try:
            assert live_proxy.request("GET", "/users/4242", headers={"X-Mimic-Session": "live-ui"}).status_code == 200
            for event in viewer.messages(timeout=10):
                if event["path"] == "/users/4242":
                    break
            assert event["id"] is not None and event["source"] == "upstream" and event["status"] == 200
            assert event["template"] == "/users/{user_id}" and event["session"] == "session:live-ui"
            assert event["health"] in ("HEALTHY", "DEGRADED", "CRITICAL")
        finally:
            viewer.close()


@pytest.fixture(autouse=True)
def _back_to_learn(live_proxy):
    yield
    assert status(live_proxy.admin_url, live_proxy.token)["mode"] == "learn"
