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
import random
import sys
import urllib.parse
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mimic_addon.learn.brain import Brain  # noqa: E402
from mimic_addon.learn.observation import Body, decode_body  # noqa: E402
from mimic_addon.learn.readahead import batches  # noqa: E402
import mimic_addon.learn.watchdog as watchdog_module  # noqa: E402
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
            "endpoints": [brain.row(ep) for ep in brain.endpoints()],  # (as the store saves them)
            "alerts": [a.to_dict() for a in brain.watch.alerts.alerts.values()],
        }


def fresh(snap: dict, drift_after: int | None = DRIFT_AFTER) -> Brain:
    """A Brain holding a copy of the snapshot (drift_after None: the watchdog's default)."""
    brain = Brain(Watchdog(drift_after) if drift_after is not None else Watchdog())
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
    return replace(obs, response=Body(raw, "", "application/json", len(raw)), digest=None)


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


def legacy_main(args: argparse.Namespace, specs: list[str], traffic: Path) -> int:
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


# -- the protocol of issue 14 -------------------------------------------------------------------------
LEARN_FLOWS, REPLAY_FLOWS = 2000, 1000
MAX_PLANTED = 12
MIN_LEARNED, MIN_REPLAYED = 8, 2
PLANT_KINDS = ("remove", "type", "null", "add")
PLANT_LABELS = {"remove": "BREAKING", "type": "BREAKING", "null": "WARNING", "add": "INFO"}
VALIDATION_SEED = 14  # the 5 validation APIs, drawn before any study: random.Random(14).sample(ids, 5)
_TYPE_OF = {bool: "boolean", int: "integer", str: "string", list: "array", dict: "object"}


def validation_set(ids: list[str]) -> set[str]:
    return set(random.Random(VALIDATION_SEED).sample(sorted(ids), 5))


def in_time_order(path: Path) -> list[tuple[object, str]]:
    """(observation, truth endpoint "METHOD template") of every flow, sorted by time."""
    observations = [o for batch, _ in batches(path, 1024 * 1024) for o in batch]
    with (path.parent / "truth.jsonl").open() as f:
        truth = [json.loads(line) for line in f]
    if len(truth) != len(observations):
        raise SystemExit(f"{path}: {len(observations)} flows but {len(truth)} truth lines")
    pairs = [(o, f"{t['method']} {t['template']}") for o, t in zip(observations, truth)]
    return sorted(pairs, key=lambda p: p[0].ts)


def object_answer(obs) -> dict | None:
    if not 200 <= obs.status < 300:
        return None
    body, ok = decode_body(obs.response)
    return body if ok and isinstance(body, dict) else None


def other_type(types: set[str]):
    """A value of a JSON type never seen for the field (numbers count as one type)."""
    for value in (True, "mimic", 12345, [1], {"k": 1}):
        t = _TYPE_OF[type(value)]
        if t in types or (t == "integer" and "number" in types):
            continue
        return value
    return None


def plan(learned: dict[str, list[dict]], replayed: dict[str, list[dict]], rng: random.Random) -> list[dict]:
    """The planted changes: up to MAX_PLANTED endpoints, kinds cycling over them."""
    eligible = sorted(e for e, bodies in learned.items()
                      if len(bodies) >= MIN_LEARNED and len(replayed.get(e, ())) >= MIN_REPLAYED)
    rng.shuffle(eligible)
    plants = []
    for ep in eligible:
        if len(plants) >= MAX_PLANTED:
            break
        bodies = learned[ep]
        always = set(bodies[0]).intersection(*bodies[1:])
        types = {name: {"null" if b[name] is None else _TYPE_OF.get(type(b[name]), "number") for b in bodies}
                 for name in always}
        start = len(plants) % len(PLANT_KINDS)
        for kind in PLANT_KINDS[start:] + PLANT_KINDS[:start]:  # the first kind this endpoint allows
            if kind == "add":
                name, value = NEW_FIELD, "added"
                break
            fields = sorted(n for n in always if kind != "null" or "null" not in types[n])
            if kind == "type":
                fields = [n for n in fields if other_type(types[n]) is not None]
            if fields:
                name = rng.choice(fields)
                value = other_type(types[name]) if kind == "type" else None
                break
        plants.append({"endpoint": ep, "kind": kind, "field": name, "value": value, "label": PLANT_LABELS[kind],
                       "learned": len(bodies), "replayed": len(replayed[ep])})
    return plants


