#!/usr/bin/env python3
"""How valid are mock bodies? Learn each corpus spec's traffic, mock every learned (endpoint, 2xx),
and validate the bodies against the learned schema and against the original spec's response schema.

    /path/to/venv/bin/python bench/mock_validity.py [--corpus ../shared/corpus] [--only petstore] [--per 5]

The spec operation of a learned endpoint is the one most of its requests had (truth.jsonl); its
schema is the spec's response schema for the status (or `default`), $refs inlined, OpenAPI 3.0
`nullable` turned into a null type. Both validations use jsonschema with format checking.
"""
from __future__ import annotations

import argparse
import os
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mimic_addon.learn.brain import Brain  # noqa: E402
from mimic_addon.learn.capture import CaptureReader  # noqa: E402
from mimic_addon.learn.observation import decode_body  # noqa: E402
from mimic_addon.learn.watchdog import Watchdog  # noqa: E402
from mimic_addon.model.paths import split_path  # noqa: E402
from mimic_addon.serve.mock import Mocker, context_for  # noqa: E402
from mimic_addon.serve.synth import request_seed  # noqa: E402

CHECKER = jsonschema.FormatChecker()


def load_spec(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def resolve(node, spec: dict, openapi30: bool, depth: int = 0):
    """Inline $refs (bounded depth for recursive schemas) and turn `nullable` into a null type."""
    if depth > 40:
        return {}
    if isinstance(node, list):
        return [resolve(v, spec, openapi30, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return resolve(target, spec, openapi30, depth + 1)
    out = {k: resolve(v, spec, openapi30, depth + 1) for k, v in node.items()
           if not k.startswith("x-") and k not in ("example", "examples", "xml", "discriminator")}
    if openapi30 and out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"] + ["null"]
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
        if "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def spec_schema(spec: dict, spec_path: str, method: str, status: int):
    op = (spec.get("paths", {}).get(spec_path) or {}).get(method.lower()) or {}
    responses = op.get("responses") or {}
    resp = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    if resp is None:
        return None
    if "$ref" in resp:
        resp = resolve(resp, spec, True)
    if "content" in resp:
        media = next((v for k, v in resp["content"].items() if "json" in k), None)
        schema = media.get("schema") if media else None
    else:
        schema = resp.get("schema")
    return schema


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids")
    ap.add_argument("--per", type=int, default=5, help="mock bodies per (endpoint, status)")
    args = ap.parse_args()
    manifest = json.loads((args.corpus / "specs" / "manifest.json").read_text())
    rows = []
    for entry in manifest["specs"]:
        sid = entry["id"]
        if args.only and sid not in args.only.split(","):
            continue
        traffic = args.corpus / "traffic" / sid
        spec = load_spec(args.corpus / "specs" / entry["file"])
        openapi30 = str(spec.get("openapi", "3.0")).startswith("3.0") or "swagger" in spec
        validator_cls = jsonschema.Draft202012Validator if not openapi30 else jsonschema.Draft4Validator
        truth = [json.loads(line) for line in (traffic / "truth.jsonl").read_text().splitlines() if line]
        watch = Watchdog()
        watch.enabled = False
        brain = Brain(watch)
        ops: dict[tuple, Counter] = defaultdict(Counter)
        sample: dict[tuple, tuple[str, str]] = {}
        targets: dict[tuple, Any] = {}
        traffic_n = traffic_ok = 0  # the traffic's own bodies against the spec: the ceiling for mocks
        for obs, t in zip(CaptureReader(traffic / "flows.mitm", 1 << 20), truth):
            ep = brain.learn(obs)
            ops[ep.key][(t["spec_path"], t["method"])] += 1
            sample.setdefault(ep.key, (obs.path, obs.target.partition("?")[2]))
            value, is_json = decode_body(obs.response)
            if not (200 <= obs.status < 300 and is_json):
                continue
            key = (t["spec_path"], t["method"].lower(), obs.status)
            if key not in targets:
                target = spec_schema(spec, t["spec_path"], t["method"].lower(), obs.status)
                targets[key] = resolve(target, spec, openapi30) if target is not None else None
            if targets[key] is not None:
                traffic_n += 1
                traffic_ok += validator_cls(targets[key], format_checker=CHECKER).is_valid(value)
        mocker = Mocker()
        n = learned_ok = spec_n = spec_ok = 0
        failures: Counter[str] = Counter()
        for ep in brain.endpoints():
            template = brain.template(ep)
            if ep.key not in ops:
                continue  # regrouped into another endpoint
            (spec_path, method), _ = ops[ep.key].most_common(1)[0]
            path, query = sample[ep.key]
            for code, node in ep.responses.items():
                if not code.startswith("2") or not node.count:
                    continue
                learned_schema = node.to_json_schema()
                target = spec_schema(spec, spec_path, method, int(code))
                target = resolve(target, spec, openapi30) if target is not None else None
                plan = mocker.plan(ep, code)
                for i in range(args.per):
                    rng_seed = request_seed(i, ep.method, path, query, b"")
                    ctx = context_for(template, [p for p in split_path(path)], {}, None)
                    mocker.fake.seed_instance(rng_seed)
                    from mimic_addon.serve.synth import generate
                    body = generate(plan, ctx, random.Random(rng_seed), mocker.fake)
                    n += 1
                    lerr = list(jsonschema.Draft202012Validator(learned_schema, format_checker=CHECKER).iter_errors(body))
                    learned_ok += not lerr
                    if lerr:
                        e = jsonschema.exceptions.best_match(lerr)
                        failures[f"LEARNED {method} {spec_path} {code}: {e.message[:100]} at {list(e.absolute_path)}"] += 1
                    if target is not None:
                        spec_n += 1
                        errors = list(validator_cls(target, format_checker=CHECKER).iter_errors(body))
                        if errors:
                            e = jsonschema.exceptions.best_match(errors)
                            failures[f"{method} {spec_path} {code}: {e.message[:100]} at {list(e.absolute_path)}"] += 1
                        else:
                            spec_ok += 1
        rows.append((sid, len(brain.endpoints()), n, learned_ok, spec_n, spec_ok, traffic_n, traffic_ok))
        for f, c in failures.most_common(int(os.environ.get("MIMIC_SHOW_FAILURES", "5"))):
            print(f"  {sid} spec failure x{c}: {f}", file=sys.stderr)
    print("| spec | endpoints | mock bodies | valid vs learned schema | with a spec schema | valid vs spec schema "
          "| traffic bodies valid vs spec (ceiling) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    tot = [0] * 6
    for sid, eps, n, lok, sn, sok, tn, tok in rows:
        print(f"| {sid} | {eps} | {n} | {lok / n:.1%} | {sn} | {sok / sn if sn else 0:.1%} | {tok / tn if tn else 0:.1%} |")
        for j, v in enumerate((n, lok, sn, sok, tn, tok)):
            tot[j] += v
    if rows:
        print(f"| **all** | | {tot[0]} | {tot[1] / tot[0]:.1%} | {tot[2]} | {tot[3] / tot[2] if tot[2] else 0:.1%} "
              f"| {tot[5] / tot[4] if tot[4] else 0:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
