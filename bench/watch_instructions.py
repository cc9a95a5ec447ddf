#!/usr/bin/env python3
"""The watch's cost to the learner in CPU instructions: steady where timings on a shared VM are not.

    /path/to/venv/bin/python bench/watch_instructions.py [--corpus ../shared/corpus] --only openai,jellyfin,asana

Each chosen flow file is learned once in one Brain, with the watch on and off, in a child process
run under valgrind (`callgrind`, which counts instructions; `apt-get install valgrind`); a third child
only reads the files. (on - off) / flows is what the watch adds per flow, and (off - read) / flows
what the learner does without it. Under callgrind a file takes a minute or so: choose a few. Two
commits are compared by running this in each (`PYTHONHASHSEED=0` is set, so sets iterate alike).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_COLLECTED = re.compile(r"Collected : (\d+)")


def child(corpus: Path, only: list[str], step: str) -> None:
    """Read the files, and learn them when `step` is "on" or "off" (the watch's state)."""
    from drift_bench import in_time_order  # (beside this file: how the benches read a file)
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import Watchdog

    files = [[o for o, _ in in_time_order(corpus / "traffic" / sid / "flows.mitm")] for sid in only]
    if step == "read":
        return
    for observations in files:
        brain = Brain(Watchdog(enabled=step == "on"))
        for obs in observations:
            brain.learn(obs)


def instructions(corpus: Path, only: list[str], step: str) -> int:
    """Instructions of one child (and of the reader processes it forks), as callgrind counts them."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
           "--corpus", str(corpus), "--only", ",".join(only), "--child", step]
    run = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    counts = [int(n) for n in _COLLECTED.findall(run.stderr)]
    if run.returncode or not counts:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
    return sum(counts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", required=True, help="comma-separated spec ids (a minute or so each under valgrind)")
    ap.add_argument("--child", choices=("read", "on", "off"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    only = args.only.split(",")
    if args.child:
        child(args.corpus, only, args.child)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    flows = sum(sum(1 for _ in (args.corpus / "traffic" / sid / "truth.jsonl").open()) for sid in only)
    read, off, on = (instructions(args.corpus, only, step) for step in ("read", "off", "on"))
    print(f"{','.join(only)}: {flows} flows; learner without the watch {(off - read) / flows / 1e3:.0f}k "
          f"instructions per flow, the watch {(on - off) / flows / 1e3:.1f}k more "
          f"({(on - off) / (off - read):.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
