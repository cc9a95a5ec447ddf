#!/usr/bin/env python3
"""The learner's own CPU on the corpus, apart from reading, and the cyclic garbage it leaves.

    /path/to/venv/bin/python bench/learn_cpu.py [--corpus ../shared/corpus] [--only petstore,slack]

Every flow file is read and digested first (Mimic's own reader and `learn/digest.py`, in this
process, as `mimic learn`'s reader process does); then all observations are learned in one Brain in
batches, as `mimic learn` does with a forked reader (collector off, what lives frozen after each
batch; `learn/gc_pacing.py`), and the CPU time of that loop is reported. Each batch is loaded from
its pickle in the loop, as `mimic learn` receives it from the reader's pipe. `--repeat N` learns
the files N times over (a long capture of traffic the model already knows). `--no-digest` leaves the
digests to the learner (the live proxy's way, and `mimic learn`'s without a second core). Then one
`gc.collect()` tells how many unreachable objects (cyclic garbage) the learning left: `mimic learn`
keeps the collector off on the ground that it is 0.
"""
from __future__ import annotations

import argparse
import gc
import pickle
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mimic_addon.learn.brain import Brain  # noqa: E402
from mimic_addon.learn.gc_pacing import FrozenModel  # noqa: E402
from mimic_addon.learn.learner import Learner  # noqa: E402
from mimic_addon.learn.readahead import _digest, _read  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids")
    ap.add_argument("--no-digest", action="store_true", help="the learner digests each exchange itself")
    ap.add_argument("--repeat", type=int, default=1, help="learn the files this many times over")
    args = ap.parse_args()
    files = sorted(p / "flows.mitm" for p in (args.corpus / "traffic").iterdir() if (p / "flows.mitm").is_file())
    if args.only:
        files = [f for f in files if f.parent.name in args.only.split(",")]
    if not files:
        sys.exit(f"no traffic/<id>/flows.mitm under {args.corpus}")
    batches = [batch for f in files for batch, _ in _read(f, 1 << 20, lambda text: None)] * args.repeat
    flows = sum(len(b) for b in batches)
    if not args.no_digest:
        for batch in batches:
            _digest(batch)
    sent = [pickle.dumps(batch, pickle.HIGHEST_PROTOCOL) for batch in batches]
    del batches
    learner = Learner(Brain(), None)
    learner.report = lambda *a: None
    gc.collect()
    with FrozenModel(collect=False) as pace:
        start = time.process_time()
        for blob in sent:
            learner.learn_batch(pickle.loads(blob))
            pace()
        spent = time.process_time() - start
        gc.unfreeze()
        cyclic = gc.collect()
    print(f"{flows} flows of {len(files)} files{f' x{args.repeat}' if args.repeat > 1 else ''}: learner CPU {spent:.2f} s ({flows / spent:,.0f} flows/s, "
          f"{spent / flows * 1e6:.0f} us per flow); unreachable objects left: {cyclic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
