"""Hostile input through a real mitmdump (issue 16): decompression bombs, JSON nested 10,000 deep and raw
non-UTF-8 paths. The proxy keeps answering cleanly (a mock answer or a JSON 400, never a traceback) and
the learner stays alive and keeps learning."""
from __future__ import annotations

import gzip
import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimic_addon.store import Store

from .conftest import Backend, ProxyFactory, _Handler, fetch, free_port, serve_http

pytestmark = pytest.mark.e2e

BOMB_DECODED = 200 * 1024 * 1024  # 200 MB of JSON once inflated, ~200 KB on the wire
BOMB = gzip.compress(b'{"a": "' + b"0" * BOMB_DECODED + b'"}', compresslevel=9, mtime=0)
DEPTH = 10_000
DEEP_BODY = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH
DEEP_LIST = b"[" * DEPTH + b"]" * DEPTH


class _Hostile(_Handler):
    def do_GET(self) -> None:
        if self.path == "/bomb":
            return self._send(200, BOMB, Content_Encoding="gzip")
        if self.path == "/deep":
            return self._send(200, DEEP_BODY)
        if self.path.startswith("/files/"):
            return self._json(200, {"name": self.path.rsplit("/", 1)[1], "size": 3})
        return super().do_GET()

    def do_POST(self) -> None:
        if self.path in ("/bomb", "/deep"):
            length = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(length)
            return self._json(200, {"ok": True})
        return super().do_POST()


@pytest.fixture
def hostile() -> Iterator[Backend]:
    with serve_http(_Hostile) as b:
        yield b


def endpoints(db: str) -> dict[tuple[str, str], dict]:
    store = Store(db)
    try:
        return {(e["method"], e["template"]): e for e in store.load()["endpoints"]}
    finally:
        store.close()


