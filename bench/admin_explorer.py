"""Explorer API benchmark: list, search and page through thousands of learned endpoints.

    /path/to/venv/bin/python bench/admin_explorer.py [--endpoints 5000] [--requests 200] [--db PATH]

Seeds a SQLite store by learning real observations through the Brain and the Learner (as the
proxy does), `--endpoints` endpoints over 5 hosts, each with a response schema, statistics and
anomaly baselines; then times the admin app's JSON API in-process (Starlette's TestClient, the
whole middleware stack including authentication, Bearer token): the first page, a deep page, a
search by word, a search by named parameter, a host filter, sorting by traffic, one endpoint's
detail and the global health. Prints p50/p95 per query in milliseconds, wall clock and CPU time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from starlette.testclient import TestClient

from admin_app.app import create_app
from admin_app.control import QueuedControl
from admin_app.settings import AdminSettings
from mimic_addon.learn.brain import Brain
from mimic_addon.learn.learner import Learner
from mimic_addon.learn.observation import Body, Observation
from mimic_addon.store import Store

TOKEN = "bench-token-0123456789abcdef"
HOSTS = 5
WORDS = ("users", "orders", "invoices", "products", "carts", "payments", "shipments", "reviews", "tickets",
         "accounts", "teams", "projects", "tasks", "comments", "files", "folders", "events", "sessions",
         "devices", "alerts", "reports", "metrics", "logs", "jobs", "builds", "releases", "tags", "labels",
         "webhooks", "tokens", "roles", "groups", "plans", "coupons", "refunds", "addresses", "contacts",
         "messages", "threads", "channels")
ACTIONS = ("history", "summary", "settings", "members", "audit", "export", "stats", "preview", "status",
           "owners", "links", "notes", "activity", "limits", "quota", "usage", "billing", "schedule",
           "versions", "permissions", "sharing", "alerts", "timeline", "graph", "feed")


def observations(n: int) -> list[Observation]:
    """Two observations per endpoint: `GET /v1/{word}/{id}/{action}` and its siblings, per host."""
    out = []
    per_host = -(-n // HOSTS)
    for h in range(HOSTS):
        host = f"api{h}.example.com"
        made = 0
        for w in WORDS:
            for a in ACTIONS:
                if made >= per_host:
                    break
                for i in (1, 2):
                    body = json.dumps({"id": i, f"{a}_{w}": [{"name": "x", "value": i}], "updated_at": "2024-01-31T10:00:00Z",
                                       "state": "ok"}).encode()
                    out.append(Observation(
                        host=host, scheme="https", method="GET", target=f"/v1/{w}/{i * 7 + made}/{a}",
                        request=Body(b"", "", "", 0), status=200,
                        response=Body(body, "", "application/json", len(body)),
                        latency_ms=5.0 + (made % 40), ts=1_700_000_000.0 + made))
                made += 1
    return out


def seed(db: str, n: int) -> int:
    store = Store(db)
    learner = Learner(Brain(), store)
    learner.report = lambda *a: None
    learner.learn_batch(observations(n))
    assert learner.flush()
    count = len(learner.brain.endpoints())
    store.close()
    return count


def timed(client: TestClient, url: str, requests: int, before=lambda: None) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU milliseconds (this process, all threads) per request, sorted, and the answer's size.
    CPU time is the figure to trust on a busy machine: it does not count waiting for a core."""
    r = client.get(url)  # warm: the path-tree cache, SQLite's page cache
    assert r.status_code == 200, (url, r.status_code, r.text[:200])
    wall, cpu = [], []
    for _ in range(requests):
        before()
        t, c = time.perf_counter(), time.process_time()
        r = client.get(url)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    return sorted(wall), sorted(cpu), len(r.content)


def pct(values: list[float], q: float) -> float:
    return statistics.median(values) if q == 0.5 else values[max(int(len(values) * q) - 1, 0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoints", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--db", help="SQLite file to seed (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "bench.db")
        t = time.perf_counter()
        count = seed(db, args.endpoints)
        print(f"seeded {count} endpoints over {HOSTS} hosts in {time.perf_counter() - t:.1f} s ({db})")
        store = Store(db)
        app = create_app(AdminSettings(token=TOKEN), store, QueuedControl(store))
        with TestClient(app, base_url="http://127.0.0.1:8081", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            middle = c.get("/api/endpoints?q=orders&limit=1").json()["items"][0]["id"]
            caches = app.state.ctx
            queries = [
                ("baseline: GET /api/session", "/api/session", None),
                ("first page (50)", "/api/endpoints", None),
                ("deep page (offset 4900)", "/api/endpoints?offset=4900", None),
                ("search 'orders'", "/api/endpoints?q=orders", None),
                ("search '{order_id} audit'", "/api/endpoints?q={order_id}%20audit", None),
                ("search, no match", "/api/endpoints?q=nothing-matches-this", None),
                ("host filter + sort by count", "/api/endpoints?host=api3.example.com&sort=count", None),
                ("page of 500", "/api/endpoints?limit=500", None),
                ("one endpoint's detail", f"/api/endpoints/{middle}", None),
                ("explorer page (HTML)", "/explorer?q=users", None),
                ("health, all (cached <= 1 s)", "/api/health", None),
                ("health, all (recomputed)", "/api/health", lambda: setattr(caches.explorer_caches, "health", None)),
            ]
            print(f"{'query':<30} {'wall p50':>9} {'wall p95':>9} {'cpu p50':>8} {'cpu p95':>8} {'bytes':>9}")
            for name, url, before in queries:
                n = args.requests if "health" not in name else max(args.requests // 10, 10)
                wall, cpu, size = timed(c, url, n, before or (lambda: None))
                print(f"{name:<30} {pct(wall, .5):9.2f} {pct(wall, .95):9.2f} {pct(cpu, .5):8.2f} {pct(cpu, .95):8.2f}"
                      f" {size:9d}")
        store.close()


if __name__ == "__main__":
    main()
