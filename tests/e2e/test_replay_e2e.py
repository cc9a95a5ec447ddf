"""Record then replay through a real mitmdump: record a sequence against a live backend, then replay it
from a proxy whose backend port is dead: exact matches in recorded order, a near miss answered by the
closest recording of the same template, an unknown endpoint by the fallback."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from .conftest import Backend, ProxyFactory, _Handler, fetch, free_port, serve_http

pytestmark = pytest.mark.e2e


class _Counting(_Handler):
    ticks = itertools.count(1)

    def do_GET(self) -> None:
        if self.path.startswith("/tick"):
            return self._json(200, {"tick": next(self.ticks)})
        return super().do_GET()


def test_record_then_replay_with_backend_gone(tmp_path: Path):
    db = str(tmp_path / "r.db")
    with serve_http(_Counting) as live:
        recorded = ProxyFactory(tmp_path, live)
        try:
            p = recorded.start(db, "--set", "mimic_mode=record")
            ticks = []
            for _ in range(3):
                status, headers, body = fetch(p.port, "GET", "/tick")
                assert status == 200 and headers["x-mimic-source"] == "upstream"
                ticks.append(json.loads(body)["tick"])
            pages = {}
            for page in (1, 2, 3):
                pages[page] = fetch(p.port, "GET", f"/users?limit=2&page={page}")[2]
            for i in range(1, 6):
                assert fetch(p.port, "GET", f"/users/{i}")[0] == 200
            p.stop()  # SIGINT: the recorder drains and saves
        finally:
            recorded.cleanup()

    dead = ProxyFactory(tmp_path, Backend(free_port()))
    try:
        p = dead.start(db, "--set", "mimic_mode=replay")
        replayed = []
        for _ in range(4):
            status, headers, body = fetch(p.port, "GET", "/tick")
            assert status == 200 and headers["x-mimic-source"] == "replay" and headers["x-mimic-replay"] == "exact"
            replayed.append(json.loads(body)["tick"])
        assert replayed == ticks + ticks[-1:]  # recorded order, then the last one again
        status, headers, body = fetch(p.port, "GET", "/users?page=2&limit=2")
        assert headers["x-mimic-replay"] == "exact" and body == pages[2]  # query order does not matter
        status, headers, body = fetch(p.port, "GET", "/users?limit=2&page=3&sort=name")
        assert status == 200 and headers["x-mimic-replay"] == "near" and body == pages[3]
        status, headers, body = fetch(p.port, "GET", "/users/77")
        assert status == 200 and headers["x-mimic-replay"] == "near" and json.loads(body)["id"] == 77  # told as asked
        status, headers, body = fetch(p.port, "GET", "/nothing/here")
        assert status == 404 and headers["x-mimic-source"] == "mock" and json.loads(body)["closest"]
        p.stop()
        p = dead.start(db, "--set", "mimic_mode=learn", "--set", "mimic_replay_fallback=404")
        status, headers, body = fetch(p.port, "GET", "/users/2", headers={"X-Mimic-Mode": "replay"})
        assert status == 200 and headers["x-mimic-replay"] == "exact" and json.loads(body)["id"] == 2
        status, headers, body = fetch(p.port, "GET", "/nothing/here", headers={"X-Mimic-Mode": "replay"})
        assert status == 404 and headers["x-mimic-source"] == "replay"
        p.stop()
    finally:
        dead.cleanup()
