#!/usr/bin/env python3
"""Offline learning speed: `mimic learn` on each corpus flow file, vs reading the file alone.

    /path/to/venv/bin/python bench/learn_throughput.py [--corpus ../shared/corpus] [--only petstore,slack]

`mimic learn` runs as a subprocess (so its time includes interpreter start-up and store writes, as a
user sees it); the reader-only time is mitmproxy's FlowReader streaming the same file in this process.
"in-process" is the figure `mimic learn` prints at the end of its progress bar (flows over the time
from the store's opening to the last batch learned: reading, learning, drift watch and the path
consolidations while learning; not start-up, the final consolidation or the save). The last row is
one `mimic learn` over all the files at once.
"""
from __future__ import annotations

import argparse
import re
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


PRINTED_RATE = re.compile(r"(\d+) flows ([\d,]+)/s")


def learn(paths: list[Path], db: Path) -> tuple[float, float]:
    """(wall seconds, the in-process flows/s `mimic learn` printed last)."""
    start = time.perf_counter()
    done = subprocess.run([str(MIMIC), "learn", *map(str, paths), "--db", str(db)], check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    rates = PRINTED_RATE.findall(done.stderr)
    return wall, float(rates[-1][1].replace(",", "")) if rates else float("nan")


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
            t_learn, printed = learn([flows], Path(d) / f"{spec.name}.db")
            rows.append((spec.name, n, t_learn, printed, t_read))
        together = learn([spec / "flows.mitm" for spec in specs], Path(d) / "all.db")
    print(f"\n`mimic learn FILE --db fresh.db` (subprocess); process start + store open ~ {startup:.2f}s "
          f"(`mimic endpoints` on an empty DB)\n")
    print("| spec | flows | learn s | learn flows/s | learn flows/s excl. start-up | in-process flows/s (printed) "
          "| reader-only s | reader flows/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, tl, printed, tr in rows:
        print(f"| {name} | {n} | {tl:.2f} | {n / tl:,.0f} | {n / max(tl - startup, 1e-9):,.0f} | {printed:,.0f} "
              f"| {tr:.2f} | {n / tr:,.0f} |")
    n, tl, tr = sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[4] for r in rows)
    net = max(tl - startup * len(rows), 1e-9)
    in_process = n / max(sum(r[1] / r[3] for r in rows if r[1]), 1e-9)  # (flows over the summed in-process times)
    print(f"| **overall, one file per process** | {n} | {tl:.2f} | {n / tl:,.0f} | {n / net:,.0f} | {in_process:,.0f} "
          f"| {tr:.2f} | {n / tr:,.0f} |")
    print(f"| **all files in one `mimic learn`** | {n} | {together[0]:.2f} | {n / together[0]:,.0f} "
          f"| {n / max(together[0] - startup, 1e-9):,.0f} | {together[1]:,.0f} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
