#!/usr/bin/env python3
"""Mock validity after an OpenAPI round trip, and design-first (spec only, no traffic).

    /path/to/venv/bin/python bench/roundtrip_validity.py [--corpus ../shared/corpus] [--only petstore] [--per 5]

For each corpus spec, three stores, all through the `mimic` CLI (in-process):

- direct: `mimic learn traffic/<id>/flows.mitm --no-watch` (as bench/mock_validity.py measures);
- round trip: `mimic export openapi` of the direct store, then `mimic import openapi` of that export
  into a fresh store (the issue's "Done when");
- design first: `mimic import openapi specs/<file>` of the original spec, no traffic at all (with
  `--host` the traffic's host when the spec's servers name none, e.g. `/api/v1`).

Then every endpoint's 2xx JSON responses are mocked `--per` times with the mock mode's synthesizer
(`Mocker.plan` + `synth.generate`, seeded per request like the proxy) and each body is validated
against the ORIGINAL spec's response schema (bench/mock_validity.py: `$ref`s inlined, 3.0 `nullable`
as a null type, jsonschema with format checking). A learned endpoint's spec operation is the one most
of the traffic routed to it had (truth.jsonl, routed through the store's own path templates); an
imported one's is the operation it was imported from.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import jsonschema  # noqa: E402

from mock_validity import CHECKER, load_spec, resolve, spec_schema  # noqa: E402

from mimic_addon import cli  # noqa: E402
from mimic_addon.learn.brain import Brain  # noqa: E402
from mimic_addon.model.paths import split_path  # noqa: E402
from mimic_addon.serve.mock import Mocker, context_for  # noqa: E402
from mimic_addon.serve.synth import generate, request_seed  # noqa: E402
from mimic_addon.store import Store  # noqa: E402

Route = tuple[str, str, str]  # spec path, method, a concrete path routed to the endpoint


@dataclass
class Score:
    bodies: int = 0
    valid: int = 0
    endpoints: int = 0
    failures: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.valid / self.bodies if self.bodies else 0.0

    def add(self, other: Score) -> None:
        self.bodies += other.bodies
        self.valid += other.valid
        self.endpoints += other.endpoints
        self.failures.update(other.failures)


class SpecTargets:
    """Validators of the original spec's response schemas, by (spec path, method, status)."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.openapi30 = str(spec.get("openapi", "3.0")).startswith("3.0") or "swagger" in spec
        self.cls = jsonschema.Draft4Validator if self.openapi30 else jsonschema.Draft202012Validator
        self._cache: dict[tuple, Any] = {}

    def validator(self, spec_path: str, method: str, status: int):
        key = (spec_path, method.lower(), status)
        if key not in self._cache:
            target = spec_schema(self.spec, spec_path, method.lower(), status)
            self._cache[key] = (self.cls(resolve(target, self.spec, self.openapi30), format_checker=CHECKER)
                                if target is not None else None)
        return self._cache[key]


def load_brain(db: str) -> Brain:
    store = Store(db)
    try:
        brain = Brain()
        brain.load(store.load())
    finally:
        store.close()
    return brain


def routes_from_truth(brain: Brain, truth: list[dict]) -> dict[tuple, Route]:
    """Each endpoint's spec operation: the one most requests routed to it (through its templates) had."""
    votes: dict[tuple, Counter] = defaultdict(Counter)
    sample: dict[tuple, str] = {}
    for t in truth:
        host = brain.hosts.get(t["host"])
        if host is None:
            continue
        skeleton = host.tree.match(t["method"], split_path(t["concrete_path"]))
        if skeleton is None or (t["method"], skeleton) not in host.endpoints:
            continue
        key = (host.name, t["method"], skeleton)
        votes[key][(t["spec_path"], t["method"])] += 1
        sample.setdefault(key, t["concrete_path"])
    return {key: (*v.most_common(1)[0][0], sample[key]) for key, v in votes.items()}


def routes_from_imports(brain: Brain) -> dict[tuple, Route]:
    """Each imported endpoint's own operation; its concrete path: the template with `1` for parameters."""
    out = {}
    for ep in brain.endpoints():
        if ep.imported and ep.imported.get("path"):
            named = brain.template(ep)
            path = "/".join("1" if p.startswith("{") else p for p in named.split("/"))
            out[ep.key] = (ep.imported["path"], ep.method, path)
    return out


