#!/usr/bin/env python3
"""Sizes and cost of the learned-types exports on corpus captures (the README's table under "Exports").

    /path/to/venv/bin/python bench/export_sizes.py [--corpus ../shared/corpus] [--only petstore,slack]

For each capture: learn `traffic/<id>/flows.mitm` in-process as `mimic learn` does (the drift watch on),
then export JSON Schema, TypeScript and Pydantic; print endpoints, `$defs` definitions, each export's
size, the Pydantic module's classes and the CPU time of the Pydantic export (datamodel-code-generator
imported beforehand: its first import adds about 0.7 s to a process).
"""
from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mimic_addon.export import EXPORTERS, ExportRequest  # noqa: E402
from mimic_addon.learn.brain import Brain  # noqa: E402
from mimic_addon.learn.capture import CaptureReader  # noqa: E402

DEFAULT = ("petstore", "slack", "pokeapi", "openai")


def size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1_000_000 else f"{round(n / 1000)} KB"


def measure(flows: Path) -> list[str]:
    brain = Brain()
    for observation in CaptureReader(flows, 1 << 20):
        brain.learn(observation)
    brain.settle()
    req = ExportRequest(store=None, brain=brain)
    schema = EXPORTERS["jsonschema"](req).content
    ts = EXPORTERS["typescript"](req).content
    t0 = time.process_time()
    py = EXPORTERS["pydantic"](req).content
    cpu = time.process_time() - t0
    import json
    defs = len(json.loads(schema).get("$defs", {}))
    classes = sum(isinstance(n, ast.ClassDef) for n in ast.parse(py).body)
    nbytes = [len(x.encode() if isinstance(x, str) else x) for x in (schema, ts, py)]
    return [str(len(brain.endpoints())), str(defs), size(nbytes[0]), size(nbytes[1]),
            f"{size(nbytes[2])} ({classes:,})", f"{cpu:.1f} s"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids (default: the first four APIs)")
    args = ap.parse_args()
    import datamodel_code_generator  # noqa: F401  (imported before any timing)
    ids = args.only.split(",") if args.only else list(DEFAULT)
    print("| capture | endpoints | definitions | schemas.json | api.ts | models.py (classes) | pydantic export, CPU |")
    print("|---|---|---|---|---|---|---|")
    for sid in ids:
        flows = args.corpus / "traffic" / sid / "flows.mitm"
        if not flows.is_file():
            print(f"{sid}: no {flows}", file=sys.stderr)
            return 1
        print("| " + " | ".join([sid, *measure(flows)]) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
