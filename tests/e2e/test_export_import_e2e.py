"""Exports and imports through real processes: exchanges recorded by Mimic, exported as a mitmproxy flow
file, come back byte for byte from a plain `mitmdump --server-replay` with the backend gone (and the HAR
export is learnable again); a spec imported with `mimic import openapi` is served by mock mode before any
traffic was seen."""
from __future__ import annotations

import gzip
import json
import subprocess
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

from mimic_addon.store import Store

from .conftest import (MITMDUMP, START_TIMEOUT, Backend, Proxy, ProxyFactory, _env, _Handler, fetch, free_port,
                       run_cli, serve_http, wait_for_port)

pytestmark = pytest.mark.e2e

REQUESTS = [  # (method, path, body): what the client does while Mimic records
    ("GET", "/users/1", None),
    ("GET", "/users/me", None),
    ("GET", "/users?limit=2&page=3", None),
    ("GET", "/orders/not-a-uuid", None),  # a 404 is an answer too
    ("GET", "/gzip", None),
    ("GET", "/image.png", None),
    ("POST", "/users", json.dumps({"name": "Zed", "role": "dev"}, separators=(",", ":")).encode()),
]


def start_server_replay(tmp: Path, flows: Path, target: Backend) -> Proxy:
    """A plain mitmdump (no Mimic) replaying the flow file in reverse mode; unknown requests are killed."""
    port = free_port()
    log = tmp / "server-replay.log"
    args = [str(MITMDUMP), "--server-replay", str(flows), "--set", "server_replay_extra=kill",
            "--set", "server_replay_reuse=true", "--set", "connection_strategy=lazy",  # backend is down
            "--mode", f"reverse:{target.url}",
            "--listen-host", "127.0.0.1", "--listen-port", str(port), "-q"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp,
                                env=_env())
    proxy = Proxy(proc, port, log)
    wait_for_port(port, proc, time.monotonic() + START_TIMEOUT, log)
    return proxy


def test_recordings_export_to_flows_that_mitmdump_server_replay_serves(tmp_path: Path):
    db = str(tmp_path / "rec.db")
    recorded: list[tuple[int, bytes]] = []
    with serve_http(_Handler) as backend:  # a backend of its own: it is shut down before the replay
        factory = ProxyFactory(tmp_path, backend)
        try:
            proxy = factory.start(db, "--set", "mimic_mode=record")
            for method, path, body in REQUESTS:
                headers = {"Content-Type": "application/json"} if body else {}
                status, resp_headers, data = fetch(proxy.port, method, path, body, headers)
                if resp_headers.get("content-encoding") == "gzip":
                    data = gzip.decompress(data)
                recorded.append((status, data))
            proxy.stop()  # SIGINT: the recorder drains and saves
        finally:
            factory.cleanup()
    assert [s for s, _ in recorded] == [200, 200, 200, 404, 200, 200, 201]

    flows, har = tmp_path / "recorded.mitm", tmp_path / "recorded.har"
    out = run_cli("export", "flows", "--db", db, "-o", str(flows))
    assert f"{len(REQUESTS)} recorded exchanges" in out.stderr
    run_cli("export", "har", "--db", db, "-o", str(har))

    replay = start_server_replay(tmp_path, flows, backend)  # backend's port is closed now
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{replay.port}", trust_env=False, timeout=30) as client:
            for (method, path, body), (status, data) in zip(REQUESTS, recorded):
                headers = {"Content-Type": "application/json"} if body else {}
                r = client.request(method, path, content=body, headers=headers)
                assert (r.status_code, r.content) == (status, data), (method, path)
            with pytest.raises(httpx.HTTPError):  # never recorded: server_replay_extra=kill
                client.get("/users/999")
    finally:
        replay.stop()

    doc = json.loads(har.read_text())
    assert doc["log"]["version"] == "1.2" and len(doc["log"]["entries"]) == len(REQUESTS)
    relearned = str(tmp_path / "relearned.db")
    run_cli("learn", str(har), "--db", relearned, "-q")
    table = run_cli("endpoints", "--db", relearned).stdout
    assert "GET     /users/1 " in table and "POST" in table  # one number seen once stays literal