def score_brain(brain: Brain, targets: SpecTargets, routes: dict[tuple, Route], per: int) -> Score:
    """Mock every endpoint's 2xx JSON responses `per` times; validate against the spec operation."""
    mocker = Mocker()
    score = Score()
    for ep in brain.endpoints():
        route = routes.get(ep.key)
        if route is None:
            continue
        spec_path, method, path = route
        template = brain.template(ep)
        counted = False
        for code, node in sorted(ep.responses.items()):
            if not code.startswith("2") or not node.count:
                continue
            validator = targets.validator(spec_path, method, int(code))
            if validator is None:
                continue
            plan = mocker.plan(ep, code, brain.hosts[ep.host].endpoints.values())
            counted = True
            for i in range(per):
                seed = request_seed(i, ep.method, path, "", b"")
                ctx = context_for(template, split_path(path), {}, None)
                mocker.fake.seed_instance(seed)
                body = generate(plan, ctx, random.Random(seed), mocker.fake)
                score.bodies += 1
                errors = list(validator.iter_errors(body))
                if errors:
                    e = jsonschema.exceptions.best_match(errors)
                    score.failures[f"{method} {spec_path} {code}: {e.message[:90]} at {list(e.absolute_path)}"] += 1
                else:
                    score.valid += 1
        score.endpoints += counted
    return score


def _cli(*args: str) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli.main([str(a) for a in args])
    if rc != 0:
        raise RuntimeError(f"mimic {' '.join(map(str, args))} -> {rc}\n{err.getvalue()}")


def measure(corpus: Path, entry: dict, work: Path, per: int = 5) -> dict[str, Score]:
    """The three scores of one corpus spec (stores and the export are written under `work`)."""
    sid = entry["id"]
    traffic = corpus / "traffic" / sid
    spec_file = corpus / "specs" / entry["file"]
    direct, roundtrip, design = (str(work / f"{sid}.{kind}.db") for kind in ("direct", "roundtrip", "design"))
    exported = work / f"{sid}.openapi.json"
    _cli("learn", traffic / "flows.mitm", "--db", direct, "-q", "--no-watch")
    _cli("export", "openapi", "--db", direct, "-o", exported)
    _cli("import", "openapi", exported, "--db", roundtrip)
    truth = [json.loads(line) for line in (traffic / "truth.jsonl").read_text().splitlines() if line]
    spec = load_spec(spec_file)
    # a spec whose servers name no host (`/api/v1`): import it for the host its traffic went to
    host = [] if spec_host(spec) else ["--host", truth[0]["host"]]
    _cli("import", "openapi", spec_file, "--db", design, *host)
    targets = SpecTargets(spec)
    out = {}
    for kind, db in (("direct", direct), ("roundtrip", roundtrip)):
        brain = load_brain(db)
        out[kind] = score_brain(brain, targets, routes_from_truth(brain, truth), per)
    brain = load_brain(design)
    out["design"] = score_brain(brain, targets, routes_from_imports(brain), per)
    return out


def spec_host(spec: dict) -> bool:
    """Does the spec name a server host (Swagger 2 `host`, or an absolute `servers[0].url`)?"""
    if "swagger" in spec:
        return bool(spec.get("host"))
    servers = spec.get("servers") or [{}]
    return "://" in str(servers[0].get("url") or "")


def corpus_entries(corpus: Path, only: Callable[[str], bool] = lambda sid: True) -> list[dict]:
    manifest = json.loads((corpus / "specs" / "manifest.json").read_text())
    return [e for e in manifest["specs"] if only(e["id"]) and (corpus / "traffic" / e["id"] / "flows.mitm").is_file()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids")
    ap.add_argument("--per", type=int, default=5, help="mock bodies per (endpoint, 2xx status)")
    ap.add_argument("--failures", type=int, default=0, help="show this many most common failures per kind")
    args = ap.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    entries = corpus_entries(args.corpus, lambda sid: wanted is None or sid in wanted)
    total = {k: Score() for k in ("direct", "roundtrip", "design")}
    print("| spec | direct (learned) | round trip (export → import) | design first (spec import) |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for entry in entries:
            scores = measure(args.corpus, entry, Path(tmp), args.per)
            cells = [f"{s.rate:.1%} of {s.bodies} ({s.endpoints} ep)" for s in scores.values()]
            print(f"| {entry['id']} | " + " | ".join(cells) + " |", flush=True)
            for kind, s in scores.items():
                total[kind].add(s)
                for f, c in s.failures.most_common(args.failures):
                    print(f"  {entry['id']} {kind} x{c}: {f}", file=sys.stderr)
    print("| **all** | " + " | ".join(f"{s.rate:.1%} of {s.bodies}" for s in total.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
