"""`mimic import openapi`: JSON Schema -> SchemaNode, spec -> endpoints and templates, mocks before any
traffic, drift armed at once for imported endpoints, and the corpus round trip / design-first scores."""
from __future__ import annotations

import importlib.util
import json
import random
import re
import sys
from pathlib import Path

import jsonschema
import pytest
from faker import Faker

from mimic_addon import cli
from mimic_addon.imports.openapi_import import SpecError, apply_plan, load_spec, plan_import
from mimic_addon.learn.brain import Brain
from mimic_addon.learn.learner import Learner
from mimic_addon.learn.observation import Body, Observation
from mimic_addon.model.from_jsonschema import SPEC_COUNT, SchemaImportError, to_schema_node
from mimic_addon.model.pattern_shape import pattern_shape
from mimic_addon.model.schema import SchemaNode
from mimic_addon.serve.mock import Mocker, context_for
from mimic_addon.serve.synth import Context, compile_plan, generate
from mimic_addon.store import Store

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
FAKE = Faker()
CHECK = jsonschema.FormatChecker()


def mocks(node: SchemaNode, n: int = 40):
    plan = compile_plan(node)
    for seed in range(n):
        FAKE.seed_instance(seed)
        yield generate(plan, Context(), random.Random(seed), FAKE)


def assert_mocks_valid(schema: dict, node: SchemaNode, validator=jsonschema.Draft202012Validator, n: int = 40):
    v = validator(schema, format_checker=CHECK)
    for body in mocks(node, n):
        errors = list(v.iter_errors(body))
        assert not errors, f"{body!r}: {jsonschema.exceptions.best_match(errors).message}"


# -- JSON Schema -> SchemaNode -------------------------------------------------------------------------
USER = {
    "type": "object",
    "required": ["id", "name", "status"],
    "properties": {
        "id": {"type": "integer", "minimum": 1, "maximum": 10_000},
        "name": {"type": "string", "minLength": 2, "maxLength": 30},
        "email": {"type": "string", "format": "email"},
        "status": {"type": "string", "enum": ["active", "banned"]},
        "nick": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    },
    "additionalProperties": False,
}


def test_required_optional_types_and_facets_become_the_node():
    node = to_schema_node(USER)
    assert node.count == SPEC_COUNT
    props = node.properties()
    assert {k for k, c in props.items() if c.count >= node.object_count} == {"id", "name", "status"}
    assert props["nick"].type_counts().keys() == {"string", "null"}
    assert props["email"].string_format() == "email"
    assert props["status"].enum_values() == ["active", "banned"]
    assert props["name"].enum_seen() is None  # free text: open, never an enum
    out = node.to_json_schema()
    assert out["required"] == ["id", "name", "status"]
    assert out["properties"]["id"]["minimum"] == 1 and out["properties"]["id"]["maximum"] == 10_000
    assert out["properties"]["tags"]["maxItems"] == 3
    assert_mocks_valid(USER, node)


def test_free_strings_stay_open_when_traffic_brings_few_values():
    node = to_schema_node({"type": "object", "properties": {"model": {"type": "string"}}})
    for _ in range(20):
        node.observe({"model": "gpt-4o"})
    assert node.properties()["model"].enum_values() is None  # one value seen 20 times is no contract


def test_observed_values_of_an_export_are_replayed_by_mocks_but_are_no_contract():
    learned = SchemaNode()
    for value in ("gpt-4o", "gpt-4o-mini", "o3"):  # each seen once: no enum, yet mocks replay them
        learned.observe(value)
    exported = learned.to_json_schema()
    node = to_schema_node(exported)
    assert node.enum_observed() == learned.enum_observed() == ["gpt-4o", "gpt-4o-mini", "o3"]
    assert {m for m in mocks(node)} <= {"gpt-4o", "gpt-4o-mini", "o3"}
    assert node.enum_values() is None and "enum" not in node.to_json_schema()  # drift judges no enum
    node.observe("gpt-5")  # a new value is no drift, and stays an observed value
    assert node.enum_values() is None and "gpt-5" in node.to_json_schema()["examples"]
    # plain `examples` of a spec are no observed set: free text, as before
    assert to_schema_node({"type": "string", "examples": ["a", "b"]}).enum_observed() is None


