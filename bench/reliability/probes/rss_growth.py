"""Memory over time under traffic that never repeats: POST /x/<random word>/<random word> with JSON bodies of
random keys (echoed back by the backend), at a steady rate, for `--rss-seconds` (90 s with `--quick`, 10
minutes otherwise). Every path and key is a new literal, the worst case for the path tree, the schemas, the
endpoint statistics and the request log. The proxy's RSS is sampled every few seconds; the goal is flat:
what the model keeps is bounded, so the second half of the run must not keep growing."""
from __future__ import annotations

import http.client
import json
import random
import string
import threading
import time
from pathlib import Path

from harness import Proxy, Row, mitmdump, rss_mb
from probes.locked_store import learned

from mimic_addon.store import Store

NAME = "rss_growth"
TITLE = "RSS under unbounded distinct paths and JSON keys"
RATE = 100  # requests a second, over all senders
SENDERS = 4
SAMPLE_S = 5.0
QUICK_S, FULL_S = 90.0, 600.0
FLAT_MB_PER_MIN = 1.0  # the second half's slope that still counts as flat
seconds: float | None = None  # set by run.py's --rss-seconds


def word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 10)))


def body(rng: random.Random) -> bytes:
    return json.dumps({word(rng): word(rng), word(rng): {word(rng): rng.randint(0, 1000), word(rng): [word(rng)]},
                       "id": rng.randint(1, 10**6)}).encode()


def sender(proxy: Proxy, n: int, until: float, sent: list[int], depth: int) -> None:
    rng = random.Random(n)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    start, i = time.monotonic(), 0
    while time.monotonic() < until:
        time.sleep(max(0.0, start + i * SENDERS / RATE - time.monotonic()))  # this sender's share of the pace
        try:
            conn.request("POST", "/x/" + "/".join(word(rng) for _ in range(depth)), body=body(rng),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            sent[n] += resp.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
        i += 1
    conn.close()


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB a minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(m for _, m in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (m - my) for t, m in points) / var * 60 if var else 0.0


def run(workdir: Path, upstream: str, quick: bool) -> list[Row]:
    duration = seconds or (QUICK_S if quick else FULL_S)
    # two random words: the path tree's worst case; one: the tree folds them early, what remains is the rest
    # of the model (schemas of random keys, statistics, the request log)
    return [one_run(workdir, upstream, duration, depth) for depth in (2, 1)]


def one_run(workdir: Path, upstream: str, duration: float, depth: int) -> Row:
    samples: list[tuple[float, float]] = []
    with mitmdump(workdir, upstream, name=f"rss-{depth}") as proxy:
        start = time.monotonic()
        until = start + duration
        sent = [0] * SENDERS
        threads = [threading.Thread(target=sender, args=(proxy, n, until, sent, depth)) for n in range(SENDERS)]
        for t in threads:
            t.start()
        while (now := time.monotonic()) < until:
            samples.append((now - start, rss_mb(proxy.proc.pid)))
            time.sleep(SAMPLE_S)  # the sampling period: what this probe measures is memory over time
        for t in threads:
            t.join()
        samples.append((time.monotonic() - start, rss_mb(proxy.proc.pid)))
        proxy.stop()
    answered = sum(sent)
    count, _ = learned(proxy.db)
    store = Store(str(proxy.db))
    try:
        endpoints = len(store.load()["endpoints"])
    finally:
        store.close()
    (workdir / f"rss-{depth}.csv").write_text("seconds,rss_mb\n" + "".join(f"{t:.1f},{m:.1f}\n" for t, m in samples))
    half = [p for p in samples if p[0] >= duration / 2]
    late = slope(half)
    shape = "/x" + "/<word>" * depth
    return Row(NAME, f"{answered:,} requests, each a new path {shape} and new JSON keys, {RATE} req/s "
                f"for {duration / 60:g} min", f"RSS flat (second half under {FLAT_MB_PER_MIN:g} MB/min)",
                f"RSS {samples[0][1]:.0f} MB at the start, {max(m for _, m in samples):.0f} MB peak, "
                f"{samples[-1][1]:.0f} MB at the end; second half {late:+.2f} MB/min (whole run "
                f"{slope(samples):+.2f}); {count:,}/{answered:,} learned, {endpoints:,} endpoints", late < FLAT_MB_PER_MIN)
