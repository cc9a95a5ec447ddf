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
    assert out["required"] == ["name"] and set(out["properties"]) == {"name", "child"}
    assert out["properties"]["child"] == {}
    assert declared_request_schema({"$ref": "#/nowhere"}, Refs(doc), legacy=True) == {}
