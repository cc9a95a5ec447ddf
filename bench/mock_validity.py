#!/usr/bin/env python3
"""How valid are mock bodies? Learn each corpus spec's traffic, mock every learned (endpoint, 2xx),
and validate the bodies against the learned schema and against the original spec's response schema.

    /path/to/venv/bin/python bench/mock_validity.py [--corpus ../shared/corpus] [--only petstore] [--per 5]

The spec operation of a learned endpoint is the one most of its requests had (truth.jsonl); its
schema is the spec's response schema for the status (or `default`), $refs inlined, OpenAPI 3.0
`nullable` turned into a null type (and 3.0-style boolean `exclusiveMinimum` left in a 3.1 document
read as 3.0 meant it). Both validations use jsonschema with format checking.

Columns beyond the validity rates: the corpus traffic's own 2xx JSON bodies validated against the
same spec schemas (a ceiling for anything learned from that traffic); the mock bodies of the learned
(endpoint, status) pairs whose every traffic body was valid, and how many of those mocks are valid
(what is Mimic's own doing); and how many invalid mocks had only errors (place and reason, array
indices folded) that the traffic of the same operation also had.

MIMIC_SHOW_FAILURES=N prints the N most common failures per spec to stderr (0: none; default 5),
marked `OURS` or `traffic-too` (and `[traffic-valid]` on endpoints whose every recorded body was
valid), and the endpoints whose mocks are valid less often than their
traffic; MIMIC_SHOW_TRAFFIC_FAILURES=1 adds the traffic's own failures.
"""
from __future__ import annotations

import argparse
import gzip
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
from mimic_addon.serve.synth import generate, request_seed  # noqa: E402

CHECKER = jsonschema.FormatChecker()


def load_spec(path: Path) -> dict:
    """A spec file: JSON or YAML, gzipped when the name ends in `.gz`."""
    raw = path.read_bytes()
    name = path.name
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
        name = name[:-3]
    text = raw.decode("utf-8")
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


def resolve(node, spec: dict, openapi30: bool, depth: int = 0, chain: tuple[str, ...] = ()):
    """Inline $refs (bounded depth for recursive schemas) and turn `nullable` into a null type.

    A $ref already being expanded on the way here (a recursive schema) is anything: inlining every
    cycle down to the depth bound blows up on large specs with several mutually recursive schemas."""
    if isinstance(node, list):
        return [resolve(v, spec, openapi30, depth + 1, chain) for v in node]
    if not isinstance(node, dict):
        return node
    if depth > 40:  # a schema this deep (recursion): anything (scalars such as `minLength: 1` stay)
        return {}
    if "$ref" in node:
        ref = node["$ref"]
        if ref in chain:
            return {}
        target = spec
        for part in ref.lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return resolve(target, spec, openapi30, depth + 1, chain + (ref,))
    out = {k: resolve(v, spec, openapi30, depth + 1, chain) for k, v in node.items()
           if not k.startswith("x-") and k not in ("example", "examples", "xml", "discriminator")}
    if not openapi30:
        # OpenAPI 3.0's boolean `exclusiveMinimum: true` (beside `minimum`) left in a 3.1 document: a
        # 2020-12 validator would read `true` as the number 1. Read it as its author meant it.
        for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if isinstance(out.get(flag), bool):
                if out.pop(flag) and bound in out:
                    out[flag] = out.pop(bound)
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


def where(error) -> str:
    """The error's place in the body, array indices folded (`data[*].size`)."""
    out = ""
    for part in error.absolute_path:
        out += "[*]" if isinstance(part, int) else f".{part}"
    return out or "."


