"""Serving what was learned through a real mitmdump: mock with the backend down from the start,
failover while the backend dies and comes back, header switches, the unknown-endpoint 404."""
from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import Backend, ProxyFactory, _Handler, fetch, free_port, serve_http

pytestmark = pytest.mark.e2e


class _Killable(ThreadingHTTPServer):
    """Keeps its client sockets so that stopping it also drops kept-alive connections, like a crash."""
    daemon_threads = True

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.clients: set[socket.socket] = set()

    def process_request(self, request, client_address) -> None:
        self.clients.add(request)
        super().process_request(request, client_address)

    def kill(self) -> None:
        self.shutdown()
        self.server_close()
        for sock in list(self.clients):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Switchable:
    """A loopback backend on a fixed port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: _Killable | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = _Killable(("127.0.0.1", self.port), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.kill()
            self.thread.join(10)
            self.server = None


@pytest.fixture
def live() -> Iterator[Switchable]:
    b = Switchable()
    b.start()
    try:
        yield b
    finally:
        b.stop()


def learn_some(proxy) -> None:
    for i in range(1, 25):
        assert fetch(proxy.port, "GET", f"/users/{i}")[0] == 200
    for page in range(1, 6):
        assert fetch(proxy.port, "GET", f"/users?limit=3&page={page}")[0] == 200
    for name in ("Ada", "Bob", "Cy", "Dee"):
        status, _, _ = fetch(proxy.port, "POST", "/users", json.dumps({"name": name, "email": f"{name}@x.io"}).encode(),
                             {"Content-Type": "application/json"})
        assert status == 201


def test_learn_then_mock_with_backend_down_from_start(tmp_path: Path, live: Switchable):
    db = str(tmp_path / "m.db")
    first = ProxyFactory(tmp_path, Backend(live.port))
    try:
        p = first.start(db)
        learn_some(p)
        status, headers, _ = fetch(p.port, "GET", "/users/7")
        assert headers["x-mimic-source"] == "upstream"
        p.stop()
    finally:
        first.cleanup()
    live.stop()
    # A second proxy in front of a port nobody listens on: another host (host fallback), backend down.
    dead = ProxyFactory(tmp_path, Backend(free_port()))
    try:
        p = dead.start(db, "--set", "mimic_mode=mock", "--set", "mimic_seed=3")
        status, headers, body = fetch(p.port, "GET", "/users/42")
        assert status == 200 and headers["x-mimic-source"] == "mock", body
        user = json.loads(body)
        assert user["id"] == 42 and isinstance(user["name"], str) and "@" in user["email"]
        assert fetch(p.port, "GET", "/users/42")[2] == body          # deterministic
        status, headers, body = fetch(p.port, "POST", "/users", json.dumps({"name": "Zed"}).encode(),
                                      {"Content-Type": "application/json"})
        assert status == 201 and json.loads(body)["name"] == "Zed"  # echo of the body
        status, _, body = fetch(p.port, "GET", "/users?limit=2&page=1")
        assert status == 200 and isinstance(json.loads(body), list)
        status, headers, body = fetch(p.port, "GET", "/nothing/here")
        err = json.loads(body)
        assert status == 404 and headers["x-mimic-source"] == "mock"
        assert err["closest"] and all(c.split(" ", 1)[1].startswith("/users") for c in err["closest"])
        p.stop()
    finally:
        dead.cleanup()


def test_failover_while_backend_dies_and_recovers(tmp_path: Path, live: Switchable):
    db = str(tmp_path / "f.db")
    factory = ProxyFactory(tmp_path, Backend(live.port))
    try:
        p = factory.start(db, "--set", "mimic_mode=failover", "--set", "mimic_failover_timeout=2")
        learn_some(p)
        sources = []
        for i in range(1, 11):
            status, headers, _ = fetch(p.port, "GET", f"/users/{i}")
            assert status == 200
            sources.append(headers["x-mimic-source"])
        assert set(sources) == {"upstream"}
        live.stop()
        statuses, sources = [], []
        for i in range(1, 31):  # the very first request after the backend died included
            status, headers, body = fetch(p.port, "GET", f"/users/{i}")
            statuses.append(status)
            sources.append(headers.get("x-mimic-source"))
            assert json.loads(body)["id"] == i
        assert 502 not in statuses and set(statuses) == {200}
        assert set(sources) == {"failover"}
        live.start()
        status, headers, _ = fetch(p.port, "GET", "/users/3")
        assert status == 200 and headers["x-mimic-source"] == "upstream"  # recovery is automatic
        p.stop()
    finally:
        factory.cleanup()


def test_header_switches_and_host_fallback(tmp_path: Path, live: Switchable):
    db = str(tmp_path / "h.db")
    factory = ProxyFactory(tmp_path, Backend(live.port))
    try:
        p = factory.start(db)
        learn_some(p)
        status, headers, body = fetch(p.port, "GET", "/users/5", headers={"X-Mimic-Mode": "mock"})
        assert status == 200 and headers["x-mimic-source"] == "mock"
        status, headers, body = fetch(p.port, "GET", "/users/5", headers={"X-Mock-Enabled": "true"})
        assert status == 200 and headers["x-mimic-source"] == "mock" and json.loads(body)["id"] == 5
        status, headers, body = fetch(p.port, "GET", "/users/5")
        assert headers["x-mimic-source"] == "upstream" and json.loads(body)["name"] == "User 5"
        status, _, body = fetch(p.port, "GET", "/users/5", headers={"X-Mimic-Mode": "record-everything"})
        assert status == 400 and "X-Mimic-Mode" in json.loads(body)["error"]
        p.stop()
    finally:
        factory.cleanup()


class _Failing(_Handler):
    """The e2e backend, until `state` says it answers 503 or hangs (past the failover timeout)."""
    state = "ok"

    def _trouble(self) -> bool:
        if _Failing.state == "503":
            self.rfile.read(int(self.headers.get("Content-Length", "0")))  # (the connection is kept alive)
            self._json(503, {"error": "overloaded"})
            return True
        if _Failing.state == "slow":
            _Failing.released.wait(10)
        return False

    def do_GET(self) -> None:
        if not self._trouble():
            super().do_GET()

    def do_POST(self) -> None:
        if not self._trouble():
            super().do_POST()


def test_failover_never_answers_a_post_the_backend_got(tmp_path: Path):
    """A GET fails over on a 5xx or a timeout; a POST the backend got may have been acted on (an order
    made): the client gets the backend's 5xx, or a 504 saying so, never a made-up 201. A POST that
    never reached it (backend down) is answered from the model."""
    _Failing.state, _Failing.released = "ok", threading.Event()
    db = str(tmp_path / "p.db")
    post = lambda port: fetch(port, "POST", "/users", json.dumps({"name": "Eve"}).encode(),  # noqa: E731
                              {"Content-Type": "application/json"})
    with serve_http(_Failing) as backend:
        factory = ProxyFactory(tmp_path, backend)
        try:
            p = factory.start(db, "--set", "mimic_mode=failover", "--set", "mimic_failover_timeout=1")
            learn_some(p)
            _Failing.state = "503"
            status, headers, _ = fetch(p.port, "GET", "/users/3")
            assert (status, headers["x-mimic-source"]) == (200, "failover")
            status, headers, body = post(p.port)
            assert (status, headers["x-mimic-source"], json.loads(body)) == (503, "upstream", {"error": "overloaded"})
            _Failing.state = "slow"
            status, headers, _ = fetch(p.port, "GET", "/users/4")
            assert (status, headers["x-mimic-source"]) == (200, "failover")
            status, headers, body = post(p.port)
            assert (status, headers["x-mimic-source"]) == (504, "failover")
            assert "a POST is not failed over" in json.loads(body)["error"]
            _Failing.released.set()
            p.stop()
        finally:
            factory.cleanup()
    dead = ProxyFactory(tmp_path, Backend(free_port()))  # nobody listens: the POST never reached a backend
    try:
        p = dead.start(db, "--set", "mimic_mode=failover", "--set", "mimic_failover_timeout=1",
                       "--set", f"mimic_host=127.0.0.1:{backend.port}")
        status, headers, body = post(p.port)
        assert (status, headers["x-mimic-source"], json.loads(body)["name"]) == (201, "failover", "Eve")
        p.stop()
    finally:
        dead.cleanup()
