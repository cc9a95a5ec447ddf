"""`mimic export jsonschema|typescript|pydantic` as a user runs it: real `mimic` processes over a store.

Each export must give the same bytes in fresh processes (different hash seeds), and what `mimic learn`
made of a public corpus capture must come out as a valid schema, a module `tsc --strict` accepts, and
models that validate every example the store keeps.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mimic_addon.cli import _open_brain
from mimic_addon.export.jsonschema_doc import INDEX
from mimic_addon.learn.brain import Brain
from mimic_addon.learn.learner import Learner
from mimic_addon.learn.observation import Body, Observation
from mimic_addon.store import Store

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MIMIC = Path(sys.executable).parent / "mimic"
TSC = REPO / "node_modules" / ".bin" / "tsc"
CORPUS = REPO.parent / "shared" / "corpus" / "traffic"
KINDS = {"jsonschema": "schemas.json", "typescript": "api.ts", "pydantic": "models.py"}


def mimic(*args: str, seed: str = "0") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run([str(MIMIC), *args], capture_output=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


def export_all(db: str, out: Path, seed: str = "0") -> dict[str, bytes]:
    out.mkdir(exist_ok=True)
    for kind, name in KINDS.items():
        result = mimic("export", kind, "--db", db, "-o", str(out / name), seed=seed)
        assert b"endpoints, " in result.stderr and b"definitions" in result.stderr
    return {kind: (out / name).read_bytes() for kind, name in KINDS.items()}


def tsc(*files: Path) -> None:
    if not TSC.exists():
        message = f"no TypeScript compiler at {TSC} (npm install)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([str(TSC), "--strict", "--noEmit", "--target", "es2020", "--module", "commonjs",
                             "--lib", "es2020", "--skipLibCheck", *map(str, files)],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def load_models(path: Path):
    spec = importlib.util.spec_from_file_location(f"mimic_e2e_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def examples(db: str, doc: dict) -> list[tuple[str, str | None, object]]:
    """(endpoint key, status or None for the request, example) for every example in the store."""
    store, brain = _open_brain(db)
    store.close()
    by_place = {(e["host"], e["method"], e["path"]): key for key, e in doc[INDEX].items()}
    found = []
    for host in brain.hosts.values():
        for ep in host.endpoints.values():
            key = by_place[(ep.host, ep.method, host.tree.named(ep.skeleton))]
            if ep.request_example is not None:
                found.append((key, None, ep.request_example))
            found += [(key, code, example) for code, example in ep.examples.items()]
    return found


def synthetic_store(db: str) -> None:
    def obs(method: str, path: str, status: int, body: object, host: str = "api.example.com") -> Observation:
        raw = json.dumps(body).encode()
        return Observation(host=host, scheme="https", method=method, target=path,
                           request=Body(b"", "", "", 0), status=status,
                           response=Body(raw, "", "application/json", len(raw)), latency_ms=5.0, ts=1_700_000_000.0)

    brain = Brain()
    for i in range(1, 6):
        brain.learn(obs("GET", f"/users/{i}", 200, {"id": i, "tags": ["a", "b"], "meta": {"k\"*/\n": i, "ü": None},
                                                    "kind": [{"type": "a", "x": 1}, {"type": "b", "y": "z"}][i % 2]}))
        brain.learn(obs("GET", f"/users/{i}", 200, {"id": str(i)}, host=f"h{i}.example.com"))
    store = Store(db)
    assert Learner(brain, store).flush()
    store.close()


def test_exports_are_the_same_bytes_in_fresh_processes(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    synthetic_store(db)
    first = export_all(db, tmp_path / "a", seed="1")
    assert export_all(db, tmp_path / "b", seed="2") == first
    assert mimic("export", "pydantic", "--db", db, seed="3").stdout == first["pydantic"]  # stdout, no -o
    doc = json.loads(first["jsonschema"])
    Draft202012Validator.check_schema(doc)
    assert len(doc[INDEX]) == 6
    load_models(tmp_path / "a" / "models.py")
    tsc(tmp_path / "a" / "api.ts")


def test_exports_of_a_learned_corpus_capture(tmp_path: Path) -> None:
    flows = CORPUS / "openai" / "flows.mitm"
    if not flows.is_file():
        pytest.skip(f"no traffic corpus at {CORPUS}")
    db = str(tmp_path / "openai.db")
    mimic("learn", str(flows), "--db", db, "--quiet")
    files = export_all(db, tmp_path / "out")
    doc = json.loads(files["jsonschema"])
    Draft202012Validator.check_schema(doc)
    assert len(doc[INDEX]) >= 100
    models = load_models(tmp_path / "out" / "models.py")
    pairs = examples(db, doc)
    assert len(pairs) >= 100
    lines = ['import type { Endpoints } from "./api";']
    for i, (key, code, example) in enumerate(pairs):
        entry, place = doc[INDEX][key], '["request"]' if code is None else f'["responses"][{code}]'
        name = entry["request"] if code is None else entry["responses"][code]["schema"]
        Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": doc["$defs"]}).validate(example)
        model = models.ENDPOINTS[key]["request"] if code is None else models.ENDPOINTS[key]["responses"][int(code)]
        assert model.__name__ == name
        model.model_validate(example)
        lines.append(f"export const ex{i}: Endpoints[{json.dumps(key)}]{place} = {json.dumps(example)};")
    (tmp_path / "out" / "examples.ts").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tsc(tmp_path / "out" / "api.ts", tmp_path / "out" / "examples.ts")
