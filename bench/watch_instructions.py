#!/usr/bin/env python3
"""The watch's cost to the learner in CPU instructions: steady where timings on a shared VM are not.

    /path/to/venv/bin/python bench/watch_instructions.py --corpus /abs/path/shared/corpus --only openai,jellyfin,asana,twitter

Three children run one after the other under valgrind (`callgrind` counts instructions;
`apt-get install valgrind`), with PYTHONHASHSEED=0 so that sets iterate alike in every run: one
only reads the chosen flow files, one also learns each file once in a fresh Brain with the watch
off, one with it on (then `settle`s, as `--mode cost` does). (on - off) / flows is what the watch
adds per flow, (off - read) / flows what the learner does without it. Each child takes a minute or
so per file. An instruction count leaves out cache misses: it compares commits (run this in each
checkout, with an absolute `--corpus`), it does not replace the µs of `drift_bench.py --mode cost`.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # (drift_bench: how the benches read a file)

_COLLECTED = re.compile(r"Collected : (\d+)")


def child(corpus: Path, only: list[str], step: str) -> None:
    """Read the files, and learn them when `step` is "on" or "off" (the watch's state)."""
    import mimic_addon.learn.readahead as readahead
    from drift_bench import in_time_order
    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.watchdog import Watchdog

    # read in this process: a child forked under callgrind starts with its parent's count
    readahead.reads_apart = lambda: False
    files: list[list[Any]] = [[o for o, _ in in_time_order(corpus / "traffic" / sid / "flows.mitm")] for sid in only]
    if step == "read":
        return
    for observations in files:
        brain = Brain(Watchdog(enabled=step == "on"))
        for obs in observations:
            brain.learn(obs)
        brain.settle()


def instructions(corpus: Path, only: list[str], step: str) -> int:
    """Instructions of one child, as callgrind counts them."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
           "--corpus", str(corpus), "--only", ",".join(only), "--child", step]
    run = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    counts = [int(n) for n in _COLLECTED.findall(run.stderr)]
    if run.returncode or len(counts) != 1:
        raise SystemExit(f"{shlex.join(cmd)} failed:\n{run.stderr[-2000:]}")
    return counts[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus",
                    help="folder holding traffic/<id>/{flows.mitm,truth.jsonl} (default: %(default)s)")
    ap.add_argument("--only", required=True, metavar="IDS",
                    help="comma-separated spec ids (folders under CORPUS/traffic), e.g. openai,jellyfin")
    ap.add_argument("--child", choices=("read", "on", "off"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    only = [sid for sid in args.only.split(",") if sid]
    if args.child:
        child(args.corpus, only, args.child)
        return 0
    traffic = args.corpus / "traffic"
    missing = [sid for sid in only if not ((traffic / sid / "flows.mitm").is_file()
                                          and (traffic / sid / "truth.jsonl").is_file())]
    if not only or missing:
        raise SystemExit(f"no flows.mitm and truth.jsonl under {traffic} for: {', '.join(missing) or '(no ids)'}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    flows = sum(sum(1 for _ in (traffic / sid / "truth.jsonl").open()) for sid in only)
    if not flows:
        raise SystemExit("the chosen files hold no flows")
    read, off, on = (instructions(args.corpus, only, step) for step in ("read", "off", "on"))
    print(f"{','.join(only)}: {flows} flows; learner without the watch {(off - read) / flows / 1e3:.0f}k "
          f"instructions per flow, the watch {(on - off) / flows / 1e3:.1f}k more "
          f"({(on - off) / (off - read):.1%}); totals read {read}, off {off}, on {on}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