def test_large_declared_enums_mock_from_their_values_and_export_as_enums():
    values = [f"value_{i:03d}" for i in range(40)]  # more than the enum a learner would emit or track
    node = to_schema_node({"type": "string", "enum": values})
    assert set(mocks(node)) <= set(values)
    assert node.to_json_schema()["enum"] == values
    node.observe("value_007")  # a declared value keeps the set
    merged = SchemaNode()
    merged.observe("value_001")
    merged.merge(node)
    assert merged.enum_values() == values


def test_default_bounds_of_an_import_are_not_exported():
    out = to_schema_node({"type": "object", "properties": {
        "name": {"type": "string"}, "code": {"type": "string", "maxLength": 8},
        "tags": {"type": "array", "items": {"type": "string"}},
        "n": {"type": "integer", "minimum": 1}}}).to_json_schema()["properties"]
    assert "maxLength" not in out["name"] and "minLength" not in out["name"]
    assert out["code"]["maxLength"] == 8
    assert "minItems" not in out["tags"] and "maxItems" not in out["tags"]
    assert out["n"]["minimum"] == 1 and "maximum" not in out["n"]


def test_openapi30_nullable_and_31_type_lists():
    assert to_schema_node({"type": "integer", "nullable": True}).type_counts().keys() == {"integer", "null"}
    assert to_schema_node({"type": ["boolean", "null"]}).type_counts().keys() == {"boolean", "null"}
    ref_nullable = {"$ref": "#/components/schemas/N", "nullable": True}
    doc = {"components": {"schemas": {"N": {"type": "string"}}}}
    assert to_schema_node(ref_nullable, doc).type_counts().keys() == {"string", "null"}


