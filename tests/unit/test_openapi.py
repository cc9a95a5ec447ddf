"""OpenAPI 3.1 export of a learned Brain: valid, templated, typed, and safe with hostile paths."""
from __future__ import annotations

import json

from openapi_spec_validator import validate

from mimic_addon.export.openapi import from_brain
from mimic_addon.learn.brain import Brain
from mimic_addon.learn.observation import Body, Observation


def obs(method: str, path: str, status: int, body: object | None, query=(), request: object | None = None,
        host: str = "api.example.com") -> Observation:
    raw = json.dumps(body).encode() if body is not None else b""
    req = json.dumps(request).encode() if request is not None else b""
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    return Observation(
        host=host, scheme="https", method=method, target=target,
        request=Body(req, "", "application/json" if req else "", len(req)),
        status=status, response=Body(raw, "", "application/json" if raw else "", len(raw)),
        latency_ms=12.5, ts=1_700_000_000.0,
    )


def learned() -> Brain:
    brain = Brain()
    for i in range(1, 6):
        brain.learn(obs("GET", f"/v1/users/{i}", 200, {"id": i, "email": f"u{i}@example.com", "name": "Ada"}))
    brain.learn(obs("GET", "/v1/users/77", 404, {"error": "not found"}))
    brain.learn(obs("GET", "/v1/users", 200, [{"id": 1}], query=[("page", "2"), ("per_page", "10")]))
    brain.learn(obs("POST", "/v1/users", 201, {"id": 9, "name": "Ada"}, request={"name": "Ada", "password": "hunter2"}))
    brain.learn(obs("GET", "/v1/%7Bevil%7D/<script>", 200, {"html": "<script>alert(1)</script>"}))
    return brain


def test_document_is_valid_openapi_31() -> None:
    doc = from_brain(learned())
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": "https://api.example.com"}]


def test_templates_parameters_and_schemas() -> None:
    doc = from_brain(learned())
    item = doc["paths"]["/v1/users/{user_id}"]["get"]
    assert item["parameters"] == [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    ok = item["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["properties"]["email"]["format"] == "email"
    assert set(ok["schema"]["required"]) == {"id", "email", "name"}
    assert "404" in item["responses"]
    listing = doc["paths"]["/v1/users"]["get"]
    query = {p["name"]: p for p in listing["parameters"]}
    assert query["page"]["schema"]["type"] == "integer" and query["page"]["required"] is True


def test_request_bodies_are_redacted_examples() -> None:
    doc = from_brain(learned())
    body = doc["paths"]["/v1/users"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"]["password"] != "hunter2"
    assert "hunter2" not in json.dumps(doc)


def test_hostile_segments_cannot_become_parameters() -> None:
    doc = from_brain(learned())
    assert "/v1/%7Bevil%7D/%3Cscript%3E" in doc["paths"]
    assert all("{evil}" not in p for p in doc["paths"])


def test_operation_ids_are_unique() -> None:
    doc = from_brain(learned())
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert len(ids) == len(set(ids))


def test_regrouping_merges_endpoint_statistics() -> None:
    brain = Brain()
    brain.learn(obs("GET", "/files/readme", 404, None))
    for i in range(3):
        brain.learn(obs("GET", f"/files/{1000 + i}", 200, {"id": 1000 + i}))
    brain.settle()  # a rare word beside the ids, on their route, with nothing to tell it apart
    (ep,) = brain.endpoints()
    assert ep.skeleton == "/files/{}" and ep.stats.count == 4
    trees, eps, deleted = brain.take_changes()
    assert ("api.example.com", "GET", "/files/readme") in deleted


def test_export_survives_lone_surrogates_in_learned_names(tmp_path) -> None:
    """Field names are strangers' input: a lone surrogate is valid JSON text but not UTF-8."""
    from mimic_addon.cli import main
    from mimic_addon.learn.learner import Learner
    from mimic_addon.store import Store

    db = str(tmp_path / "m.db")
    store = Store(db)
    brain = Brain()
    brain.learn(obs("GET", "/odd", 200, json.loads('{"\\ud800x": "\\udfff"}')))
    Learner(brain, store).flush()
    store.close()
    for extra in ([], ["--yaml"]):
        out = tmp_path / f"doc{len(extra)}"
        assert main(["export", "openapi", "--db", db, "-o", str(out), *extra]) == 0
        assert "/odd" in out.read_text(encoding="utf-8")


def test_observed_values_are_valid_marked_examples() -> None:
    brain = Brain()
    for i, region in enumerate(["eu-west", "us-east", "ap-south"]):  # each seen once: no enum
        brain.learn(obs("GET", f"/v1/zones/{i}", 200, {"id": i, "region": region}))
    doc = from_brain(brain)
    validate(doc)
    [item] = doc["paths"].values()
    region = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["region"]
    assert "enum" not in region
    assert region["examples"] == ["ap-south", "eu-west", "us-east"] and region["x-mimic-observed-values"] is True


def test_the_request_contract_comes_from_requests_the_backend_took() -> None:
    """Bodies answered 422 (or any 4xx) broke the contract: they do not make it. `price: "x"` refused,
    `{"name": ...}` taken: the request schema requires `name` and knows `price` as a number only."""
    brain = Brain()
    for i in range(4):
        brain.learn(obs("POST", "/v1/items", 201, {"id": i}, request={"name": f"n{i}", "price": 1.5 + i}))
        brain.learn(obs("POST", "/v1/items", 422, {"error": "name is required"}, request={"price": "x"}))
    body = from_brain(brain)["paths"]["/v1/items"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["required"]) == {"name", "price"}
    assert body["schema"]["properties"]["price"]["type"] == "number"
