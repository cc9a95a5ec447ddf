#!/usr/bin/env python3
"""Why the drift protocol's last false alarms are hard: the evidence of natural runs vs planted changes.

    /path/to/venv/bin/python bench/drift_study.py [--only docker,netlify] [--corpus ../shared/corpus]

Development APIs only (the validation APIs of `drift_bench.py` are refused: not to be studied).
Per API, issue 14's protocol (`drift_bench.run_protocol`, and the same clean replay), then:

1. natural runs: every BREAKING/WARNING `missing_field` / `null_value` change of a place that never
   deviated, raised while learning or on the clean replay (the recorded traffic, nothing planted),
   with its chance P (1 - confidence, `evidence.chance`) and whether it was withdrawn (the place came
   back before the file ended) or still stands (a false alarm of the protocol);
2. planted: every planted removal / other type / null, its P when it alerted and how many later
   answers its endpoint had (with 2, the alert must come at the second);
3. sibling priors, for the natural runs left standing (outside lists) and the planted removals with at
   most 3 later answers: P again, with the prior on an optional (nullable) field's absence (null)
   rate taken from the object's other fields instead of the uniform one: a beta fitted to the optional
   siblings' absence rates (moments; maximum likelihood), and a mixture fitted to all siblings that
   also weighs the field being required (maximum likelihood);
4. kin after: for the same fields and every planted removal, answers of the replay (other endpoints)
   holding an object that shares at least half of its keys with the endpoint's and still has the field.
"""
from __future__ import annotations

import argparse
import math
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import drift_bench as db  # noqa: E402
from mimic_addon.learn.observation import decode_body  # noqa: E402
from mimic_addon.watch.evidence import chance  # noqa: E402

_GRID = [math.exp(math.log(0.05) + i * math.log(1000) / 19) for i in range(20)]  # 0.05 .. 50
_WEIGHTS = [i / 33 * 0.99 for i in range(34)]