def planted(body: dict, plant: dict) -> dict:
    body = dict(body)
    kind, name = plant["kind"], plant["field"]
    if kind == "add":
        body[name] = plant["value"]
    elif name in body:
        if kind == "remove":
            del body[name]
        else:
            body[name] = plant["value"]
    return body


def alerts_json(brain: Brain) -> list[dict]:
    """What `mimic drift --json` prints for this store (the same to_dict, through JSON)."""
    return json.loads(json.dumps(brain.alert_list(), ensure_ascii=True))


def skeleton_of(brain: Brain, obs) -> str | None:
    from mimic_addon.model.paths import split_path
    host = brain.hosts.get(obs.host)
    if host is None:
        return None
    return host.tree.known(obs.method, [urllib.parse.unquote(p) for p in split_path(obs.path)])


def learned_answers(brain: Brain, obs, skeleton: str | None) -> int:
    """JSON answers of this status the learned model holds for this endpoint of the flow's host."""
    ep = brain.hosts[obs.host].endpoints.get((obs.method, skeleton)) if skeleton is not None else None
    node = ep.responses.get(str(obs.status)) if ep is not None else None
    return node.count if node is not None else 0


def run_protocol(path: Path, seed: int, learn: int = LEARN_FLOWS, replay: int = REPLAY_FLOWS) -> dict:
    pairs = in_time_order(path)
    first, last = pairs[:learn], pairs[-replay:]
    brain = Brain(Watchdog())
    t0 = time.perf_counter()
    learn_reports = feed(brain, [o for o, _ in first])
    brain.settle()
    learn_s = time.perf_counter() - t0
    learn_alerts = [a for a in alerts_json(brain)]
    for alert in list(brain.watch.alerts.open.values()):
        brain.resolve_alert(alert.id, "expected", 0.0)
    snap = snapshot(brain)

    clean = fresh(snap, None)
    feed(clean, [o for o, _ in last])
    clean_alerts = [a for a in alerts_json(clean) if not a["resolved"]]
    false_alarms = [a for a in clean_alerts if a["label"] in ("BREAKING", "WARNING")]

    learned_bodies: dict[str, list[dict]] = defaultdict(list)
    for obs, ep in first:
        body = object_answer(obs)
        if body is not None:
            learned_bodies[ep].append(body)
    replay_answers: dict[str, list[int]] = defaultdict(list)
    bodies: dict[int, dict] = {}
    for i, (obs, ep) in enumerate(last):
        body = object_answer(obs)
        if body is not None:
            replay_answers[ep].append(i)
            bodies[i] = body
    plants = plan(learned_bodies, {e: [bodies[i] for i in ix] for e, ix in replay_answers.items()},
                  random.Random(f"{seed} {path.parent.name}"))
    by_ep = {p["endpoint"]: p for p in plants}
    mutated = []
    for i, (obs, ep) in enumerate(last):
        plant = by_ep.get(ep)
        mutated.append(with_body(obs, planted(bodies[i], plant)) if plant is not None and i in bodies else obs)
    drifted = fresh(snap, None)
    routed_to = []  # the endpoint each answer was judged on
    for obs in mutated:
        drifted.learn(obs)
        routed_to.append(drifted.judged.skeleton)
    alerts = [a for a in alerts_json(drifted) if not a["resolved"]]
    planted_keys = set()
    for p in plants:
        # answers judged on an endpoint (as the replay routed them) of >= MIN_LEARNED learned answers
        p["routed"] = sum(1 for i in replay_answers[p["endpoint"]]
                          if learned_answers(brain, last[i][0], routed_to[i]) >= MIN_LEARNED)
        skeletons = {s for i in replay_answers[p["endpoint"]] for s in (routed_to[i], skeleton_of(drifted, last[i][0]))}
        hosts = {last[i][0].host for i in replay_answers[p["endpoint"]]}
        method = p["endpoint"].split(" ", 1)[0]
        mine = [a for a in alerts if a["method"] == method and a["skeleton"] in skeletons and a["host"] in hosts]
        planted_keys.update(a["id"] for a in mine)
        want = f"$.{p['field']}"
        hits = [c for a in mine for c in a["changes"] if c["path"] == want]
        p["found"] = any(c["label"] == p["label"] for c in hits)
        p["reported"] = [(c["path"], c["kind"], c["label"], c.get("confidence")) for a in mine for c in a["changes"]][:6]
    return {"flows": len(pairs), "plants": plants, "false_alarms": false_alarms,
            "clean_info": len(clean_alerts) - len(false_alarms),
            "learn_alerts": [a for a in learn_alerts if a["label"] in ("BREAKING", "WARNING")],
            "other_alerts": [a for a in alerts if a["id"] not in planted_keys and a["label"] in ("BREAKING", "WARNING")],
            "learn_us_per_flow": learn_s / len(first) * 1e6}


