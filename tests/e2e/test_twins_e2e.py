"""Overrides and the stateful CRUD twin through a real mitmdump: learn a small CRUD API with its
backend up, then serve it in mock mode with the backend gone."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from .conftest import Backend, ProxyFactory, fetch, free_port, serve_http

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}


class _Crud(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    items: dict[int, dict] = {}
    lock = threading.Lock()

    def log_message(self, format: str, *args) -> None:
        pass

    def _json(self, status: int, obj=None) -> None:
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(n) or b"null")

    def _id(self) -> int | None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        return int(parts[1]) if len(parts) == 2 and parts[0] == "widgets" and parts[1].isdigit() else None

    def do_GET(self) -> None:
        with self.lock:
            if self.path.split("?")[0] == "/widgets":
                items = list(self.items.values())
                return self._json(200, {"data": items, "total": len(items)})
            item = self.items.get(self._id())
            return self._json(200, item) if item else self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        with self.lock:
            wid = max(self.items, default=0) + 1
            self.items[wid] = {"id": wid, "color": "red", **self._body()}
            return self._json(201, self.items[wid])

    def do_PUT(self) -> None:
        with self.lock:
            wid = self._id()
            self.items[wid] = {"color": "red", **self._body(), "id": wid}
            return self._json(200, self.items[wid])

    def do_DELETE(self) -> None:
        with self.lock:
            self.items.pop(self._id(), None)
            return self._json(204)


@pytest.fixture
def crud_backend() -> Iterator[Backend]:
    with serve_http(_Crud) as b:
        yield b


OVERRIDE_SCRIPT = '''
from mitmproxy import ctx

class SetOverrides:
    def running(self):
        ctx.master.commands.call("mimic.override.set", "GET", "/widgets/{widget_id}/echo",
                                 '{"template": "{\\\\"echo\\\\": \\\\"{{ request.params.widget_id }}\\\\"}"}')

addons = [SetOverrides()]
'''

PIN_SCRIPT = '''
from mitmproxy import ctx

class Pin:
    def running(self):
        ctx.master.commands.call("mimic.override.set", "GET", "/widgets", "body: {pinned: true}\\nstatus: 203")

addons = [Pin()]
'''


def test_crud_twin_and_overrides_in_mock_mode(tmp_path: Path, crud_backend: Backend) -> None:
    db = str(tmp_path / "mimic.db")
    learner = ProxyFactory(tmp_path, crud_backend)
    try:
        p = learner.start(db)
        for i in range(1, 13):
            assert fetch(p.port, "POST", "/widgets", json.dumps({"name": f"w{i}"}).encode(), JSON)[0] == 201
            assert fetch(p.port, "GET", f"/widgets/{i}")[0] == 200
            assert fetch(p.port, "PUT", f"/widgets/{i}", json.dumps({"name": f"v{i}"}).encode(), JSON)[0] == 200
            assert fetch(p.port, "GET", f"/widgets/{i}/echo")[0] == 404
        assert fetch(p.port, "GET", "/widgets")[0] == 200
        for i in range(1, 13):
            assert fetch(p.port, "DELETE", f"/widgets/{i}")[0] == 204
        p.stop()
    finally:
        learner.cleanup()

    script = tmp_path / "set_overrides.py"
    script.write_text(OVERRIDE_SCRIPT)
    dead = ProxyFactory(tmp_path, Backend(free_port()))  # nothing listens there: the backend is gone
    try:
        m = dead.start(db, "--set", "mimic_mode=mock", "-s", str(script))
        port = m.port
        s1, s2 = {"X-Mimic-Session": "alice", **JSON}, {"X-Mimic-Session": "bob", **JSON}
        st, h, body = fetch(port, "POST", "/widgets", json.dumps({"name": "Ada"}).encode(), s1)
        created = json.loads(body)
        assert st == 201 and h["x-mimic-source"] == "mock" and created["name"] == "Ada"
        assert created["id"] == 13  # the next integer above the learned ids
        st, _, body = fetch(port, "GET", "/widgets/13", headers=s1)
        assert st == 200 and json.loads(body) == created
        st, _, body = fetch(port, "PUT", "/widgets/13", json.dumps({"name": "Bo"}).encode(), s1)
        assert st == 200 and json.loads(body)["name"] == "Bo"
        assert json.loads(fetch(port, "GET", "/widgets/13", headers=s1)[2])["name"] == "Bo"
        assert json.loads(fetch(port, "GET", "/widgets/13", headers=s2)[2]).get("name") != "Bo"  # isolated
        listing = json.loads(fetch(port, "GET", "/widgets", headers=s1)[2])
        assert listing["data"][0]["name"] == "Bo" and listing["total"] >= len(listing["data"])
        assert fetch(port, "DELETE", "/widgets/13", headers=s1)[0] == 204
        assert fetch(port, "GET", "/widgets/13", headers=s1)[0] == 404
        # the override set through the addon's command: a template echoing a path parameter
        st, h, body = fetch(port, "GET", "/widgets/77/echo")
        assert st == 200 and json.loads(body) == {"echo": "77"}
        assert h["x-mimic-override"] == "GET /widgets/{widget_id}/echo" and h["x-mimic-source"] == "mock"
        m.stop()
        # overrides and state survive a restart
        pin = tmp_path / "pin.py"
        pin.write_text(PIN_SCRIPT)
        m = dead.start(db, "--set", "mimic_mode=mock", "-s", str(pin))
        assert fetch(m.port, "GET", "/widgets/13", headers=s1)[0] == 404
        st, h, body = fetch(m.port, "GET", "/widgets", headers=s1)  # a pinned body wins over the twin
        assert (st, json.loads(body), h["x-mimic-override"]) == (203, {"pinned": True}, "GET /widgets")
        assert json.loads(fetch(m.port, "GET", "/widgets/5/echo")[2]) == {"echo": "5"}
        m.stop()
    finally:
        dead.cleanup()


class _Users(_Crud):
    """Users addressed by username (`/user/{username}`) with integer ids, like a pet store."""
    users: dict[str, dict] = {}

    def _name(self) -> str:
        return self.path.split("?")[0].split("/")[2]

    def do_GET(self) -> None:
        with self.lock:
            user = self.users.get(self._name())
            return self._json(200, user) if user else self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        with self.lock:
            body = self._body()
            self.users[body["username"]] = {"id": 100 + len(self.users), **body}
            return self._json(200, self.users[body["username"]])

    def do_PUT(self) -> None:
        with self.lock:
            name = self._name()
            self.users[name] = {"id": self.users.get(name, {}).get("id", 0), **self._body(), "username": name}
            return self._json(200, self.users[name])

    def do_DELETE(self) -> None:
        with self.lock:
            self.users.pop(self._name(), None)
            return self._json(200, {"deleted": True})


def test_twin_keys_items_by_the_username_the_path_uses(tmp_path: Path) -> None:
    db = str(tmp_path / "mimic.db")
    names = ["alice", "bobby", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj"]
    with serve_http(_Users) as backend:
        learner = ProxyFactory(tmp_path, backend)
        try:
            p = learner.start(db)
            for name in names:
                body = json.dumps({"username": name, "firstName": name.title(), "userStatus": 1}).encode()
                assert fetch(p.port, "POST", "/user", body, JSON)[0] == 200
                assert fetch(p.port, "GET", f"/user/{name}")[0] == 200
                assert fetch(p.port, "PUT", f"/user/{name}", body, JSON)[0] == 200
                assert fetch(p.port, "DELETE", f"/user/{name}")[0] == 200
            p.stop()
        finally:
            learner.cleanup()
    dead = ProxyFactory(tmp_path, Backend(free_port()))
    try:
        port = dead.start(db, "--set", "mimic_mode=mock").port
        st, h, body = fetch(port, "POST", "/user", json.dumps({"username": "pblake", "firstName": "P"}).encode(), JSON)
        created = json.loads(body)
        assert st == 200 and h["x-mimic-twin"] == "create" and created["username"] == "pblake"
        assert isinstance(created["id"], int)
        st, h, body = fetch(port, "GET", "/user/pblake")
        assert st == 200 and json.loads(body) == created and h["x-mimic-twin"] == "read"
        assert fetch(port, "DELETE", "/user/pblake")[0] == 200
        assert fetch(port, "GET", "/user/pblake")[0] == 404
        fetch(port, "POST", "/user", json.dumps({"username": "pblake", "firstName": "Again"}).encode(), JSON)
        st, _, body = fetch(port, "GET", "/user/pblake")
        assert st == 200 and json.loads(body)["firstName"] == "Again"
        st, _, body = fetch(port, "PUT", "/user/theUser", json.dumps({"firstName": "Z"}).encode(), JSON)
        put = json.loads(body)  # what clients send is replaced; the id only the server writes stays
        assert st == 200 and {k: v for k, v in put.items() if k != "id"} == {"firstName": "Z", "username": "theUser"}
        assert isinstance(put["id"], int)
    finally:
        dead.cleanup()