def raw_request(port: int, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (http.client would refuse a non-UTF-8 path); (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(body) >= length:
                    break
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


def learn_files(port: int) -> None:
    for name in ("a.txt", "b.txt", "c.txt", "d.txt", "report.pdf", "x1", "x2", "x3"):
        assert fetch(port, "GET", f"/files/{name}")[0] == 200
    for i in range(1, 6):
        assert fetch(port, "POST", "/users", json.dumps({"name": f"n{i}"}).encode(),
                     {"Content-Type": "application/json"})[0] == 201


def test_gzip_bomb_is_learned_as_too_large_and_the_learner_goes_on(tmp_path: Path, hostile: Backend) -> None:
    db = str(tmp_path / "bomb.db")
    factory = ProxyFactory(tmp_path, hostile)
    try:
        p = factory.start(db)
        status, headers, body = fetch(p.port, "GET", "/bomb")
        assert status == 200 and body == BOMB  # passed through untouched, never decoded by the proxy
        status, _, _ = fetch(p.port, "POST", "/bomb", BOMB, {"Content-Type": "application/json",
                                                             "Content-Encoding": "gzip"})
        assert status == 200
        for uid in range(1, 6):  # the learner is alive after the bomb: it learns what comes next
            assert fetch(p.port, "GET", f"/users/{uid}")[0] == 200
        p.stop()
        assert p.returncode == 0, p.output
        assert "Traceback" not in p.output, p.output
    finally:
        factory.cleanup()
    eps = endpoints(db)
    bomb = eps["GET", "/bomb"]
    assert bomb["count"] == 1 and bomb["data"]["stats"]["rs"][1] == len(BOMB)  # status and size learned
    assert not bomb["data"]["responses"]  # its body was too large to learn from
    assert eps["POST", "/bomb"]["count"] == 1
    users = [e for (m, t), e in eps.items() if m == "GET" and t.startswith("/users/")]
    assert sum(e["count"] for e in users) == 5


def _learn_hostile(p) -> None:
    """Normal traffic, then hostile bodies while learning (none of it may stop the learner)."""
    learn_files(p.port)
    assert fetch(p.port, "GET", "/deep")[0] == 200                       # a response 10,000 deep
    for _ in range(3):
        assert fetch(p.port, "POST", "/deep", DEEP_BODY, {"Content-Type": "application/json"})[0] == 200
        assert fetch(p.port, "POST", "/deep", DEEP_LIST, {"Content-Type": "application/json"})[0] == 200
    assert raw_request(p.port, b"GET /files/\xff\xfe HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")[0] == 200


def _assert_clean_answers(port: int, source: str) -> None:
    """Deep bodies and raw non-UTF-8 paths get a mock answer or a clean JSON error, never a traceback."""
    for body in (DEEP_BODY, DEEP_LIST):
        status, headers, answer = fetch(port, "POST", "/users", body, {"Content-Type": "application/json"})
        assert status in (201, 400) and headers["x-mimic-source"] == source, answer[:300]
        assert b"Traceback" not in answer and b"RecursionError" not in answer
        json.loads(answer)
        status, headers, answer = fetch(port, "POST", "/deep", body, {"Content-Type": "application/json"})
        assert status in (200, 400) and b"Traceback" not in answer, answer[:300]
    for raw_path in (b"/files/\xff\xfe", b"/files/%ff%fe", b"/\xff\xfe/\xc3", b"/users/\xff?q=\xfe"):
        status, answer = raw_request(port, b"GET " + raw_path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert status in (200, 400, 404, 502), (raw_path, status, answer[:300])  # 502: failover, never learned
        assert b"Traceback" not in answer and b"Error" not in answer.split(b"\n", 1)[0], answer[:300]
        json.loads(answer)
    status, headers, answer = fetch(port, "GET", "/files/a.txt")  # and the proxy still serves normally
    assert status == 200 and headers["x-mimic-source"] == source


def test_deep_json_and_raw_paths_in_mock_mode(tmp_path: Path, hostile: Backend) -> None:
    db = str(tmp_path / "deep.db")
    first = ProxyFactory(tmp_path, hostile)
    try:
        p = first.start(db)
        _learn_hostile(p)
        p.stop()
        assert p.returncode == 0 and "Traceback" not in p.output, p.output
    finally:
        first.cleanup()
    eps = endpoints(db)
    assert eps["GET", "/deep"]["count"] == 1 and eps["POST", "/deep"]["count"] == 6  # learned, bodies opaque
    with sqlite3.connect(db) as conn:  # the request log kept the raw path (and the rest of its batch)
        logged = [row[0] for row in conn.execute("SELECT path FROM request_log")]
    assert "/files/%FF%FE" in logged and logged.count("/deep") == 7, logged
    assert sum(e["count"] for (m, t), e in eps.items() if m == "GET" and t.startswith("/files")) == 9
    dead = ProxyFactory(tmp_path, Backend(free_port()))
    try:
        p = dead.start(db, "--set", "mimic_mode=mock")
        _assert_clean_answers(p.port, "mock")
        p.stop()
        assert "Traceback" not in p.output, p.output
    finally:
        dead.cleanup()


def test_deep_json_and_raw_paths_in_failover_mode(tmp_path: Path, hostile: Backend) -> None:
    db = str(tmp_path / "fail.db")
    first = ProxyFactory(tmp_path, hostile)
    try:
        p = first.start(db)
        _learn_hostile(p)
        p.stop()
    finally:
        first.cleanup()
    live = ProxyFactory(tmp_path, hostile)  # the backend is up: raw paths and deep bodies reach it as sent
    try:
        p = live.start(db, "--set", "mimic_mode=failover", "--set", "mimic_failover_timeout=2")
        status, answer = raw_request(p.port, b"GET /files/\xff\xfe HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert status == 200 and json.loads(answer)["name"] == "%FF%FE", answer  # the backend's answer (httpx
        # sends ASCII paths only: the raw bytes are forwarded percent-encoded)
        status, headers, _ = fetch(p.port, "POST", "/deep", DEEP_BODY, {"Content-Type": "application/json"})
        assert status == 200 and headers["x-mimic-source"] == "upstream"
        p.stop()
        assert "Traceback" not in p.output, p.output
    finally:
        live.cleanup()
    dead = ProxyFactory(tmp_path, Backend(free_port()))  # the backend is down: every answer fails over
    try:
        p = dead.start(db, "--set", "mimic_mode=failover", "--set", "mimic_failover_timeout=2")
        _assert_clean_answers(p.port, "failover")
        p.stop()
        assert "Traceback" not in p.output, p.output
    finally:
        dead.cleanup()


def test_record_then_replay_hostile_input(tmp_path: Path, hostile: Backend) -> None:
    db = str(tmp_path / "rec.db")
    first = ProxyFactory(tmp_path, hostile)
    try:
        p = first.start(db, "--set", "mimic_mode=record")
        _learn_hostile(p)
        assert fetch(p.port, "GET", "/bomb")[2] == BOMB
        p.stop()
        assert p.returncode == 0 and "Traceback" not in p.output, p.output
    finally:
        first.cleanup()
    dead = ProxyFactory(tmp_path, Backend(free_port()))
    try:
        p = dead.start(db, "--set", "mimic_mode=replay")
        status, headers, answer = fetch(p.port, "GET", "/files/a.txt")
        assert status == 200 and headers["x-mimic-source"] == "replay" and json.loads(answer)["name"] == "a.txt"
        status, answer = raw_request(p.port, b"GET /files/\xff\xfe HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert status == 200 and json.loads(answer)["name"] == "\xff\xfe", answer  # as recorded (latin-1 backend)
        for body in (DEEP_BODY, DEEP_LIST):
            status, headers, answer = fetch(p.port, "POST", "/deep", body, {"Content-Type": "application/json"})
            assert status == 200 and json.loads(answer) == {"ok": True}, answer[:300]
        status, headers, answer = fetch(p.port, "GET", "/bomb")
        # (its answer inflated past mimic_max_body: recorded without its body, so replay's fallback, the
        # mock, answers, and it has no readable JSON of the endpoint to make one up from)
        assert (status, headers["x-mimic-source"]) == (501, "mock") and b"Traceback" not in answer, answer[:300]
        assert "not readable" in json.loads(answer)["error"]
        p.stop()
        assert "Traceback" not in p.output, p.output
    finally:
        dead.cleanup()
