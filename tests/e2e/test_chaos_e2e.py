"""Chaos through a real mitmdump in reverse mode in front of the loopback backend.

Each test sends a few hundred requests and checks the observed behaviour against the rules,
with tolerances stated next to each assertion. Nothing sleeps to synchronise.
"""
from __future__ import annotations

import http.client
import json
import statistics
import time
import uuid
from pathlib import Path

import pytest

from mimic_addon.model.stats import LatencyHistogram
from mimic_addon.store import Store

from .conftest import ProxyFactory, fetch

pytestmark = pytest.mark.e2e


def start(proxies: ProxyFactory, tmp_path: Path, yaml_text: str, *extra: str, seed: int = 1, name: str = "chaos"):
    chaos = tmp_path / f"{name}.yaml"
    chaos.write_text(yaml_text)
    db = str(tmp_path / f"{name}.db")
    proxy = proxies.start(db, "--set", f"mimic_chaos_file={chaos}", "--set", f"mimic_seed={seed}", *extra)
    return proxy, db


def learned(db: str) -> dict[str, dict]:
    """Stored endpoints by first path segment."""
    store = Store(db)
    try:
        return {e["template"].split("/")[1]: e for e in store.load()["endpoints"]}
    finally:
        store.close()


ERRORS = """
active: errors
profiles:
  errors:
    rules:
      - name: users-500
        match: {method: GET, path: "/users/{user_id}"}
        probability: 0.2
        error: {status: 500, headers: {Retry-After: "3"}}
"""


def test_error_fraction_scope_and_not_learned(proxies, tmp_path):
    proxy, db = start(proxies, tmp_path, ERRORS)
    n = 400
    users = [fetch(proxy.port, "GET", f"/users/{i}") for i in range(n)]
    orders = [fetch(proxy.port, "GET", f"/orders/{uuid.UUID(int=i)}") for i in range(100)]
    proxy.stop()
    failed = [r for r in users if r[0] == 500]
    fraction = len(failed) / n
    print(f"error fraction {fraction:.3f} (rule 0.2)")
    # binomial sd for p=0.2, n=400 is 0.02: allow 3 sd
    assert abs(fraction - 0.2) <= 0.06, fraction
    assert all(s in (200, 500) for s, _, _ in users)
    for _, headers, body in failed:
        assert headers["x-mimic-chaos"] == "users-500" and headers["retry-after"] == "3"
        assert headers["content-type"] == "application/problem+json" and json.loads(body)["status"] == 500
    assert all(s == 200 and "x-mimic-chaos" not in h for s, h, _ in orders)  # scope: untouched
    # injected faults never feed the learner: only the backend's own 200s were learned
    eps = learned(db)
    assert eps["users"]["count"] == n - len(failed)
    assert eps["users"]["data"]["stats"]["st"] == {"200": n - len(failed)}
    assert eps["orders"]["count"] == 100


SEEDED = """
active: bursts
profiles:
  bursts:
    rules:
      - {name: bursty-503, match: {path: "/users/*"}, probability: 0.25, burst: {mean_length: 5}, error: {status: 503}}
      - {name: jitter, match: {path: "/users/*"}, probability: 0.3, latency: {min_ms: 1, max_ms: 3}}
"""


def test_same_seed_same_sequence(proxies, tmp_path):
    runs = []
    for i, seed in enumerate((7, 7, 8)):
        proxy, _ = start(proxies, tmp_path, SEEDED, seed=seed, name=f"seed{i}")
        runs.append([(s, h.get("x-mimic-chaos")) for s, h, _ in
                     (fetch(proxy.port, "GET", f"/users/{j}") for j in range(200))])
        proxy.stop()
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    statuses = [s for s, _ in runs[0]]
    assert 0.1 <= statuses.count(503) / 200 <= 0.4
    # bursts: 503s come in runs (mean run length well above the ~1.3 of independent draws)
    lengths, cur = [], 0
    for s in statuses + [200]:
        if s == 503:
            cur += 1
        elif cur:
            lengths.append(cur)
            cur = 0
    print(f"503 fraction {statuses.count(503) / 200:.3f}, mean burst {statistics.mean(lengths):.2f}")
    assert statistics.mean(lengths) >= 2.5, lengths


LATENCY = """
active: latency
profiles:
  latency:
    rules:
      - {name: orders-40ms, match: {path: "/orders/*"}, latency: {fixed_ms: 40}}
      - {name: me-uniform, match: {path: "/users/me"}, latency: {min_ms: 10, max_ms: 30}}
"""


def timed(port: int, path: str) -> tuple[float, dict]:
    t = time.perf_counter()
    status, headers, _ = fetch(port, "GET", path)
    assert status == 200
    return (time.perf_counter() - t) * 1000, headers


