"""A store failure that repeats (a full disk) is told once, then once per EVERY seconds with a count."""
from __future__ import annotations

import logging

from mimic_addon.store import retry_log


def test_a_repeating_failure_is_told_once_then_counted(caplog, monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(retry_log.time, "monotonic", lambda: clock[0])
    store, other = object(), object()
    log = logging.getLogger("test.retry")
    with caplog.at_level(logging.WARNING):
        for _ in range(50):  # half a second apart, as the savers retry
            retry_log.warn_retrying(log, "what was learned", "database or disk is full", store)
            clock[0] += 0.5
        retry_log.warn_retrying(log, "what was learned", "database or disk is full", other)  # another store: told
        clock[0] += 6
        retry_log.warn_retrying(log, "what was learned", "database or disk is full", store)
        retry_log.recovered("what was learned", store)
        retry_log.warn_retrying(log, "what was learned", "database or disk is full", store)  # after recovery: at once
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "Mimic could not save what was learned (will retry): database or disk is full",
        "Mimic could not save what was learned (will retry): database or disk is full",
        "Mimic could not save what was learned (will retry): database or disk is full "
        "(49 more failures like it in the last 31 s)",
        "Mimic could not save what was learned (will retry): database or disk is full",
    ]
