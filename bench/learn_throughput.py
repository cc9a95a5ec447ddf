#!/usr/bin/env python3
"""Offline learning speed: `mimic learn` on each corpus flow file, vs reading the file alone.

    /path/to/venv/bin/python bench/learn_throughput.py [--corpus ../shared/corpus] [--only petstore,slack]

`mimic learn` runs as a subprocess (so its time includes interpreter start-up and store writes, as a
user sees it); the reader-only time is mitmproxy's FlowReader streaming the same file in this process.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mitmproxy import http, io

REPO = Path(__file__).resolve().parents[1]
MIMIC = Path(sys.executable).with_name("mimic")


def read_only(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    with path.open("rb") as f:
        for flow in io.FlowReader(f).stream():
            n += isinstance(flow, http.HTTPFlow)
    return n, time.perf_counter() - start


def learn(path: Path, db: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(MIMIC), "learn", str(path), "--db", str(db), "-q"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids")
    args = ap.parse_args()
    specs = sorted(p for p in (args.corpus / "traffic").iterdir() if (p / "flows.mitm").is_file())
    if args.only:
        specs = [p for p in specs if p.name in args.only.split(",")]
    if not specs:
        sys.exit(f"no traffic/<id>/flows.mitm under {args.corpus}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mimic-learn-bench-") as d:
        start = time.perf_counter()
        subprocess.run([str(MIMIC), "endpoints", "--db", str(Path(d) / "empty.db")], check=True,
                       capture_output=True)
        startup = time.perf_counter() - start
        for spec in specs:
            flows = spec / "flows.mitm"
            n, t_read = read_only(flows)
            t_learn = learn(flows, Path(d) / f"{spec.name}.db")
            rows.append((spec.name, n, t_learn, t_read))
    print(f"\n`mimic learn FILE --db fresh.db -q` (subprocess); process start + store open ~ {startup:.2f}s "
          f"(`mimic endpoints` on an empty DB)\n")
    print("| spec | flows | learn s | learn flows/s | learn flows/s excl. start-up | reader-only s | reader flows/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, n, tl, tr in rows:
        print(f"| {name} | {n} | {tl:.2f} | {n / tl:,.0f} | {n / max(tl - startup, 1e-9):,.0f} | {tr:.2f} | "
              f"{n / tr:,.0f} |")
    n, tl, tr = sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows)
    net = max(tl - startup * len(rows), 1e-9)
    print(f"| **overall** | {n} | {tl:.2f} | {n / tl:,.0f} | {n / net:,.0f} | {tr:.2f} | {n / tr:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
