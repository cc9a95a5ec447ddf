"""A SQLite store locked by another process for longer than the proxy's writes wait (busy timeout 5 s, four
retries: about 25 s), while traffic goes through at a steady rate: the traffic must flow, and once the lock
goes nothing may be missing, neither in what was learned nor in the inspector's request log."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from harness import Proxy, Row, mitmdump, percentile

from mimic_addon.store import Store

NAME = "locked_store"
TITLE = "SQLite store locked by another process"
RATE = 25  # requests a second
LOCK_S = 40.0  # past the store's own retries, so that writes really fail
BEFORE_S, AFTER_S = 3.0, 5.0


def stream(proxy: Proxy, seconds: float, out: list[tuple[float, int, float]]) -> None:
    """GET /users/<n> at RATE a second for `seconds`: (when sent, status, seconds to answer) per request."""
    start = time.monotonic()
    for i in range(int(seconds * RATE)):
        time.sleep(max(0.0, start + i / RATE - time.monotonic()))  # the client's pace
        t0 = time.monotonic()
        try:
            status = proxy.get(f"/users/{i % 50}", timeout=60).status
        except OSError:
            status = 0
        out.append((t0, status, time.monotonic() - t0))


def learned(db: Path) -> tuple[int, int]:
    """(requests learned: the endpoints' sample counts, rows in the request log)."""
    store = Store(str(db))
    try:
        samples = sum(e["count"] for e in store.load()["endpoints"])
        rows = len(store.recent_requests(limit=100_000))
    finally:
        store.close()
    return samples, rows


def wait_for(check, deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)  # polling the proxy's own report, bounded by the deadline
    return False


def run(workdir: Path, upstream: str, quick: bool) -> list[Row]:
    sent: list[tuple[float, int, float]] = []
    with mitmdump(workdir, upstream, "mimic_flush_interval=0.5", name="locked-store") as proxy:
        proxy.get("/users/0")
        status = lambda: proxy.admin("GET", "/api/status", headers=proxy.bearer).json()  # noqa: E731
        # an admin app still starting answers without the counters: not started yet
        assert wait_for(lambda: status().get("request_log", {}).get("logged", 0) >= 1, 30), \
            "the request log never started"
        sender = threading.Thread(target=stream, args=(proxy, BEFORE_S + LOCK_S + AFTER_S, sent))
        sender.start()
        time.sleep(BEFORE_S)  # traffic before the lock
        locker = sqlite3.connect(proxy.db, isolation_level=None, timeout=30)
        locker.execute("BEGIN EXCLUSIVE")
        locked_at = time.monotonic()
        time.sleep(LOCK_S)  # the fault: the lock held this long
        at_release = status()["request_log"]
        waiting = at_release["queued"] + at_release["pending"]
        locker.execute("COMMIT")
        locker.close()
        released_at = time.monotonic()
        sender.join()
        drained = wait_for(lambda: (lambda c: c["queued"] == 0 and c["pending"] == 0)(status()["request_log"]), 60)
        counters = status()["request_log"]
        proxy.stop()
    answered = 1 + sum(1 for _, code, _ in sent if code == 200)
    samples, rows = learned(proxy.db)
    during = [t for at, code, t in sent if locked_at <= at < released_at]
    before = [t for at, code, t in sent if at < locked_at]
    failed = sum(1 for _, code, _ in sent if code != 200)
    return [
        Row(NAME, f"traffic while the store is locked ({LOCK_S:g} s, {RATE} req/s)", "every request answered, "
            "no slower", f"{len(sent) - failed}/{len(sent)} answered; p50 {percentile(during, 50) * 1000:.0f} ms, "
            f"max {max(during, default=0) * 1000:.0f} ms (before the lock: p50 "
            f"{percentile(before, 50) * 1000:.0f} ms)", failed == 0),
        Row(NAME, "learning once the lock goes", "nothing lost",
            f"{samples}/{answered} requests learned", samples == answered),
        Row(NAME, "inspector's request log once the lock goes", "nothing lost",
            f"{rows}/{answered} rows; {waiting} were waiting at the release, all saved "
            f"{'' if drained else 'NOT '}within 60 s; lost: unsaved {counters['unsaved']}, dropped "
            f"{counters['dropped']}, skipped {counters['skipped']}",
            rows == answered and drained and counters["unsaved"] + counters["dropped"] + counters["skipped"] == 0),
    ]
