#!/usr/bin/env python3
"""Mock-mode throughput and latency: mitmdump + Mimic answering from its model vs plain mitmdump
forwarding to nginx, in one run.

Needs Debian's nginx and wrk (and util-linux's taskset), like `bench/proxy_throughput.py`:

    apt-get update && apt-get install -y nginx-light wrk

    /path/to/venv/bin/python bench/mock_throughput.py [--rounds 3] [--duration 10] [--learn-seconds 5]

First Mimic learns the endpoints of the wrk script (/users/<n>, /orders/<n>/items, /products/<n>,
/users/me) by proxying to nginx in learn mode for `--learn-seconds`; then plain mitmdump (forwarding to
nginx) and mitmdump + Mimic with `mimic_mode=mock` on that store alternate (plain, mock, plain, mock, ...).
The proxy is pinned to CPU 1, wrk and nginx to CPU 0 (`--proxy-cpu/--load-cpu`).
"""
from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy_throughput import (ADDON, MITMDUMP, Bench, need_tools, stop, wait_port,  # noqa: E402
                              free_port)


class MockBench(Bench):
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        super().__init__(args, tmp)
        self.db = tmp / "mimic-mock.db"

    def start(self, mode: str | None) -> tuple[subprocess.Popen, int, Path]:
        """mode None: plain mitmdump; else mitmdump + Mimic in that mode on the shared store."""
        self.n += 1
        port = free_port()
        cmd = ["taskset", "-c", self.args.proxy_cpu, str(MITMDUMP), "-q",
               "--mode", f"reverse:http://127.0.0.1:{self.nginx_port}",
               "--listen-host", "127.0.0.1", "--listen-port", str(port)]
        if mode is not None:
            cmd += ["-s", str(ADDON), "--set", f"mimic_db={self.db}", "--set", f"mimic_mode={mode}"]
        log = self.tmp / f"proxy-{self.n}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp)
        wait_port(port, proc)
        return proc, port, log

    def learn(self) -> dict[str, float]:
        proc, port, log = self.start("learn")
        try:
            result = self.wrk(port, self.args.learn_seconds)
        finally:
            rc = stop(proc)
        if rc != 0:
            print(f"warning: learning proxy exited {rc}:\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
        return result

    def measure(self, mode: str | None) -> dict[str, float]:
        proc, port, log = self.start(mode)
        try:
            if mode == "mock":  # the answers must come from the model, not from nginx
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/users/42", timeout=10) as resp:
                    source = resp.headers.get("X-Mimic-Source")
                if source != "mock":
                    print(f"warning: mock-mode answer came from {source!r}", file=sys.stderr)
            self.wrk(port, self.args.warmup)
            result = self.wrk(port, self.args.duration)
        finally:
            rc = stop(proc)
        text = log.read_text(errors="replace")
        if rc != 0 or "mimic_addon" in text:
            print(f"warning: proxy exited {rc}; log:\n{text[-2000:]}", file=sys.stderr)
        return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="ABAB rounds (default %(default)s)")
    ap.add_argument("--duration", type=float, default=10, help="seconds of wrk per measurement")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of wrk before each measurement")
    ap.add_argument("--learn-seconds", type=float, default=5, help="seconds of learning before mocking")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--proxy-cpu", default="1")
    ap.add_argument("--load-cpu", default="0", help="CPU for wrk and nginx")
    args = ap.parse_args()
    need_tools()
    results: dict[str, list[dict[str, float]]] = {"plain": [], "mock": []}
    with tempfile.TemporaryDirectory(prefix="mimic-mock-bench-") as d:
        bench = MockBench(args, Path(d))
        bench.start_nginx()
        try:
            learned = bench.learn()
            print(f"learned for {args.learn_seconds:g}s: {learned['rps']:.0f} req/s through Mimic (learn)", file=sys.stderr)
            for r in range(args.rounds):
                for variant in ("plain", "mock"):
                    res = bench.measure("mock" if variant == "mock" else None)
                    results[variant].append(res)
                    print(f"round {r + 1} {variant:5}: {res['rps']:9.1f} req/s  p50 {res['p50']:.2f} ms  "
                          f"p99 {res['p99']:.2f} ms  non-2xx {res['non2xx']} {res['errors']}", file=sys.stderr)
        finally:
            stop(bench.nginx, signal.SIGQUIT)

    med = {v: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99", "non2xx")}
           for v, rs in results.items()}
    print(f"\nmedian of {args.rounds} ABAB rounds, wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
          f"proxy on CPU {args.proxy_cpu}, wrk+nginx on CPU {args.load_cpu}\n")
    print("| variant | req/s | p50 ms | p99 ms | non-2xx | ratio to plain |")
    print("|---|---:|---:|---:|---:|---:|")
    p, m = med["plain"], med["mock"]
    print(f"| plain mitmdump → nginx | {p['rps']:.0f} | {p['p50']:.2f} | {p['p99']:.2f} | {p['non2xx']:.0f} | 1.00 |")
    print(f"| mitmdump + Mimic (mock) | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['non2xx']:.0f} | "
          f"{m['rps'] / p['rps']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