def _betaln(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _logaddexp(x: float, y: float) -> float:
    m = max(x, y)
    return m + math.log(math.exp(x - m) + math.exp(y - m))


def _predictive(a: float, b: float, n: int, k: int) -> float:
    """P(k absences next | n presences) for an absence rate ~ Beta(a, b)."""
    return math.exp(_betaln(a + k, b + n) - _betaln(a, b + n))


def prior_moments(present: list[int], n: int, k: int) -> float | None:
    """Beta fitted by moments to the optional siblings' absence rates (None: fewer than 2)."""
    rates = [(n - c) / n for c in present if c < n]
    if len(rates) < 2:
        return None
    m = sum(rates) / len(rates)
    v = sum((r - m) ** 2 for r in rates) / len(rates) + 1e-9
    s = max(m * (1 - m) / v - 1, 0.5)
    return _predictive(m * s, (1 - m) * s, n, k)


def prior_fitted(present: list[int], n: int, k: int) -> tuple[float, float]:
    """(optional-only beta, mixture with "required"), both fitted by maximum likelihood on a grid."""
    best = None
    for a in _GRID:
        for b in _GRID:
            ll_opt = [_betaln(a + n - c, b + c) - _betaln(a, b) + math.lgamma(n + 1) - math.lgamma(c + 1)
                      - math.lgamma(n - c + 1) for c in present]
            for w in _WEIGHTS:
                ll = sum(_logaddexp(math.log(w) if c == n and w > 0 else -1e300, math.log(1 - w) + lo)
                         for c, lo in zip(present, ll_opt))
                if best is None or ll > best[0]:
                    best = (ll, a, b, w)
    _, a, b, w = best
    e_nk = math.exp(_betaln(a + k, b + n) - _betaln(a, b))
    e_n = math.exp(_betaln(a, b + n) - _betaln(a, b))
    return e_nk / e_n, (1 - w) * e_nk / (w + (1 - w) * e_n)


def _objects(value, depth: int = 0):
    if depth > 6:
        return
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _objects(v, depth + 1)
    elif isinstance(value, list):
        for v in value[:5]:
            yield from _objects(v, depth + 1)


def kin_after(last, endpoint: str, keys: set[str], name: str) -> int:
    hits = 0
    for obs, ep in last:
        if ep == endpoint or not 200 <= obs.status < 300:
            continue
        body, ok = decode_body(obs.response)
        if ok and any(name in o and 2 * len(keys & o.keys()) >= len(keys | o.keys()) for o in _objects(body)):
            hits += 1
    return hits


def study(path: Path, seed: int) -> None:
    api = path.parent.name
    pairs = db.in_time_order(path)
    first, last = pairs[:db.LEARN_FLOWS], pairs[-db.REPLAY_FLOWS:]
    learned: dict[str, list[dict]] = defaultdict(list)
    for obs, ep in first:
        body = db.object_answer(obs)
        if body is not None:
            learned[ep].append(body)

    brain = db.Brain(db.Watchdog())
    db.feed(brain, [o for o, _ in first])
    brain.settle()
    for alert in list(brain.watch.alerts.open.values()):
        brain.resolve_alert(alert.id, "expected", 0.0)
    learning = set(brain.watch.alerts.alerts)
    clean = db.fresh(db.snapshot(brain), None)
    db.feed(clean, [o for o, _ in last])
    truth: dict[tuple[str, str], set[str]] = defaultdict(set)  # Mimic's endpoint -> the corpus's
    for obs, ep in last:
        truth[obs.method, db.skeleton_of(clean, obs)].add(ep)
    cases = []  # (tag, endpoint, kind, holder path, field, n, k), for 3. and 4.
    for alert in clean.watch.alerts.alerts.values():
        for r in alert.changes.values():
            c = r.change
            if c.label == "INFO" or c.kind not in ("missing_field", "null_value") or c.exceptions:
                continue
            phase = "learning" if alert.id in learning else "replay"  # (learning's open ones were accepted)
            state = "withdrawn" if r.withdrawn else "accepted" if phase == "learning" else "STANDS"
            print(f"{api} natural {phase} {state} {c.kind} {c.path} seen {c.seen} P {1 - c.confidence:.4f} "
                  f"{alert.method} {alert.template}")
            if state != "withdrawn" and "[" not in c.path:
                *holder, name = c.path[2:].split(".")
                for ep in sorted(truth.get((alert.method, alert.skeleton), ())):  # the corpus's endpoint(s)
                    cases.append(("natural", ep, c.kind, holder, name, c.seen, 2))

    r = db.run_protocol(path, seed)
    for p in r["plants"]:
        if p["kind"] == "add":
            continue
        hit = [x for x in p["reported"] if x[0] == f"$.{p['field']}"]
        conf = hit[0][3] if hit else None
        kin = ""
        if p["kind"] == "remove":
            keys = {key for b in learned[p["endpoint"]] for key in b}
            kin = f" (kin after {kin_after(last, p['endpoint'], keys, p['field'])})"
        print(f"{api} planted {p['kind']} found={p['found']} learned {p['learned']} later {p['replayed']} "
              f"P {'-' if conf is None else f'{1 - conf:.4f}'} {p['endpoint']} $.{p['field']}{kin}")
        if p["kind"] == "remove" and p["replayed"] <= 3:
            cases.append(("planted", p["endpoint"], "missing_field", [], p["field"], p["learned"], p["replayed"]))

    for tag, ep, kind, holder, name, n, k in cases:
        objects = []
        for body in learned[ep]:
            for part in holder:
                body = body.get(part) if isinstance(body, dict) else None
            if isinstance(body, dict):
                objects.append(body)
        if kind == "missing_field":
            objects = objects[:n]
            n = len(objects)
            counts = Counter(key for o in objects for key in o)
            present = [v for key, v in counts.items() if key != name]  # presences out of n
        else:  # null_value: the objects before the first null, each sibling's non-null share of n
            first_null = next((i for i, o in enumerate(objects) if name in o and o[name] is None), len(objects))
            objects = [o for o in objects[:first_null] if name in o]
            n = len(objects)
            counts = Counter(key for o in objects for key in o)
            nulls = Counter(key for o in objects for key, v in o.items() if v is None)
            present = [round(n * (v - nulls[key]) / v) for key, v in counts.items() if key != name]
        if n < 2:
            continue
        optional = [n - v for v in present if v < n]
        moments = prior_moments(present, n, k)
        fitted, mixture = prior_fitted(present, n, k)
        kin = kin_after(last, ep, set(counts), name)
        where = "$." + ".".join(holder + [name])
        print(f"{api} priors {tag} {kind} {ep} {where}: n {n} k {k} siblings deviating {len(optional)}/{len(present)} "
              f"(in {sum(optional) / max(1, len(optional) * n):.2f} of the answers) P uniform {chance(n, 0, k):.4f} "
              f"moments {'-' if moments is None else f'{moments:.4f}'} fitted {fitted:.4f} "
              f"mixture {mixture:.5f}; kin after {kin}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids (development APIs)")
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    traffic = args.corpus / "traffic"
    specs = sorted(p.name for p in traffic.iterdir() if (p / "flows.mitm").is_file())
    validation = db.validation_set(specs)
    if args.only:
        asked = args.only.split(",")
        if validation & set(asked):
            raise SystemExit(f"validation APIs are not studied: {sorted(validation & set(asked))}")
        specs = [s for s in specs if s in asked]
    for sid in specs:
        if sid not in validation:
            study(traffic / sid / "flows.mitm", args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
