"""The learner thread survives what traffic and bugs throw at it: nothing after a bad exchange is lost."""
from __future__ import annotations

import json

from mimic_addon.learn.brain import Brain
from mimic_addon.learn.learner import Learner
from mimic_addon.learn.observation import Body, Observation
from mimic_addon.store import Store


def obs(path: str, body: object | None = None) -> Observation:
    raw = json.dumps(body).encode() if body is not None else b""
    return Observation(host="api.example.com", scheme="https", method="GET", target=path,
                       request=Body(b"", "", "", 0), status=200,
                       response=Body(raw, "", "application/json" if raw else "", len(raw)),
                       latency_ms=3.0, ts=1_700_000_000.0)


def saved_templates(db: str) -> set[str]:
    store = Store(db)
    try:
        return {row["template"] for row in store.load()["endpoints"]}
    finally:
        store.close()


def test_raw_non_utf8_bytes_in_a_path_do_not_stop_learning(tmp_path) -> None:
    db = str(tmp_path / "m.db")
    learner = Learner(Brain(), Store(db), flush_interval=0.05)
    learner.start()
    # mitmproxy hands raw bytes \xff\xfe of a path on as lone surrogates
    learner.submit(obs("/files/\udcff\udcfe", {"ok": True}))
    learner.submit(obs("/after", {"ok": True}))
    learner.stop()
    assert learner.errors == 0
    templates = saved_templates(db)
    assert "/after" in templates
    assert any(t.startswith("/files/") for t in templates)  # stored, escaped
    # the bad bytes read as U+FFFD, as mock and failover read them (not as `\udcff` text)
    brain = Brain()
    brain.learn(obs("/files/\udcff\udcfe", {"ok": True}))
    [(_, skeleton)] = list(brain.hosts[next(iter(brain.hosts))].endpoints)
    assert "\ufffd\ufffd" in skeleton and "udc" not in skeleton


def test_an_unexpected_error_is_contained_per_batch(tmp_path) -> None:
    db = str(tmp_path / "m.db")
    learner = Learner(Brain(), Store(db), flush_interval=0.05)
    original = learner.process
    calls = 0

    def poisoned(batch):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in the learner")
        original(batch)

    learner.process = poisoned  # type: ignore[method-assign]
    learner.start()
    learner.submit(obs("/first"))
    learner.stop()  # the thread took the batch, the bug struck, the thread went on to stop cleanly
    assert learner.errors == 1
    learner.start()
    learner.submit(obs("/second"))
    learner.stop()
    assert learner.errors == 1
    assert "/second" in saved_templates(db)


def test_the_finished_model_gets_its_own_health_snapshot(tmp_path) -> None:
    """A save while learning records health (at most once a minute); the save after learning ends
    records the finished model's, however recent that one was."""
    store = Store(str(tmp_path / "m.db"))
    learner = Learner(Brain(), store)
    learner.learn_batch([obs(f"/items/{i}", {"id": i}) for i in range(1000, 1040)])
    assert learner.flush() and len(store.load_health()) == 1
    learner.learn_batch([obs(f"/items/{i}", {"id": i}) for i in range(2000, 2040)])
    assert learner.flush() and len(store.load_health()) == 1  # (within the minute)
    learner.finish()
    assert learner.flush() and len(store.load_health()) == 2
    store.close()


def test_a_last_save_refused_at_exit_says_it_is_lost(tmp_path, caplog) -> None:
    """The store's directory gone when the learner stops (a database down at shutdown): its last save
    fails; the log says what was not saved is lost, not only "will retry" (nothing retries after exit)."""
    import logging
    import shutil
    db = tmp_path / "store" / "m.db"
    store = Store(str(db))
    learner = Learner(Brain(), store, flush_interval=3600)
    learner.submit(obs("/unsaved", {"ok": True}))
    shutil.rmtree(db.parent)
    store.engine.dispose()
    with caplog.at_level(logging.WARNING):
        learner.stop()
    said = [r.getMessage() for r in caplog.records]
    assert any("will retry" in m for m in said)
    assert any(r.levelno == logging.ERROR and "refused the last save at exit" in r.getMessage()
               and "is lost" in r.getMessage() for r in caplog.records), said


def test_a_refused_save_of_a_flush_asked_for_is_retried_not_called_lost(tmp_path, caplog) -> None:
    import logging
    import shutil
    db = tmp_path / "store" / "m.db"
    store = Store(str(db))
    learner = Learner(Brain(), store, flush_interval=3600)
    learner.submit(obs("/unsaved", {"ok": True}))
    moved = tmp_path / "away"
    shutil.move(str(db.parent), str(moved))
    store.engine.dispose()
    with caplog.at_level(logging.WARNING):
        learner.stop(final=False)  # as `mimic.flush` does, before it starts the thread again
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
    shutil.move(str(moved), str(db.parent))
    store.engine.dispose()
    assert learner.flush() and "/unsaved" in saved_templates(str(db))  # kept, and saved on the retry


def test_a_store_file_deleted_while_running_is_told_once(tmp_path, caplog) -> None:
    """SQLite goes on writing to a file deleted under it, and everything saved afterwards is lost: the
    learner says so (once), instead of saving on in silence."""
    import logging
    db = tmp_path / "m.db"
    store = Store(str(db))
    learner = Learner(Brain(), store, flush_interval=3600)
    learner.submit(obs("/before", {"ok": True}))
    learner.flush()
    db.unlink()
    with caplog.at_level(logging.WARNING):
        learner.submit(obs("/after", {"ok": True}))
        learner.flush()
        learner.flush()
        learner.stop()
    told = [r.getMessage() for r in caplog.records if "was deleted or moved" in r.getMessage()]
    assert len(told) == 1 and str(db) in told[0]


def test_a_store_file_replaced_while_running_is_told(tmp_path) -> None:
    """A backup restored over the file: SQLite writes on to the file it opened, not to the new one."""
    import shutil
    db = tmp_path / "m.db"
    store = Store(str(db))
    assert not store.file_gone()
    shutil.copy(db, tmp_path / "backup.db")
    (tmp_path / "backup.db").replace(db)
    assert store.file_gone()
    store.close()