def test_nothing_recorded_is_a_clear_error(tmp_path: Path):
    db = tmp_path / "empty.db"
    Store(str(db)).close()  # a store, with nothing recorded in it
    cp = subprocess.run([str(MITMDUMP.with_name("mimic")), "export", "flows", "--db", str(db)],
                        capture_output=True, text=True, env=_env(), timeout=60)
    assert cp.returncode == 1 and "nothing recorded: run with --set mimic_mode=record" in cp.stderr
    cp = subprocess.run([str(MITMDUMP.with_name("mimic")), "export", "flows", "--db", str(tmp_path / "typo.db")],
                        capture_output=True, text=True, env=_env(), timeout=60)
    assert cp.returncode == 1 and f"no store at {tmp_path / 'typo.db'}" in cp.stderr


PET = {"type": "object", "required": ["id", "name", "status"], "properties": {
    "id": {"type": "integer", "minimum": 1}, "name": {"type": "string"},
    "status": {"type": "string", "enum": ["available", "pending", "sold"]},
    "tags": {"type": "array", "items": {"type": "object", "required": ["name"],
                                        "properties": {"name": {"type": "string"}}}}}}
SPEC = {
    "openapi": "3.0.3", "info": {"title": "Pet shop", "version": "1"},
    "servers": [{"url": "https://shop.example.com/api"}],
    "paths": {
        "/pets": {"get": {"responses": {"200": {"description": "all", "content": {"application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}}}}},
                  "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
                           "responses": {"201": {"description": "made", "content": {"application/json": {
                               "schema": {"$ref": "#/components/schemas/Pet"}}}}}}},
        "/pets/{petId}": {"get": {"responses": {"200": {"description": "one", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Pet"}}}}}}},
    },
    "components": {"schemas": {"Pet": PET}},
}


def test_imported_spec_is_mocked_by_mitmdump_before_any_traffic(tmp_path: Path):
    spec, db = tmp_path / "shop.yaml", str(tmp_path / "shop.db")
    spec.write_text(yaml.safe_dump(SPEC))
    run_cli("import", "openapi", str(spec), "--db", db)
    factory = ProxyFactory(tmp_path, Backend(free_port()))  # no backend at all: mock mode never calls it
    try:
        proxy = factory.start(db, "--set", "mimic_mode=mock")
        status, headers, body = fetch(proxy.port, "GET", "/api/pets/7")
        assert status == 200 and headers["x-mimic-source"] == "mock"
        assert headers["x-mimic-template"] == "GET /api/pets/{petId}"
        pet = json.loads(body)
        jsonschema.validate(pet, PET)
        assert pet["id"] == 7  # the path parameter flows into the body's `id`
        status, _, body = fetch(proxy.port, "GET", "/api/pets")
        assert status == 200
        jsonschema.validate(json.loads(body), {"type": "array", "items": PET})
        status, _, body = fetch(proxy.port, "GET", "/api/owners")
        assert status == 404 and "GET /api/pets" in json.loads(body)["closest"]
        # a body the spec refuses is told so, as Prism does; one it takes is answered
        json_type = {"Content-Type": "application/json"}
        status, _, body = fetch(proxy.port, "POST", "/api/pets", b'{"id": 0, "name": "Rex", "status": "lost"}', json_type)
        assert status == 422, body
        assert [(p["path"], p["rule"]) for p in json.loads(body)["problems"]] == [("$.id", "minimum"), ("$.status", "enum")]
        status, _, body = fetch(proxy.port, "POST", "/api/pets", b'{"id": 3, "name": "Rex", "status": "sold"}', json_type)
        assert status == 201 and json.loads(body)["name"] == "Rex"
        proxy.stop()
    finally:
        factory.cleanup()
