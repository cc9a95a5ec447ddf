"""Exports of what HTTP allows beyond the common case: bodiless statuses, methods OpenAPI 3.1 has no field for."""
from __future__ import annotations

import json

from openapi_spec_validator import validate

from captures import har_entry, write_flows, write_har
from mimic_addon import cli


def _learn_and_export(tmp_path, capture, kind: str = "openapi") -> dict:
    db, out = str(tmp_path / "m.db"), tmp_path / f"export.{kind}"
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 0
    assert cli.main(["export", kind, "--db", db, "-o", str(out)]) == 0
    return json.loads(out.read_text())


def test_a_304_with_its_cached_body_has_no_content(tmp_path):
    """Browsers write a 304's HAR entry with the cached body (and its type): a 304 has no body."""
    fresh = har_entry("GET", "https://api.example.com/users/1", 200, {"id": 1})
    cached = har_entry("GET", "https://api.example.com/users/1", 304, {"id": 1})
    cached["response"]["headers"] = []  # no Content-Type on the 304: the cached text is typeless
    gone = har_entry("DELETE", "https://api.example.com/users/1", 204, None)
    har = write_har(tmp_path / "cached.har", [fresh, cached, gone])
    doc = _learn_and_export(tmp_path, har)
    validate(doc)
    get = doc["paths"]["/users/1"]["get"]["responses"]
    assert "content" in get["200"]
    assert get["304"] == {"description": "Not Modified"}
    assert doc["paths"]["/users/1"]["delete"]["responses"]["204"] == {"description": "No Content"}
    schemas = _learn_and_export(tmp_path, har, "jsonschema")
    [entry] = [e for e in schemas["x-mimic-endpoints"].values() if e["method"] == "GET"]
    assert entry["responses"]["304"] == {"schema": None, "media": []}


def test_methods_beyond_openapi_31_are_exported_as_additional_operations(tmp_path):
    capture = write_flows(tmp_path / "dav.mitm", [
        ("PURGE", "https://cdn.example.com/assets/app.js", 200, {"purged": True}),
        ("PROPFIND", "https://cdn.example.com/assets/app.js", 207, {"props": []}),
        ("GET", "https://cdn.example.com/assets/app.js", 200, {"size": 10}),
    ])
    doc = _learn_and_export(tmp_path, capture)
    validate(doc)
    item = doc["paths"]["/assets/app.js"]
    assert set(item) == {"get", "x-additionalOperations"}
    extra = item["x-additionalOperations"]
    assert set(extra) == {"PURGE", "PROPFIND"}
    assert extra["PURGE"]["operationId"] == "purgeAssetsAppJs"
    assert "purged" in extra["PURGE"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert set(extra["PROPFIND"]["responses"]) == {"207"}


def test_additional_operations_come_back_on_import(tmp_path, capsys):
    capture = write_flows(tmp_path / "dav.mitm", [
        ("PURGE", "https://cdn.example.com/assets/app.js", 200, {"purged": True}),
        ("GET", "https://cdn.example.com/assets/app.js", 200, {"size": 10}),
    ])
    doc = _learn_and_export(tmp_path, capture)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(doc))
    db = str(tmp_path / "imported.db")
    assert cli.main(["import", "openapi", str(spec), "--db", db]) == 0
    capsys.readouterr()
    assert cli.main(["endpoints", "--db", db, "--json"]) == 0
    assert {(e["method"], e["template"]) for e in json.loads(capsys.readouterr().out)} == {
        ("GET", "/assets/app.js"), ("PURGE", "/assets/app.js")}
