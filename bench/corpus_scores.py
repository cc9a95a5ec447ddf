#!/usr/bin/env python3
"""Template and schema scores of Mimic on the public corpus (learn -> export OpenAPI -> corpus scorers).

    /path/to/venv/bin/python bench/corpus_scores.py [--corpus ../shared/corpus] [--only petstore,slack]
                                                    [--keep DIR] [--errors 10]

For each `traffic/<id>/flows.mitm`: `mimic learn` into a fresh SQLite DB, `mimic export openapi` to
`DIR/<id>.openapi.json`, then the corpus' `tools/score_templates.py` and `tools/score_schema.py` (same
python) over DIR. Their output is printed as is, followed by a Markdown summary table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIMIC = Path(sys.executable).with_name("mimic")


def run(*cmd: str) -> str:
    cp = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if cp.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}")
    return cp.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--only", help="comma-separated spec ids")
    ap.add_argument("--keep", type=Path, help="write the DBs and exports here instead of a temp dir")
    ap.add_argument("--errors", type=int, default=0, help="passed to score_templates.py")
    args = ap.parse_args()
    traffic = args.corpus / "traffic"
    tools = args.corpus / "tools"
    specs = sorted(p.name for p in traffic.iterdir() if (p / "flows.mitm").is_file())
    if args.only:
        specs = [s for s in specs if s in args.only.split(",")]
    if not specs:
        sys.exit(f"no traffic/<id>/flows.mitm under {args.corpus}")
    with tempfile.TemporaryDirectory(prefix="mimic-scores-") as d:
        out = args.keep or Path(d)
        out.mkdir(parents=True, exist_ok=True)
        for sid in specs:
            db = out / f"{sid}.db"
            db.unlink(missing_ok=True)
            run(MIMIC, "learn", traffic / sid / "flows.mitm", "--db", db, "-q")
            run(MIMIC, "export", "openapi", "--db", db, "-o", out / f"{sid}.openapi.json")
        only = ",".join(specs)
        tj, sj = out / "templates.json", out / "schema.json"
        print(run(sys.executable, tools / "score_templates.py", "--truth-root", traffic, "--pred-root", out,
                  "--only", only, "--by-tag", "--errors", str(args.errors), "--json", tj))
        print(run(sys.executable, tools / "score_schema.py", "--truth-root", traffic, "--pred-root", out,
                  "--only", only, "--json", sj))
        tres, sres = json.loads(tj.read_text()), json.loads(sj.read_text())
    print("| spec | tmpl_P | tmpl_R | tmpl_F1 | req_acc | schema cov | schema R | schema P | type_agree |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for sid in specs:
        t, s = tres.get(sid), sres.get(sid)
        if t is None or s is None:
            print(f"| {sid} | (no result) |")
            continue
        row = [t["tmpl_P"], t["tmpl_R"], t["tmpl_F1"], t["req_acc"],
               s["coverage"], s["micro_R"], s["micro_P"], s["type_agree"]]
        rows.append(row)
        print(f"| {sid} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    if rows:
        avg = [sum(col) / len(rows) for col in zip(*rows)]
        print("| **macro avg** | " + " | ".join(f"{v:.3f}" for v in avg) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
