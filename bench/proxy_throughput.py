#!/usr/bin/env python3
"""Proxy overhead of Mimic: plain mitmdump vs mitmdump + Mimic (learn mode), then Mimic's RSS over time.

Needs Debian's nginx and wrk (and util-linux's taskset):

    apt-get update && apt-get install -y nginx-light wrk

Run by hand (not part of CI), from anywhere:

    /path/to/venv/bin/python bench/proxy_throughput.py [--rounds 3] [--duration 10] [--rss-seconds 60]

nginx serves a fixed JSON body on a free loopback port; the proxy is pinned to CPU 1, wrk and nginx
to CPU 0 (`--proxy-cpu/--load-cpu`). The variants alternate (plain, mimic, plain, mimic, ...) so that
drift of the machine hits both equally. A wrk Lua script spreads requests over /users/<n>,
/orders/<n>/items, /products/<n> and /users/me so that template learning is exercised.
"""
from __future__ import annotations

import argparse
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADDON = REPO / "mimic_addon" / "addon.py"
MITMDUMP = Path(sys.executable).with_name("mitmdump")

BODY = '{"id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "active": true, "tags": ["a", "b"]}'

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location / {{ return 200 '{body}'; }}
    }}
}}
"""

WRK_LUA = """\
counter = 0
paths = {"/users/%d", "/orders/%d/items", "/products/%d", "/users/me", "/users/%d"}
request = function()
  counter = counter + 1
  local p = paths[(counter % #paths) + 1]
  return wrk.format("GET", string.format(p, (counter * 7919) % 5000 + 1))
end
"""

RSS_LUA = """\
counter = 0
paths = {"/users/%d", "/orders/%d/items"}
request = function()
  counter = counter + 1
  local p = paths[(counter % #paths) + 1]
  return wrk.format("GET", string.format(p, counter % 100000))
end
"""


def need_tools() -> None:
    missing = [t for t in ("nginx", "wrk", "taskset") if shutil.which(t) is None
               and not Path(f"/usr/sbin/{t}").exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: install with\n"
                 "    apt-get update && apt-get install -y nginx-light wrk util-linux")
    if not MITMDUMP.exists():
        sys.exit(f"no mitmdump next to {sys.executable}: run this with the venv's python")


def tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode}) before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"cannot parse latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {int(p): _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat[50], "p99": lat[99],
            "errors": (errors.group(1) if errors else ""), "non2xx": int(non2xx.group(1)) if non2xx else 0}


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.nginx_port = free_port()
        self.lua = tmp / "paths.lua"
        self.lua.write_text(WRK_LUA)
        (tmp / "rss.lua").write_text(RSS_LUA)
        self.nginx: subprocess.Popen | None = None
        self.n = 0

    def start_nginx(self) -> None:
        conf = self.tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=self.tmp, port=self.nginx_port, body=BODY))
        self.nginx = subprocess.Popen(
            ["taskset", "-c", self.args.load_cpu, tool("nginx"), "-p", str(self.tmp), "-e", str(self.tmp / "error.log"),
             "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.nginx_port, self.nginx)

    def start_proxy(self, mimic: bool) -> tuple[subprocess.Popen, int, Path]:
        self.n += 1
        port = free_port()
        cmd = ["taskset", "-c", self.args.proxy_cpu, str(MITMDUMP), "-q",
               "--mode", f"reverse:http://127.0.0.1:{self.nginx_port}",
               "--listen-host", "127.0.0.1", "--listen-port", str(port)]
        db = self.tmp / f"mimic-{self.n}.db"
        if mimic:
            cmd += ["-s", str(ADDON), "--set", f"mimic_db={db}"]
        log = self.tmp / f"proxy-{self.n}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp)
        wait_port(port, proc)
        return proc, port, log

    def wrk(self, port: int, seconds: float, script: Path | None = None) -> dict[str, float]:
        cmd = ["taskset", "-c", self.args.load_cpu, tool("wrk"), f"-t{self.args.threads}", f"-c{self.args.connections}",
               f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script or self.lua), f"http://127.0.0.1:{port}"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return parse_wrk(out)

    def round(self, mimic: bool) -> dict[str, float]:
        proc, port, log = self.start_proxy(mimic)
        try:
            self.wrk(port, self.args.warmup)
            result = self.wrk(port, self.args.duration)
        finally:
            rc = stop(proc)
        text = log.read_text(errors="replace")
        # (mitmproxy itself logs CancelledError tracebacks when stopped with idle keep-alive connections)
        if rc != 0 or "could not learn" in text or "could not save" in text or "mimic_addon" in text:
            print(f"warning: proxy exited {rc}; log:\n{text[-2000:]}", file=sys.stderr)
        return result

    def rss(self) -> list[tuple[float, int]]:
        proc, port, _ = self.start_proxy(True)
        samples: list[tuple[float, int]] = []
        try:
            wrk = subprocess.Popen(
                ["taskset", "-c", self.args.load_cpu, tool("wrk"), "-t1", f"-c{self.args.connections}",
                 f"-d{max(1, round(self.args.rss_seconds))}s", "-s", str(self.tmp / "rss.lua"), f"http://127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            start = time.monotonic()
            while wrk.poll() is None:
                samples.append((time.monotonic() - start, vmrss_kb(proc.pid)))
                try:
                    wrk.wait(self.args.rss_every)  # the sampling period (wakes early when wrk ends)
                except subprocess.TimeoutExpired:
                    pass
            samples.append((time.monotonic() - start, vmrss_kb(proc.pid)))
        finally:
            stop(proc)
        return samples


def vmrss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="ABAB rounds (default %(default)s)")
    ap.add_argument("--duration", type=float, default=10, help="seconds of wrk per measurement")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of wrk before each measurement")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--proxy-cpu", default="1")
    ap.add_argument("--load-cpu", default="0", help="CPU for wrk and nginx")
    ap.add_argument("--rss-seconds", type=float, default=60, help="length of the RSS round (0 to skip)")
    ap.add_argument("--rss-every", type=float, default=5, help="RSS sampling period in seconds")
    args = ap.parse_args()
    need_tools()
    results: dict[str, list[dict[str, float]]] = {"plain": [], "mimic": []}
    with tempfile.TemporaryDirectory(prefix="mimic-bench-") as d:
        bench = Bench(args, Path(d))
        bench.start_nginx()
        try:
            for r in range(args.rounds):
                for variant in ("plain", "mimic"):
                    res = bench.round(variant == "mimic")
                    results[variant].append(res)
                    print(f"round {r + 1} {variant:5}: {res['rps']:9.1f} req/s  p50 {res['p50']:.2f} ms  "
                          f"p99 {res['p99']:.2f} ms  non-2xx {res['non2xx']} {res['errors']}", file=sys.stderr)
            samples = bench.rss() if args.rss_seconds > 0 else []
        finally:
            stop(bench.nginx, signal.SIGQUIT)

    med = {v: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")} for v, rs in results.items()}
    print(f"\nmedian of {args.rounds} ABAB rounds, wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
          f"proxy on CPU {args.proxy_cpu}, wrk+nginx on CPU {args.load_cpu}\n")
    print("| variant | req/s | p50 ms | p99 ms | ratio mimic/plain | added p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    p, m = med["plain"], med["mimic"]
    print(f"| plain mitmdump | {p['rps']:.0f} | {p['p50']:.2f} | {p['p99']:.2f} | 1.00 | - |")
    print(f"| mitmdump + Mimic (learn) | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | "
          f"{m['rps'] / p['rps']:.2f} | {m['p99'] - p['p99']:+.2f} |")
    if samples:
        print(f"\nMimic RSS over a {args.rss_seconds:g}s round (sampled every {args.rss_every:g}s):\n")
        print("| t (s) | VmRSS (MiB) |")
        print("|---:|---:|")
        for t, kb in samples:
            print(f"| {t:.0f} | {kb / 1024:.1f} |")
        first, last = samples[1][1] if len(samples) > 1 else samples[0][1], samples[-1][1]
        print(f"\nRSS growth after the first sample: {(last - first) / 1024:+.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
