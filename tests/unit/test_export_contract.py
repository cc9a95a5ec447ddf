"""Exports state a contract the evidence supports, not the samples seen (`model/contract.py`)."""
from __future__ import annotations

import json

from openapi_spec_validator import validate

from captures import write_flows
from mimic_addon import cli


def _export(tmp_path, exchanges, kind: str = "openapi") -> dict:
    capture = write_flows(tmp_path / "issues.mitm", exchanges)
    db, out = str(tmp_path / "m.db"), tmp_path / f"export.{kind}"
    assert cli.main(["learn", "-q", str(capture), "--db", db]) == 0
    assert cli.main(["export", kind, "--db", db, "-o", str(out)]) == 0
    return json.loads(out.read_text())


def _issue_schema(doc: dict) -> dict:
    [item] = doc["paths"].values()
    return item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]


def test_samples_are_not_a_contract(tmp_path):
    """Five open issues: `state` was only ever "open", numbers and titles had some range: none of it is a rule."""
    doc = _export(tmp_path, [("GET", f"https://api.example.com/issues/{i}", 200,
                              {"id": i, "state": "open", "title": "Crash on start" + "!" * i, "labels": ["bug"] * i})
                             for i in range(1, 6)])
    validate(doc)
    props = _issue_schema(doc)
    state = props["state"]
    assert "enum" not in state and state["examples"] == ["open"] and state["x-mimic-observed-values"] is True
    for name, keys in (("id", ("minimum", "maximum")), ("title", ("minLength", "maxLength")),
                       ("labels", ("minItems", "maxItems"))):
        assert not set(keys) & set(props[name]), props[name]
        assert set(props[name]["x-mimic-observed-bounds"]) == set(keys)  # told, as an annotation
    assert props["id"]["x-mimic-observed-bounds"] == {"minimum": 1, "maximum": 5}
    assert "enum" not in props["labels"]["items"]
    (tmp_path / "again").mkdir()
    schemas = _export(tmp_path / "again", [("GET", "https://api.example.com/issue", 200, {"state": "open"})] * 3,
                      "jsonschema")
    [name] = schemas["$defs"]
    assert "enum" not in schemas["$defs"][name]["properties"]["state"]


def test_a_well_observed_closed_set_is_an_enum(tmp_path):
    doc = _export(tmp_path, [("GET", f"https://api.example.com/issues/{i}", 200,
                              {"id": i, "state": ["open", "closed"][i % 2]}) for i in range(1, 31)])
    assert _issue_schema(doc)["state"]["enum"] == ["closed", "open"]


def test_observed_bounds_come_back_for_mocks_never_as_a_contract():
    from mimic_addon.model.from_jsonschema import to_schema_node

    node = to_schema_node({"type": "object", "properties": {
        "id": {"type": "integer", "x-mimic-observed-bounds": {"minimum": 1, "maximum": 5}},
        "code": {"type": "string", "x-mimic-observed-bounds": {"minLength": 2, "maxLength": 2}},
        "tags": {"type": "array", "items": {"type": "string"}, "x-mimic-observed-bounds": {"maxItems": 3}},
        "n": {"type": "integer", "minimum": 0, "x-mimic-observed-bounds": {"minimum": 7, "maximum": 9}}}})
    props = node.properties()
    assert (props["id"].num_min, props["id"].num_max) == (1, 5)  # what mocks stay within
    assert (props["code"].str_min, props["code"].str_max) == (2, 2)
    assert props["tags"].arr_max == 3
    schema = node.to_json_schema()["properties"]
    assert not {"minimum", "maximum"} & set(schema["id"]) and not {"minLength", "maxLength"} & set(schema["code"])
    assert "maxItems" not in schema["tags"]
    assert schema["n"]["minimum"] == 0 and "maximum" not in schema["n"]  # a declared bound wins and stays one
