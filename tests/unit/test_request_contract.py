"""The request schema an OpenAPI document declares, as checkable JSON Schema 2020-12."""
from __future__ import annotations

from mimic_addon.imports.request_contract import declared_request_schema
from mimic_addon.model.from_jsonschema import Refs


def test_openapi_30_keywords_become_json_schema() -> None:
    schema = {"type": "object", "properties": {
        "kind": {"type": "string", "enum": ["a", "b"], "nullable": True},
        "n": {"type": "integer", "maximum": 10, "exclusiveMaximum": True, "minimum": 0, "exclusiveMinimum": False},
        "upload": {"type": "file"}}}
    assert declared_request_schema(schema, Refs({}), legacy=True)["properties"] == {
        "kind": {"type": ["string", "null"], "enum": ["a", "b", None]},
        "n": {"type": "integer", "exclusiveMaximum": 10, "minimum": 0},
        "upload": {}}
    # OpenAPI 3.1 is JSON Schema already: its numeric exclusive bounds stay
    assert declared_request_schema({"exclusiveMinimum": 0}, Refs({}), legacy=False) == {"exclusiveMinimum": 0}


def test_refs_are_inlined_and_a_loop_accepts_what_follows() -> None:
    doc = {"components": {"schemas": {"Node": {"type": "object", "required": ["id", "name"], "properties": {
        "id": {"type": "integer", "readOnly": True}, "name": {"type": "string"},
        "child": {"$ref": "#/components/schemas/Node"}}}}}}
    out = declared_request_schema({"$ref": "#/components/schemas/Node"}, Refs(doc), legacy=True)
    assert out["required"] == ["name"] and out["properties"]["id"] == {"readOnly": True}  # (anything, not required)
    assert out["properties"]["child"] == {}
    assert declared_request_schema({"$ref": "#/nowhere"}, Refs(doc), legacy=True) == {}


def _check(schema: dict, body: bytes, comps: dict | None = None, ctype: str = "application/json"):
    from mimic_addon.imports.openapi_import import apply_plan, plan_import
    from mimic_addon.learn.brain import Brain
    from mimic_addon.serve.request_check import RequestCheck

    brain = Brain()
    apply_plan(brain, plan_import({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "servers": [{"url": "http://api.test"}],
        "components": {"schemas": comps or {}},
        "paths": {"/p": {"post": {"requestBody": {"content": {"application/json": {"schema": schema}}},
                                  "responses": {"201": {"description": "ok"}}}}}}))
    return RequestCheck().problems(brain.endpoints()[0], "spec", body, ctype)


def test_valid_requests_of_the_spec_dialects_pass() -> None:
    """Each of these was refused (or crashed the request hook) once the declared schema was checked as is."""
    comps = {"Addr": {"type": "object", "properties": {"s": {"type": "string"}}},
             "Base": {"type": "object", "properties": {"id": {"type": "integer", "readOnly": True},
                                                       "name": {"type": "string"}}},
             "Cat": {"type": "object", "properties": {"petType": {"type": "string"}, "meow": {"type": "boolean"}}},
             "Dog": {"type": "object", "properties": {"petType": {"type": "string"}}}}
    ref = "#/components/schemas/"
    assert _check({"type": "object", "properties": {"n": {"type": "string", "pattern": "^\\p{L}+$"}}},
                  b'{"n": "Zo"}') is None  # (an ECMA-262 pattern: not checked)
    assert _check({"type": "object", "properties": {"t": {"type": "array", "items": [{"type": "string"}]}}},
                  b'{"t": ["a"]}') is None  # (the tuple form of items)
    assert _check({"type": "object", "properties": {"a": {"allOf": [{"$ref": ref + "Addr"}], "nullable": True}}},
                  b'{"a": null}', comps) is None
    closed = {"allOf": [{"$ref": ref + "Base"}], "required": ["id", "name"], "additionalProperties": False}
    assert _check(closed, b'{"name": "a"}', comps) is None  # (id: readOnly, declared in a member)
    assert _check(closed, b'{"name": "a", "x": 1}', comps)[0] == 422  # (still closed)
    assert _check({"oneOf": [{"$ref": ref + "Cat"}, {"$ref": ref + "Dog"}], "discriminator": {"propertyName": "petType"}},
                  b'{"petType": "Cat", "meow": true}', comps) is None
    assert _check({"type": "object"}, b'{"index": {}}\n{"a": 1}\n', ctype="application/x-ndjson") is None