def describe(error) -> str:
    """A short, instance-free reason: the failing keyword and its schema value."""
    kw = error.validator
    if kw == "required":
        return f"required {error.message.split(chr(39))[1]!r} missing"
    if kw in ("type", "enum", "pattern", "format", "const", "minItems", "maxItems", "minimum", "maximum",
              "minLength", "maxLength", "uniqueItems", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{kw} {json.dumps(error.validator_value)[:70]}"
    if kw in ("anyOf", "oneOf"):
        return f"{kw}: no single branch matched"
    return f"{kw}: {error.message[-60:]}"


def error_keys(errors) -> set[tuple[str, str]]:
    """(place, reason) of every top-level error, to compare a mock's errors with the traffic's."""
    return {(where(e), describe(e)) for e in errors}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids")
    ap.add_argument("--per", type=int, default=5, help="mock bodies per (endpoint, status)")
    args = ap.parse_args()
    show = int(os.environ.get("MIMIC_SHOW_FAILURES", "5"))
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
        validators: dict[tuple, Any] = {}
        traffic_n = traffic_ok = 0  # the traffic's own bodies against the spec: the ceiling for mocks
        # per (learned endpoint, status): [bodies checked, bodies valid] -- the traffic-valid subset
        seen: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        traffic_failures: Counter[str] = Counter()
        traffic_errors: dict[tuple, set] = defaultdict(set)  # (spec path, method, status) -> error keys
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
                validators[key] = (validator_cls(targets[key], format_checker=CHECKER)
                                   if targets[key] is not None else None)
            if validators[key] is not None:
                traffic_n += 1
                counts = seen[(ep.key, str(obs.status))]
                counts[0] += 1
                errors = list(validators[key].iter_errors(value))
                if not errors:
                    traffic_ok += 1
                    counts[1] += 1
                else:
                    traffic_errors[key] |= error_keys(errors)
                    e = jsonschema.exceptions.best_match(errors)
                    traffic_failures[f"{t['method']} {t['spec_path']} {obs.status} {where(e)}: {describe(e)}"] += 1
        mocker = Mocker()
        n = learned_ok = spec_n = spec_ok = sub_n = sub_ok = 0
        failures: Counter[str] = Counter()
        examples: dict[str, str] = {}
        same_as_traffic = 0  # invalid mocks whose every error the traffic of the operation also had
        worse: list[tuple[float, str]] = []  # endpoints whose mocks are valid less often than their traffic
        for ep in brain.endpoints():
            template = brain.template(ep)
            if ep.key not in ops:
                continue  # regrouped into another endpoint
            (spec_path, method), _ = ops[ep.key].most_common(1)[0]
            path, query = sample[ep.key]
            for code, node in ep.responses.items():
                if not code.startswith("2") or not node.count:
                    continue
                learned = jsonschema.Draft202012Validator(node.to_json_schema(), format_checker=CHECKER)
                target = spec_schema(spec, spec_path, method, int(code))
                target = resolve(target, spec, openapi30) if target is not None else None
                validator = validator_cls(target, format_checker=CHECKER) if target is not None else None
                checked, valid = seen.get((ep.key, code), (0, 0))
                traffic_valid = checked > 0 and checked == valid
                plan = mocker.plan(ep, code, brain.hosts[ep.host].endpoints.values())
                before = spec_ok
                for i in range(args.per):
                    rng_seed = request_seed(i, ep.method, path, query, b"")
                    ctx = context_for(template, [p for p in split_path(path)], {}, None)
                    mocker.fake.seed_instance(rng_seed)
                    body = generate(plan, ctx, random.Random(rng_seed), mocker.fake)
                    n += 1
                    lerr = list(learned.iter_errors(body))
                    learned_ok += not lerr
                    if lerr:
                        e = jsonschema.exceptions.best_match(lerr)
                        failures[f"LEARNED {method} {spec_path} {code} {where(e)}: {describe(e)}"] += 1
                    if validator is not None:
                        spec_n += 1
                        sub_n += traffic_valid
                        errors = list(validator.iter_errors(body))
                        if errors:
                            e = jsonschema.exceptions.best_match(errors)
                            inherited = error_keys(errors) <= traffic_errors[(spec_path, method.lower(), int(code))]
                            same_as_traffic += inherited
                            mark = ("traffic-too " if inherited else "OURS ") + ("[traffic-valid] " if traffic_valid else "")
                            label = f"{mark}{method} {spec_path} {code} {where(e)}: {describe(e)}"
                            failures[label] += 1
                            examples.setdefault(label, json.dumps(e.instance)[:80])
                        else:
                            spec_ok += 1
                            sub_ok += traffic_valid
                if validator is not None and checked and (spec_ok - before) / args.per < valid / checked:
                    worse.append((valid / checked - (spec_ok - before) / args.per,
                                  (f"{method.upper()} {spec_path} {code}: traffic {valid}/{checked} valid, "
                                   f"mocks {spec_ok - before}/{args.per}")))
        rows.append((sid, len(brain.endpoints()), n, learned_ok, spec_n, spec_ok, traffic_n, traffic_ok,
                     sub_n, sub_ok, same_as_traffic))
        if show:
            print(f"  {sid}: {spec_n - spec_ok} mock bodies invalid vs spec, {same_as_traffic} of them only with "
                  f"errors the traffic of the same operation also had", file=sys.stderr)
        for f, c in failures.most_common(show):
            print(f"  {sid} spec failure x{c}: {f}  e.g. {examples.get(f, '')}", file=sys.stderr)
        for gap, text in sorted(worse, reverse=True)[:show]:
            print(f"  {sid} mocks less valid than traffic: {text}", file=sys.stderr)
        if os.environ.get("MIMIC_SHOW_TRAFFIC_FAILURES"):
            for f, c in traffic_failures.most_common(show):
                print(f"  {sid} TRAFFIC failure x{c}: {f}", file=sys.stderr)

    def pct(a: int, b: int) -> str:
        return f"{a / b:.1%}" if b else "-"

    print("| spec | endpoints | mock bodies | valid vs learned schema | with a spec schema | valid vs spec schema "
          "| traffic bodies valid vs spec (ceiling) | mock bodies of traffic-valid endpoints "
          "| their mocks valid vs spec | invalid mocks with only the traffic's errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    tot = [0] * 9
    for sid, eps, n, lok, sn, sok, tn, tok, un, uok, same in rows:
        print(f"| {sid} | {eps} | {n} | {pct(lok, n)} | {sn} | {pct(sok, sn)} | {pct(tok, tn)} | {un} "
              f"| {pct(uok, un)} | {same}/{sn - sok} |")
        for j, v in enumerate((n, lok, sn, sok, tn, tok, un, uok, same)):
            tot[j] += v
    if rows:
        print(f"| **all** | | {tot[0]} | {pct(tot[1], tot[0])} | {tot[2]} | {pct(tot[3], tot[2])} "
              f"| {pct(tot[5], tot[4])} | {tot[6]} | {pct(tot[7], tot[6])} | {tot[8]}/{tot[2] - tot[3]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
