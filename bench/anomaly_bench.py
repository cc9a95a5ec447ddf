#!/usr/bin/env python3
"""Anomaly benchmark: generated latency / error / size traces with injected incidents.

    /path/to/venv/bin/python bench/anomaly_bench.py [--seed 7] [--requests 20000] [--traces 20]

Per scenario, `--traces` endpoints each get `--requests` requests: a baseline (log-normal latency
with the scenario's volatility, a base 5xx rate, normal response sizes), then incidents of 300
requests at random places: latency x3 (x6 and x10 for jittery endpoints), errors at 8x the base rate
(at least 15%), responses truncated to a tenth of their size. Two scenarios add rare stalls to the
baseline (1% of requests 30x slower, as a loaded machine or a GC pause makes them): they must neither
hide a slowdown nor raise alarms themselves. Two more draw sizes log-normally (cv 1.5, as a list's
pages of 2 items, then of 60), where a truncation to a tenth stays within the usual range; and two
give 30% of answers as an empty page (a few dozen bytes) beside full ones, two more 20%: the usual
sizes come in two groups far apart. The last four make 20% (30%) of requests cache misses, 10x slower:
latencies in two groups.
Reported: incidents detected (the detector flagged during the incident), false alarms (flags raised
outside incidents) per 10,000 requests, and the median / max detection delay in requests.

`--cost CORPUS` instead times the monitor on real traffic: every flow of the corpus' 25 files, in
time order, into one monitor per truth endpoint (CPU time, best of 5): microseconds per flow.
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mimic_addon.watch.anomaly import EndpointMonitor  # noqa: E402

INCIDENT = 300
STALL_FACTOR = 30.0
MISS_FACTOR = 10.0
# appended to, never reordered: a scenario's seed is its place. Name, latency cv, base error rate,
# incident kind, latency factor, stall rate, size cv (0: sizes around 2 kB, +-10%), share of empty pages,
# share of cache misses
SCENARIOS = (
    ("latency x3, stable (cv 0.1)", 0.1, 0.005, "latency", 3.0, 0.0, 0.0, 0.0, 0.0),
    ("latency x6, jittery (cv 0.8)", 0.8, 0.005, "latency", 6.0, 0.0, 0.0, 0.0, 0.0),
    ("latency x10, jittery (cv 0.8)", 0.8, 0.005, "latency", 10.0, 0.0, 0.0, 0.0, 0.0),
    ("errors, 1% base", 0.3, 0.01, "errors", 1.0, 0.0, 0.0, 0.0, 0.0),
    ("errors, quiet 0.1% base", 0.3, 0.001, "errors", 1.0, 0.0, 0.0, 0.0, 0.0),
    ("size, truncated payloads", 0.3, 0.005, "size", 1.0, 0.0, 0.0, 0.0, 0.0),
    ("no incidents (control)", 0.5, 0.01, None, 1.0, 0.0, 0.0, 0.0, 0.0),
    ("latency x3, stable with 1% stalls", 0.1, 0.005, "latency", 3.0, 0.01, 0.0, 0.0, 0.0),
    ("no incidents, 1% stalls (control)", 0.1, 0.005, None, 1.0, 0.01, 0.0, 0.0, 0.0),
    ("size, truncated, varied sizes (cv 1.5)", 0.3, 0.005, "size", 1.0, 0.0, 1.5, 0.0, 0.0),
    ("no incidents, varied sizes (cv 1.5, control)", 0.3, 0.005, None, 1.0, 0.0, 1.5, 0.0, 0.0),
    ("size, truncated, 30% empty pages", 0.3, 0.005, "size", 1.0, 0.0, 0.0, 0.3, 0.0),
    ("no incidents, 30% empty pages (control)", 0.3, 0.005, None, 1.0, 0.0, 0.0, 0.3, 0.0),
    ("size, truncated, 20% empty pages", 0.3, 0.005, "size", 1.0, 0.0, 0.0, 0.2, 0.0),
    ("no incidents, 20% empty pages (control)", 0.3, 0.005, None, 1.0, 0.0, 0.0, 0.2, 0.0),
    ("latency x3, 20% cache misses (10x slower)", 0.3, 0.005, "latency", 3.0, 0.0, 0.0, 0.0, 0.2),
    ("no incidents, 20% cache misses (control)", 0.3, 0.005, None, 1.0, 0.0, 0.0, 0.0, 0.2),
    ("latency x3, 30% cache misses (10x slower)", 0.3, 0.005, "latency", 3.0, 0.0, 0.0, 0.0, 0.3),
    ("no incidents, 30% cache misses (control)", 0.3, 0.005, None, 1.0, 0.0, 0.0, 0.0, 0.3),
)


def run(seed: int, requests: int, traces: int, cv: float, err: float, kind: str | None, factor: float,
        stalls: float, size_cv: float, empty: float, misses: float):
    rng = random.Random(seed)
    sigma = math.sqrt(math.log(1 + cv * cv))
    size_sigma = math.sqrt(math.log(1 + size_cv * size_cv))
    detected = incidents = false = 0
    delays = []
    for _ in range(traces):
        m = EndpointMonitor()
        starts = sorted(rng.sample(range(2000, requests - INCIDENT, INCIDENT * 3), 3)) if kind else []
        windows = [(s, s + INCIDENT) for s in starts]
        hit: list[int | None] = [None] * len(windows)
        was = {"latency": False, "errors": False, "size": False}
        for i in range(requests):
            inc = next((j for j, (a, b) in enumerate(windows) if a <= i < b), None)
            lat = 40.0 * rng.lognormvariate(-sigma * sigma / 2, sigma)
            if stalls and rng.random() < stalls:
                lat *= STALL_FACTOR
            if misses and rng.random() < misses:  # (a cache miss: the backend does the work)
                lat *= MISS_FACTOR
            rate = err
            if size_cv:  # (list answers: a page of 2 items, the next of 60)
                size = max(1, int(2000 * rng.lognormvariate(-size_sigma * size_sigma / 2, size_sigma)))
            else:
                size = max(1, int(rng.gauss(2000, 200)))
            if empty and rng.random() < empty:  # (an empty page: '{"data": [], "next": null}')
                size = 26
            if inc is not None:
                if kind == "latency":
                    lat *= factor
                elif kind == "errors":
                    rate = max(err * 8, 0.15)
                elif kind == "size":
                    size //= 10
            status = 500 if rng.random() < rate else 200
            flags = m.observe(lat, status, size)
            now = {"latency": flags.latency, "errors": flags.errors, "size": flags.size}
            for name, on in now.items():
                if on and not was[name]:  # a flag raised
                    if inc is not None and name == kind:
                        if hit[inc] is None:
                            hit[inc] = i - windows[inc][0]
                    elif not any(a <= i < b + 50 for a, b in windows):  # recovery tail is not a new alarm
                        false += 1
            was = now
        incidents += len(windows)
        detected += sum(h is not None for h in hit)
        delays += [h for h in hit if h is not None]
    return incidents, detected, false, traces * requests, delays


def cost(corpus: Path) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from drift_bench import in_time_order  # (its reader: flows as the learner sees them, truth endpoints)

    traffic = corpus / "traffic"
    files = [in_time_order(d / "flows.mitm") for d in sorted(traffic.iterdir()) if (d / "flows.mitm").is_file()]
    flows = [[(ep, o.latency_ms, o.status, o.response.size) for o, ep in pairs] for pairs in files]
    best = float("inf")
    for _ in range(5):
        t0 = time.process_time()
        for trace in flows:
            monitors: dict[str, EndpointMonitor] = {}
            for ep, latency, status, size in trace:
                (monitors.get(ep) or monitors.setdefault(ep, EndpointMonitor())).observe(latency, status, size)
        best = min(best, time.process_time() - t0)
    n = sum(len(t) for t in flows)
    print(f"anomaly monitor: {best / n * 1e6:.2f} us per flow over {n} flows of {len(flows)} files")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--traces", type=int, default=20)
    ap.add_argument("--cost", type=Path, metavar="CORPUS", help="time the monitor on the corpus' flows instead")
    args = ap.parse_args()
    if args.cost:
        return cost(args.cost)
    print("| scenario | incidents | detected | false alarms / 10k requests | delay median (requests) | delay max |")
    print("|---|---:|---:|---:|---:|---:|")
    for n, (name, cv, err, kind, factor, stalls, size_cv, empty, misses) in enumerate(SCENARIOS):
        inc, det, false, total, delays = run(args.seed + n, args.requests, args.traces, cv, err, kind, factor,
                                             stalls, size_cv, empty, misses)
        rate = f"{det}/{inc} ({det / inc:.0%})" if inc else "-"
        med = f"{statistics.median(delays):.0f}" if delays else "-"
        mx = f"{max(delays)}" if delays else "-"
        print(f"| {name} | {inc} | {rate} | {false / total * 10_000:.2f} | {med} | {mx} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