def protocol_main(args: argparse.Namespace, specs: list[str], traffic: Path) -> int:
    validation = validation_set([p.name for p in traffic.iterdir() if (p / "flows.mitm").is_file()])
    rows = {"development": [], "validation": []}
    totals = {"development": Counter(), "validation": Counter()}
    for sid in specs:
        r = run_protocol(traffic / sid / "flows.mitm", args.seed, args.learn_flows, args.replay_flows)
        group = "validation" if sid in validation else "development"
        plants = r["plants"]
        cells = []
        for kind in PLANT_KINDS:
            mine = [p for p in plants if p["kind"] == kind]
            found = sum(p["found"] for p in mine)
            cells.append(f"{found}/{len(mine)}")
            totals[group][kind, "found"] += found
            totals[group][kind, "planted"] += len(mine)
        found = sum(p["found"] for p in plants)
        split = sum(1 for p in plants if not p["found"] and p["routed"] < MIN_REPLAYED)
        t = totals[group]
        t["split"] += split
        t["found"] += found
        t["planted"] += len(plants)
        t["false"] += len(r["false_alarms"])
        t["learn"] += len(r["learn_alerts"])
        t["other"] += len(r["other_alerts"])
        t["info"] += r["clean_info"]
        rows[group].append([sid, f"{found}/{len(plants)}"] + cells + [str(split),
            str(len(r["false_alarms"])), str(r["clean_info"]), str(len(r["learn_alerts"])), str(len(r["other_alerts"]))])
        if args.verbose:
            for p in plants:
                print(f"  {sid} plant {p['learned']} {p['replayed']} {p['kind']} {p['found']}", file=sys.stderr)
                if not p["found"]:
                    print(f"  {sid} missed ({p['learned']}, {p['replayed']}, routed {p['routed']}) {p['kind']} {p['endpoint']} $.{p['field']}: {p['reported']}", file=sys.stderr)
            for what in ("false_alarms", "learn_alerts", "other_alerts"):
                for a in r[what]:
                    print(f"  {sid} alarm ({what}) {a['label']} {a['method']} {a['template']} {a['status']}: "
                          f"{[(c['path'], c['kind'], c['label'], c.get('confidence')) for c in a['changes']][:5]}",
                          file=sys.stderr)
        print(f"{sid}: {found}/{len(plants)} found, {len(r['false_alarms'])} false alarms, "
              f"learn {r['learn_us_per_flow']:.0f} us/flow", file=sys.stderr, flush=True)
    print("| API | planted changes found | removed | other type | null | new field | missed: endpoint split by templates | false BREAKING/WARNING on clean replay | INFO on clean replay | BREAKING/WARNING while learning | other BREAKING/WARNING on planted replay |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for group in ("development", "validation"):
        if not rows[group]:
            continue
        t = totals[group]
        for row in rows[group]:
            print("| " + " | ".join(row) + " |")
        cells = [f"{t[k, 'found']}/{t[k, 'planted']}" for k in PLANT_KINDS]
        print("| " + " | ".join([f"**{group} ({len(rows[group])} APIs)**", f"{t['found']}/{t['planted']}"] + cells
                                + [str(t["split"]), str(t["false"]), str(t["info"]), str(t["learn"]), str(t["other"])]) + " |")
    return 0


class WatchClock:
    """Process time spent in the watch itself, measured inside the learner: `Watchdog.check` and
    the bodies decoded only for it (on the learner's cheap path). Steadier than the on/off
    difference on a shared machine, where both learning times wobble by more than the watch costs.
    Not counted: learning the answers held back for a suspicion that came to nothing
    (`watchdog.release`), work the learner does for every answer it samples, only later for these
    (those an alert withheld, learned when it is withdrawn, still count)."""

    def __init__(self) -> None:
        import mimic_addon.learn.brain as brain_module
        self.spent = 0.0
        self._module = brain_module
        self._decode, self._check = brain_module.decode_body, Watchdog.check
        self._count_only = Brain._count_only
        self._release = watchdog_module.release
        self._cheap = False
        self._inside = 0  # timed calls running (a held answer learned inside one is not the watch's time)

    def _timed(self, fn):
        """`fn`, its process time added to `spent`."""
        def run(*a, **k):
            t0 = time.process_time()
            self._inside += 1
            try:
                return fn(*a, **k)
            finally:
                self._inside -= 1
                self.spent += time.process_time() - t0
        return run

    def _untimed(self, fn):
        """`fn`, its process time taken off `spent` when it runs inside a timed call."""
        def run(*a, **k):
            t0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                if self._inside:
                    self.spent -= time.process_time() - t0
        return run

    def __enter__(self) -> "WatchClock":
        clock = self
        timed_decode, check = self._timed(self._decode), self._timed(self._check)
        watchdog_module.release = self._untimed(self._release)

        def decode(*a, **k):  # timed only on the cheap path, where the body is decoded for the watch alone
            return timed_decode(*a, **k) if clock._cheap else clock._decode(*a, **k)

        def count_only(*a, **k):
            clock._cheap = True
            try:
                return clock._count_only(*a, **k)
            finally:
                clock._cheap = False

        self._module.decode_body, Watchdog.check, Brain._count_only = decode, check, count_only
        return self

    def __exit__(self, *exc) -> None:
        self._module.decode_body, Watchdog.check, Brain._count_only = self._decode, self._check, self._count_only
        watchdog_module.release = self._release


def cost_main(specs: list[str], traffic: Path) -> int:
    """The watch's cost to the learner: every flow of each file learned with it on and off (in
    this process, best of 3 each, CPU time: the machine is shared), the difference per flow; and
    the watch's own time inside the learner (`WatchClock`, best of 3)."""
    total_on = total_off = total_own = 0.0
    flows = 0
    for sid in specs:
        observations = [o for o, _ in in_time_order(traffic / sid / "flows.mitm")]
        times = {}
        for enabled in (True, False):
            best = float("inf")
            for _ in range(3):
                brain = Brain(Watchdog(enabled=enabled))
                t0 = time.process_time()
                for obs in observations:
                    brain.learn(obs)
                brain.settle()
                best = min(best, time.process_time() - t0)
            times[enabled] = best
        own = float("inf")
        for _ in range(3):
            brain = Brain(Watchdog())
            with WatchClock() as clock:
                for obs in observations:
                    brain.learn(obs)
            own = min(own, clock.spent)
        total_on, total_off, flows = total_on + times[True], total_off + times[False], flows + len(observations)
        total_own += own
        print(f"{sid}: watch {(times[True] - times[False]) / len(observations) * 1e6:.1f} us/flow "
              f"(own time {own / len(observations) * 1e6:.1f}; learn {times[True] / len(observations) * 1e6:.0f} "
              f"us/flow with it)", flush=True)
    print(f"all: watch {(total_on - total_off) / flows * 1e6:.1f} us/flow over {flows} flows "
          f"(own time {total_own / flows * 1e6:.1f} us/flow)")
    return 0


def busy_cost_main(specs: list[str], traffic: Path, passes: int) -> int:
    """The watch's own time on busy endpoints: each file learned `passes` times in a row, the last
    pass timed (`WatchClock`, one run): past the first 200 answers of a status the learner samples
    one body in ten, and the watch judges one in three of the others (past 1,000, one in ten), or
    all while something is suspected (`Watchdog.passes_over`)."""
    total_own = total_learn = 0.0
    flows = 0
    for sid in specs:
        observations = [o for o, _ in in_time_order(traffic / sid / "flows.mitm")]
        brain = Brain(Watchdog())
        for _ in range(passes - 1):
            for obs in observations:
                brain.learn(obs)
        t0 = time.process_time()
        with WatchClock() as clock:
            for obs in observations:
                brain.learn(obs)
        learn = time.process_time() - t0
        total_own, total_learn, flows = total_own + clock.spent, total_learn + learn, flows + len(observations)
        print(f"{sid}: watch {clock.spent / len(observations) * 1e6:.1f} us/flow of "
              f"{learn / len(observations) * 1e6:.0f} learning (pass {passes})", flush=True)
    print(f"all: watch {total_own / flows * 1e6:.1f} us/flow of {total_learn / flows * 1e6:.0f} learning, "
          f"pass {passes} of each file")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids")
    ap.add_argument("--exclude-validation", action="store_true", help="leave out the 5 validation APIs")
    ap.add_argument("--validation", action="store_true", help="only the 5 validation APIs")
    ap.add_argument("--mode", choices=("protocol", "legacy", "cost"), default="protocol",
                    help="protocol: issue 14's (default); legacy: the old mutation bench (learning phase 50); "
                         "cost: the watch's cost per flow to the learner (on vs off)")
    ap.add_argument("--seed", type=int, default=14, help="protocol: which endpoints, fields get planted changes")
    ap.add_argument("--learn-flows", type=int, default=LEARN_FLOWS,
                    help="protocol: flows learned first (the issue's protocol: 2000; others test the split)")
    ap.add_argument("--replay-flows", type=int, default=REPLAY_FLOWS,
                    help="protocol: last flows replayed, clean and planted (the issue's protocol: 1000)")
    ap.add_argument("--per-endpoint", type=int, default=20, help="legacy: mutated responses replayed per endpoint")
    ap.add_argument("--passes", type=int, default=1,
                    help="cost: learn each file this many times, timing the watch on the last pass only "
                         "(busy endpoints)")
    ap.add_argument("-v", "--verbose", action="store_true", help="protocol: print misses and alarms")
    args = ap.parse_args()
    traffic = args.corpus / "traffic"
    specs = sorted(p.name for p in traffic.iterdir() if (p / "flows.mitm").is_file())
    validation = validation_set(specs)
    if args.only:
        specs = [s for s in specs if s in args.only.split(",")]
    if args.exclude_validation:
        specs = [s for s in specs if s not in validation]
    if args.validation:
        specs = [s for s in specs if s in validation]
    if args.mode == "legacy":
        return legacy_main(args, specs, traffic)
    if args.mode == "cost" and args.passes > 1:
        return busy_cost_main(specs, traffic, args.passes)
    if args.mode == "cost":
        return cost_main(specs, traffic)
    return protocol_main(args, specs, traffic)

if __name__ == "__main__":
    sys.exit(main())
