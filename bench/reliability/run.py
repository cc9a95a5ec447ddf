#!/usr/bin/env python3
"""Reliability under attack, faults and hostile input, through a real mitmdump with Mimic and its embedded
admin app.

    /path/to/venv/bin/python bench/reliability/run.py
        [--only admin_auth,locked_store,kill9,bad_input,secrets_leak,rss_growth] [--quick] [--rss-seconds S]

Each probe (bench/reliability/probes/) starts its own proxies in front of a loopback backend and returns
rows of the table printed at the end (Markdown, as the README shows it): what was tried, the goal, the
result. The exit status is 1 when a row misses its goal. `--quick` shortens the brute force, runs one
kill -9 round instead of three and streams 90 s instead of 10 minutes (per run) for rss_growth (about 6
minutes instead of 26); the store stays locked 40 s either way, as a shorter lock would hide behind the
store's own retries.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from harness import Row, backend, table  # noqa: E402
from probes import PROBES, rss_growth  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated probe names: " + ", ".join(p.NAME for p in PROBES))
    ap.add_argument("--quick", action="store_true", help="shorter brute force, one kill -9 round, 90 s rss_growth runs")
    ap.add_argument("--rss-seconds", type=float, default=None,
                    help="how long rss_growth streams (default: 90 with --quick, else 600)")
    args = ap.parse_args()
    rss_growth.seconds = args.rss_seconds
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = wanted - {p.NAME for p in PROBES}
    if unknown:
        ap.error(f"unknown probe(s): {', '.join(sorted(unknown))}")
    rows: list[Row] = []
    with backend() as upstream, tempfile.TemporaryDirectory(prefix="mimic-reliability-") as tmp:
        for probe in PROBES:
            if wanted and probe.NAME not in wanted:
                continue
            print(f"{probe.NAME}: {probe.TITLE} ...", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            workdir = Path(tmp) / probe.NAME
            workdir.mkdir()
            try:
                found = probe.run(workdir, upstream, args.quick)
            except Exception as e:  # a probe that breaks is a failed row, and the others still run
                traceback.print_exc()
                found = [Row(probe.NAME, "the probe itself", "runs", f"{type(e).__name__}: {e}", False)]
            rows += found
            print(f"{probe.NAME}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