def test_local_refs_and_recursion_terminate():
    doc = {"components": {"schemas": {
        "Tree": {"type": "object", "required": ["value"], "properties": {
            "value": {"type": "integer"},
            "parent": {"$ref": "#/components/schemas/Tree"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}},
        "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
        "B": {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/A"}}},
    }}}
    tree = to_schema_node({"$ref": "#/components/schemas/Tree"}, doc)
    depth, node = 0, tree
    while node is not None and node.properties() and "parent" in node.properties():
        node, depth = node.properties()["parent"], depth + 1
    assert 1 <= depth <= 3  # expanded a bounded number of times, then cut
    resolved = {"$defs": doc["components"]["schemas"], **_rebased(doc["components"]["schemas"]["Tree"])}
    assert_mocks_valid(resolved, tree)
    to_schema_node({"$ref": "#/components/schemas/A"}, doc)  # mutual recursion terminates too


def _rebased(schema):
    """The same schema with `#/components/schemas/X` refs pointing at `#/$defs/X` (for jsonschema)."""
    return json.loads(json.dumps(schema).replace("#/components/schemas/", "#/$defs/"))


def test_allof_is_merged():
    doc = {"components": {"schemas": {"Base": {"type": "object", "required": ["id"],
                                               "properties": {"id": {"type": "string", "format": "uuid"}}}}}}
    schema = {"allOf": [{"$ref": "#/components/schemas/Base"},
                        {"type": "object", "required": ["size"], "properties": {"size": {"type": "integer", "minimum": 3}}}]}
    node = to_schema_node(schema, doc)
    out = node.to_json_schema()
    assert out["required"] == ["id", "size"] and out["properties"]["id"]["format"] == "uuid"
    assert out["properties"]["size"]["minimum"] == 3


def test_oneof_with_const_tags_becomes_variants_and_mocks_pick_one():
    schema = {"oneOf": [
        {"type": "object", "required": ["type", "text"], "additionalProperties": False,
         "properties": {"type": {"const": "text"}, "text": {"type": "string"}}},
        {"type": "object", "required": ["type", "image_url"], "additionalProperties": False,
         "properties": {"type": {"type": "string", "enum": ["image"]}, "image_url": {"type": "string", "format": "uri"}}},
    ]}
    node = to_schema_node(schema)
    assert [tag for tag, _ in node.active_variants()] == ["image", "text"]
    seen = {body["type"] for body in mocks(node)}
    assert seen == {"text", "image"}
    assert_mocks_valid(schema, node)


def test_discriminator_mapping_tags_variants_without_consts():
    doc = {"components": {"schemas": {
        "Cat": {"type": "object", "required": ["type", "meows"],
                "properties": {"type": {"type": "string"}, "meows": {"type": "boolean"}}},
        "Dog": {"type": "object", "required": ["type", "barks"],
                "properties": {"type": {"type": "string"}, "barks": {"type": "integer"}}},
    }}}
    schema = {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
              "discriminator": {"propertyName": "type", "mapping": {"cat": "#/components/schemas/Cat"}}}
    node = to_schema_node(schema, doc)
    variants = dict(node.active_variants())
    assert set(variants) == {"cat", "Dog"}  # explicit mapping, else the schema's name
    for body in mocks(node):
        assert ("meows" in body) == (body["type"] == "cat") and ("barks" in body) == (body["type"] == "Dog")


def test_anyof_scalars_is_a_type_union():
    node = to_schema_node({"anyOf": [{"type": "string"}, {"type": "integer"}]})
    assert node.type_counts().keys() == {"string", "integer"}


def test_typeless_items_list_reads_as_alternatives():
    # Slack's spec writes "one of these objects" as a typeless tuple `items`
    schema = {"items": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                        {"type": "object", "properties": {"b": {"type": "integer"}}}]}
    node = to_schema_node(schema)
    assert node.type_counts().keys() == {"object"} and set(node.properties()) == {"a", "b"}


def test_pattern_shapes_make_matching_mocks():
    schema = {"type": "object", "required": ["user", "day"], "properties": {
        "user": {"type": "string", "pattern": "^[UW][A-Z0-9]{8,}$"},
        "day": {"type": "string", "pattern": r"^\d{8}$"}}}
    assert_mocks_valid(schema, to_schema_node(schema))
    assert pattern_shape("^[^a]+$") is None and pattern_shape("(") is None


def test_bad_refs_are_clear_errors():
    with pytest.raises(SchemaImportError, match="external \\$ref"):
        to_schema_node({"$ref": "other.yaml#/Pet"}, {})
    with pytest.raises(SchemaImportError, match="does not resolve"):
        to_schema_node({"$ref": "#/components/schemas/Missing"}, {"components": {}})
    with pytest.raises(SchemaImportError, match="unknown type"):
        to_schema_node({"type": "strnig"})


# -- spec -> endpoints ------------------------------------------------------------------------------------
PETS = {
    "openapi": "3.0.3",
    "info": {"title": "Pets", "version": "1.2.0"},
    "servers": [{"url": "https://api.pets.test/v1"}],
    "paths": {
        "/pets": {
            "get": {"operationId": "listPets",
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {
                        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}}}}},
            "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
                     "responses": {"201": {"$ref": "#/components/responses/OnePet"}}},
        },
        "/pets/{petId}": {
            "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"responses": {"200": {"$ref": "#/components/responses/OnePet"},
                                  "404": {"description": "missing", "content": {"application/json": {
                                      "schema": {"type": "object", "properties": {"error": {"type": "string"}}}}}}}},
        },
        "/pets/mine": {"get": {"responses": {"200": {"$ref": "#/components/responses/OnePet"}}}},
    },
    "components": {
        "schemas": {"Pet": {"type": "object", "required": ["id", "name"], "properties": {
            "id": {"type": "integer", "format": "int64"}, "name": {"type": "string"},
            "tag": {"type": "string", "nullable": True},
            "kind": {"type": "string", "enum": ["cat", "dog"]}}}},
        "responses": {"OnePet": {"description": "a pet", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Pet"}, "example": {"id": 7, "name": "Rex"}}}}},
    },
}
PET_SCHEMA = {"type": "object", "required": ["id", "name"], "properties": {
    "id": {"type": "integer"}, "name": {"type": "string"}, "tag": {"type": ["string", "null"]},
    "kind": {"type": "string", "enum": ["cat", "dog"]}}}


def imported_brain(spec=PETS, **kw) -> Brain:
    brain = Brain()
    apply_plan(brain, plan_import(json.loads(json.dumps(spec)), source="pets.json", **kw))
    return brain


def test_plan_keeps_spec_parameter_names_and_marks_endpoints_imported():
    brain = imported_brain()
    rows = {(ep.method, brain.template(ep)): ep for ep in brain.endpoints()}
    assert set(rows) == {("GET", "/v1/pets"), ("POST", "/v1/pets"), ("GET", "/v1/pets/{petId}"),
                         ("GET", "/v1/pets/mine")}
    ep = rows[("GET", "/v1/pets/{petId}")]
    assert ep.host == "api.pets.test"
    assert ep.imported["title"] == "Pets" and ep.imported["path"] == "/pets/{petId}"
    assert ep.imported["statuses"] == ["200", "404"]
    assert ep.examples["200"] == {"id": 7, "name": "Rex"}
    assert rows[("POST", "/v1/pets")].request.properties().keys() == {"id", "name", "tag", "kind"}
    assert rows[("GET", "/v1/pets")].query["limit"].type_counts() == {"integer": SPEC_COUNT - 1}


def test_mock_answers_before_any_traffic():
    brain = imported_brain()
    mocker = Mocker()
    host = brain.hosts["api.pets.test"]
    for path, schema in (("/v1/pets/42", PET_SCHEMA), ("/v1/pets", {"type": "array", "items": PET_SCHEMA})):
        skeleton = host.tree.match("GET", path.strip("/").split("/"))
        ep = host.endpoints[("GET", skeleton)]
        for seed in range(10):
            ctx = context_for(brain.template(ep), path.strip("/").split("/"), {}, None)
            answer = mocker.answer(ep, ctx, "happy", seed)
            assert answer.status == 200 and answer.content_type == "application/json"
            jsonschema.validate(json.loads(answer.body), schema)


def test_host_and_base_path_from_servers_or_override():
    assert plan_import(PETS).host == "api.pets.test" and plan_import(PETS).base_path == "/v1"
    local = plan_import(PETS, host="http://127.0.0.1:8001")
    assert (local.host, local.scheme, local.base_path) == ("127.0.0.1:8001", "http", "/v1")
    assert plan_import(PETS, host="localhost:8443").host == "localhost:8443"
    templated = {**PETS, "servers": [{"url": "{proto}://{region}.pets.test/v2",
                                      "variables": {"proto": {"default": "http"}, "region": {"default": "eu"}}}]}
    assert (plan_import(templated).host, plan_import(templated).scheme) == ("eu.pets.test", "http")
    relative = {**PETS, "servers": [{"url": "/api"}]}
    with pytest.raises(SpecError, match="--host"):
        plan_import(relative)
    assert plan_import(relative, host="pets.local").base_path == "/api"
    swagger = {"swagger": "2.0", "host": "slack.test", "basePath": "/api", "schemes": ["https"],
               "paths": {"/chat.postMessage": {"post": {"responses": {"200": {"schema": {
                   "type": "object", "properties": {"ok": {"type": "boolean"}}}}}}}}}
    plan = plan_import(swagger)
    assert (plan.host, plan.base_path, len(plan.operations)) == ("slack.test", "/api", 1)


def test_bad_specs_are_clear_errors(tmp_path: Path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.0.0\npaths: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)
    bad.write_text("{\"openapi\": ")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(bad)
    bad.write_text("hello: world\n")
    with pytest.raises(SpecError, match="not an OpenAPI"):
        load_spec(bad)
    bad.write_text("openapi: 3.1.0\ninfo: {title: x}\n")
    with pytest.raises(SpecError, match="paths"):
        load_spec(bad)
    external = json.loads(json.dumps(PETS))
    external["paths"]["/pets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "$ref": "https://example.com/pet.json"}
    with pytest.raises(SpecError, match=r"GET /pets: external \$ref"):
        plan_import(external)


def test_cli_import_saves_and_marks_endpoints(tmp_path: Path, capsys):
    spec, db = tmp_path / "pets.yaml", str(tmp_path / "m.db")
    import yaml

    spec.write_text(yaml.safe_dump(PETS))
    assert cli.main(["import", "openapi", str(spec), "--db", db]) == 0
    assert "imported 4 operations" in capsys.readouterr().err
    assert cli.main(["endpoints", "--db", db]) == 0
    out = capsys.readouterr().out
    assert re.search(r"GET\s+/v1/pets/\{petId\}\s+0\s.*\bspec$", out, re.M)
    assert cli.main(["import", "openapi", str(tmp_path / "nope.yaml"), "--db", db]) == 1
    assert "no such file" in capsys.readouterr().err
    # stored and reloaded: names, imported marks and schemas survive
    store = Store(db)
    brain = Brain()
    brain.load(store.load())
    store.close()
    ep = next(e for e in brain.endpoints() if brain.template(e) == "/v1/pets/{petId}")
    assert ep.imported["operation_id"] is None and ep.responses["200"].count == SPEC_COUNT
    # importing again replaces endpoints that saw no traffic (no double counts)
    assert cli.main(["import", "openapi", str(spec), "--db", db]) == 0
    store = Store(db)
    brain.load(store.load())
    store.close()
    ep = next(e for e in brain.endpoints() if brain.template(e) == "/v1/pets/{petId}")
    assert ep.responses["200"].count == SPEC_COUNT and len(brain.endpoints()) == 4


# -- traffic after the import: refinement and drift ------------------------------------------------------
def obs(path: str, body, status: int = 200, method: str = "GET", ts: float = 1.0) -> Observation:
    raw = json.dumps(body).encode()
    return Observation(host="api.pets.test", scheme="https", method=method, target=path,
                       request=Body(b"", "", "", 0), status=status,
                       response=Body(raw, "", "application/json", len(raw)), latency_ms=20.0, ts=ts)


def test_traffic_routes_to_declared_templates_and_refines_them():
    brain = imported_brain()
    ep = brain.learn(obs("/v1/pets/fluffy", {"id": 1, "name": "Fluffy", "kind": "cat", "age": 3}))
    assert brain.template(ep) == "/v1/pets/{petId}"  # a name, no detector: the spec says it is the parameter
    assert brain.template(brain.learn(obs("/v1/pets/mine", {"id": 2, "name": "Mine"}))) == "/v1/pets/mine"
    assert ep.stats.count == 1 and ep.imported is not None
    node = ep.responses["200"]
    assert node.count == SPEC_COUNT + 1 and "age" in node.properties()  # learned, as an optional field
    assert node.properties()["age"].count < node.object_count


def test_drift_is_armed_at_once_for_imported_endpoints():
    brain = imported_brain()
    learner = Learner(brain, None)
    reports = []
    learner.report = lambda alert, new, opened: reports.append((alert, [c.kind for c in new]))
    learner.learn_batch([obs("/v1/pets/1", {"id": 1, "name": "Rex"})])
    assert reports == []  # conforms to the spec
    learner.learn_batch([obs("/v1/pets/2", {"id": 2})])  # the 2nd response ever: `name` is required
    learner.learn_batch([obs("/v1/pets/3", {"id": "three", "name": "X"})])
    kinds = [k for _, ks in reports for k in ks]
    assert "missing_field" in kinds and "type_changed" in kinds
    alert = reports[0][0]
    assert alert.template == "/v1/pets/{petId}" and alert.label == "BREAKING"
    ep = brain.hosts["api.pets.test"].endpoints[("GET", "/v1/pets/{}")]
    assert ep.responses["200"].count == SPEC_COUNT + 1  # the drifted bodies were withheld
    learner.learn_batch([obs("/v1/pets/4", {"id": 4, "name": "Y", "kind": "lizard"})])
    assert "new_enum_value" in reports[-1][1]


def test_without_an_import_the_same_traffic_is_still_learning():
    brain = Brain()
    learner = Learner(brain, None)
    reports = []
    learner.report = lambda alert, new, opened: reports.append(alert)
    learner.learn_batch([obs("/v1/pets/1", {"id": 1, "name": "Rex"}), obs("/v1/pets/2", {"id": 2}),
                         obs("/v1/pets/3", {"id": "three", "name": "X"})])
    assert reports == []


def test_import_after_learning_folds_learned_literals_into_declared_parameters():
    brain = Brain()
    for name in ("alice", "bob"):
        brain.learn(obs(f"/v1/pets/{name}", {"id": 1, "nick": name}))
    assert {brain.template(e) for e in brain.endpoints()} == {"/v1/pets/alice", "/v1/pets/bob"}
    apply_plan(brain, plan_import(PETS))
    ep = next(e for e in brain.endpoints() if brain.template(e) == "/v1/pets/{petId}")
    assert ep.stats.count == 2 and ep.imported is not None  # what was learned joined the declared endpoint
    assert not any(brain.template(e).endswith(("alice", "bob")) for e in brain.endpoints())


# -- the public corpus: round trip and design first ------------------------------------------------------
def _bench():
    """bench/roundtrip_validity.py (it measures; the tests assert on its numbers)."""
    if "roundtrip_validity" not in sys.modules:
        spec = importlib.util.spec_from_file_location("roundtrip_validity", REPO / "bench" / "roundtrip_validity.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["roundtrip_validity"] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["roundtrip_validity"]


needs_corpus = pytest.mark.skipif(not (CORPUS / "specs" / "manifest.json").is_file(),
                                  reason="the public corpus (../shared/corpus) is not here")
ROUND_TRIP_MARGIN = 0.03
DESIGN_FIRST_MIN = {"petstore": 0.98, "pokeapi": 0.98, "slack": 0.92, "openai": 0.92}
SPECS = ["petstore", "pokeapi", "slack", "openai"]


@pytest.fixture(scope="module")
def corpus_scores(tmp_path_factory):
    bench = _bench()
    cache: dict[str, dict] = {}

    def scores(sid: str) -> dict:
        if sid not in cache:
            [entry] = bench.corpus_entries(CORPUS, lambda s: s == sid)
            cache[sid] = bench.measure(CORPUS, entry, tmp_path_factory.mktemp(sid), per=3)
        return cache[sid]
    return scores


@needs_corpus
@pytest.mark.parametrize("sid", SPECS)
def test_round_trip_mocks_are_nearly_as_valid_as_direct_ones(sid, corpus_scores):
    s = corpus_scores(sid)
    direct, roundtrip = s["direct"], s["roundtrip"]
    assert roundtrip.endpoints == direct.endpoints > 0  # every learned endpoint survived export + import
    assert roundtrip.rate >= direct.rate - ROUND_TRIP_MARGIN, (direct.rate, roundtrip.rate)


@needs_corpus
@pytest.mark.parametrize("sid", ["petstore", "pokeapi", "slack", "openai"])
def test_design_first_mocks_validate_against_the_spec(sid, corpus_scores):
    design = corpus_scores(sid)["design"]
    assert design.endpoints > 0
    assert design.rate >= DESIGN_FIRST_MIN[sid], (design.rate, design.failures.most_common(5))


FILES_SPEC = {
    "openapi": "3.0.3", "info": {"title": "Files", "version": "1"},
    "servers": [{"url": "https://files.test"}],
    "paths": {
        "/sites/{site_id}/files/{file_path}": {"get": {
            "parameters": [{"name": "site_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "file_path", "in": "path", "required": True, "x-multi-segment": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "a file", "content": {"application/json": {"schema": {
                "type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}}}}}}}},
        "/sites/{site_id}/files/{+file_path}/meta": {"get": {"responses": {"200": {"description": "x"}}}},
    },
}


def test_a_multi_segment_parameter_takes_the_rest_of_the_path_and_exports_back():
    """`x-multi-segment: true` (or RFC 6570's `{+file_path}`) on the last path parameter: it takes
    the rest of the path, slashes and all; the mock echoes it whole; the export marks it again.
    Not the last one: a clear error."""
    from mimic_addon.export.openapi import from_brain

    spec = {**FILES_SPEC, "paths": {k: v for k, v in FILES_SPEC["paths"].items() if not k.endswith("/meta")}}
    brain = imported_brain(spec)
    host = brain.hosts["files.test"]
    parts = "sites/s1/files/docs/guide/setup.md".split("/")
    skeleton = host.tree.match("GET", parts)
    assert skeleton == "/sites/{}/files/{+}"
    ep = host.endpoints[("GET", skeleton)]
    assert brain.template(ep) == "/sites/{site_id}/files/{+file_path}"
    ctx = context_for(brain.template(ep), parts, {}, None)
    assert ctx.params == {"site_id": "s1", "file_path": "docs/guide/setup.md"}
    doc = from_brain(brain)
    (param,) = [p for p in doc["paths"]["/sites/{site_id}/files/{file_path}"]["get"]["parameters"]
                if p["name"] == "file_path"]
    assert param["x-multi-segment"] is True
    # beside a longer template through the same parameter (`.../{+file_path}/meta`, where `{+...}` not
    # last is one segment, as Google's APIs write `/v1/{+parent}/instances`), it takes one segment
    brain = imported_brain(FILES_SPEC)
    assert sorted(s for _, s in brain.hosts["files.test"].endpoints) == ["/sites/{}/files/{}", "/sites/{}/files/{}/meta"]


def test_a_declared_parameter_taking_the_rest_of_the_path_takes_in_what_traffic_learned_below_it():
    """Learned `/files/1000/meta` ... then a spec says `/files/{path}` takes the rest of the path: the
    learned endpoint joins the declared one (no endpoint left that nothing routes to)."""
    spec = {"openapi": "3.0.3", "info": {"title": "f", "version": "1"}, "servers": [{"url": "https://api.example.com"}],
            "paths": {"/files/{path}": {"get": {"parameters": [
                {"name": "path", "in": "path", "required": True, "x-multi-segment": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}}}}}}
    brain = Brain()
    for i in range(5):
        body = b'{"id": 1, "size": 3}'
        brain.learn(Observation(host="api.example.com", scheme="https", method="GET", target=f"/files/{1000 + i}/meta",
                                request=Body(b"", "", "", 0), status=200,
                                response=Body(body, "", "application/json", len(body)), latency_ms=5.0, ts=1.0))
    apply_plan(brain, plan_import(spec))
    (host,) = brain.hosts.values()
    assert sorted(host.endpoints) == [("GET", "/files/{+}")]
    assert host.endpoints[("GET", "/files/{+}")].stats.count == 5
    assert host.tree.match("GET", ["files", "1005", "meta"]) == "/files/{+}"


def test_google_style_reserved_expansion_in_the_middle_is_one_segment():
    spec = {"openapi": "3.0.3", "info": {"title": "g", "version": "1"}, "servers": [{"url": "https://g.test"}],
            "paths": {"/v1/{+name}": {"get": {"responses": {"200": {"description": "ok"}}}},
                      "/v1/{+parent}/instances": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    brain = imported_brain(spec)
    assert sorted(s for _, s in brain.hosts["g.test"].endpoints) == ["/v1/{}", "/v1/{}/instances"]


def test_a_spec_of_one_segment_templates_takes_over_a_learned_parameter_taking_the_rest_of_the_path():
    """Learned `/files/{+file_path}`, then a spec says `/files/{file_id}/versions` (and so one segment
    there): the spec decides; what was learned under the tail is re-keyed, nothing left unreachable."""
    brain = Brain()
    files = ["src/app.py", "docs/README.md", ".github/workflows/ci.yml", "lib/index.js", "cmd/server/main.go"]
    for i in range(60):
        body = b'{"path": "x", "size": 3}'
        brain.learn(Observation(host="api.example.com", scheme="https", method="GET",
                                target=f"/files/{files[i % len(files)]}", request=Body(b"", "", "", 0), status=200,
                                response=Body(body, "", "application/json", len(body)), latency_ms=5.0, ts=1.0))
    brain.settle()
    (host,) = brain.hosts.values()
    assert sorted(host.endpoints) == [("GET", "/files/{+}")]
    spec = {"openapi": "3.0.3", "info": {"title": "f", "version": "1"}, "servers": [{"url": "https://api.example.com"}],
            "paths": {"/files/{file_id}/versions": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    apply_plan(brain, plan_import(spec))
    assert all(host.tree.holds(m, s) for m, s in host.endpoints)
    assert host.tree.match("GET", ["files", "abc", "versions"]) == "/files/{}/versions"
    assert sum(ep.stats.count for ep in host.endpoints.values()) == 60


def test_read_only_fields_are_not_asked_of_requests_nor_write_only_ones_answered():
    """A schema shared by a request body and an answer (as OpenAPI means `readOnly` / `writeOnly`, and as
    Prism reads them): `id` is the server's (no request needs it), `password` the client's (no answer has it)."""
    user = {"type": "object", "required": ["id", "name", "password"], "properties": {
        "id": {"type": "integer", "readOnly": True}, "name": {"type": "string"},
        "password": {"$ref": "#/components/schemas/Secret"}}}
    spec = {"openapi": "3.0.3", "info": {"title": "u", "version": "1"}, "servers": [{"url": "https://u.test"}],
            "paths": {"/users": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}},
                "responses": {"201": {"description": "made", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/User"}}}}}}}},
            "components": {"schemas": {"User": user, "Secret": {"type": "string", "writeOnly": True}}}}
    [ep] = imported_brain(spec).endpoints()
    assert set(ep.request.properties()) == {"name", "password"}
    assert set(ep.responses["201"].properties()) == {"id", "name"}


def test_a_declared_closed_object_stays_closed_until_traffic_shows_another_field():
    from mimic_addon.model.from_jsonschema import to_schema_node
    node = to_schema_node({"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}})
    assert node.to_json_schema()["additionalProperties"] is False
    node.observe({"a": "x"})
    assert node.to_json_schema()["additionalProperties"] is False
    node.observe({"a": "x", "b": 1})
    assert "additionalProperties" not in node.to_json_schema()


def test_a_closed_object_merged_with_one_holding_another_field_is_not_closed():
    from mimic_addon.model.from_jsonschema import to_schema_node
    from mimic_addon.model.schema import SchemaNode
    declared = to_schema_node({"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}})
    same, other = SchemaNode(), SchemaNode()
    same.observe({"a": "x"})
    other.observe({"a": "x", "b": 1})
    kept = to_schema_node({"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}})
    kept.merge(same)
    assert kept.to_json_schema()["additionalProperties"] is False
    declared.merge(other)
    assert "additionalProperties" not in declared.to_json_schema()
    other.merge(kept)  # (the learned side first: the closed one adds nothing it lacks, but it held `b`)
    assert "additionalProperties" not in other.to_json_schema()


def test_pattern_properties_beside_a_closed_object_leave_it_open():
    from mimic_addon.model.from_jsonschema import to_schema_node
    node = to_schema_node({"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}},
                           "patternProperties": {"^x-": {"type": "string"}}})
    assert "additionalProperties" not in node.to_json_schema()


def test_a_write_only_beside_a_ref_is_write_only():
    spec = {"openapi": "3.1.0", "info": {"title": "u", "version": "1"}, "servers": [{"url": "https://u.test"}],
            "paths": {"/users": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "password": {"$ref": "#/components/schemas/Plain", "writeOnly": True}}}}}},
                "responses": {"201": {"description": "made"}}}}},
            "components": {"schemas": {"Plain": {"type": "string"}}}}
    [ep] = imported_brain(spec).endpoints()
    assert ep.imported["write_only"] == ["password"]
