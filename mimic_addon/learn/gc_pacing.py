"""Keeping Python's cycle collector off the model while `mimic learn` builds it.

The model only grows while a capture is learned (hundreds of thousands of schema and path nodes), and
each full collection walks all of it: close to 30% of `mimic learn`'s CPU went there on the 25
corpus files. So every `EVERY` batches the young garbage is collected (no cycle is left behind) and
what survived, the model, is frozen (`gc.freeze`): later collections no longer walk it. Young
collections run far less often (`YOUNG`): between two freezes they would only walk the same new
objects once more (collecting after every batch, with few automatic collections in between, took
1.0 s of CPU on the 25 corpus files where every 4 batches with a threshold of 20,000 took 1.8 s).
Frozen objects are still freed by reference counting; freeze and thresholds are undone when learning
ends. Saving, which copies the whole model into plain dicts
and JSON (no cycles), runs with the collector off (`collector_off`).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

YOUNG = 100_000  # allocations between young collections (Python's default: 700): most die young anyway
EVERY = 1  # batches of observations between collections (readahead.BATCH = 256 each)


class FrozenModel:
    """`with FrozenModel() as pace:` ... `pace()` after each batch learned."""

    def __init__(self, every: int = EVERY) -> None:
        self.every = every
        self.batches = 0
        self.thresholds = gc.get_threshold()  # restored on exit

    def __enter__(self) -> FrozenModel:
        self.thresholds = gc.get_threshold()
        gc.set_threshold(YOUNG, *self.thresholds[1:])
        return self

    def __call__(self) -> None:
        self.batches += 1
        if self.batches % self.every == 0:
            gc.collect()  # the garbage since the last freeze only: frozen objects are not walked
            gc.freeze()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        gc.unfreeze()
        gc.set_threshold(*self.thresholds)


@contextmanager
def collector_off() -> Iterator[None]:
    """No automatic cycle collection inside (restored as it was after)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
