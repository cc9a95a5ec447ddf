"""Every learned endpoint is exported exactly once, whichever hosts share its method and template."""
from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from captures import write_flows
from mimic_addon import cli


@pytest.fixture
def two_hosts_db(tmp_path) -> str:
    capture = write_flows(tmp_path / "two-hosts.mitm", [
        ("GET", "https://a.example/ping", 200, {"ok": True}),
        ("GET", "https://a.example/ping", 200, {"ok": False}),
        ("GET", "https://b.example/ping", 200, {"pong": 1}),
        ("GET", "https://b.example/ping", 429, {"retry_after": 3}),
    ])
    db = str(tmp_path / "m.db")
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 0
    return db


def _export(db: str, kind: str, tmp_path) -> str:
    out = tmp_path / f"export.{kind}"
    assert cli.main(["export", kind, "--db", db, "-o", str(out)]) == 0
    return out.read_text()


def test_openapi_keeps_every_host(two_hosts_db, tmp_path):
    doc = json.loads(_export(two_hosts_db, "openapi", tmp_path))
    validate(doc)
    assert {s["url"] for s in doc["servers"]} == {"https://a.example", "https://b.example"}
    item = doc["paths"]["/ping"]
    assert item["servers"] == [{"url": "https://a.example"}, {"url": "https://b.example"}]
    op = item["get"]
    assert op["x-mimic-stats"]["count"] == 4  # both endpoints' traffic
    assert set(op["responses"]) == {"200", "429"}  # b's own status is not lost
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    branches = schema["anyOf"]
    assert [set(b["properties"]) for b in branches] == [{"ok"}, {"pong"}]  # busiest host first


def test_other_exports_keep_every_host(two_hosts_db, tmp_path):
    doc = json.loads(_export(two_hosts_db, "jsonschema", tmp_path))
    index = doc["x-mimic-endpoints"]
    assert sorted((e["host"], e["method"], e["path"]) for e in index.values()) == [
        ("a.example", "GET", "/ping"), ("b.example", "GET", "/ping")]
    names = {e["host"]: e["responses"]["200"]["schema"] for e in index.values()}
    assert set(doc["$defs"][names["a.example"]]["properties"]) == {"ok"}
    assert set(doc["$defs"][names["b.example"]]["properties"]) == {"pong"}
    ts = _export(two_hosts_db, "typescript", tmp_path)
    assert all(name in ts for name in names.values())
    py = _export(two_hosts_db, "pydantic", tmp_path)
    assert all(f"class {name}(" in py for name in names.values())
