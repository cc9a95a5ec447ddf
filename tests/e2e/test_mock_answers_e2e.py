"""What a client sees of mock answers through a real mitmdump: request fields echoed as sent, strings
generated from an imported `pattern`, 405 with `Allow` for a method never learned on a known path,
and 404 suggestions that name their host."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

import yaml

from .conftest import Backend, ProxyFactory, fetch, free_port, run_cli, serve_http

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}
COLORS = ("red", "blue", "green")
NAMES = ("alpha", "bravo", "delta", "kilo", "lima", "tango")


class _Paint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        pass

    def _json(self, status: int, obj) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "things" and parts[1].isdigit():
            n = int(parts[1])
            return self._json(200, {"id": n, "name": NAMES[n % len(NAMES)], "color": COLORS[n % 3]})
        return self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        return self._json(201, {"name": body["name"], "color": body["color"], "coats": 2})


def learn(tmp_path: Path, db: str, backend: Backend) -> None:
    factory = ProxyFactory(tmp_path, backend)
    try:
        p = factory.start(db)
        for i in range(1, 16):
            assert fetch(p.port, "GET", f"/things/{i}")[0] == 200
            body = json.dumps({"name": NAMES[i % len(NAMES)], "color": COLORS[i % 3]}).encode()
            assert fetch(p.port, "POST", "/paint", body, JSON)[0] == 201
        p.stop()
    finally:
        factory.cleanup()


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[tuple[str, Backend, Backend]]:
    """A store that learned the same API on two hosts."""
    db = str(tmp_path / "mimic.db")
    with serve_http(_Paint) as a, serve_http(_Paint) as b:
        learn(tmp_path, db, a)
        learn(tmp_path, db, b)
        yield db, a, b


def test_request_fields_are_echoed_as_sent(tmp_path: Path, two_hosts) -> None:
    db, a, _ = two_hosts
    dead = ProxyFactory(tmp_path, Backend(free_port()))
    try:
        port = dead.start(db, "--set", "mimic_mode=mock", "--set", f"mimic_host=127.0.0.1:{a.port}").port
        for color in COLORS:  # every value of the learned enum, and a name longer than any learned one
            st, h, body = fetch(port, "POST", "/paint", json.dumps({"name": "golf course", "color": color}).encode(), JSON)
            assert (st, h["x-mimic-source"]) == (201, "mock")
            assert json.loads(body)["name"] == "golf course" and json.loads(body)["color"] == color
    finally:
        dead.cleanup()


ROOMS = {
    "openapi": "3.0.3", "info": {"title": "Rooms", "version": "1"}, "servers": [{"url": "https://rooms.test"}],
    "paths": {"/rooms/{roomId}": {"get": {"responses": {"200": {"description": "one", "content": {
        "application/json": {"schema": {"type": "object", "required": ["id", "code"], "properties": {
            "id": {"type": "string", "pattern": "^Rm[A-Z0-9]{8,}$"},
            "code": {"type": "string", "pattern": "^Rm[A-Z0-9]{8,}$"}}}}}}}}}},
}


@contextmanager
def mocking(tmp_path: Path, doc: dict) -> Iterator[int]:
    """The port of a real mitmdump in mock mode on a fresh database seeded with `mimic import openapi`."""
    spec, db = tmp_path / "spec.yaml", str(tmp_path / "spec.db")
    spec.write_text(yaml.safe_dump(doc))
    run_cli("import", "openapi", str(spec), "--db", db)
    factory = ProxyFactory(tmp_path, Backend(free_port()))
    try:
        yield factory.start(db, "--set", "mimic_mode=mock").port
    finally:
        factory.cleanup()


def test_imported_patterns_are_mocked_from_the_regex(tmp_path: Path) -> None:
    with mocking(tmp_path, ROOMS) as port:
        for i in range(12):  # a path value outside the pattern is not echoed into `id` either
            st, _, body = fetch(port, "GET", f"/rooms/r{i}")
            room = json.loads(body)
            assert st == 200 and all(re.fullmatch("Rm[A-Z0-9]{8,}", room[k]) for k in ("id", "code")), body
        assert json.loads(fetch(port, "GET", "/rooms/RmABCD1234")[2])["id"] == "RmABCD1234"


def test_a_method_never_learned_is_405_with_allow(tmp_path: Path, two_hosts) -> None:
    db, a, _ = two_hosts
    dead = ProxyFactory(tmp_path, Backend(free_port()))
    try:
        port = dead.start(db, "--set", "mimic_mode=mock", "--set", f"mimic_host=127.0.0.1:{a.port}").port
        for method in ("DELETE", "PUT", "TRACE"):
            st, h, body = fetch(port, method, "/things/3")
            assert (st, h["allow"], h["x-mimic-source"]) == (405, "GET, HEAD, OPTIONS", "mock")
            assert json.loads(body)["allow"] == ["GET", "HEAD", "OPTIONS"]
        st, h, body = fetch(port, "HEAD", "/things/3")
        assert (st, body, h["content-type"]) == (200, b"", "application/json")
        assert h["x-mimic-template"].startswith("GET ") and int(h["content-length"]) == len(fetch(port, "GET", "/things/3")[2])
        st, h, body = fetch(port, "OPTIONS", "/paint")
        assert (st, h["allow"], body) == (204, "OPTIONS, POST", b"")
        st, h, _ = fetch(port, "OPTIONS", "/things/3", headers={"Origin": "http://app.test",
                                                                "Access-Control-Request-Method": "GET"})
        assert st == 204 and h["access-control-allow-origin"] == "http://app.test"
        assert fetch(port, "DELETE", "/nothing/3")[0] == 404
    finally:
        dead.cleanup()


def test_suggestions_of_two_hosts_name_their_host(tmp_path: Path, two_hosts) -> None:
    db, a, b = two_hosts
    dead = ProxyFactory(tmp_path, Backend(free_port()))  # a host never learned, and no mimic_host
    try:
        port = dead.start(db, "--set", "mimic_mode=mock").port
        st, h, body = fetch(port, "GET", "/thing/3")
        closest = json.loads(body)["closest"]
        assert (st, h["x-mimic-source"]) == (404, "mock") and len(set(closest)) == len(closest)
        assert {f"GET http://127.0.0.1:{a.port}/things/{{thing_id}}",
                f"GET http://127.0.0.1:{b.port}/things/{{thing_id}}"} <= set(closest)
    finally:
        dead.cleanup()


FILES = {
    "openapi": "3.0.3", "info": {"title": "Files", "version": "1"}, "servers": [{"url": "https://files.test"}],
    "paths": {"/sites/{site}/files/{file_path}": {"get": {
        "parameters": [{"name": "file_path", "in": "path", "required": True, "x-multi-segment": True,
                        "schema": {"type": "string"}}],
        "responses": {"200": {"description": "one", "content": {"application/json": {"schema": {
            "type": "object", "required": ["id", "size"], "properties": {
                "id": {"type": "string"}, "size": {"type": "integer"}}}}}}}}}},
}


def test_a_parameter_taking_the_rest_of_the_path_answers_every_depth(tmp_path: Path) -> None:
    """`x-multi-segment: true`: `/files/README.md` and `/files/src/components/app.tsx` are one
    endpoint; the mock echoes the whole path where the path's value goes (`id`)."""
    with mocking(tmp_path, FILES) as port:
        for path in ("README.md", "src/components/app.tsx", ".github/workflows/ci.yml"):
            st, _, body = fetch(port, "GET", f"/sites/s1/files/{path}")
            assert st == 200 and json.loads(body)["id"] == path, body
        assert fetch(port, "GET", "/sites/s1/files")[0] == 404  # the parameter takes one segment at least
