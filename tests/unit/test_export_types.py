"""JSON Schema, TypeScript and Pydantic exports of a learned Brain: valid, typed, safe with hostile
keys, unique names, and the same bytes for the same store.

The TypeScript checks run the real compiler (`tsc --strict`); they skip when node_modules has no
tsc, except under CI=true, where that is a failure.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from mimic_addon.cli import _open_brain
from mimic_addon.export import EXPORTERS, ExportRequest, jsonschema_doc, pydantic_models, typescript
from mimic_addon.export.jsonschema_doc import INDEX
from mimic_addon.learn.brain import Brain
from mimic_addon.learn.capture import CaptureReader
from mimic_addon.learn.learner import Learner
from mimic_addon.learn.observation import Body, Observation
from mimic_addon.store import Store

REPO = Path(__file__).resolve().parents[2]
TSC = REPO / "node_modules" / ".bin" / "tsc"
CORPUS = REPO.parent / "shared" / "corpus" / "traffic"

# Keys a stranger's API may send: quotes, comment ends, newlines, unicode, a lone surrogate, names
# that are Python or JavaScript specials, two keys that make the same identifier, a JSON Schema word.
HOSTILE = {"class": 1, 'quo"te': "x", "end*/comment": True, "new\nline": None, "ünï": 2.5, "\ud800lone": "s",
           "__proto__": 1, "constructor": "c", "": "empty", "1abc": 3, "a-b": 1, "a_b": 2, "$ref": "r",
           "model_config": False, "back\\slash": "b", "'single'": "q"}


def obs(method: str, path: str, status: int, body: Any = None, query=(), request: Any = None,
        host: str = "api.example.com", media: str | None = None) -> Observation:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    req = json.dumps(request).encode() if request is not None else b""
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    return Observation(
        host=host, scheme="https", method=method, target=target,
        request=Body(req, "", "application/json" if req else "", len(req)),
        status=status, response=Body(raw, "", media or ("application/json" if raw else ""), len(raw)),
        latency_ms=12.5, ts=1_700_000_000.0,
    )


def learned() -> Brain:
    brain = Brain()
    for i in range(1, 8):
        brain.learn(obs("GET", f"/v1/users/{i}", 200, {
            "id": i, "email": f"u{i}@example.com", "nick": None if i % 2 else "ada",
            "status": ["active", "banned"][i % 2], "tags": ["x", "y"][: i % 3],
            "scores": {str(1000 + j): j for j in range(i + 3)}, "created": "2024-02-30T10:00:00Z"}))
    brain.learn(obs("GET", "/v1/users/77", 404, {"error": "not found"}))
    brain.learn(obs("DELETE", "/v1/users/3", 204))
    for i in range(4):
        brain.learn(obs("GET", "/v1/events", 200, [{"type": "text", "text": "hi"},
                                                   {"type": "image", "url": "https://x.y/z.png", "w": i}],
                        query=[("page", str(i))] + ([("q", "a")] if i % 2 else [])))
    brain.learn(obs("POST", "/v1/users", 201, {"id": 9}, request={"name": "Ada", "password": "hunter2"}))
    brain.learn(obs("GET", "/v1/hostile", 200, HOSTILE))
    brain.learn(obs("GET", '/v1/we"ird/x%0Ay*%2F', 200, {"ok": 1}))
    brain.learn(obs("GET", "/v1/page", 200, b"<html></html>", media="text/html"))
    for i in (1, 2):  # one number alone may be a name: two make the parameter
        brain.learn(obs("GET", f"/v1/users/{i}", 200, {"id": "one"}, host="other.example.com"))
    for path in ("/a-b", "/a_b", "/a/b"):  # three endpoints, one operationId
        brain.learn(obs("GET", path, 200, {"k": path}))
    # A nested model the generator would name `GetV2ThingsResponse200Request`, and a definition of that name.
    brain.learn(obs("GET", "/v2/things", 200, {"request": {"q": 1}}))
    brain.learn(obs("GET", "/v2/things.response200", 200, {"done": True}, request={"z": "s"}))
    return brain


@pytest.fixture(scope="module")
def brain() -> Brain:
    return learned()


@pytest.fixture(scope="module")
def doc(brain: Brain) -> dict:
    return jsonschema_doc.from_brain(brain)


def examples(brain: Brain, doc: dict) -> Iterator[tuple[str, str | None, Any]]:
    """(endpoint key, status or None for the request, example) of every example the brain keeps."""
    by_place = {(e["host"], e["method"], e["path"]): key for key, e in doc[INDEX].items()}
    for host in brain.hosts.values():
        for ep in host.endpoints.values():
            key = by_place[(ep.host, ep.method, host.tree.named(ep.skeleton))]
            if ep.request_example is not None:
                yield key, None, ep.request_example
            for code, example in ep.examples.items():
                yield key, code, example


def definition(doc: dict, key: str, code: str | None) -> str:
    entry = doc[INDEX][key]
    return entry["request"] if code is None else entry["responses"][code]["schema"]


def validator(doc: dict, name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": doc["$defs"]})


# -- JSON Schema -------------------------------------------------------------------------------------

def test_document_is_a_valid_2020_12_schema(doc: dict) -> None:
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"GetApiExampleComV1UsersByUserIdResponse200", "GetApiExampleComV1UsersByUserIdResponse404",
            "GetApiExampleComV1UsersByUserIdParams", "PostV1UsersRequest", "PostV1UsersResponse201",
            "GetV1EventsQuery", "GetV1EventsResponse200"} <= set(doc["$defs"])
    assert doc["$defs"]["GetV1EventsQuery"]["required"] == ["page"]  # `q` was absent from some requests


def test_index_points_at_each_endpoints_definitions(doc: dict) -> None:
    users = doc[INDEX]["GET api.example.com/v1/users/{user_id}"]  # two hosts have it: the key names the host
    assert users["params"] == "GetApiExampleComV1UsersByUserIdParams"
    assert doc["$defs"][users["params"]]["properties"] == {"user_id": {"type": "integer"}}
    assert [(c, r["schema"]) for c, r in users["responses"].items()] == [
        ("200", "GetApiExampleComV1UsersByUserIdResponse200"), ("404", "GetApiExampleComV1UsersByUserIdResponse404")]
    assert doc[INDEX]["DELETE /v1/users/{user_id}"]["responses"] == {"204": {"schema": None, "media": []}}
    assert doc[INDEX]["GET /v1/page"]["responses"]["200"] == {"schema": None, "media": ["text/html"]}
    names = [doc[INDEX][k]["name"] for k in ("GET /a-b", "GET /a/b", "GET /a_b")]
    assert names == ["GetAB", "GetAB2", "GetAB3"]
    refs = [r for e in doc[INDEX].values() for r in [e["params"], e["query"], e["request"]]
            + [x["schema"] for x in e["responses"].values()] if r]
    assert sorted(refs) == sorted(doc["$defs"])  # every definition is used once, none is missing


def test_examples_validate_against_their_definitions_and_wrong_types_do_not(brain: Brain, doc: dict) -> None:
    seen = 0
    for key, code, example in examples(brain, doc):
        validator(doc, definition(doc, key, code)).validate(example)
        seen += 1
    assert seen >= 12
    users = validator(doc, "GetApiExampleComV1UsersByUserIdResponse200")
    assert not users.is_valid({"id": "1", "email": "a@b.c", "nick": None, "status": "x", "tags": [], "scores": {},
                               "created": "2024-01-01T00:00:00Z"})
    assert not validator(doc, "GetV1EventsResponse200").is_valid([{"type": "video", "text": "hi"}])


def test_same_store_same_bytes(tmp_path: Path, brain: Brain) -> None:
    db = str(tmp_path / "m.db")
    store = Store(db)
    assert Learner(brain, store).flush()
    store.close()
    outputs = []
    for _ in range(2):
        store, loaded = _open_brain(db)
        outputs.append([EXPORTERS[k](ExportRequest(store=store, brain=loaded)).content
                        for k in ("jsonschema", "typescript", "pydantic")])
        store.close()
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == jsonschema_doc.dumps(jsonschema_doc.from_brain(brain))  # as learned, before saving
    assert all(isinstance(text, str) and text.isascii() for text in outputs[0][:1])


def test_host_filter(brain: Brain) -> None:
    doc = jsonschema_doc.from_brain(brain, "other.example.com")
    assert list(doc[INDEX]) == ["GET /v1/users/{user_id}"]
    assert list(doc["$defs"]) == ["GetV1UsersByUserIdParams", "GetV1UsersByUserIdResponse200"]


# -- TypeScript ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("schema", "expected"), [
    ({}, "unknown"),
    ({"type": ["string", "null"]}, "string | null"),
    ({"type": ["null", "integer"]}, "number | null"),
    ({"type": "string", "enum": ["a", 'b"c']}, '"a" | "b\\"c"'),
    ({"type": ["string", "null"], "enum": ["a", None]}, '"a" | null'),
    ({"type": "array", "items": {"type": "integer"}}, "number[]"),
    ({"type": "array", "items": {"type": ["string", "integer"]}}, "Array<string | number>"),
    ({"type": "array"}, "unknown[]"),
    ({"type": "object", "additionalProperties": {"type": "boolean"}}, "Record<string, boolean>"),
    ({"type": "object"}, "Record<string, unknown>"),
    ({"type": ["object", "null"], "oneOf": [{"properties": {"t": {"const": "a"}}, "required": ["t"]},
                                            {"type": "null"}]}, '{\n  t: "a";\n} | null'),
    ({"type": "object", "properties": {"ok": {}, "new\nline*/": {"type": "integer"}}, "required": ["ok"]},
     '{\n  ok: unknown;\n  "new\\nline*/"?: number;\n}'),
])
def test_typescript_expressions(schema: dict, expected: str) -> None:
    assert typescript.Emitter({}).type_of(schema) == expected


def test_typescript_declarations(doc: dict) -> None:
    ts = typescript.from_document(doc)
    assert "export interface GetApiExampleComV1UsersByUserIdResponse200 {\n" in ts
    # a word seen three times, two seen six: samples of open text, not a closed set (model/contract.py)
    assert '  nick: string | null;\n' in ts and '  tags: string[];\n' in ts
    assert "  scores: Record<string, number>;\n" in ts
    assert 'export type GetV1EventsResponse200 = Array<{\n  type: "image";' in ts
    assert '  "quo\\"te": string;\n' in ts and '  "new\\nline": null;\n' in ts and '  "\\ud800lone": string;\n' in ts
    assert '  "GET /v1/we%22ird/x%0Ay*%2F": {\n' in ts
    assert "    request: undefined;\n    responses: {\n      204: undefined;\n" in ts
    assert "      200: unknown;\n" in ts  # the HTML page
    # nothing learned in comments: the only comment lines are the fixed ones
    comments = [line for line in ts.splitlines() if line.lstrip().startswith(("//", "/*"))]
    assert comments == typescript.HEADER.splitlines() + [
        "/** Every learned endpoint: path parameters, query, request body and response body by status. */"]
    assert ts.isascii()


def tsc(tmp_path: Path, files: dict[str, str]) -> subprocess.CompletedProcess:
    """`tsc --strict --noEmit` over these files; skips without tsc (fails under CI=true)."""
    if not TSC.exists():
        message = f"no TypeScript compiler at {TSC} (npm install)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return subprocess.run([str(TSC), "--strict", "--noEmit", "--target", "es2020", "--module", "commonjs",
                           "--lib", "es2020", "--skipLibCheck", *(str(tmp_path / n) for n in files)],
                          capture_output=True, text=True, timeout=300, check=False)


def typed_examples(brain: Brain, doc: dict) -> str:
    """A module assigning every learned example to its TypeScript type, and values of wrong types
    that the compiler must refuse (`@ts-expect-error` fails the build if there is no error)."""
    lines = ['import type { Endpoints } from "./api";']
    for i, (key, code, example) in enumerate(examples(brain, doc)):
        place = '["request"]' if code is None else f'["responses"][{code}]'
        lines.append(f"export const ex{i}: Endpoints[{json.dumps(key)}]{place} = {json.dumps(example)};")
    return "\n".join(lines) + "\n"


def test_typescript_compiles_and_types_every_example(tmp_path: Path, brain: Brain, doc: dict) -> None:
    wrong = """
