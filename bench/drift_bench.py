#!/usr/bin/env python3
"""Drift benchmark on the public corpus: learn each spec's traffic, then replay it unmutated and mutated.

    /path/to/venv/bin/python bench/drift_bench.py [--corpus ../shared/corpus] [--only petstore] [--per-endpoint 20]

1. Learning pass: every flow of `traffic/<id>/flows.mitm` through the Brain with the watchdog on
   (learning phase 50), exactly as `mimic learn` does. Alerts it opens are counted, then accepted
   (resolved as "expected"), as a user would after reviewing them.
2. Unmutated replay: the whole file again; every alert or new change counts as a false alarm.
3. Mutated replays: for each endpoint with a stable JSON object (or list of objects) response, and
   each mutation built from its learned schema (remove a required field, rename it, change its type,
   null a non-nullable field, add an unseen enum value, add a field), its first N flows replayed with
   the mutation applied, on a fresh copy of the learned model. Detected = an alert on that endpoint
   holding the expected change (path and kind) with the expected label.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mimic_addon.learn.brain import Brain  # noqa: E402
from mimic_addon.learn.observation import Body, decode_body  # noqa: E402
from mimic_addon.learn.readahead import batches  # noqa: E402
from mimic_addon.learn.watchdog import Watchdog  # noqa: E402

DRIFT_AFTER = 50
MUTATIONS = ("remove", "rename", "type", "null", "enum", "add")
EXPECTED = {  # mutation -> (kind, label) that must be reported
    "remove": ("missing_field", "BREAKING"), "rename": ("missing_field", "BREAKING"),
    "type": ("type_changed", "BREAKING"), "null": ("null_value", "WARNING"),
    "enum": ("new_enum_value", "WARNING"), "add": ("new_field", "INFO"),
}
NEW_FIELD = "mimic_bench_field"


def snapshot(brain: Brain) -> dict:
    with brain.lock:
        return {
            "trees": {h: {"scheme": m.scheme, "tree": m.tree.to_dict()} for h, m in brain.hosts.items()},
            "endpoints": [ep.to_dict() for ep in brain.endpoints()],
            "alerts": [a.to_dict() for a in brain.watch.alerts.alerts.values()],
        }


def fresh(snap: dict) -> Brain:
    brain = Brain(Watchdog(DRIFT_AFTER))
    brain.load(copy.deepcopy(snap))
    return brain


def feed(brain: Brain, observations) -> list:
    reports = []
    for obs in observations:
        brain.learn(obs)
        reports += brain.watch.take_reports()
    return reports


def pick(node, mutation: str, drift_after: int):
    """(field name, replacement value or None) for a mutation of this object node, or None."""
    props = node.properties() or {}
    objects = node.object_count
    for name in sorted(props):
        child = props[name]
        types = child.type_counts()
        required = child.count >= objects and child.count >= drift_after
        if mutation in ("remove", "rename") and required:
            return name, None
        if mutation == "type" and required and "null" not in types:
            for value in (True, 12345, "text", [1], {"k": 1}):
                t = {bool: "boolean", int: "integer", str: "string", list: "array", dict: "object"}[type(value)]
                if t not in types and not (t == "integer" and "number" in types) and not (
                        t == "integer" and child.string_format() in ("date", "date-time")):
                    return name, value
        if mutation == "null" and required and "null" not in types:
            return name, None
        if mutation == "enum" and child.count >= drift_after and child.enum_values():
            from mimic_addon.watch.drift import ENUM_MIN_RATIO, _open_valued
            if types.get("string", 0) >= ENUM_MIN_RATIO * len(child.enum_values()) and not _open_valued(name):
                return name, "zz_bench_value"
    if mutation == "add" and objects >= drift_after:
        return NEW_FIELD, "added"
    return None


def mutate(body, mutation: str, name: str, value):
    def one(obj: dict) -> dict:
        obj = dict(obj)
        if mutation == "remove":
            obj.pop(name, None)
        elif mutation == "rename":
            if name in obj:
                obj[name + "_renamed"] = obj.pop(name)
        elif mutation == "null":
            if name in obj:
                obj[name] = None
        elif mutation in ("type", "enum"):
            if name in obj:
                obj[name] = value
        elif mutation == "add":
            obj[name] = value
        return obj
    if isinstance(body, dict):
        return one(body)
    return [one(o) if isinstance(o, dict) else o for o in body]


def with_body(obs, body):
    raw = json.dumps(body).encode()
    return replace(obs, response=Body(raw, "", "application/json", len(raw)))


def run_spec(path: Path, per_endpoint: int) -> dict:
    observations = [o for batch, _ in batches(path, 1024 * 1024) for o in batch]
    brain = Brain(Watchdog(DRIFT_AFTER))
    t0 = time.perf_counter()
    learn_reports = feed(brain, observations)
    learn_s = time.perf_counter() - t0
    opened = len({a.id for a, _, _ in learn_reports})
    for alert in list(brain.watch.alerts.open.values()):
        brain.resolve_alert(alert.id, "expected", 0.0)
    snap = snapshot(brain)
    replay = feed(fresh(snap), observations)
    false_alarms = len({a.id for a, _, _ in replay})

    # endpoint key -> (status, node, its flows)
    by_ep = defaultdict(list)
    probe = fresh(snap)
    for obs in observations:
        host = probe.hosts[obs.host]
        from mimic_addon.model.paths import split_path
        import urllib.parse
        skeleton = host.tree.known(obs.method, [urllib.parse.unquote(p) for p in split_path(obs.path)])
        if skeleton is not None:
            by_ep[(obs.host, obs.method, skeleton, obs.status)].append(obs)
    results = Counter()
    misses = []
    for (host, method, skeleton, status), flows in sorted(by_ep.items()):
        if not 200 <= status < 300:
            continue
        ep = probe.hosts[host].endpoints.get((method, skeleton))
        node = ep.responses.get(str(status)) if ep else None
        if node is None or node.count < DRIFT_AFTER:
            continue
        target, prefix = node, "$"
        if node.item_node is not None and node.type_counts().get("array") and not node.type_counts().get("object"):
            target, prefix = node.item_node, "$[]"
        if not target.object_count or target.is_map:
            continue
        sample = []
        for obs in flows:
            body, ok = decode_body(obs.response)
            if ok and isinstance(body, (dict, list)) and body:
                sample.append((obs, body))
            if len(sample) >= per_endpoint:
                break
        if not sample:
            continue
        for mutation in MUTATIONS:
            chosen = pick(target, mutation, DRIFT_AFTER)
            if chosen is None:
                continue
            name, value = chosen
            mutated = [with_body(o, mutate(b, mutation, name, value)) for o, b in sample]
            b2 = fresh(snap)
            feed(b2, mutated)
            kind, label = EXPECTED[mutation]
            want = f"{prefix}.{name}"
            alerts = [a for a in b2.watch.alerts.open.values() if (a.method, a.skeleton) == (method, skeleton)]
            found = [r.change for a in alerts for r in a.changes.values() if (r.change.path, r.change.kind) == (want, kind)]
            results[mutation, "tested"] += 1
            if found and found[0].label == label:
                results[mutation, "detected"] += 1
            else:
                misses.append((method, skeleton, mutation, want, [(r.change.path, r.change.kind) for a in alerts for r in a.changes.values()][:4]))
    return {"flows": len(observations), "learn_alerts": opened, "false_alarms": false_alarms,
            "results": results, "misses": misses, "learn_us_per_flow": learn_s / len(observations) * 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids")
    ap.add_argument("--per-endpoint", type=int, default=20, help="mutated responses replayed per endpoint")
    args = ap.parse_args()
    traffic = args.corpus / "traffic"
    specs = sorted(p.name for p in traffic.iterdir() if (p / "flows.mitm").is_file())
    if args.only:
        specs = [s for s in specs if s in args.only.split(",")]
    rows = []
    total = Counter()
    for sid in specs:
        r = run_spec(traffic / sid / "flows.mitm", args.per_endpoint)
        for m in r["misses"][:5]:
            print(f"  {sid} missed: {m}", file=sys.stderr)
        res = r["results"]
        total.update(res)
        total["false_alarms"] += r["false_alarms"]
        total["learn_alerts"] += r["learn_alerts"]
        cells = [f"{res[m, 'detected']}/{res[m, 'tested']}" for m in MUTATIONS]
        rows.append([sid, str(r["flows"]), str(r["learn_alerts"])] + cells + [str(r["false_alarms"])])
    cells = [f"{total[m, 'detected']}/{total[m, 'tested']}" for m in MUTATIONS]
    rows.append(["**all**", "", str(total["learn_alerts"])] + cells + [str(total["false_alarms"])])
    print("| spec | flows | alerts while learning | removed | renamed | type changed | nulled | enum value added | field added | alerts on unmutated replay |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
