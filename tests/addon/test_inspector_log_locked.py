"""The inspector's request log while the store is locked: rows wait in a bounded buffer and all arrive once the
lock goes; only past the buffer are the oldest lost, counted and reported in the proxy's status. A real SQLite
file, locked by another connection holding a write transaction."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flowkit import make_flow
from mitmproxy.test import taddons

from mimic_addon.addon import Mimic
from mimic_addon.control.inspector_log import InspectorLog, PerSecond, RequestLogWriter
from mimic_addon.control.status import status_fn
from mimic_addon.store import Store


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another process's write transaction on the file: writers get 'database is locked' until it ends."""
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        yield
        locker.execute("COMMIT")
    finally:
        locker.close()


def captured(n: int, rate: float = 25.0) -> list[tuple]:
    """`n` answered exchanges, `rate` a second, as the inspector's response hook queues them."""
    log = InspectorLog()
    log.writer = RequestLogWriter(None, lambda: None, lambda events: None, queue_size=n)  # not started: it queues
    for i in range(n):
        flow = make_flow(f"/users/{i}", status=200, resp_body=b'{"id": 1}')
        flow.request.timestamp_start = 1_700_000_000 + i / rate
        flow.response.timestamp_end = flow.request.timestamp_start + 0.01
        log.response(flow)
    return log.writer._drain_now()


def writer_on(store: Store, keep: int = 5000) -> tuple[RequestLogWriter, list[dict]]:
    events: list[dict] = []
    writer = RequestLogWriter(store, lambda: None, events.extend, keep=keep)
    writer.rows_per_s = 10**6  # every entry is logged: this test is about the store, not the rate
    return writer, events


def logged_paths(store: Store) -> list[str]:
    return [r["path"] for r in store.recent_requests(limit=10_000)][::-1]


def test_rows_wait_for_a_locked_store_and_all_arrive_once_it_is_released(tmp_path):
    """Issue 16: 1,100 requests while SQLite was locked lost 113 rows; now none."""
    path = tmp_path / "mimic.db"
    store = Store(str(path), busy_timeout_ms=20, retries=1)
    try:
        writer, events = writer_on(store)
        raws = captured(1100)
        with locked(path):
            for i in range(0, 1100, 100):
                writer.process(raws[i:i + 100])
            assert logged_paths(store) == []  # nothing could be written...
            assert writer.stats()["pending"] == 1100 and writer.unsaved == 0  # ...and nothing is lost
            assert not writer.flush()  # still locked: still waiting
            assert len(events) == 1100 and {e["id"] for e in events} == {None}  # the live stream went on
        writer.process(raws[:0])
        assert writer.flush()  # the lock is gone: everything waiting is saved, in order
        assert logged_paths(store) == [f"/users/{i}" for i in range(1100)]
        assert writer.stats() == {"logged": 1100, "queued": 0, "pending": 0, "dropped": 0, "unsaved": 0,
                                  "failed": 0, "skipped": 0}
        more = captured(3)
        writer.process(more)  # later batches get their ids again
        assert [e["id"] is not None for e in events[-3:]] == [True] * 3
        assert logged_paths(store)[-3:] == ["/users/0", "/users/1", "/users/2"]
    finally:
        store.close()


def test_rows_saved_after_a_lock_come_before_the_batch_that_follows_it(tmp_path):
    path = tmp_path / "mimic.db"
    store = Store(str(path), busy_timeout_ms=20, retries=1)
    try:
        writer, events = writer_on(store)
        raws = captured(20)
        with locked(path):
            writer.process(raws[:10])
        writer.process(raws[10:])  # saves the ten waiting, then its own
        assert logged_paths(store) == [f"/users/{i}" for i in range(20)]
        ids = [e["id"] for e in events[10:]]
        assert None not in ids and ids == sorted(ids)
    finally:
        store.close()


def test_a_backlog_is_logged_at_the_rate_its_traffic_came(tmp_path):
    """After a lock the writer catches up on many seconds of traffic at once: the log rate (250 a second)
    counts seconds of the requests' own time, so the backlog is logged, not cut to one second's worth."""
    store = Store(str(tmp_path / "mimic.db"))
    try:
        writer, _ = writer_on(store)
        writer.rows_per_s = 250
        writer._rows = PerSecond(clock=lambda: 7.0)  # the writer's own clock: all in one second
        raws = captured(1100, rate=25.0)  # 44 s of traffic
        for i in range(0, 1100, 256):
            writer.process(raws[i:i + 256])
        assert writer.skipped == 0 and len(logged_paths(store)) == 1100
        over = captured(300, rate=1000.0)  # but 300 in 0.3 s is over the rate
        writer.process(over)
        assert writer.skipped == 50
    finally:
        store.close()


def test_past_the_buffer_the_oldest_are_lost_counted_and_reported(tmp_path, monkeypatch):
    path = tmp_path / "mimic.db"
    store = Store(str(path), busy_timeout_ms=20, retries=1)
    try:
        writer, _ = writer_on(store, keep=50)  # the log keeps 50: no more wait either
        raws = captured(120)
        with locked(path):
            for i in range(0, 120, 40):
                writer.process(raws[i:i + 40])
        assert writer.stats()["pending"] == 50 and writer.unsaved == 70
        assert writer.flush()
        assert logged_paths(store) == [f"/users/{i}" for i in range(70, 120)]  # the newest survive
    finally:
        store.close()


def test_the_proxy_status_reports_the_request_log_counters(db):
    mimic = Mimic()
    log = InspectorLog(brain=lambda: mimic.brain, store=lambda: mimic.store)
    status = status_fn(lambda: mimic.brain, None, None, log)
    with taddons.context(mimic, log) as tctx:
        tctx.configure(mimic, mimic_db=db)
        assert status()["request_log"] == {"logged": 0, "queued": 0, "pending": 0, "dropped": 0, "unsaved": 0,
                                           "failed": 0, "skipped": 0}
        log.writer.unsaved, log.writer.pending = 7, [{}] * 3
        assert status()["request_log"]["unsaved"] == 7 and status()["request_log"]["pending"] == 3
        log.writer.pending = []
        log.done()
        mimic.done()


def test_a_row_saved_before_its_endpoint_was_learned_gets_its_template_later(tmp_path):
    """The writer looks a request's template up as it logs it; the learner, in its own thread, may not
    have learned the endpoint's first answer yet: the row was kept without a template for good."""
    import json

    from mimic_addon.learn.brain import Brain
    from mimic_addon.learn.observation import from_flow

    store = Store(str(tmp_path / "mimic.db"))
    brain = Brain()
    try:
        writer = RequestLogWriter(store, lambda: brain, lambda events: None)
        writer.process(captured(2))
        assert [r["template"] for r in store.recent_requests()] == [None, None]
        for i in range(2):  # the learner gets to them
            brain.learn(from_flow(make_flow(f"/users/{i}", status=200, resp_body=json.dumps({"id": i}).encode()), 1 << 20))
        brain.settle()
        writer.process([])
        assert [r["template"] for r in store.recent_requests()] == ["/users/{user_id}"] * 2
        assert writer.unnamed == {}
    finally:
        store.close()
