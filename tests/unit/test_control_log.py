"""The admin tables of the store: the inspector's bounded request log and the command queue, on SQLite and
on the real PostgreSQL server (same tests, both databases)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from mimic_addon.store import Store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[Store]:
    url = str(tmp_path / "mimic.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = Store(url)
    yield s
    s.close()


def row(i: int, **over: object) -> dict:
    base = {"ts": 1000.0 + i, "host": "api.example.com", "method": "GET", "path": f"/users/{i}",
            "template": "/users/{user_id}", "status": 200, "latency_ms": 1.5 * i, "source": "upstream",
            "session": "client:127.0.0.1", "data": {"n": i, "request": {"headers": [["Accept", "*/*"]]}}}
    return {**base, **over}


# -- request log -----------------------------------------------------------------------------------------------
def test_add_returns_ids_in_order_and_recent_is_newest_first(store: Store) -> None:
    ids = store.add_requests([row(1), row(2), row(3)])
    assert ids == sorted(ids) and len(set(ids)) == 3
    recent = store.recent_requests()
    assert [r["id"] for r in recent] == ids[::-1]
    assert recent[0] == {"id": ids[2], "ts": 1003.0, "host": "api.example.com", "method": "GET", "path": "/users/3",
                         "template": "/users/{user_id}", "status": 200, "latency_ms": 4.5, "source": "upstream",
                         "session": "client:127.0.0.1"}
    assert "data" not in recent[0]  # summaries only


def test_log_is_bounded_to_the_newest_rows(store: Store) -> None:
    for start in range(0, 30, 10):
        store.add_requests([row(i) for i in range(start, start + 10)], keep=12)
    paths = [r["path"] for r in store.recent_requests(limit=100)]
    assert paths == [f"/users/{i}" for i in range(29, 17, -1)]


@pytest.mark.parametrize(("filters", "expected"), [
    ({"status": 404}, ["/b"]),
    ({"status": "4xx"}, ["/c", "/b"]),
    ({"status": "5XX"}, ["/d"]),
    ({"status": "2xx"}, ["/a"]),
    ({"source": "mock"}, ["/c", "/b"]),
    ({"session": "session:alice"}, ["/d", "/b"]),
    ({"host": "other.example.com"}, ["/d"]),
    ({"method": "post", "template": "/orders"}, ["/c"]),
    ({"source": "mock", "status": 404}, ["/b"]),
    ({"source": "chaos", "status": "2xx"}, []),
])
def test_filters(store: Store, filters: dict, expected: list[str]) -> None:
    store.add_requests([
        row(1, path="/a", template="/a", status=200),
        row(2, path="/b", template="/b", status=404, source="mock", session="session:alice"),
        row(3, path="/c", method="POST", template="/orders", status=429, source="mock"),
        row(4, path="/d", template=None, status=503, host="other.example.com", source="chaos",
            session="session:alice"),
    ])
    assert [r["path"] for r in store.recent_requests(**filters)] == expected


def test_unknown_status_class_is_an_error(store: Store) -> None:
    with pytest.raises(ValueError, match="status"):
        store.recent_requests(status="6xx")


def test_paging_with_after_and_before(store: Store) -> None:
    ids = store.add_requests([row(i) for i in range(10)])
    assert [r["id"] for r in store.recent_requests(after_id=ids[6])] == ids[:6:-1]
    assert [r["id"] for r in store.recent_requests(before_id=ids[3], limit=2)] == [ids[2], ids[1]]
    assert store.recent_requests(after_id=ids[-1]) == []


def test_entry_has_details_and_unknown_is_none(store: Store) -> None:
    (i,) = store.add_requests([row(5, data={"request": {"headers": [["X", "y"]]}, "query": [["q", "1"]]})])
    entry = store.request_entry(i)
    assert entry["path"] == "/users/5"
    assert entry["data"] == {"request": {"headers": [["X", "y"]]}, "query": [["q", "1"]]}
    assert store.request_entry(i + 1000) is None


def test_sessions_most_recent_first_without_nulls(store: Store) -> None:
    store.add_requests([row(1, session="a"), row(2, session="b"), row(3, session=None), row(4, session="a")])
    assert store.request_sessions() == ["a", "b"]


# -- command queue -------------------------------------------------------------------------------------------------
def test_command_round_trip(store: Store) -> None:
    cid = store.enqueue_command("mimic.mode.set", ["mock"])
    assert store.command_result(cid) == {"id": cid, "state": "pending", "result": None}
    assert store.claim_commands() == [{"id": cid, "command": "mimic.mode.set", "args": ["mock"]}]
    assert store.command_result(cid)["state"] == "running"
    assert store.claim_commands() == []  # claimed once
    store.finish_command(cid, True, "")
    assert store.command_result(cid) == {"id": cid, "state": "done", "result": ""}
    assert store.command_result(cid + 100) is None


def test_failure_is_reported(store: Store) -> None:
    cid = store.enqueue_command("mimic.mode.set", ["bogus"])
    store.claim_commands()
    store.finish_command(cid, False, "mode must be one of learn, mock")
    assert store.command_result(cid) == {"id": cid, "state": "failed", "result": "mode must be one of learn, mock"}


def test_old_pending_commands_are_cancelled_not_run(store: Store, monkeypatch) -> None:
    old = store.enqueue_command("mimic.mode.set", ["mock"])
    later = time.time() + 11
    monkeypatch.setattr(time, "time", lambda: later)
    new = store.enqueue_command("mimic.mode.set", ["learn"])
    assert [c["id"] for c in store.claim_commands(max_age=10.0)] == [new]
    result = store.command_result(old)
    assert result["state"] == "cancelled" and "10 s" in result["result"]


def test_cancel_only_while_pending(store: Store) -> None:
    a, b = store.enqueue_command("x", []), store.enqueue_command("y", ["1", "2"])
    assert store.cancel_command(a) is True
    assert store.command_result(a)["state"] == "cancelled"
    assert [c["id"] for c in store.claim_commands()] == [b]
    assert store.cancel_command(b) is False  # already running: the proxy's result stands
    store.finish_command(b, True, "ok")
    assert store.command_result(b)["state"] == "done"


def test_concurrent_claims_take_each_command_once(store: Store) -> None:
    ids = {store.enqueue_command("mimic.stats", []) for _ in range(20)}
    other = Store(store.url)
    got: list[list[dict]] = [[], []]

    def claim(i: int, s: Store) -> None:
        for _ in range(5):
            got[i] += s.claim_commands()

    threads = [threading.Thread(target=claim, args=(0, store)), threading.Thread(target=claim, args=(1, other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    claimed = [c["id"] for c in got[0] + got[1]]
    assert sorted(claimed) == sorted(ids)