import type { Endpoints, GetApiExampleComV1UsersByUserIdResponse200 as User } from "./api";
import type { GetV1EventsResponse200, GetV1HostileResponse200 } from "./api";
type Users = Endpoints["GET api.example.com/v1/users/{user_id}"];
// @ts-expect-error: id is a number
export const w1: User = { id: "7", email: "a@b.c", nick: null, status: "banned", tags: [], scores: {}, created: "" };
// @ts-expect-error: email is required
export const w2: Users["responses"][200] = { id: 7, nick: null, status: "banned", tags: [], scores: {}, created: "" };
// @ts-expect-error: no such variant
export const w3: GetV1EventsResponse200 = [{ type: "video", text: "hi" }];
// @ts-expect-error: no such endpoint
export type W4 = Endpoints["GET /nowhere"];
// @ts-expect-error: no such status
export type W5 = Users["responses"][500];
export const q: Users["params"] = { user_id: 3 };
export const tags: Users["responses"][200]["tags"] = ["x", "y"];
export function read(h: GetV1HostileResponse200): [number, string, null, boolean] {
  return [h.class, h['quo"te'], h["new\\nline"], h["end*/comment"]];
}
"""
    result = tsc(tmp_path, {"api.ts": typescript.from_document(doc), "examples.ts": typed_examples(brain, doc),
                            "wrong.ts": wrong})
    assert result.returncode == 0, result.stdout + result.stderr


def test_typescript_compiles_when_nothing_was_learned(tmp_path: Path) -> None:
    ts = typescript.from_document(jsonschema_doc.from_brain(Brain()))
    assert "export type Endpoints = Record<string, never>;" in ts
    result = tsc(tmp_path, {"api.ts": ts})
    assert result.returncode == 0, result.stdout + result.stderr


# -- Pydantic --------------------------------------------------------------------------------------------

def import_module(path: Path, code: str) -> ModuleType:
    path.write_text(code, encoding="utf-8")
    name = f"mimic_models_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves forward references through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models(tmp_path_factory, doc: dict) -> ModuleType:
    return import_module(tmp_path_factory.mktemp("py") / "models.py", pydantic_models.from_document(doc))


def model_for(models: ModuleType, key: str, code: str | None):
    entry = models.ENDPOINTS[key]
    return entry["request"] if code is None else entry["responses"][int(code)]


def test_models_validate_every_learned_example(brain: Brain, doc: dict, models: ModuleType) -> None:
    seen = 0
    for key, code, example in examples(brain, doc):
        model = model_for(models, key, code)
        assert model.__name__ == definition(doc, key, code)  # one model per definition, same name
        model.model_validate(example)
        seen += 1
    assert seen >= 12


def test_models_reject_wrong_types(models: ModuleType) -> None:
    users = models.GetApiExampleComV1UsersByUserIdResponse200
    good = {"id": 1, "email": "a@b.c", "nick": None, "status": "banned", "tags": [], "scores": {"1": 2},
            "created": "2024-02-30T10:00:00Z"}  # not a date, but Mimic learned it as date-time: still accepted
    users.model_validate(good)
    for field, value in [("id", "one"), ("scores", {"1": "two"}), ("tags", "x"), ("email", None)]:
        with pytest.raises(ValidationError):
            users.model_validate({**good, field: value})
    with pytest.raises(ValidationError):
        users.model_validate({k: v for k, v in good.items() if k != "email"})
    with pytest.raises(ValidationError):
        models.GetV1EventsResponse200.model_validate([{"type": "video", "text": "hi"}])
    with pytest.raises(ValidationError):
        models.ENDPOINTS["GET /v2/things.response200"]["request"].model_validate({"z": 5})
    assert models.GetV1EventsQuery.model_validate({"page": "2"}).page == 2


def test_models_keep_hostile_keys_as_aliases(models: ModuleType) -> None:
    model = models.ENDPOINTS["GET /v1/hostile"]["responses"][200]
    value = model.model_validate(HOSTILE)
    expected = {k: v for k, v in HOSTILE.items() if k != "\ud800lone"}  # no alias can hold a lone surrogate
    assert value.model_dump(by_alias=True) == expected
    with pytest.raises(ValidationError):
        model.model_validate({**HOSTILE, 'quo"te': 1})


def test_definition_names_survive_clashing_nested_names(doc: dict, models: ModuleType) -> None:
    for key, e in doc[INDEX].items():
        entry = models.ENDPOINTS[key]
        for part in ("params", "query", "request"):
            assert (entry[part].__name__ if entry[part] else None) == e[part]
        assert {int(c): r["schema"] for c, r in e["responses"].items()} == {
            c: m.__name__ if m else None for c, m in entry["responses"].items()}
    assert models.GetV2ThingsResponse200Request.model_validate({"z": "s"}).z == "s"
    nested = models.GetV2ThingsResponse200.model_fields["request"].annotation
    assert nested is not models.GetV2ThingsResponse200Request
    assert models.GetV2ThingsResponse200.model_validate({"request": {"q": 1}}).request.q == 1


def test_models_for_many_clashing_endpoints(tmp_path: Path) -> None:
    """Sixty endpoints in threes that share an operationId, all with the same nested names."""
    brain = Brain()
    paths = [f"/p{i}{sep}x{i}" for i in range(20) for sep in ("-", "_", "/")]
    for path in paths:
        brain.learn(obs("GET", path, 200, {"item": {"n": len(path)}, "items": [{"v": path}]}))
    doc = jsonschema_doc.from_brain(brain)
    module = import_module(tmp_path / "many.py", pydantic_models.from_document(doc))
    assert sorted(module.ENDPOINTS) == sorted(f"GET {p}" for p in paths)
    assert len({e["responses"][200] for e in module.ENDPOINTS.values()}) == 60
    assert {"GetP0X0Response200", "GetP0X02Response200", "GetP0X03Response200"} <= set(doc["$defs"])
    for path in paths:
        model = module.ENDPOINTS[f"GET {path}"]["responses"][200]
        assert model.model_validate({"item": {"n": 1}, "items": [{"v": path}]}).items[0].v == path
        with pytest.raises(ValidationError):
            model.model_validate({"item": {"n": "one"}, "items": []})


def test_an_answer_that_is_an_object_or_a_string_is_one_model_of_both(tmp_path: Path) -> None:
    """`/pulls/2` answers a pull request, `/pulls/2.patch` (the same template) a text: the JSON Schema,
    TypeScript and the model ENDPOINTS names all take both (the model took the object alone)."""
    brain = Brain()
    for i in range(1, 7):
        brain.learn(obs("GET", f"/v1/pulls/{i}", 200, {"id": i, "title": "t"} if i % 3 else f"diff {i}"))
    doc = jsonschema_doc.from_brain(brain)
    module = import_module(tmp_path / "either.py", pydantic_models.from_document(doc))
    model = module.ENDPOINTS["GET /v1/pulls/{pull_id}"]["responses"][200]
    assert model.__name__ == doc[INDEX]["GET /v1/pulls/{pull_id}"]["responses"]["200"]["schema"]
    assert model.model_validate("diff 3").root == "diff 3"
    assert model.model_validate({"id": 1, "title": "t"}).root.id == 1
    with pytest.raises(ValidationError):
        model.model_validate({"id": "one", "title": "t"})


def test_pydantic_module_for_nothing_learned(tmp_path: Path) -> None:
    module = import_module(tmp_path / "empty.py", pydantic_models.from_document(jsonschema_doc.from_brain(Brain())))
    assert module.ENDPOINTS == {}


# -- learned from the public corpus -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def petstore() -> Brain:
    flows = CORPUS / "petstore" / "flows.mitm"
    if not flows.is_file():
        pytest.skip(f"no traffic corpus at {CORPUS}")
    brain = Brain()
    for observation in CaptureReader(flows, 1 << 20):
        brain.learn(observation)
    return brain


def test_corpus_exports(tmp_path: Path, petstore: Brain) -> None:
    doc = jsonschema_doc.from_brain(petstore)
    Draft202012Validator.check_schema(doc)
    assert len(doc[INDEX]) >= 15 and len(doc["$defs"]) >= 60
    pet = doc[INDEX]["GET /api/v3/pet/{pet_id}"]
    assert doc["$defs"][pet["responses"]["200"]["schema"]]["properties"]["status"]["enum"] == [
        "available", "pending", "sold"]
    module = import_module(tmp_path / "petstore.py", pydantic_models.from_document(doc))
    pairs = list(examples(petstore, doc))
    assert len(pairs) >= 50
    for key, code, example in pairs:
        validator(doc, definition(doc, key, code)).validate(example)
        model_for(module, key, code).model_validate(example)
    bad = copy.deepcopy(next(ex for key, code, ex in pairs if key == "GET /api/v3/pet/{pet_id}" and code == "200"))
    bad["status"] = "lost"
    with pytest.raises(ValidationError):
        model_for(module, "GET /api/v3/pet/{pet_id}", "200").model_validate(bad)
    result = tsc(tmp_path, {"api.ts": typescript.from_document(doc), "examples.ts": typed_examples(petstore, doc)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_object_or_a_list_of_objects_names_each_model_once(tmp_path: Path) -> None:
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"GetThingResponse200": {
        "type": ["object", "array"], "properties": {"id": {"type": "integer"}},
        "items": {"type": "object", "properties": {"n": {"type": "integer"}}}}}, INDEX: {}}
    module = import_module(tmp_path / "either_list.py", pydantic_models.from_document(doc))
    model = module.GetThingResponse200
    assert model.model_validate([{"n": 1}]).root[0].n == 1 and model.model_validate({"id": 2}).root.id == 2
    assert not any("GetThingResponse200GetThingResponse200" in name for name in dir(module))