def test_added_latency_and_learned_latency_excludes_it(proxies, tmp_path):
    proxy, db = start(proxies, tmp_path, LATENCY)
    base, orders, me = [], [], []
    for i in range(60):  # interleaved, so load on the machine hits the three alike
        base.append(timed(proxy.port, f"/users/{i}"))
        orders.append(timed(proxy.port, f"/orders/{uuid.UUID(int=i)}"))
        me.append(timed(proxy.port, "/users/me"))
    proxy.stop()
    # a delay is never shorter than configured: a hard lower bound per request
    assert min(ms for ms, _ in orders) >= 40
    assert min(ms for ms, _ in me) >= 10
    # paired differences against the undelayed neighbour: fixed 40 ms within -5/+15 ms of slack
    added = statistics.median(o - b for (o, _), (b, _) in zip(orders, base))
    print(f"added median latency {added:.1f} ms (rule 40)")
    assert 35 <= added <= 55, added
    me_added = statistics.median(m - b for (m, _), (b, _) in zip(me, base))
    print(f"added median latency {me_added:.1f} ms (rule uniform 10-30)")
    assert 12 <= me_added <= 35, me_added       # uniform 10-30 ms: median 20
    assert all(h.get("x-mimic-chaos") == "orders-40ms" for _, h in orders)
    assert all("x-mimic-chaos" not in h for _, h in base)
    # the learner records the backend's own latency, not the injected one
    lat = LatencyHistogram.from_dict(learned(db)["orders"]["data"]["stats"]["lat"])
    assert lat.quantile(0.5) < 30, lat.to_dict()


RATE = """
active: limits
profiles:
  limits:
    rules:
      - {name: per-key, match: {header: {X-Api-Key: "*"}}, rate_limit: {rate: 20, burst: 10, key: "header:X-Api-Key"}}
      - {name: drop, match: {header: {X-Chaos: reset}}, reset: {}}
      - {name: hang, match: {header: {X-Chaos: timeout}}, timeout: {after_ms: 100, then: "504"}}
"""


def bucket_passes(times: list[float], rate: float, burst: int) -> int:
    """How many requests at `times` a token bucket lets through (as the chaos engine's does)."""
    tokens, at, passed = float(burst), times[0], 0
    for now in times:
        tokens = min(float(burst), tokens + (now - at) * rate)
        at = now
        if tokens >= 1.0:
            tokens -= 1.0
            passed += 1
    return passed


def test_bucket_passes_is_a_token_bucket():
    assert bucket_passes([0.0] * 30, 20, 10) == 10                        # the burst, then nothing
    assert bucket_passes([i * 0.05 for i in range(100)], 20, 10) == 100   # at the rate: every one
    assert bucket_passes([0.0] * 10 + [5.0] * 30, 20, 10) == 20           # a pause refills the burst only


def test_rate_limit_reset_and_timeout(proxies, tmp_path):
    proxy, db = start(proxies, tmp_path, RATE)
    results, sent, received = [], [], []
    for i in range(300):  # the first creates the bucket
        if i == 150:
            time.sleep(1.0)  # idle: the bucket refills up to its burst, no further (what is tested)
        sent.append(time.monotonic())
        results.append(fetch(proxy.port, "GET", f"/users/{i}", headers={"X-Api-Key": "a"}))
        received.append(time.monotonic())
    other = fetch(proxy.port, "GET", "/users/1", headers={"X-Api-Key": "b"})
    anonymous = [fetch(proxy.port, "GET", "/users/2") for _ in range(30)]
    ok = sum(s == 200 for s, _, _ in results)
    # the proxy decides each request between its sending and its answer: a bucket (burst 10, 20 a
    # second) fed with either time passes as many, within 3 (bucket edges, timing), and one more
    # either way per request that took longer than a token (a loaded machine stalling it: where
    # in it the proxy decided moves a refill from one gap to the next)
    low, high = sorted((bucket_passes(sent, 20, 10), bucket_passes(received, 20, 10)))
    slack = 3 + sum(r - s > 1 / 20 for s, r in zip(sent, received))
    print(f"rate limit passed {ok} of 300, a bucket fed the client's times passes {low} to {high} (slack {slack})")
    assert low - slack <= ok <= high + slack, (ok, low, high, slack)
    assert ok < 300  # (a limiter that never limits would pass all: even a loaded machine sends faster)
    assert [s for s, _, _ in results[:10]] == [200] * 10
    for s, h, body in results:
        assert s in (200, 429)
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(h)
        if s == 429:
            assert int(h["retry-after"]) >= 1 and h["x-mimic-chaos"] == "per-key"
            assert json.loads(body)["status"] == 429
    assert other[0] == 200                                   # another key, another bucket
    assert all(s == 200 and "ratelimit-limit" not in h for s, h, _ in anonymous)  # out of scope

    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    conn.request("GET", "/users/3", headers={"X-Chaos": "reset"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.getresponse()
    conn.close()
    t = time.perf_counter()
    status, headers, _ = fetch(proxy.port, "GET", "/users/4", headers={"X-Chaos": "timeout"})
    assert status == 504 and headers["x-mimic-chaos"] == "hang"
    assert time.perf_counter() - t >= 0.1
    proxy.stop()
    assert learned(db)["users"]["count"] == ok + 1 + 30
